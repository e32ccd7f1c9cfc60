"""rules state: the run records whether its rules folder was clean at a commit

A run stores the state of the rules folder it read: clean at a git commit, dirty
(uncommitted edits, identified by the hash of the diff) or untracked (no repository),
so that an audit does not name a commit for rules that were not in it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 16:10:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('run', sa.Column('rules_state', sa.String(length=12), nullable=False,
                                   server_default='untracked'))
    op.add_column('run', sa.Column('rules_git_commit', sa.String(length=40), nullable=True))
    op.add_column('run', sa.Column('rules_diff_hash', sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column('run', 'rules_diff_hash')
    op.drop_column('run', 'rules_git_commit')
    op.drop_column('run', 'rules_state')
