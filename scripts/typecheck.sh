#!/usr/bin/env bash
# mypy cannot follow setuptools' package-dir mapping, so it reads a mirror of the
# installed layout: build/typecheck/relance/ made of links to app/ (the command line) and the
# layer folders.
set -euo pipefail
cd "$(dirname "$0")/.."
mirror=build/typecheck/relance
rm -rf build/typecheck
mkdir -p "$mirror"
for entry in app/*; do ln -s "../../../$entry" "$mirror/$(basename "$entry")"; done
for layer in kernel dsl engine store channels scheduler demo tui web rules templates; do
  ln -s "../../../$layer" "$mirror/$layer"
done
MYPYPATH=build/typecheck .venv/bin/mypy -p relance "$@"
MYPYPATH=build/typecheck .venv/bin/mypy tests bench scripts
