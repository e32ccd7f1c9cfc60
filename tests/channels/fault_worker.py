"""A dispatcher process for the kill campaign: `python -m tests.channels.fault_worker URL
WORKSPACE PORT`. Prints `ready` once imported, then dispatches everything it can."""

from __future__ import annotations

import sys
from pathlib import Path

from relance.channels.dispatch import dispatch
from relance.kernel.workspace import Workspace
from relance.store.db import open_store
from tests.channels.factory import TODAY


def main(url: str, root: str, port: str, schema: str | None = None) -> None:
    workspace = Workspace(Path(root), {
        "smtp": {"host": "127.0.0.1", "port": int(port), "security": "none",
                 "max_connections": 4, "timeout": 10},
        "dispatch": {"retry_base_seconds": 0, "batch_size": 20, "max_attempts": 50},
    })
    store = open_store(url, schema=schema or None, migrate=False)
    print("ready", flush=True)
    report = dispatch(store, workspace, today=TODAY)
    print(f"done sent={report.sent} uncertain={report.uncertain} "
          f"recovered={report.recovered_uncertain}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
