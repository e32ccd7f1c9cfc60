"""Without Pango, `relance dispatch` stops with one sentence naming what to install,
instead of failing every letter and exiting as if that were an ordinary day."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from relance.store.db import open_store
from relance.store.models import Action
from tests.channels.factory import standard_workspace

# WeasyPrint opens Pango with cffi's dlopen when it is imported; refusing that one
# library is what a machine without the package looks like to it.
WITHOUT_PANGO = """
import sys
import cffi

real_dlopen = cffi.FFI.dlopen

def dlopen_without_pango(self, name, *args, **kwargs):
    if "pango" in str(name):
        raise OSError(f"cannot load library {name!r}: cannot open shared object file")
    return real_dlopen(self, name, *args, **kwargs)

cffi.FFI.dlopen = dlopen_without_pango
from relance.cli import main
main(sys.argv[1:])
"""


def test_dispatch_without_pango_stops_once_and_leaves_the_letter_queued(
    tmp_path: Path,
) -> None:
    root = tmp_path / "ws"
    ids = standard_workspace(root)
    env = {**os.environ, "RELANCE_USER": "alice"}
    env.pop("RELANCE_DATABASE_URL", None)

    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_PANGO, "-w", str(root), "dispatch", "--on",
         "2026-11-22", "--channel", "letter"],
        capture_output=True, text=True, env=env, timeout=120, check=False)

    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("relance: letters cannot be rendered: WeasyPrint could not load "
                           "the Pango library libpango-1.0.so.0")
    assert line.endswith("`sudo apt-get install libpango-1.0-0 libpangoft2-1.0-0`")
    store = open_store(f"sqlite:///{root / 'relance.sqlite'}")
    try:
        with store.transaction() as session:
            action = session.get(Action, ids["action"])
            assert action is not None and action.state == "approved"
    finally:
        store.dispose()
