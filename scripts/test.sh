#!/usr/bin/env bash
# The whole test suite: lint, types, then every test (the slow ones too) on SQLite and
# PostgreSQL, spread over one pytest-xdist worker per core. Extra arguments go to pytest
# and come last, so `-n 0` or `-m "not slow"` still override. See docs/testing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
bash scripts/typecheck.sh
.venv/bin/python -m pytest -n auto -m "slow or not slow" "$@"
