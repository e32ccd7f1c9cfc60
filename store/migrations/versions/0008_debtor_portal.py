"""debtor portal: the personal links letters, e-mails and SMS carry, and the requests
debtors make on their page

A link is kept as the hash of its token, bound to a debtor and the communication that
carried it, with its expiry, its revocation and when it was opened. A request is what an
operator decides on: a payment the debtor declares made, a payment plan asked for.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 16:40:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('portal_link',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('debtor_id', _ID, nullable=False),
    sa.Column('action_id', _ID, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.String(length=120), nullable=True),
    sa.Column('opened_count', sa.Integer(), nullable=False),
    sa.Column('first_opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['action_id'], ['action.id'], name=op.f('fk_portal_link_action_id_action'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['debtor_id'], ['debtor.id'], name=op.f('fk_portal_link_debtor_id_debtor'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_link')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_portal_link_token_hash'))
    )
    op.create_index(op.f('ix_portal_link_action_id'), 'portal_link', ['action_id'], unique=False)
    op.create_index(op.f('ix_portal_link_debtor_id'), 'portal_link', ['debtor_id'], unique=False)
    op.create_table('portal_request',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('debtor_id', _ID, nullable=False),
    sa.Column('link_id', _ID, nullable=True),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('proof_path', sa.String(length=400), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=120), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['debtor_id'], ['debtor.id'], name=op.f('fk_portal_request_debtor_id_debtor'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['link_id'], ['portal_link.id'], name=op.f('fk_portal_request_link_id_portal_link'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_request'))
    )
    op.create_index(op.f('ix_portal_request_debtor_id'), 'portal_request', ['debtor_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_portal_request_debtor_id'), table_name='portal_request')
    op.drop_table('portal_request')
    op.drop_index(op.f('ix_portal_link_debtor_id'), table_name='portal_link')
    op.drop_index(op.f('ix_portal_link_action_id'), table_name='portal_link')
    op.drop_table('portal_link')
