"""`relance mandate add|list|show|end` and `relance agency show`: the collection firm
and its mandates from the command line.

`relance.engine.mandates` checks and records; these commands read what a person typed,
each value refused with the option named (exit code 2), and word the results.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table

from relance.command_index import command_help
from relance.commands.case_support import UserOption, emit_or_say, major, open_desk_as_actor, say
from relance.commands.options import JsonOption, json_wanted
from relance.context import add_row, print_table
from relance.kernel.dates import parse_day
from relance.kernel.display import show_count, show_date, show_money, show_percent
from relance.kernel.errors import UsageError
from relance.kernel.i18n import N_, _, ngettext
from relance.kernel.money import Money, normalise_currency
from relance.store.states import MandateScope

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from relance.store.models import Mandate

mandate_app = typer.Typer(help=command_help("mandate"),
                          no_args_is_help=True)
agency_app = typer.Typer(help=command_help("agency"),
                         no_args_is_help=True)

# The scope as typed on the command line.
SCOPES: dict[str, MandateScope] = {
    "amicable": MandateScope.AMICABLE,
    "amicable-litigation": MandateScope.AMICABLE_AND_LITIGATION,
}
SCOPE_WORDS: dict[MandateScope, str] = {
    MandateScope.AMICABLE: N_("amicable recovery"),
    MandateScope.AMICABLE_AND_LITIGATION: N_("amicable recovery and litigation"),
}
_DAYS = re.compile(r"^\s*(\d{1,4})\s*d?\s*$", re.IGNORECASE)


def parse_scope(text: str) -> MandateScope:
    scope = SCOPES.get(text.strip().lower().replace("_", "-"))
    if scope is None:
        raise UsageError(_("--scope {text!r}: write amicable or amicable-litigation").format(
            text=text))
    return scope


def parse_days(text: str, option: str) -> int:
    """`30d` or `30`: a number of calendar days."""
    from relance.engine import mandates

    found = _DAYS.match(text)
    if found is None:
        raise UsageError(_("{option} {text!r}: write a number of days such as 30d").format(
            option=option, text=text))
    return mandates.check_remit_days(int(found.group(1)), what=option)


def parse_fee(text: str, option: str) -> Money:
    """`50 EUR`, `50,00 EUR` or `50` (euros)."""
    from relance.engine import mandates
    from relance.engine.typed_input import parse_money

    parts = text.strip().rsplit(None, 1)
    currency = "EUR"
    if len(parts) == 2 and parts[1].isalpha():
        try:
            currency = normalise_currency(parts[1])
        except ValueError as exc:
            raise UsageError(f"{option}: {exc}") from None
    fee = parse_money(text, currency, what=option)
    return mandates.check_fixed_fee(fee, what=option)


# --------------------------------------------------------------------------- rows


def mandate_row(session: Session, mandate: Mandate, today: dt.date) -> dict[str, Any]:
    """A mandate as listed and shown; keys starting with `_` are for printing only."""
    from relance.engine import mandates
    from relance.store.models import Creditor

    creditor = session.get(Creditor, mandate.creditor_id)
    assert creditor is not None  # a foreign key
    cases = mandates.cases_of(session, mandate)
    return {
        "reference": mandate.reference, "creditor": creditor.code,
        "creditor_name": creditor.name, "scope": mandate.scope.value,
        "signed_on": mandate.signed_on.isoformat(), "fee_percent": mandate.fee_percent,
        "fixed_fee": major(mandate.fixed_fee_minor, mandate.currency),
        "currency": mandate.currency, "remit_within_days": mandate.remit_within_days,
        "starts_on": mandate.starts_on.isoformat(),
        "ends_on": mandate.ends_on.isoformat() if mandate.ends_on else None,
        "in_force": mandates.in_force(mandate, today), "cases": len(cases),
        "recorded_by": mandate.recorded_by,
        "_mandate": mandate, "_cases": [_case_row(session, case) for case in cases],
    }


def _case_row(session: Session, case: Any) -> dict[str, Any]:
    from relance.store.models import Debtor

    debtor = session.get(Debtor, case.debtor_id)
    assert debtor is not None  # a foreign key
    return {"reference": case.reference, "debtor_ref": debtor.ref, "debtor_name": debtor.name,
            "opened_on": case.opened_on.isoformat(),
            "first_letter_on": case.first_letter_on.isoformat() if case.first_letter_on
            else None}


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def _fees(mandate: Mandate) -> str:
    return _("{percent} of sums collected + {fixed} per case").format(
        percent=show_percent(Decimal(mandate.fee_percent)),
        fixed=show_money(mandate.fixed_fee_minor, mandate.currency))


def _remittance_sentence(mandate: Mandate) -> str:
    days = mandate.remit_within_days
    return ngettext("Fees: {fees}; funds handed back within {days} day.",
                    "Fees: {fees}; funds handed back within {days} days.", days).format(
        fees=_fees(mandate), days=show_count(days))


def _period(mandate: Mandate) -> str:
    if mandate.ends_on is None:
        return _("from {start}").format(start=show_date(mandate.starts_on))
    return _("{start} to {end}").format(start=show_date(mandate.starts_on),
                                        end=show_date(mandate.ends_on))


# --------------------------------------------------------------------------- commands


@mandate_app.command("add", help=_("Record a creditor's signed mandate to the firm (credit "
                                   "managers)."))
def add(
    ctx: typer.Context,
    creditor: Annotated[str, typer.Option("--creditor", help=_("The creditor's code."))],
    reference: Annotated[str, typer.Option(
        "--reference", help=_("The mandate's reference, as on the signed mandate."))],
    signed: Annotated[str, typer.Option("--signed", help=_("The day it was signed."))],
    scope: Annotated[str, typer.Option(
        "--scope", help=_("amicable, or amicable-litigation."))],
    starts: Annotated[str, typer.Option("--starts", help=_("Its first day in force."))],
    fee_percent: Annotated[str, typer.Option(
        "--fee-percent", help=_("The firm's fee on sums collected, in percent: 12.5."))] = "0",
    fixed_fee: Annotated[str, typer.Option(
        "--fixed-fee", help=_("A fixed fee per case: \"50 EUR\"."))] = "0",
    ends: Annotated[str | None, typer.Option(
        "--ends", help=_("Its last day in force (default: until ended)."))] = None,
    remit_within: Annotated[str, typer.Option(
        "--remit-within", help=_("Days to hand collected funds back: 30d."))] = "30d",
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine import mandates

    context, actor = open_desk_as_actor(ctx, user, json_output)
    # Every value read before anything is written, each refusal naming its option.
    reference_text = mandates.clean_reference(reference, what="--reference")
    signed_on = parse_day(signed, what="--signed")
    starts_on = parse_day(starts, what="--starts")
    ends_on = parse_day(ends, what="--ends") if ends is not None else None
    chosen_scope = parse_scope(scope)
    percent = mandates.parse_fee_percent(fee_percent, what="--fee-percent")
    fee = parse_fee(fixed_fee, "--fixed-fee")
    days = parse_days(remit_within, "--remit-within")
    today = dt.date.today()
    with context.store.write_transaction() as session:
        mandate = mandates.add_mandate(
            session, actor, creditor_code=creditor, reference=reference_text,
            signed_on=signed_on, scope=chosen_scope, fee_percent=percent, fixed_fee=fee,
            remit_within_days=days, starts_on=starts_on, ends_on=ends_on)
        row = mandate_row(session, mandate, today)
        lines = [
            _("Mandate {reference} of {creditor} recorded: {scope}, {period}.").format(
                reference=mandate.reference, creditor=row["creditor"],
                scope=_(SCOPE_WORDS[mandate.scope]), period=_period(mandate)),
            _remittance_sentence(mandate),
        ]
    emit_or_say(context, _public(row), lines)


@mandate_app.command("list", help=_("The mandates, by creditor: scope, fees, period and "
                                    "whether in force today."))
def list_mandates(
    ctx: typer.Context,
    creditor: Annotated[str | None, typer.Option(
        "--creditor", help=_("Only this creditor's (code)."))] = None,
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine import mandates

    context, actor = open_desk_as_actor(ctx, user, json_output)
    today = dt.date.today()
    with context.store.session() as session:
        rows = [mandate_row(session, m, today)
                for m in mandates.list_mandates(session, actor, creditor_code=creditor)]
    if context.json_output:
        context.emit_json([_public(row) for row in rows])
        return
    if not rows:
        say(context, _("No mandate recorded: relance mandate add --creditor CODE ... records "
                       "one."))
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for title, right in ((_("reference"), False), (_("creditor"), False), (_("scope"), False),
                         (_("fee"), True), (_("fixed fee"), True), (_("period"), False),
                         (_("in force"), False), (_("cases"), True)):
        table.add_column(title, justify="right" if right else "left")
    for row in rows:
        mandate: Mandate = row["_mandate"]
        add_row(table, mandate.reference, row["creditor"], _(SCOPE_WORDS[mandate.scope]),
                show_percent(Decimal(mandate.fee_percent)),
                show_money(mandate.fixed_fee_minor, mandate.currency), _period(mandate),
                _("yes") if row["in_force"] else _("no"), show_count(row["cases"]))
    print_table(context.console, table)
    say(context, ngettext("{count} mandate.", "{count} mandates.", len(rows)).format(
        count=show_count(len(rows))))


@mandate_app.command("show", help=_("One mandate in full, with the cases taken under it."))
def show(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help=_("The mandate's reference."))],
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine import mandates

    context, actor = open_desk_as_actor(ctx, user, json_output)
    today = dt.date.today()
    with context.store.session() as session:
        row = mandate_row(session, mandates.find_mandate(session, actor, reference), today)
    if context.json_output:
        context.emit_json(_public(row) | {"case_list": row["_cases"]})
        return
    mandate: Mandate = row["_mandate"]
    state = _("in force today") if row["in_force"] else _("not in force today")
    say(context, _("Mandate {reference} of {creditor} ({code}): {state}.").format(
        reference=mandate.reference, creditor=row["creditor_name"], code=row["creditor"],
        state=state))
    say(context, _("Scope: {scope}.").format(scope=_(SCOPE_WORDS[mandate.scope])))
    say(context, _("Signed on {signed}; in force {period}.").format(
        signed=show_date(mandate.signed_on), period=_period(mandate)))
    say(context, _remittance_sentence(mandate))
    cases = row["_cases"]
    if not cases:
        say(context, _("No case taken under it yet."))
        return
    say(context, ngettext("{count} case:", "{count} cases:", len(cases)).format(
        count=show_count(len(cases))))
    for case in cases:
        say(context, _("  {reference}  {debtor}, opened on {day}").format(
            reference=case["reference"], debtor=f"{case['debtor_name']} ({case['debtor_ref']})",
            day=show_date(dt.date.fromisoformat(case["opened_on"]))))


@mandate_app.command("end", help=_("End a mandate: the day given is its last in force."))
def end(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help=_("The mandate's reference."))],
    on: Annotated[str, typer.Option("--on", help=_("Its last day in force."))],
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine import mandates

    context, actor = open_desk_as_actor(ctx, user, json_output)
    last_day = parse_day(on, what="--on")
    with context.store.write_transaction() as session:
        mandate = mandates.end_mandate(session, actor, reference, last_day)
        row = mandate_row(session, mandate, dt.date.today())
    emit_or_say(context, _public(row), [
        _("Mandate {reference} ends on {day}: from the day after, no case of {creditor} is "
          "escalated until a new mandate is recorded.").format(
            reference=row["reference"], day=show_date(last_day), creditor=row["creditor"])])


@agency_app.command("show", help=_("The collection firm as [agency] of relance.toml "
                                   "describes it."))
def agency_show(ctx: typer.Context, json_output: JsonOption = False) -> None:
    context = json_wanted(ctx, json_output)
    agency = context.workspace.settings.agency
    if not agency.configured:
        emit_or_say(context, {"configured": False}, [_(
            "This workspace is not a collection firm's: relance.toml has no [agency] table, "
            "so escalations need no mandate and the letters speak for the creditor alone.")])
        return
    fields = {"name": agency.name, "siren": agency.siren, "address": agency.address_lines,
              "email": agency.email, "phone": agency.phone, "insurer": agency.insurer,
              "insurance_policy": agency.insurance_policy, "funds_iban": agency.funds_iban,
              "funds_bic": agency.funds_bic}
    if context.json_output:
        context.emit_json({"configured": True} | fields)
        return
    labels = ((_("Name"), agency.name), (_("SIREN"), agency.siren),
              (_("Address"), ", ".join(agency.address_lines)), (_("E-mail"), agency.email),
              (_("Phone"), agency.phone), (_("Insurer"), agency.insurer),
              (_("Insurance policy"), agency.insurance_policy),
              (_("Client-funds IBAN"), agency.funds_iban), (_("BIC"), agency.funds_bic))
    for label, value in labels:
        say(context, _("{label}: {value}").format(label=label, value=value or "—"))


def register(app: typer.Typer) -> None:
    app.add_typer(mandate_app, name="mandate")
    app.add_typer(agency_app, name="agency")
