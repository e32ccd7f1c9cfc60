"""SQLite: the index on open invoices holds the fields policies read

A policy's query goes from a segment's debtors to their open invoices through the
partial index on `debtor_id`, then sought each invoice's row for its due date, balance
and the rest: a fifth of the query's time on a large book. On SQLite the index now holds
those fields and the row is never read (`models.Invoice`). PostgreSQL keeps its index as
it was: it reads the open invoices in one bitmap scan, and a long dispute reason could
outgrow a B-tree entry there.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 00:20:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("balance_minor > 0")
# As `models.OPEN_INVOICE_FIELDS` reads at this revision.
FIELDS = ["debtor_id", "creditor_id", "due_date", "issue_date", "amount_minor", "balance_minor",
          "currency", "number", "status", "stage", "dispute_reason"]


def _on_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if _on_sqlite():
        op.drop_index("ix_invoice_open_debtor", table_name="invoice")
        op.create_index("ix_invoice_open_debtor_fields", "invoice", FIELDS,
                        sqlite_where=OPEN)
        op.execute("ANALYZE invoice")


def downgrade() -> None:
    if _on_sqlite():
        op.drop_index("ix_invoice_open_debtor_fields", table_name="invoice")
        op.create_index("ix_invoice_open_debtor", "invoice", ["debtor_id"], sqlite_where=OPEN)
