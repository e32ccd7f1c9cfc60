"""`relance import invoices FILE`: load an ERP export into the book (see docs/import.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from relance.context import AppContext, say
from relance.store.importing import (
    ImportRefused,
    ImportReport,
    PaymentReport,
    import_invoices,
    import_payments,
    load_mapping,
)
from relance.store.importing.mapping import Mapping

# Below this size an import takes under a second: no progress bar.
PROGRESS_MIN_BYTES = 2_000_000

import_app = typer.Typer(help="Load invoices (CSV, XLSX, FEC) and payments (CSV, camt.053, "
                              "CFONB 120, MT940).",
                         no_args_is_help=True)


def _print_report(context: AppContext, report: ImportReport) -> None:
    # The file's name and the warnings quote what the file holds: printed as typed.
    console = context.console
    say(console, (report.file, "bold"), f": {report.rows} rows — ",
        (f"{report.created} created", "green"),
        f", {report.updated} updated, {report.unchanged} unchanged")
    say(console,
        f"  debtors: {report.debtors_created} created, {report.debtors_updated} updated"
        + (f"; creditors created: {report.creditors_created}" if report.creditors_created
           else "")
        + (f"; promises recorded: {report.promises}" if report.promises else ""))
    for warning in report.warnings:
        say(console, "  ", ("warning", "yellow"), f" {warning}")
    hidden = report.warnings_total - len(report.warnings)
    if hidden > 0:
        say(console, (f"  … and {hidden} more warnings (see --json)", "yellow"))


ReportT = TypeVar("ReportT", ImportReport, PaymentReport)


def _import_and_report(context: AppContext, run: Callable[[], ReportT],
                       show: Callable[[AppContext, ReportT], None]) -> None:
    """Run an import and say what it did. Under --json the report, or a refused file's
    errors as a document (with the refusal's exit code); else `show`, or the refusal
    as a message on stderr."""
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
    """`import_invoices`, with a progress bar on stderr for a file large enough to wait on."""
    store = context.store
    size = file.stat().st_size if file.is_file() else 0
    if size < PROGRESS_MIN_BYTES:
        return import_invoices(store, file, mapping=mapping, actor=context.user)
    with Progress(TextColumn("importing {task.description}"), BarColumn(),
                  TaskProgressColumn(), TimeRemainingColumn(),
                  console=context.err_console, transient=True) as bar:
        task = bar.add_task(file.name, total=None)

        def advance(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        return import_invoices(store, file, mapping=mapping, actor=context.user,
                               progress=advance)


@import_app.command("invoices")
def invoices(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(
        help="A CSV or XLSX file in the canonical format, or a FEC (told by its header).")],
    mapping_file: Annotated[
        Path | None,
        typer.Option("--mapping", help="A TOML column mapping for an ERP export."),
    ] = None,
) -> None:
    """Import invoices; re-importing updates them. A faulty file is refused whole."""
    context: AppContext = ctx.obj
    mapping = load_mapping(mapping_file) if mapping_file is not None else Mapping()
    _import_and_report(context, lambda: _import_invoices_shown(context, file, mapping),
                       _print_report)


def _print_payment_report(context: AppContext, report: PaymentReport) -> None:
    console = context.console
    allocated = ", ".join(f"{amount} {currency}" for currency, amount in report.allocated.items())
    # Lines quote the statement (payers, references): printed as typed.
    say(console, (report.file, "bold"), f" ({report.format}): ",
        (f"{report.recorded} recorded", "green"),
        f", {report.already_imported} already imported, {len(report.unmatched)} in suspense, "
        f"{len(report.reversed)} returned" + (f"; allocated {allocated}" if allocated else ""))
    for line in report.unmatched:
        say(console, "  ", ("suspense", "yellow"), f" {line}")
    for line in report.reversed:
        say(console, "  ", ("returned", "yellow"), f" {line}")
    for line in report.unmatched_returns:
        say(console, "  ", ("return not matched", "red"), f" {line}")
    if report.unmatched:
        say(console, "  Allocate them: relance allocate PAYMENT --debtor REF, or in the TUI")


@import_app.command("payments")
def payments(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(
        help="A CSV file or a bank statement: camt.053, CFONB 120 or MT940 (told by content).")],
    mapping_file: Annotated[
        Path | None,
        typer.Option("--mapping", help="A TOML column mapping (CSV) or default creditor."),
    ] = None,
) -> None:
    """Record payments received and bank returns; entries already imported are skipped."""
    context: AppContext = ctx.obj
    mapping = load_mapping(mapping_file) if mapping_file is not None else Mapping()
    _import_and_report(
        context, lambda: import_payments(context.store, file, mapping=mapping,
                                         actor=context.user),
        _print_payment_report)


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
