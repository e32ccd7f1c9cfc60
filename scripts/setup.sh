#!/usr/bin/env bash
# Sets up relance in ./.venv with everything it and its tests need. Safe to re-run.
#
# Python packages come from requirements/lock.txt: every runtime and development
# dependency, transitively, pinned (==) with hashes, so every machine and CI install the
# same files. To regenerate it after changing the dependencies in pyproject.toml
# (uv keeps the versions already locked unless told `--upgrade`):
#   python3 -m venv /tmp/uv && /tmp/uv/bin/pip install uv
#   /tmp/uv/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
#     --generate-hashes -o requirements/lock.txt
# tests/test_install.py checks that the lock covers every dependency pyproject.toml names.
#
# Letters need Pango, a system library WeasyPrint loads: installed with apt-get when
# missing and run as root; otherwise this stops (exit 2) with the command to run.
# The browser tests of the debtor's page (tests/web) drive Debian's Chromium through
# Playwright (/usr/bin/chromium; Playwright never downloads a browser): installed with
# apt-get when missing and run as root; otherwise the command is printed, and those
# tests fail saying so until it is run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
PANGO_PACKAGES="libpango-1.0-0 libpangoft2-1.0-0"

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "relance needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
  exit 2
fi

# ldconfig lives in /sbin, which a user's PATH may lack; appended, so that programs
# earlier on PATH come first (tests put stand-ins for ldconfig, id and apt-get there).
PATH="$PATH:/usr/sbin:/sbin"

pango_present() {
  local known
  known=$(ldconfig -p)  # captured first: `ldconfig -p | grep -q` fails under pipefail
  grep -q 'libpango-1\.0\.so\.0 ' <<<"$known" && grep -q 'libpangoft2-1\.0\.so\.0 ' <<<"$known"
}

ensure_pango() {
  if ! command -v ldconfig >/dev/null; then
    echo "note: cannot check for Pango here (no ldconfig); relance's letters need it" >&2
    return 0
  fi
  pango_present && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "relance's letters need the Pango library (WeasyPrint loads it), which is not" \
         "installed. Install it, then run this script again:" >&2
    echo "  sudo apt-get install -y $PANGO_PACKAGES" >&2
    exit 2
  fi
  if ! command -v apt-get >/dev/null; then
    echo "relance's letters need the Pango library: install it with your system's" \
         "package manager (Debian names: $PANGO_PACKAGES), then run this script again" >&2
    exit 2
  fi
  echo "Installing Pango for the letters: apt-get install $PANGO_PACKAGES"
  # A fresh machine may have no package lists yet; -qq keeps the log to errors.
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # shellcheck disable=SC2086  # the package list is meant to split into words
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PANGO_PACKAGES
  if ! pango_present; then
    echo "apt-get installed $PANGO_PACKAGES but the loader still lists no" \
         "libpango-1.0.so.0: see 'ldconfig -p | grep pango'" >&2
    exit 2
  fi
}

CHROMIUM=/usr/bin/chromium
CHROMIUM_PACKAGES="chromium"

ensure_chromium() {
  [ -x "$CHROMIUM" ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "note: the browser tests (tests/web) need Debian's chromium at $CHROMIUM;" \
         "install it with:" >&2
    echo "  sudo apt-get install -y --no-install-recommends $CHROMIUM_PACKAGES" >&2
    return 0
  fi
  echo "Installing Chromium for the browser tests: apt-get install $CHROMIUM_PACKAGES"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # shellcheck disable=SC2086  # the package list is meant to split into words
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    $CHROMIUM_PACKAGES
  if [ ! -x "$CHROMIUM" ]; then
    echo "apt-get installed $CHROMIUM_PACKAGES but $CHROMIUM is not there" >&2
    exit 2
  fi
}

ensure_pango
ensure_chromium

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# setuptools (the build backend) is in the lock: the project is built with it, without
# an isolated build environment fetching an unpinned one.
.venv/bin/python -m pip install --quiet --require-hashes -r requirements/lock.txt
.venv/bin/python -m pip install --quiet --no-deps --no-build-isolation --editable .
# Bytecode of relance's own modules, written once here: where PYTHONDONTWRITEBYTECODE is
# set (many containers set it), Python would otherwise compile them from source at the
# start of every command, since an editable install leaves them uncompiled (10 to 30 ms
# per command, measured). The folders are pyproject's package-dir.
.venv/bin/python - <<'PY'
import compileall, sys, tomllib
with open("pyproject.toml", "rb") as f:
    mapping = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
folders = sorted({folder.split("/")[0] for folder in mapping.values()})
sys.exit(0 if all(compileall.compile_dir(folder, quiet=1, workers=0) for folder in folders) else 1)
PY
# The translations (kernel/locale/*/LC_MESSAGES/*.po) compiled to the .mo files gettext reads.
.venv/bin/python -m relance.kernel.catalogs compile >/dev/null
installed=$(.venv/bin/relance --version)  # an assignment, so a broken install stops here
echo "$installed installed in .venv"
