"""`relance report`: the aged balance, a debtor's account statement, the customer ledger.

Files are made for the people who open them (`relance.channels.reports`): CSV in the
dialect of a French office's Excel by default (`;`, UTF-8 with a byte order mark,
`1234,56`, `dd/mm/yyyy`) or RFC 4180 for programs; XLSX with formats, filters and
`=SUM()` totals; PDF in the creditor's branding. Text cells that start like a formula
are neutralised in every export. Headings speak the workspace's language; a statement
PDF speaks the debtor's, like the letters it may go with.
"""

from __future__ import annotations

import datetime as dt
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from relance.channels.reports.csv_export import Dialect
from relance.command_index import command_help
from relance.commands.case_support import creditor_id_as, find_debtor_as, reader_of
from relance.commands.options import JsonOption, json_wanted, parse_day
from relance.commands.progress import progress
from relance.context import AppContext, print_table, say
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _

if TYPE_CHECKING:
    from relance.channels.reports.sheet import Sheet

# What `relance.engine.aging.GROUPINGS` can break an aged balance down by, and
# `relance.engine.statement.DEFAULT_DAYS`, named again here: both modules import
# SQLAlchemy, which `relance report --help` does without (tests/architecture/
# test_startup.py holds them equal).
GROUPINGS = ("segment", "creditor", "sales_rep", "country", "debtor", "currency")
DEFAULT_DAYS = 90

report_app = typer.Typer(
    help=command_help("report"),
    no_args_is_help=True)


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    XLSX = "xlsx"
    JSON = "json"
    PDF = "pdf"


class StatementFormat(StrEnum):
    PDF = "pdf"
    CSV = "csv"
    XLSX = "xlsx"


class LedgerFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


OutputOption = Annotated[Path | None, typer.Option(
    "--output", "-o", help=_("File to write (CSV goes to the standard output without)."))]
DialectOption = Annotated[Dialect, typer.Option(
    "--dialect", help=_("CSV dialect: excel-fr (; and a decimal comma, for Excel in French) "
                        "or rfc4180 (, and a decimal point, for programs)."))]
CreditorOption = Annotated[str | None, typer.Option(
    "--creditor", help=_("The creditor's code, when several share a debtor reference."))]


def _wrote(context: AppContext, path: Path) -> None:
    say(context.console, _("wrote {path}").format(path=str(path)))


def _csv_out(context: AppContext, sheet: Sheet, output: Path | None, dialect: Dialect) -> None:
    from relance.channels.reports.csv_export import write_csv
    from relance.channels.reports.files import write_csv_file

    if output is None:
        write_csv(sheet, sys.stdout, dialect)
        return
    _wrote(context, write_csv_file(sheet, output, dialect))


def _write_bytes(context: AppContext, data: bytes, target: Path) -> None:
    from relance.channels.reports.files import write_whole

    _wrote(context, write_whole(data, target))


@report_app.command("aged", help=_(
    "The aged balance: open balances by lateness, per currency, to the cent."))
def aged(
    ctx: typer.Context,
    by: Annotated[str, typer.Option(help=_("Group by: {choices}.").format(
        choices=", ".join(GROUPINGS)))] = "segment",
    on: Annotated[str | None, typer.Option(
        help=_("Age as of this date (default today)."))] = None,
    output_format: Annotated[Format, typer.Option("--format", help=_("Output format."))] = (
        Format.TABLE),
    output: OutputOption = None,
    dialect: DialectOption = Dialect.EXCEL_FR,
    json_output: JsonOption = False,
) -> None:
    from relance.channels.reports.files import aged_name
    from relance.channels.reports.tables import aged_sheet
    from relance.channels.reports.xlsx_export import write_xlsx
    from relance.engine.aging import aged_balance
    from relance.engine.aging_display import aged_balance_table, dso_text
    from relance.engine.scope import creditor_ids

    context = json_wanted(ctx, json_output)
    if by not in GROUPINGS:
        raise UsageError(_("--by {value}: choose one of {choices}").format(
            value=by, choices=", ".join(GROUPINGS)))
    day = parse_day(on)
    reader = reader_of(context)
    with context.store.transaction() as session:
        seen = creditor_ids(session, reader)
        report = aged_balance(session, on=day, by=by, creditor_ids=seen)
        if output_format is Format.PDF:
            from relance.channels.reports.aged_pdf import aged_pdf

            workspace = context.workspace
            with progress(_("Drawing the aged balance…")):
                data = aged_pdf(session, report, workspace_root=workspace.root,
                                templates_dir=workspace.templates_dir, creditor_ids=seen)
            _write_bytes(context, data, output or Path(aged_name(day, "pdf")))
            return
    if context.json_output or output_format is Format.JSON:
        context.emit_json(report.as_dict())
        return
    if output_format is Format.CSV:
        _csv_out(context, aged_sheet(report), output, dialect)
        return
    if output_format is Format.XLSX:
        target = output or Path(aged_name(day, "xlsx"))
        write_xlsx([aged_sheet(report)], target)
        _wrote(context, target)
        return
    console = context.console
    print_table(console, aged_balance_table(report))
    if report.dso:
        say(console, dso_text(report))


