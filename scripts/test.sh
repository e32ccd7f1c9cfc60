#!/usr/bin/env bash
# The whole test suite: lint, types, then every test on SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
bash scripts/typecheck.sh
.venv/bin/python -m pytest "$@"
