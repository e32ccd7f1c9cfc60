"""Rebuild store/migrations/versions/0001_initial_schema.py from the models.

Before the first release the schema lives in one migration; after it, add migrations
with scripts/make_migration.py instead. The event log's append-only triggers are added
back to the generated file.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from alembic import command

from relance.store.db import make_engine
from relance.store.migrate import alembic_config

VERSIONS = Path(__file__).resolve().parents[1] / "store" / "migrations" / "versions"
TARGET = VERSIONS / "0001_initial_schema.py"

TRIGGERS = '''
    # The event log refuses UPDATE and DELETE in the database itself.
    statements = (
        APPEND_ONLY_SQLITE if op.get_bind().dialect.name == "sqlite" else APPEND_ONLY_POSTGRESQL
    )
    for statement in statements:
        op.execute(statement)
'''


def main() -> None:
    TARGET.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'scratch.sqlite'}")
        command.revision(alembic_config(engine), message="initial schema", autogenerate=True,
                         rev_id="0001")
    generated = next(VERSIONS.glob("0001_*.py"))
    text = generated.read_text()
    text = text.replace(
        "from alembic import op\n",
        "from alembic import op\n\n"
        "from relance.store.audit import APPEND_ONLY_POSTGRESQL, APPEND_ONLY_SQLITE\n",
    )
    text = re.sub(
        r"\n\ndef downgrade", TRIGGERS.rstrip("\n") + "\n\n\ndef downgrade", text, count=1
    )
    text = text.replace(
        "def downgrade() -> None:\n",
        "def downgrade() -> None:\n"
        '    if op.get_bind().dialect.name == "postgresql":\n'
        '        op.execute("DROP FUNCTION IF EXISTS relance_event_append_only() CASCADE")\n',
        1,
    )
    generated.unlink()
    TARGET.write_text(text)
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
