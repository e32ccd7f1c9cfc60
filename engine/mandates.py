"""The collection firm's mandates, and the cases it takes under them.

A collection firm (`[agency]` in relance.toml) may only take a creditor's case into
amicable recovery under a written mandate of that creditor (CPCE R124-3), and into
litigation only when the mandate says so. Here:

- a credit manager records a mandate (`add_mandate`) and ends it (`end_mandate`); the
  mandates of one creditor never overlap in time, so that on any day at most one is in
  force and fees and remittances follow from it without a choice;
- `mandate_in_force` answers which mandate covers a creditor's stage on a day;
- the approval of an escalation in a firm's workspace goes through
  `require_mandate_for_escalation` (refused without a mandate covering the stage) and,
  on the approval that moves the invoices, `open_mandate_case`: the debtor's case under
  the mandate, whose reference every later message of the firm recalls.

A case reference is the mandate's reference, a slash and the case's number under that
mandate on four digits or more (`MD-ACME-2026/0001`, `/0002`...): readable on the
phone, unique because a mandate's reference is, and because the part after the last
slash is only digits. Each change appends its audit event in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from relance.engine.roles import Actor, Policy, require_credit_manager
from relance.engine.scope import require_visible, scoped
from relance.kernel.display import show_date
from relance.kernel.errors import NotFound, UsageError
from relance.kernel.i18n import _
from relance.kernel.money import Money, money_text
from relance.store import audit
from relance.store.models import (
    Action,
    Creditor,
    Debtor,
    Mandate,
    MandateCase,
    MandateScope,
    Stage,
)

# The longest mandate reference the `mandate.reference` column holds.
REFERENCE_LENGTH = 60
# A mandate may give the firm up to a year to remit; R124-6 sets a month unless agreed.
MOST_REMIT_DAYS = 366
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class NoMandate(UsageError):
    """An escalation refused in a firm's workspace: no mandate covers it."""


# --------------------------------------------------------------------------- checks


def clean_reference(text: str, *, what: str | None = None) -> str:
    """A mandate reference as typed, trimmed; refused empty, too long or with control
    characters. `what` names the field in a refusal (an option on the command line)."""
    what = what or _("mandate reference")
    reference = text.strip()
    if not reference:
        raise UsageError(_("{what}: a mandate needs a reference").format(what=what))
    if len(reference) > REFERENCE_LENGTH:
        raise UsageError(_("{what} {text!r}: at most {most} characters").format(
            what=what, text=reference, most=REFERENCE_LENGTH))
    if _CONTROL.search(reference):
        raise UsageError(_("{what} {text!r}: control characters are not allowed").format(
            what=what, text=reference))
    return reference


def check_fee_percent(value: Decimal, *, what: str | None = None) -> str:
    """The fee on sums collected as stored: exact text without trailing zeros ("12.5").
    Refused outside 0..100 or with more than two decimals."""
    what = what or _("fee percent")
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(100):
        raise UsageError(_("{what} {value}: a percentage between 0 and 100").format(
            what=what, value=value))
    if value != value.quantize(Decimal("0.01")):
        raise UsageError(_("{what} {value}: at most two decimals").format(
            what=what, value=value))
    # normalize() drops the trailing zeros ("12.50" -> "12.5", "100" stays "100").
    return format(value.normalize(), "f")


def parse_fee_percent(text: str, *, what: str | None = None) -> Decimal:
    """A percentage typed by a person: `12.5`, `12,5`, `12.5 %`."""
    what = what or _("fee percent")
    raw = text.strip().rstrip("%").strip().replace(",", ".")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise UsageError(_("{what} {text!r}: write a percentage such as 12.5").format(
            what=what, text=text)) from None
    check_fee_percent(value, what=what)
    return value


def check_fixed_fee(fee: Money, *, what: str | None = None) -> Money:
    what = what or _("fixed fee")
    if fee.minor < 0:
        raise UsageError(_("{what} {amount}: a fee cannot be negative").format(
            what=what, amount=money_text(fee.minor, fee.currency)))
    return fee


def check_remit_days(days: int, *, what: str | None = None) -> int:
    what = what or _("remittance period")
    if not 1 <= days <= MOST_REMIT_DAYS:
        raise UsageError(_("{what} {days}: between 1 and {most} days").format(
            what=what, days=days, most=MOST_REMIT_DAYS))
    return days


