"""statistics on lower(segment) for PostgreSQL's planner

Policies select debtors by `lower(segment)` (enum fields compare case-insensitively).
Without statistics on that expression PostgreSQL guesses that half a percent of the
debtors match, and plans a policy's query for a handful of rows: one index probe of
`invoice_level` per invoice where a hash join is cheaper. SQLite has no such objects.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 21:40:00
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXPRESSION_STATISTICS = 140000  # PostgreSQL 14 first kept statistics on expressions


def _applies() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    version = bind.exec_driver_sql("SHOW server_version_num").scalar_one()
    return int(version) >= EXPRESSION_STATISTICS


def upgrade() -> None:
    if _applies():
        op.execute("CREATE STATISTICS debtor_segment_lower ON (lower(segment)) FROM debtor")
        op.execute("ANALYZE debtor")


def downgrade() -> None:
    if _applies():
        op.execute("DROP STATISTICS IF EXISTS debtor_segment_lower")