@report_app.command("statement", help=_(
    "A debtor's account statement: open items, recent ones, payments and credit notes, "
    "with the running balance, per currency."))
def statement(
    ctx: typer.Context,
    debtor: Annotated[str, typer.Argument(help=_("The debtor's reference."))],
    creditor: CreditorOption = None,
    on: Annotated[str | None, typer.Option(
        help=_("The statement's date (default today)."))] = None,
    days: Annotated[int, typer.Option(min=0, help=_(
        "Show what was issued, paid or settled in this many days before."))] = DEFAULT_DAYS,
    output_format: Annotated[StatementFormat, typer.Option(
        "--format", help=_("Output format."))] = StatementFormat.PDF,
    output: OutputOption = None,
    dialect: DialectOption = Dialect.EXCEL_FR,
) -> None:
    from relance.channels.reports.files import statement_name
    from relance.channels.reports.tables import statement_sheet
    from relance.channels.reports.xlsx_export import write_xlsx
    from relance.engine.statement import account_statement

    context: AppContext = ctx.obj
    reader = reader_of(context)
    day = parse_day(on)
    with context.store.transaction() as session:
        found = find_debtor_as(session, reader, debtor, creditor_code=creditor)
        report = account_statement(session, found.id, on=day, days=days)
        if output_format is StatementFormat.PDF:
            from relance.channels.reports.statement_pdf import render_statement

            workspace = context.workspace
            with progress(_("Drawing the statement…")):
                data = render_statement(session, report, workspace_root=workspace.root,
                                        templates_dir=workspace.templates_dir)
            default = Path(statement_name(found.ref, day, "pdf"))
            _write_bytes(context, data, output or default)
            return
    if output_format is StatementFormat.CSV:
        _csv_out(context, statement_sheet(report), output, dialect)
        return
    target = output or Path(statement_name(report.party.ref, day, "xlsx"))
    write_xlsx([statement_sheet(report)], target)
    _wrote(context, target)


@report_app.command("ledger", help=_(
    "The customer sub-ledger for auditors: every movement of each debtor's account over "
    "a period, with debit, credit and running balance."))
def ledger(
    ctx: typer.Context,
    start: Annotated[str | None, typer.Option(
        "--from", help=_("First day of the period (default the 1st of January)."))] = None,
    end: Annotated[str | None, typer.Option(
        "--to", help=_("Last day of the period (default today)."))] = None,
    creditor: Annotated[str | None, typer.Option(
        "--creditor", help=_("Only this creditor's debtors."))] = None,
    output_format: Annotated[LedgerFormat, typer.Option(
        "--format", help=_("Output format."))] = LedgerFormat.CSV,
    output: OutputOption = None,
    dialect: DialectOption = Dialect.EXCEL_FR,
) -> None:
    from relance.channels.reports.tables import ledger_sheet
    from relance.channels.reports.xlsx_export import write_xlsx
    from relance.engine.scope import creditor_ids
    from relance.engine.subledger import sub_ledger

    context: AppContext = ctx.obj
    last = parse_day(end, "--to")
    first = parse_day(start, "--from") if start else dt.date(last.year, 1, 1)
    if last < first:
        raise UsageError(_("--to {end} is before --from {start}").format(
            end=last.isoformat(), start=first.isoformat()))
    reader = reader_of(context)
    with context.store.transaction() as session:
        # Only the creditors the reader may see; --creditor names one of them.
        seen = (creditor_ids(session, reader) if creditor is None
                else [creditor_id_as(session, reader, creditor)])
        with progress(_("Reading the accounts…")):
            report = sub_ledger(session, start=first, end=last, creditor_ids=seen)
    sheet = ledger_sheet(report)
    if output_format is LedgerFormat.CSV:
        _csv_out(context, sheet, output, dialect)
        return
    target = output or Path(f"ledger-{first.isoformat()}-{last.isoformat()}.xlsx")
    write_xlsx([sheet], target)
    _wrote(context, target)


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
