"""A letter dispatcher for the print-batch kill tests:
`python -m tests.channels.letter_kill_worker URL WORKSPACE POINT [SCHEMA]`.

Prints `ready` once imported, then dispatches the approved letters two by two. POINT
says where it stops to be killed: `none` (the test kills it when it sees letters
committed `sent` in the database), `before-batch` (just before a print batch is
written) or `after-batch` (just after the first batch is written and synced, before
its letters are committed `sent`). At the point it prints `killpoint` and sleeps."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from relance.channels import dispatch as dispatch_module
from relance.channels.dispatch import dispatch
from relance.channels.letter import write_batch as real_write_batch
from relance.kernel.workspace import Workspace
from relance.store.db import open_store
from tests.channels.factory import TODAY


def _stop_here() -> None:
    print("killpoint", flush=True)
    time.sleep(600)


def main(url: str, root: str, point: str, schema: str | None = None) -> None:
    workspace = Workspace(Path(root), {"dispatch": {"retry_base_seconds": 0, "batch_size": 2}})
    store = open_store(url, schema=schema or None, migrate=False)

    def write_batch(pdfs: Any, out: Path) -> Path:
        if point == "before-batch":
            _stop_here()
        written = real_write_batch(pdfs, out)
        if point == "after-batch":
            _stop_here()
        return written

    # The dispatcher calls the name it imported: replacing it there puts the stop around
    # the real write.
    dispatch_module.write_batch = write_batch  # type: ignore[attr-defined]
    print("ready", flush=True)
    report = dispatch(store, workspace, today=TODAY, channels={"letter"})
    print(f"done sent={report.sent}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
