"""Which creditors a user may see, applied to queries.

A user given only some creditors (`[users.NAME] creditors = [...]`, engine/roles.py)
must not see nor change a case of another creditor through any door: the desk, a
command, a report, an export. Every query that lists or finds a creditor's rows passes
through `scoped` (or `creditor_ids`) with the acting user; a row found by id is checked
with `require_visible`, which answers as if the row did not exist, so that a user cannot
learn that another creditor's invoice number or debtor exists.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from relance.engine.roles import Actor
from relance.kernel.errors import UsageError
from relance.store.models import Creditor

S = TypeVar("S", bound=Select[Any])


class NotVisible(UsageError):
    """The row belongs to a creditor the user may not see; worded as not found."""


def creditor_ids(session: Session, actor: Actor | None) -> list[int] | None:
    """The ids of the creditors `actor` may see; None: every creditor (no limit)."""
    if actor is None or actor.creditors is None:
        return None
    return list(session.scalars(
        select(Creditor.id).where(Creditor.code.in_(sorted(actor.creditors)))))


def scoped(session: Session, statement: S, column: Any, actor: Actor | None) -> S:
    """`statement` limited to the rows whose `column` (a `creditor_id`) the actor sees."""
    ids = creditor_ids(session, actor)
    if ids is None:
        return statement
    return statement.where(column.in_(ids))


def visible(session: Session, actor: Actor | None, creditor_id: int) -> bool:
    ids = creditor_ids(session, actor)
    return ids is None or creditor_id in ids


def require_visible(session: Session, actor: Actor | None, creditor_id: int,
                    not_found: str) -> None:
    """Refuse with `not_found` (the caller's translated "no such ..." sentence) a row of
    a creditor the actor may not see."""
    if not visible(session, actor, creditor_id):
        raise NotVisible(not_found)