def covers(mandate: Mandate, stage: Stage) -> bool:
    """Whether the mandate's scope lets the firm act at `stage`: litigation needs a
    mandate for amicable recovery and litigation; anything earlier, any mandate."""
    if stage == Stage.LITIGATION:
        return mandate.scope == MandateScope.AMICABLE_AND_LITIGATION
    return True


def in_force(mandate: Mandate, day: dt.date) -> bool:
    """From its first day to its last (`ends_on`) included."""
    return mandate.starts_on <= day and (mandate.ends_on is None or day <= mandate.ends_on)


# --------------------------------------------------------------------------- finding


def find_creditor(session: Session, actor: Actor | None, code: str) -> Creditor:
    """The creditor of that code, if the actor may see it; else refused as unknown."""
    clean = code.strip()
    creditor = session.scalars(select(Creditor).where(Creditor.code == clean)).one_or_none()
    not_found = _("no creditor {code!r} (see relance creditor list)").format(code=clean)
    if creditor is None:
        raise NotFound(not_found)
    require_visible(session, actor, creditor.id, not_found)
    return creditor


def find_mandate(session: Session, actor: Actor | None, reference: str,
                 *, for_update: bool = False) -> Mandate:
    """The mandate of that reference, if the actor may see its creditor."""
    clean = reference.strip()
    query = select(Mandate).where(Mandate.reference == clean)
    if for_update:
        query = query.with_for_update()
    mandate = session.scalars(query).one_or_none()
    not_found = _("no mandate {reference!r} (see relance mandate list)").format(
        reference=clean)
    if mandate is None:
        raise NotFound(not_found)
    require_visible(session, actor, mandate.creditor_id, not_found)
    return mandate


def list_mandates(session: Session, actor: Actor | None = None, *,
                  creditor_code: str | None = None) -> list[Mandate]:
    """The mandates the actor may see, by creditor code then start: of one creditor
    when `creditor_code` is given."""
    query = select(Mandate).join(Creditor, Creditor.id == Mandate.creditor_id)
    if creditor_code is not None:
        creditor = find_creditor(session, actor, creditor_code)
        query = query.where(Mandate.creditor_id == creditor.id)
    query = scoped(session, query, Mandate.creditor_id, actor)
    return list(session.scalars(query.order_by(Creditor.code, Mandate.starts_on,
                                               Mandate.id)))


def mandate_in_force(session: Session, creditor_id: int, day: dt.date,
                     stage: Stage = Stage.AMICABLE) -> Mandate | None:
    """The creditor's mandate in force on `day` whose scope covers `stage`; None when
    there is none (mandates of one creditor do not overlap: at most one is in force)."""
    for mandate in _mandates_of(session, creditor_id):
        if in_force(mandate, day) and covers(mandate, stage):
            return mandate
    return None


def _mandates_of(session: Session, creditor_id: int) -> list[Mandate]:
    return list(session.scalars(select(Mandate).where(Mandate.creditor_id == creditor_id)
                                .order_by(Mandate.starts_on, Mandate.id)))


def _overlapping(mandates: list[Mandate], starts_on: dt.date,
                 ends_on: dt.date | None) -> Mandate | None:
    """The first of `mandates` whose period shares a day with starts_on..ends_on."""
    for other in mandates:
        starts_before_other_ends = other.ends_on is None or starts_on <= other.ends_on
        other_starts_before_end = ends_on is None or other.starts_on <= ends_on
        if starts_before_other_ends and other_starts_before_end:
            return other
    return None


def _period(mandate: Mandate) -> str:
    if mandate.ends_on is None:
        return _("from {start}, open-ended").format(start=show_date(mandate.starts_on))
    return _("from {start} to {end}").format(start=show_date(mandate.starts_on),
                                             end=show_date(mandate.ends_on))


# --------------------------------------------------------------------------- changes


