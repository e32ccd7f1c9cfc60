"""payer profile: how each debtor paid over the last twelve months, recomputed by runs

One row per debtor, rewritten by every run before it decides: the average days late
weighted by the amounts paid, the reminders sent before invoices were paid, the share of
promises kept (those three in hundredths), the disputes opened and the payer's class.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 10:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('payer_profile',
    sa.Column('debtor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('computed_on', sa.Date(), nullable=False),
    sa.Column('days_late_hundredths', sa.BigInteger(), nullable=True),
    sa.Column('reminders_hundredths', sa.BigInteger(), nullable=True),
    sa.Column('promises_kept_hundredths', sa.Integer(), nullable=True),
    sa.Column('disputes_12m', sa.Integer(), nullable=False),
    sa.Column('payer_class', sa.String(length=8), nullable=False),
    sa.ForeignKeyConstraint(['debtor_id'], ['debtor.id'], name=op.f('fk_payer_profile_debtor_id_debtor'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('debtor_id', name=op.f('pk_payer_profile'))
    )


def downgrade() -> None:
    op.drop_table('payer_profile')
