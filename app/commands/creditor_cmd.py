"""`relance creditor add|edit|show|list|load`: the creditors' identities.

`relance.engine.creditors` checks every field (SIREN, SIRET, VAT number, IBAN, BIC,
addresses, the logo's bytes…) and records the change with its audit event; these
commands read the options as typed, and show a creditor with what each channel still
needs of it. A refused value names its option and stores nothing (exit 2).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table

from relance.command_index import command_help
from relance.commands.case_support import (
    JsonOption,
    UserOption,
    emit_or_say,
    open_desk_as_actor,
    say,
)
from relance.context import AppContext, add_row, print_table
from relance.kernel.display import show_count, show_money, show_percent
from relance.kernel.errors import UsageError
from relance.kernel.i18n import N_, _
from relance.kernel.money import decimal_text

if TYPE_CHECKING:
    from relance.engine.creditor_fields import CreditorField
    from relance.engine.creditors import CreditorLine

creditor_app = typer.Typer(help=command_help("creditor"), no_args_is_help=True)

# A channel as the sentences about missing fields name it.
CHANNEL_WORDS = {"letter": N_("letters"), "email": N_("e-mails"), "sms": N_("SMS")}

NameOption = Annotated[str | None, typer.Option("--name", help=_("Legal name."))]
SirenOption = Annotated[str | None, typer.Option("--siren", help=_("SIREN (9 digits)."))]
SiretOption = Annotated[str | None, typer.Option(
    "--siret", help=_("SIRET of the head office (14 digits, starting with the SIREN)."))]
VatOption = Annotated[str | None, typer.Option(
    "--vat", help=_("Intra-EU VAT number (FR40552100554)."))]
AddressOption = Annotated[str | None, typer.Option(
    "--address", help=_("Postal address, lines separated by \\n."))]
AddressLineOption = Annotated[list[str] | None, typer.Option(
    "--address-line", help=_("One line of the postal address (repeat, in order)."))]
CountryOption = Annotated[str | None, typer.Option(
    "--country", help=_("Country code (FR, BE…)."))]
IbanOption = Annotated[str | None, typer.Option("--iban", help=_("IBAN debtors pay to."))]
BicOption = Annotated[str | None, typer.Option("--bic", help=_("BIC of that account."))]
EmailOption = Annotated[str | None, typer.Option(
    "--email", help=_("Sender address of its e-mails."))]
SenderNameOption = Annotated[str | None, typer.Option(
    "--sender-name", help=_("Name shown as the e-mails' sender."))]
ReplyToOption = Annotated[str | None, typer.Option(
    "--reply-to", help=_("Where debtors' replies go."))]
ContactOption = Annotated[str | None, typer.Option(
    "--contact-email", help=_("Where the creditor itself is told things (refused files, "
                              "payments collected)."))]
PhoneOption = Annotated[str | None, typer.Option(
    "--phone", help=_("Telephone number printed on letters."))]
SignatureOption = Annotated[str | None, typer.Option(
    "--signature", help=_("Signature of letters and e-mails, lines separated by \\n."))]
FooterOption = Annotated[str | None, typer.Option(
    "--legal-footer", help=_("Legal mentions at the foot of letters (capital, RCS…)."))]
LanguageOption = Annotated[list[str] | None, typer.Option(
    "--language", help=_("A language it writes in: fr or en (repeat)."))]
RegionOption = Annotated[str | None, typer.Option(
    "--calendar-region", help=_("Region of the French business calendar (57 for "
                                "Moselle…)."))]
LogoOption = Annotated[str | None, typer.Option(
    "--logo", help=_("Logo file in the workspace: PNG, JPEG or SVG, 512 KiB at most."))]
PenaltiesOption = Annotated[bool | None, typer.Option(
    "--penalties/--no-penalties",  # not for people: the option's two names
    help=_("Claim the late-payment penalties (L441-10) on letters."))]
RateOption = Annotated[str | None, typer.Option(
    "--penalty-rate", help=_("Contractual annual penalty rate in percent (empty: the "
                             "legal rate)."))]
WaiveOption = Annotated[bool | None, typer.Option(
    "--waive-penalties/--claim-penalties",  # not for people: the option's two names
    help=_("Waive the penalties and the 40 EUR indemnity for every debtor."))]
WaiveSegmentOption = Annotated[list[str] | None, typer.Option(
    "--waive-segment", help=_("Waive them for the debtors of this segment (repeat)."))]


def _changes(given: dict[str, Any]) -> dict[str, Any]:
    """The fields given on the command line, by key; options left out are not there."""
    address, lines = given.pop("address"), given.pop("address_line")
    if address is not None and lines is not None:
        raise UsageError(_("give --address or --address-line, not both"))
    changes = {key: value for key, value in given.items() if value is not None}
    if address is not None or lines is not None:
        changes["address"] = address if address is not None else lines
    return changes


def _default_sender(context: AppContext) -> str | None:
    from relance.channels.config import sender_address

    return sender_address(context.workspace)


@creditor_app.command("add", help=_("Add a creditor, its identity checked (SIREN, IBAN, "
                                    "e-mail addresses, logo…)."))
def add(
    ctx: typer.Context,
    code: Annotated[str, typer.Option("--code", help=_(
        "Its code, as invoices' creditor column gives it."))],
    name: NameOption = None, siren: SirenOption = None, siret: SiretOption = None,
    vat: VatOption = None, address: AddressOption = None,
    address_line: AddressLineOption = None, country: CountryOption = None,
    iban: IbanOption = None, bic: BicOption = None, email: EmailOption = None,
    sender_name: SenderNameOption = None, reply_to: ReplyToOption = None,
    contact_email: ContactOption = None, phone: PhoneOption = None,
    signature: SignatureOption = None, legal_footer: FooterOption = None,
    language: LanguageOption = None, calendar_region: RegionOption = None,
    logo: LogoOption = None, penalties: PenaltiesOption = None,
    penalty_rate: RateOption = None, waive_penalties: WaiveOption = None,
    waive_segment: WaiveSegmentOption = None,
    user: UserOption = None, json_output: JsonOption = False,
) -> None:
    from relance.engine.creditors import add_creditor, creditor_values, identity_gaps

    context, actor = open_desk_as_actor(ctx, user, json_output)
    fields = _changes(dict(
        name=name, siren=siren, siret=siret, vat=vat, address=address,
        address_line=address_line, country=country, iban=iban, bic=bic, email=email,
        sender_name=sender_name, reply_to=reply_to, contact_email=contact_email,
        phone=phone, signature=signature, legal_footer=legal_footer, languages=language,
        calendar_region=calendar_region, logo=logo, late_penalties=penalties,
        penalty_rate=penalty_rate, waive_penalties=waive_penalties,
        waive_segments=waive_segment))
    with context.store.write_transaction() as session:
        creditor = add_creditor(session, actor, {"code": code, **fields},
                                root=context.workspace.root)
        gaps = identity_gaps(creditor, default_sender=_default_sender(context))
        payload = _payload(creditor_values(creditor), creditor.code, gaps)
    emit_or_say(context, payload, [
        _("Creditor {code} added: {name}.").format(code=payload["code"],
                                                   name=payload["fields"]["name"]),
        *_gap_sentences(payload["code"], gaps)])


@creditor_app.command("edit", help=_("Change some fields of a creditor; the options not "
                                     "given stay as they are."))
def edit(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help=_("The creditor's code."))],
    name: NameOption = None, siren: SirenOption = None, siret: SiretOption = None,
    vat: VatOption = None, address: AddressOption = None,
    address_line: AddressLineOption = None, country: CountryOption = None,
    iban: IbanOption = None, bic: BicOption = None, email: EmailOption = None,
    sender_name: SenderNameOption = None, reply_to: ReplyToOption = None,
    contact_email: ContactOption = None, phone: PhoneOption = None,
    signature: SignatureOption = None, legal_footer: FooterOption = None,
    language: LanguageOption = None, calendar_region: RegionOption = None,
    logo: LogoOption = None, penalties: PenaltiesOption = None,
    penalty_rate: RateOption = None, waive_penalties: WaiveOption = None,
    waive_segment: WaiveSegmentOption = None,
    user: UserOption = None, json_output: JsonOption = False,
) -> None:
    from relance.engine.creditor_fields import BY_KEY
    from relance.engine.creditors import creditor_values, edit_creditor, identity_gaps

    context, actor = open_desk_as_actor(ctx, user, json_output)
    changes = _changes(dict(
        name=name, siren=siren, siret=siret, vat=vat, address=address,
        address_line=address_line, country=country, iban=iban, bic=bic, email=email,
        sender_name=sender_name, reply_to=reply_to, contact_email=contact_email,
        phone=phone, signature=signature, legal_footer=legal_footer, languages=language,
        calendar_region=calendar_region, logo=logo, late_penalties=penalties,
        penalty_rate=penalty_rate, waive_penalties=waive_penalties,
        waive_segments=waive_segment))
    if not changes:
        raise UsageError(_("nothing to change: give the fields to change (--iban, "
                           "--address…; see relance creditor edit --help)"))
    with context.store.write_transaction() as session:
        edited = edit_creditor(session, actor, code, changes, root=context.workspace.root)
        creditor = edited.creditor
        gaps = identity_gaps(creditor, default_sender=_default_sender(context))
        payload = _payload(creditor_values(creditor), creditor.code, gaps)
    changed = [_(BY_KEY[key].label) for key in edited.changed]
    first = (_("Creditor {code}: changed {fields}.").format(code=payload["code"],
                                                             fields=", ".join(changed))
             if changed else _("Creditor {code}: nothing changed, the values given are "
                               "those stored.").format(code=payload["code"]))
    emit_or_say(context, payload | {"changed": edited.changed},
                [first, *_gap_sentences(payload["code"], gaps)])


def _payload(values: dict[str, Any], code: str,
             gaps: dict[str, list[CreditorField]]) -> dict[str, Any]:
    from relance.engine.creditor_fields import CHANNELS

    return {"code": code, "fields": values,
            "missing": {channel: [f.key for f in gaps.get(channel, [])]
                        for channel in CHANNELS}}


def _gap_sentences(code: str, gaps: dict[str, list[CreditorField]]) -> list[str]:
    """One sentence per channel that cannot go yet, or one saying all can."""
    if not gaps:
        return [_("Its identity is complete for letters, e-mails and SMS.")]
    return [_("Missing for {channel}: {fields} (relance creditor edit {code}).").format(
        channel=_(CHANNEL_WORDS[channel]), code=code,
        fields=", ".join(f.shown_label for f in lacking))
        for channel, lacking in gaps.items()]


def _shown(field: CreditorField, value: Any) -> str:
    """A stored value as a person reads it."""
    from relance.engine.creditor_fields import Kind

    if field.kind is Kind.FLAG:
        return _("yes") if value else _("no")
    if field.key == "penalty_rate":
        return show_percent(Decimal(value)) if value else _("legal rate")
    if isinstance(value, list):
        return ", ".join(value) or "—"
    return str(value) if value not in (None, "") else "—"


@creditor_app.command("show", help=_("A creditor's every field, and what each channel "
                                     "still needs of it."))
def show(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help=_("The creditor's code."))],
    user: UserOption = None, json_output: JsonOption = False,
) -> None:
    from relance.engine.creditor_fields import FIELDS
    from relance.engine.creditors import creditor_values, find_creditor, identity_gaps

    context, actor = open_desk_as_actor(ctx, user, json_output)
    with context.store.session() as session:
        creditor = find_creditor(session, actor, code)
        values = creditor_values(creditor)
        gaps = identity_gaps(creditor, default_sender=_default_sender(context))
        found = creditor.code
    if context.json_output:
        context.emit_json(_payload(values, found, gaps))
        return
    say(context, _("Creditor {code}").format(code=found))
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for field in FIELDS:
        add_row(table, field.shown_label, _shown(field, values[field.key]))
    print_table(context.console, table)
    for line in _gap_sentences(found, gaps):
        say(context, line)


@creditor_app.command("list", help=_("The creditors: SIREN, debtors, open balance, and "
                                     "whether their identity is complete."))
def list_creditors(
    ctx: typer.Context,
    user: UserOption = None, json_output: JsonOption = False,
) -> None:
    from relance.engine.creditors import creditor_lines

    context, actor = open_desk_as_actor(ctx, user, json_output)
    with context.store.session() as session:
        lines = creditor_lines(session, actor, default_sender=_default_sender(context))
    if context.json_output:
        context.emit_json([_line_payload(line) for line in lines])
        return
    if not lines:
        say(context, _("No creditor yet: relance creditor add, or an import, creates one."))
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for title, right in ((_("code"), False), (_("name"), False), (_("SIREN"), False),
                         (_("debtors"), True), (_("open balance"), True),
                         (_("identity"), False)):
        table.add_column(title, justify="right" if right else "left")
    for line in lines:
        balance = "\n".join(show_money(minor, currency)
                            for currency, minor in line.balances.items()) or "—"
        add_row(table, line.code, line.name, line.siren or "—", show_count(line.debtors),
                balance, completeness(line))
    print_table(context.console, table)


def completeness(line: CreditorLine) -> str:
    """`complete`, or what is lacking and for which channel."""
    if not line.gaps:
        return _("complete")
    lacking: dict[str, None] = {}
    for fields in line.gaps.values():
        for field in fields:
            lacking[field.shown_label] = None
    return _("lacks {fields}").format(fields=", ".join(lacking))


def _line_payload(line: CreditorLine) -> dict[str, Any]:
    return {"code": line.code, "name": line.name, "siren": line.siren,
            "debtors": line.debtors,
            "open_balance": {currency: _major(minor, currency)
                             for currency, minor in line.balances.items()},
            "complete": not line.gaps,
            "missing": {channel: [f.key for f in fields]
                        for channel, fields in line.gaps.items()}}


def _major(minor: int, currency: str) -> str:
    return decimal_text(minor, currency)


@creditor_app.command("load", help=_("Add or update the creditors of creditors.toml (kept "
                                     "beside the rules), all or none."))
def load(
    ctx: typer.Context,
    file: Annotated[str | None, typer.Argument(help=_(
        "The file (default: creditors.toml beside the rules folder)."))] = None,
    user: UserOption = None, json_output: JsonOption = False,
) -> None:
    from relance.engine.creditor_fields import BY_KEY
    from relance.engine.creditor_file import creditors_file, load_creditors_file

    context, actor = open_desk_as_actor(ctx, user, json_output)
    workspace = context.workspace
    path = Path(file) if file else creditors_file(workspace)
    with context.store.write_transaction() as session:
        report = load_creditors_file(session, actor, path, root=workspace.root)
    lines = [_("{file}: {added} added, {updated} updated, {unchanged} unchanged.").format(
        file=path, added=show_count(len(report.added)),
        updated=show_count(len(report.updated)),
        unchanged=show_count(len(report.unchanged)))]
    for code, keys in report.updated.items():
        lines.append(_("  {code}: changed {fields}").format(
            code=code, fields=", ".join(_(BY_KEY[key].label) for key in keys)))
    emit_or_say(context, report.as_dict(), lines)


def register(app: typer.Typer) -> None:
    app.add_typer(creditor_app, name="creditor")
