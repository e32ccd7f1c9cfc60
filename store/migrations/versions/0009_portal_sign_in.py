"""portal sign-in: the one-time links the web portal e-mails to the people of the
`[users]` table, and the sessions they open

Both are kept as hashes of their tokens: a copy of the database signs nobody in.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 19:30:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('portal_sign_in',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_name', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_sign_in')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_portal_sign_in_token_hash'))
    )
    op.create_index(op.f('ix_portal_sign_in_user_name'), 'portal_sign_in', ['user_name'],
                    unique=False)
    op.create_table('portal_session',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_name', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_portal_session_token_hash'))
    )
    op.create_index(op.f('ix_portal_session_user_name'), 'portal_session', ['user_name'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_portal_session_user_name'), table_name='portal_session')
    op.drop_table('portal_session')
    op.drop_index(op.f('ix_portal_sign_in_user_name'), table_name='portal_sign_in')
    op.drop_table('portal_sign_in')
