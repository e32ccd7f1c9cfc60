"""agency: creditors' identity, the firm's mandates and cases, client funds, intake files

A creditor gains the fields its letters and e-mails need (SIRET, sender name, contact
e-mail, signature, languages, calendar region) and may waive the late-payment penalties
for all its debtors or some segments. A debtor may belong to a collector's portfolio.
The collection firm's mandates, the cases it took under them, the client-funds ledger
and its remittances, and the files dropped in the intake folders get their tables.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 13:10:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('intake_file',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('creditor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=400), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('archived_as', sa.String(length=400), nullable=True),
    sa.ForeignKeyConstraint(['creditor_id'], ['creditor.id'], name=op.f('fk_intake_file_creditor_id_creditor')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_file')),
    sa.UniqueConstraint('creditor_id', 'sha256', name=op.f('uq_intake_file_creditor_id_sha256'))
    )
    with op.batch_alter_table('intake_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_file_creditor_id'), ['creditor_id'], unique=False)

    op.create_table('mandate',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('creditor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reference', sa.String(length=60), nullable=False),
    sa.Column('signed_on', sa.Date(), nullable=False),
    sa.Column('scope', sa.Enum('amicable', 'amicable_litigation', name='mandate_scope', native_enum=False, length=20), nullable=False),
    sa.Column('fee_percent', sa.String(length=12), nullable=False),
    sa.Column('fixed_fee_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('remit_within_days', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('recorded_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['creditor_id'], ['creditor.id'], name=op.f('fk_mandate_creditor_id_creditor')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mandate')),
    sa.UniqueConstraint('reference', name=op.f('uq_mandate_reference'))
    )
    with op.batch_alter_table('mandate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mandate_creditor_id'), ['creditor_id'], unique=False)

    op.create_table('remittance',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('creditor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reference', sa.String(length=60), nullable=False),
    sa.Column('until', sa.Date(), nullable=False),
    sa.Column('made_on', sa.Date(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('collected_minor', sa.BigInteger(), nullable=False),
    sa.Column('fees_minor', sa.BigInteger(), nullable=False),
    sa.Column('net_minor', sa.BigInteger(), nullable=False),
    sa.Column('statement_path', sa.String(length=400), nullable=True),
    sa.Column('made_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['creditor_id'], ['creditor.id'], name=op.f('fk_remittance_creditor_id_creditor')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_remittance')),
    sa.UniqueConstraint('creditor_id', 'reference', name=op.f('uq_remittance_creditor_id_reference'))
    )
    with op.batch_alter_table('remittance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_remittance_creditor_id'), ['creditor_id'], unique=False)

    op.create_table('mandate_case',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('mandate_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('creditor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('debtor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('reference', sa.String(length=80), nullable=False),
    sa.Column('first_letter_action_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('first_letter_on', sa.Date(), nullable=True),
    sa.Column('fixed_fee_charged', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['creditor_id'], ['creditor.id'], name=op.f('fk_mandate_case_creditor_id_creditor')),
    sa.ForeignKeyConstraint(['debtor_id'], ['debtor.id'], name=op.f('fk_mandate_case_debtor_id_debtor')),
    sa.ForeignKeyConstraint(['first_letter_action_id'], ['action.id'], name=op.f('fk_mandate_case_first_letter_action_id_action')),
    sa.ForeignKeyConstraint(['mandate_id'], ['mandate.id'], name=op.f('fk_mandate_case_mandate_id_mandate')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mandate_case')),
    sa.UniqueConstraint('mandate_id', 'debtor_id', name=op.f('uq_mandate_case_mandate_id_debtor_id')),
    sa.UniqueConstraint('reference', name=op.f('uq_mandate_case_reference'))
    )
    with op.batch_alter_table('mandate_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mandate_case_debtor_id'), ['debtor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mandate_case_mandate_id'), ['mandate_id'], unique=False)

    op.create_table('fund_entry',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('creditor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('mandate_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('mandate_case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('debtor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('payment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.Enum('collected', 'reversed', name='fund_entry_kind', native_enum=False, length=20), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('booked_on', sa.Date(), nullable=False),
    sa.Column('remittance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['creditor_id'], ['creditor.id'], name=op.f('fk_fund_entry_creditor_id_creditor')),
    sa.ForeignKeyConstraint(['debtor_id'], ['debtor.id'], name=op.f('fk_fund_entry_debtor_id_debtor')),
    sa.ForeignKeyConstraint(['mandate_case_id'], ['mandate_case.id'], name=op.f('fk_fund_entry_mandate_case_id_mandate_case')),
    sa.ForeignKeyConstraint(['mandate_id'], ['mandate.id'], name=op.f('fk_fund_entry_mandate_id_mandate')),
    sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], name=op.f('fk_fund_entry_payment_id_payment')),
    sa.ForeignKeyConstraint(['remittance_id'], ['remittance.id'], name=op.f('fk_fund_entry_remittance_id_remittance')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_entry')),
    sa.UniqueConstraint('payment_id', 'kind', name=op.f('uq_fund_entry_payment_id_kind'))
    )
    with op.batch_alter_table('fund_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fund_entry_creditor_id'), ['creditor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fund_entry_remittance_id'), ['remittance_id'], unique=False)

    # Plain ADD COLUMNs (no batch copy of the table, which SQLite could not drop while
    # debtors point at it); the defaults fill the creditors recorded before: French, no
    # waiver.
    op.add_column('creditor', sa.Column('siret', sa.String(length=20), nullable=True))
    op.add_column('creditor', sa.Column('sender_name', sa.String(length=200), nullable=True))
    op.add_column('creditor', sa.Column('contact_email', sa.String(length=200), nullable=True))
    op.add_column('creditor', sa.Column('signature', sa.Text(), nullable=False,
                                        server_default=''))
    op.add_column('creditor', sa.Column('languages', sa.JSON(), nullable=False,
                                        server_default='["fr"]'))
    op.add_column('creditor', sa.Column('calendar_region', sa.String(length=10),
                                        nullable=True))
    op.add_column('creditor', sa.Column('waive_penalties', sa.Boolean(), nullable=False,
                                        server_default=sa.false()))
    op.add_column('creditor', sa.Column('waive_segments', sa.JSON(), nullable=False,
                                        server_default='[]'))
    op.add_column('debtor', sa.Column('collector', sa.String(length=120), nullable=True))
    op.create_index('ix_debtor_collector', 'debtor', ['collector'])


def downgrade() -> None:
    op.drop_index('ix_debtor_collector', table_name='debtor')
    # Plain DROP COLUMNs (SQLite has them since 3.35) for the reason of the ADDs above.
    op.execute("ALTER TABLE debtor DROP COLUMN collector")
    for column in ('waive_segments', 'waive_penalties', 'calendar_region', 'languages',
                   'signature', 'contact_email', 'sender_name', 'siret'):
        op.execute(f"ALTER TABLE creditor DROP COLUMN {column}")
    for table in ('fund_entry', 'mandate_case', 'remittance', 'mandate', 'intake_file'):
        op.drop_table(table)