def add_mandate(session: Session, actor: Actor, *, creditor_code: str, reference: str,
                signed_on: dt.date, scope: MandateScope, fee_percent: Decimal,
                fixed_fee: Money, remit_within_days: int = 30, starts_on: dt.date,
                ends_on: dt.date | None = None) -> Mandate:
    """Record a creditor's signed mandate to the firm (credit managers only).

    Refused: a reference already used, a fee outside 0..100 % or with more than two
    decimals, a negative fixed fee, a start after the end, a signature after the start,
    and a period that shares a day with another mandate of the creditor."""
    require_credit_manager(actor, _("record a mandate"))
    # The creditor's row locked first: two mandates recorded at once for one creditor
    # would otherwise both pass the overlap check (PostgreSQL lets both writers in).
    creditor = find_creditor(session, actor, creditor_code)
    session.scalars(select(Creditor.id).where(Creditor.id == creditor.id)
                    .with_for_update()).one()
    clean = clean_reference(reference)
    taken = session.scalars(select(Mandate.id).where(Mandate.reference == clean)).first()
    if taken is not None:
        raise UsageError(_("mandate reference {reference!r} is already used: each mandate "
                           "has its own").format(reference=clean))
    percent = check_fee_percent(fee_percent)
    check_fixed_fee(fixed_fee)
    check_remit_days(remit_within_days)
    if ends_on is not None and ends_on < starts_on:
        raise UsageError(_("the mandate ends on {end}, before it starts on {start}").format(
            end=show_date(ends_on), start=show_date(starts_on)))
    if signed_on > starts_on:
        raise UsageError(_("the mandate is signed on {signed}, after it starts on {start}: "
                           "a mandate starts once signed").format(
            signed=show_date(signed_on), start=show_date(starts_on)))
    clash = _overlapping(_mandates_of(session, creditor.id), starts_on, ends_on)
    if clash is not None:
        raise UsageError(_("{creditor} already has mandate {reference} {period}: end it "
                           "first (relance mandate end {reference} --on DATE) or start "
                           "this one after it").format(
            creditor=creditor.code, reference=clash.reference, period=_period(clash)))
    mandate = Mandate(creditor_id=creditor.id, reference=clean, signed_on=signed_on,
                      scope=scope, fee_percent=percent, fixed_fee_minor=fixed_fee.minor,
                      currency=fixed_fee.currency, remit_within_days=remit_within_days,
                      starts_on=starts_on, ends_on=ends_on, recorded_by=actor.name[:120])
    session.add(mandate)
    session.flush()
    audit.record(session, actor=actor.name, kind="mandate.added", subject_type="mandate",
                 subject_id=mandate.id, creditor_id=creditor.id,
                 data={"reference": clean, "creditor": creditor.code, "scope": scope.value,
                       "signed_on": signed_on.isoformat(), "fee_percent": percent,
                       "fixed_fee": money_text(fixed_fee.minor, fixed_fee.currency),
                       "remit_within_days": remit_within_days,
                       "starts_on": starts_on.isoformat(),
                       "ends_on": ends_on.isoformat() if ends_on else None})
    return mandate


def end_mandate(session: Session, actor: Actor, reference: str, on: dt.date) -> Mandate:
    """End a mandate: `on` is its last day in force. A mandate may be ended earlier
    than it was set to end, never later (which could overlap the creditor's next one),
    and not before it starts. Cases opened under it keep their reference."""
    require_credit_manager(actor, _("end a mandate"))
    mandate = find_mandate(session, actor, reference, for_update=True)
    if on < mandate.starts_on:
        raise UsageError(_("mandate {reference} starts on {start}: it cannot end on {on}, "
                           "before it starts").format(reference=mandate.reference,
                                                      start=show_date(mandate.starts_on),
                                                      on=show_date(on)))
    if mandate.ends_on is not None and on >= mandate.ends_on:
        raise UsageError(_("mandate {reference} already ends on {end}: it can only be "
                           "ended earlier").format(reference=mandate.reference,
                                                   end=show_date(mandate.ends_on)))
    before = mandate.ends_on
    mandate.ends_on = on
    audit.record(session, actor=actor.name, kind="mandate.ended", subject_type="mandate",
                 subject_id=mandate.id, creditor_id=mandate.creditor_id,
                 data={"reference": mandate.reference, "ends_on": on.isoformat(),
                       "ended_before": before.isoformat() if before else None})
    return mandate


# --------------------------------------------------------------------------- the gate


