"""Autogenerate a migration against a scratch SQLite database at the current head.

    .venv/bin/python scripts/make_migration.py "what changed"

Review the generated file before committing: Alembic cannot see trigger or data changes.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from relance.store.db import make_engine
from relance.store.migrate import alembic_config, upgrade


def main() -> None:
    message = sys.argv[1] if len(sys.argv) > 1 else "schema change"
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'scratch.sqlite'}")
        if any((Path(__file__).parents[1] / "store/migrations/versions").glob("*.py")):
            upgrade(engine)
        command.revision(alembic_config(engine), message=message, autogenerate=True)


if __name__ == "__main__":
    main()
