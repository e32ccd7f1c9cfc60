"""Collectors' portfolios: which debtors a user works first.

A debtor's `collector` is the name of the user (`[users]` of relance.toml) whose
portfolio holds it. The import sets it (the `collector` column) and `relance portfolio
assign` changes it, through `assign` below, which records an audit event per debtor.

A user's portfolio is the debtors whose collector they are, among the creditors they
may see (engine/scope.py). A user with no debtor assigned has no portfolio: they work
everything they see. The desk's queue and call list open on the portfolio when there is
one, with a key to see all (tui/screens/queue.py, calls.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from relance.engine.case_locking import audit_debtor, locked_debtor
from relance.engine.roles import Actor, Policy, require_credit_manager
from relance.engine.scope import creditor_ids, scoped
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _
from relance.store.models import Creditor, Debtor


def portfolio_size(session: Session, user: str, actor: Actor | None = None) -> int:
    """How many debtors `user`'s portfolio holds, among those `actor` may see (by default
    every creditor's); 0: no portfolio, the user works everything they see."""
    query = scoped(session, select(func.count(Debtor.id)).where(Debtor.collector == user),
                   Debtor.creditor_id, actor)
    return int(session.scalar(query) or 0)


@dataclass(frozen=True)
class PortfolioLine:
    """One debtor of a portfolio, as `relance portfolio show` lists it."""

    debtor_id: int
    creditor: str
    ref: str
    name: str
    segment: str
    collector: str | None


def portfolio(session: Session, user: str | None, actor: Actor | None) -> list[PortfolioLine]:
    """The debtors of `user`'s portfolio (`None`: every debtor that has a collector),
    among those `actor` may see, by creditor and reference."""
    query = (select(Debtor.id, Creditor.code, Debtor.ref, Debtor.name, Debtor.segment,
                    Debtor.collector)
             .join(Creditor, Creditor.id == Debtor.creditor_id)
             .order_by(Creditor.code, Debtor.ref))
    query = (query.where(Debtor.collector == user) if user is not None
             else query.where(Debtor.collector.is_not(None)))
    seen = creditor_ids(session, actor)
    if seen is not None:
        query = query.where(Debtor.creditor_id.in_(seen))
    return [PortfolioLine(*row) for row in session.execute(query)]


def select_debtors(session: Session, actor: Actor, *, debtor_ids: Sequence[int] = (),
                   creditor_id: int | None = None, segment: str | None = None) -> list[int]:
    """The debtors a portfolio change is about, among those `actor` may see: those
    named, or every debtor of a creditor, or of a segment (within the creditor when both
    are given)."""
    if debtor_ids:
        return list(dict.fromkeys(debtor_ids))
    if creditor_id is None and segment is None:
        raise UsageError(_("name the debtors: --debtor, --creditor or --segment"))
    query = scoped(session, select(Debtor.id), Debtor.creditor_id, actor)
    if creditor_id is not None:
        query = query.where(Debtor.creditor_id == creditor_id)
    if segment is not None:
        query = query.where(Debtor.segment == segment)
    return list(session.scalars(query.order_by(Debtor.id)))


def assign(session: Session, actor: Actor, policy: Policy, collector: str | None,
           debtor_ids: Sequence[int]) -> int:
    """Put these debtors in `collector`'s portfolio (None: in nobody's), in the caller's
    transaction, with an audit event per debtor whose collector changes. Only a credit
    manager hands out work; the collector must be a user of the workspace who may see
    each debtor's creditor. Returns how many debtors changed."""
    require_credit_manager(actor, _("assign debtors to a portfolio"))
    target: Actor | None = None
    if collector is not None:
        # The policy refuses a name [users] does not list (an open workspace takes any).
        target = policy.actor(collector)
        collector = target.name
    visible_to_target = creditor_ids(session, target)
    changed = 0
    for debtor_id in debtor_ids:
        debtor = locked_debtor(session, debtor_id, actor)
        if visible_to_target is not None and debtor.creditor_id not in visible_to_target:
            code = session.scalar(select(Creditor.code).where(
                Creditor.id == debtor.creditor_id))
            assert target is not None
            raise UsageError(_("{user} may not see creditor {creditor}: {debtor} cannot be in "
                               "their portfolio").format(user=target.name, creditor=code,
                                                         debtor=debtor.ref))
        if debtor.collector == collector:
            continue
        previous = debtor.collector
        debtor.collector = collector
        audit_debtor(session, actor, debtor, "portfolio.assigned",
                     {"collector": collector, "previous": previous})
        changed += 1
    return changed