def require_mandate_for_escalation(session: Session, policy: Policy, action: Action,
                                   day: dt.date) -> Mandate | None:
    """The mandate under which a firm approves this escalation on `day`; None where no
    mandate is needed (a company's own credit team: `policy.mandates_required` false).
    Refused, naming the creditor and how to fix it, when none is in force or its scope
    does not reach the escalation's stage."""
    if not policy.mandates_required:
        return None
    stage = action.target_stage or Stage.AMICABLE
    if stage not in (Stage.AMICABLE, Stage.LITIGATION):
        return None
    found = mandate_in_force(session, action.creditor_id, day, stage)
    if found is not None:
        return found
    creditor = session.get(Creditor, action.creditor_id)
    assert creditor is not None  # a foreign key
    who = f"{creditor.name} ({creditor.code})"
    current = mandate_in_force(session, creditor.id, day, Stage.AMICABLE)
    if current is not None:  # in force, but amicable only
        raise NoMandate(_(
            "mandate {reference} of {creditor} covers amicable recovery only: record a "
            "mandate for litigation too (relance mandate add --creditor {code} --scope "
            "amicable-litigation ...) after ending this one, before escalating to "
            "litigation").format(reference=current.reference, creditor=who,
                                 code=creditor.code))
    ended = [m for m in _mandates_of(session, creditor.id)
             if m.ends_on is not None and m.ends_on < day]
    if ended:
        last = max(ended, key=lambda m: m.ends_on or m.starts_on)
        raise NoMandate(_(
            "{creditor} has no mandate in force on {day}: mandate {reference} ended on "
            "{end}; record the new one (relance mandate add --creditor {code} ...) before "
            "escalating its cases").format(creditor=who, day=show_date(day),
                                           reference=last.reference,
                                           end=show_date(last.ends_on), code=creditor.code))
    raise NoMandate(_(
        "{creditor} has no mandate in force on {day}: a collection firm takes a case to "
        "recovery only under the creditor's signed mandate; record it (relance mandate "
        "add --creditor {code} ...) before escalating its cases").format(
        creditor=who, day=show_date(day), code=creditor.code))


# --------------------------------------------------------------------------- cases


def open_mandate_case(session: Session, mandate: Mandate, debtor_id: int, on: dt.date,
                      *, actor: str = "relance") -> MandateCase:
    """The debtor's case under `mandate`, opened on `on` with the next case reference of
    the mandate; the one already open when the debtor has one under this mandate (an
    escalation to litigation after amicable recovery keeps its case)."""
    existing = session.scalars(select(MandateCase).where(
        MandateCase.mandate_id == mandate.id, MandateCase.debtor_id == debtor_id)).first()
    if existing is not None:
        return existing
    debtor = session.get(Debtor, debtor_id)
    assert debtor is not None  # the caller's debtor
    if debtor.creditor_id != mandate.creditor_id:
        raise UsageError(_("debtor {ref} is not a debtor of the mandate's creditor").format(
            ref=debtor.ref))
    # The mandate's row locked: two cases opened at once must not take the same number.
    session.scalars(select(Mandate.id).where(Mandate.id == mandate.id).with_for_update()).one()
    count = session.scalar(select(func.count(MandateCase.id))
                           .where(MandateCase.mandate_id == mandate.id)) or 0
    case = MandateCase(mandate_id=mandate.id, creditor_id=mandate.creditor_id,
                       debtor_id=debtor_id, opened_on=on,
                       reference=case_reference(mandate, count + 1))
    session.add(case)
    session.flush()
    audit.record(session, actor=actor, kind="mandate_case.opened", subject_type="mandate_case",
                 subject_id=case.id, creditor_id=mandate.creditor_id, debtor_id=debtor_id,
                 data={"reference": case.reference, "mandate": mandate.reference,
                       "opened_on": on.isoformat()})
    return case


def case_reference(mandate: Mandate, number: int) -> str:
    """`MD-ACME-2026/0007`: the mandate's reference and the case's number under it."""
    return f"{mandate.reference}/{number:04d}"


def case_under_mandate(session: Session, debtor_id: int) -> MandateCase | None:
    """The debtor's case with the firm (the latest opened, if a later mandate took it
    again); None while the firm has not taken the debtor's case (white label)."""
    return session.scalars(select(MandateCase).where(MandateCase.debtor_id == debtor_id)
                           .order_by(MandateCase.opened_on.desc(), MandateCase.id.desc())
                           ).first()


def cases_under_mandate(session: Session, debtor_ids: Iterable[int]) -> dict[int, MandateCase]:
    """`case_under_mandate` for many debtors in one query: each debtor's latest case, for
    those the firm took (a dispatch asks it of every chunk of e-mails it commits)."""
    wanted = sorted(set(debtor_ids))
    if not wanted:
        return {}
    found: dict[int, MandateCase] = {}
    for case in session.scalars(select(MandateCase).where(MandateCase.debtor_id.in_(wanted))
                                .order_by(MandateCase.opened_on.desc(),
                                          MandateCase.id.desc())):
        found.setdefault(case.debtor_id, case)
    return found


def cases_of(session: Session, mandate: Mandate) -> list[MandateCase]:
    """The cases opened under a mandate, in the order they were opened."""
    return list(session.scalars(select(MandateCase).where(MandateCase.mandate_id == mandate.id)
                                .order_by(MandateCase.id)))
