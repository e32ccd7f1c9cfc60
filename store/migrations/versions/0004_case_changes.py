"""case changes: payment kinds, reversals, bank references, plan status, retracted notes

A payment can now be a credit note, be reversed (a returned direct debit, a bounced
cheque, an undo) and carry the bank's reference of its statement entry, unique per
creditor so that a statement imported twice records each entry once. A payment plan has
a status (active, completed, broken, cancelled) instead of a yes/no flag, with the day it
was agreed and the day it ended; plans are indexed by invoice and instalments by plan.
An undone note stays, marked retracted.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 04:40:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAYMENT_KIND = sa.Enum('payment', 'credit_note', name='payment_kind', native_enum=False,
                       length=20)
PLAN_STATUS = sa.Enum('active', 'completed', 'broken', 'cancelled', name='plan_status',
                      native_enum=False, length=20)


def upgrade() -> None:
    with op.batch_alter_table('note', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retracted_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', PAYMENT_KIND, nullable=False,
                                      server_default='payment'))
        batch_op.add_column(sa.Column('bank_ref', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('reversed_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('reversal_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('reversal_ref', sa.String(length=120), nullable=True))
        batch_op.create_unique_constraint('uq_payment_creditor_id_bank_ref',
                                          ['creditor_id', 'bank_ref'])
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.alter_column('kind', server_default=None)

    with op.batch_alter_table('payment_plan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', PLAN_STATUS, nullable=False,
                                      server_default='active'))
        batch_op.add_column(sa.Column('agreed_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('ended_on', sa.Date(), nullable=True))
    # Plans recorded before this revision: agreed the day they were recorded; an inactive
    # one is taken as cancelled (nothing told why it stopped).
    op.execute("UPDATE payment_plan SET status = CASE WHEN active THEN 'active' "
               "ELSE 'cancelled' END")
    # SQLite keeps timestamps as text, where CAST(... AS DATE) would keep only the year.
    day = ("date(created_at)" if op.get_bind().dialect.name == "sqlite"
           else "CAST(created_at AS DATE)")
    op.execute(f"UPDATE payment_plan SET agreed_on = {day}")
    with op.batch_alter_table('payment_plan', schema=None) as batch_op:
        batch_op.alter_column('status', server_default=None)
        batch_op.alter_column('agreed_on', nullable=False)
        batch_op.drop_column('active')
    # Settling the queue and the plan facts look plans up by invoice, instalments by plan.
    op.create_index('ix_payment_plan_invoice_invoice', 'payment_plan_invoice', ['invoice_id'])
    op.create_index('ix_instalment_plan_id', 'instalment', ['plan_id'])


def downgrade() -> None:
    op.drop_index('ix_instalment_plan_id', table_name='instalment')
    op.drop_index('ix_payment_plan_invoice_invoice', table_name='payment_plan_invoice')
    with op.batch_alter_table('payment_plan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
    op.execute("UPDATE payment_plan SET active = (status = 'active')")
    with op.batch_alter_table('payment_plan', schema=None) as batch_op:
        batch_op.alter_column('active', server_default=None)
        batch_op.drop_column('ended_on')
        batch_op.drop_column('agreed_on')
        batch_op.drop_column('status')

    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_constraint('uq_payment_creditor_id_bank_ref', type_='unique')
        batch_op.drop_column('reversal_ref')
        batch_op.drop_column('reversal_reason')
        batch_op.drop_column('reversed_on')
        batch_op.drop_column('bank_ref')
        batch_op.drop_column('kind')

    with op.batch_alter_table('note', schema=None) as batch_op:
        batch_op.drop_column('retracted_at')
