"""`relance import invoices FILE`: load an ERP export into the book (see docs/import.md)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from relance.command_index import command_help
from relance.commands.case_support import refuse_limited
from relance.commands.options import JsonOption, json_wanted
from relance.commands.progress import progress
from relance.context import AppContext, say
from relance.kernel.display import show_count, show_money
from relance.kernel.i18n import _, ngettext
from relance.kernel.money import to_minor

if TYPE_CHECKING:
    from relance.store.importing import ImportReport, PaymentReport
    from relance.store.importing.mapping import Mapping

import_app = typer.Typer(help=command_help("import"),
                         no_args_is_help=True)


def _print_report(context: AppContext, report: ImportReport) -> None:
    # The file's name and the warnings quote what the file holds: printed as typed.
    console = context.console
    say(console, (report.file, "bold"), ": ", ngettext(
        "{rows} row — {created} created, {updated} updated, {unchanged} unchanged",
        "{rows} rows — {created} created, {updated} updated, {unchanged} unchanged",
        report.rows).format(rows=show_count(report.rows), created=show_count(report.created),
                            updated=show_count(report.updated),
                            unchanged=show_count(report.unchanged)))
    say(console, _("  debtors: {created} created, {updated} updated").format(
        created=show_count(report.debtors_created), updated=show_count(report.debtors_updated)))
    if report.creditors_created:
        say(console, _("  creditors created: {count}").format(
            count=show_count(report.creditors_created)))
    if report.promises:
        say(console, _("  promises recorded: {count}").format(count=show_count(report.promises)))
    for warning in report.warnings:
        say(console, "  ", (_("warning"), "yellow"), f" {warning}")
    hidden = report.warnings_total - len(report.warnings)
    if hidden > 0:
        say(console, ("  " + ngettext("… and {count} more warning (see --json)",
                                      "… and {count} more warnings (see --json)",
                                      hidden).format(count=show_count(hidden)), "yellow"))


# Named, not imported: the importers load with the command that runs them.
ReportT = TypeVar("ReportT", "ImportReport", "PaymentReport")


def _import_and_report(context: AppContext, run: Callable[[], ReportT],
                       show: Callable[[AppContext, ReportT], None]) -> None:
    """Run an import and say what it did. Under --json the report, or a refused file's
    errors as a document (with the refusal's exit code); else `show`, or the refusal
    as a message on stderr."""
    from relance.store.importing import ImportRefused

    try:
        report = run()
    except ImportRefused as refused:
        if context.json_output:
            context.emit_json({"file": refused.label, "refused": True,
                               "errors": refused.errors, "more_errors": refused.more})
            raise typer.Exit(refused.exit_code) from refused
        raise
    if context.json_output:
        context.emit_json(report.as_dict())
        return
    show(context, report)


def _import_invoices_shown(context: AppContext, file: Path, mapping: Mapping) -> ImportReport:
    """`import_invoices`, with a progress bar on a terminal (the file's bytes read)."""
    from relance.store.importing import import_invoices

    store = context.store
    with progress(_("Importing {file}").format(file=file.name)) as steps:
        return import_invoices(store, file, mapping=mapping, actor=context.user,
                               progress=steps)


@import_app.command("invoices", help=_("Import invoices; re-importing updates them. A faulty "
                                       "file is refused whole."))
def invoices(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(
        help=_("A CSV or XLSX file in the canonical format, or a FEC (told by its header)."))],
    mapping_file: Annotated[
        Path | None,
        typer.Option("--mapping", help=_("A TOML column mapping for an ERP export.")),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    from relance.store.importing import load_mapping
    from relance.store.importing.mapping import Mapping

    context = json_wanted(ctx, json_output)
    refuse_limited(context, _("an import"))
    mapping = load_mapping(mapping_file) if mapping_file is not None else Mapping()
    _import_and_report(context, lambda: _import_invoices_shown(context, file, mapping),
                       _print_report)


def _print_payment_report(context: AppContext, report: PaymentReport) -> None:
    console = context.console
    allocated = ", ".join(show_money(to_minor(Decimal(amount), currency), currency)
                          for currency, amount in report.allocated.items())
    counts = dict(recorded=show_count(report.recorded),
                  already=show_count(report.already_imported),
                  suspense=show_count(len(report.unmatched)),
                  returned=show_count(len(report.reversed)), allocated=allocated)
    # Lines quote the statement (payers, references): printed as typed.
    say(console, (report.file, "bold"), f" ({report.format}): ",
        (_("{recorded} recorded, {already} already imported, {suspense} in suspense, "
           "{returned} returned; allocated {allocated}") if allocated else
         _("{recorded} recorded, {already} already imported, {suspense} in suspense, "
           "{returned} returned")).format(**counts))
    for line in report.unmatched:
        say(console, "  ", (_("suspense"), "yellow"), f" {line}")
    for line in report.reversed:
        say(console, "  ", (_("returned"), "yellow"), f" {line}")
    for line in report.unmatched_returns:
        say(console, "  ", (_("return not matched"), "red"), f" {line}")
    if report.unmatched:
        say(console, _("  Allocate them: relance allocate PAYMENT --debtor REF, or in the TUI"))


def _import_payments_shown(context: AppContext, file: Path, mapping: Mapping
                           ) -> PaymentReport:
    """`import_payments` (which reports no progress): a spinner on a terminal."""
    from relance.store.importing import import_payments

    store = context.store
    with progress(_("Importing {file}").format(file=file.name)):
        return import_payments(store, file, mapping=mapping, actor=context.user)


@import_app.command("payments", help=_("Record payments received and bank returns; entries "
                                       "already imported are skipped."))
def payments(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(
        help=_("A CSV file or a bank statement: camt.053, CFONB 120 or MT940 (told by "
               "content)."))],
    mapping_file: Annotated[
        Path | None,
        typer.Option("--mapping", help=_("A TOML column mapping (CSV) or default creditor.")),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    from relance.store.importing import load_mapping
    from relance.store.importing.mapping import Mapping

    context = json_wanted(ctx, json_output)
    refuse_limited(context, _("an import"))
    mapping = load_mapping(mapping_file) if mapping_file is not None else Mapping()
    _import_and_report(context, lambda: _import_payments_shown(context, file, mapping),
                       _print_payment_report)


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
