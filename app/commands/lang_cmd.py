"""`relance check` and `relance fmt`: the policy language's checker and formatter.

Both take rule files or folders (default: the workspace's `rules/`), print faults like
a compiler (file:line:col, the line, a caret, a hint), and exit 1 when something is
wrong: errors for `check` (warnings alone exit 0), files that would change for
`fmt --check`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from relance.command_index import command_help
from relance.commands.options import JsonOption
from relance.context import AppContext
from relance.kernel.display import show_count
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _, ngettext

if TYPE_CHECKING:
    from relance.dsl.diagnostics import Diagnostic

PathsArgument = Annotated[
    list[Path] | None,
    typer.Argument(help=_("Rule files or folders (default: the workspace's rules folder).")),
]


def _paths(context: AppContext, paths: Sequence[Path] | None) -> list[Path]:
    """The files or folders to read; a path that does not exist is bad usage (exit 2),
    not a finding about the rules."""
    chosen = list(paths) if paths else [context.workspace.rules_dir]
    missing = [str(path) for path in chosen if not path.exists()]
    if missing:
        raise UsageError(_("no such file or folder: {paths}").format(paths=", ".join(missing)))
    return chosen


def _catalogue(context: AppContext) -> Mapping[str, frozenset[str]] | None:
    # Imported here: the language itself must not depend on the channels.
    from relance.channels.templates import catalogue

    return catalogue(context.workspace.templates_dir)


def _summary(diagnostics: Sequence[Diagnostic], files: int, rules: int) -> str:
    errors = sum(1 for d in diagnostics if d.is_error)
    warnings = len(diagnostics) - errors
    read = dict(files=ngettext("{count} file", "{count} files", files).format(
                    count=show_count(files)),
                rules=ngettext("{count} rule", "{count} rules", rules).format(
                    count=show_count(rules)))
    if not diagnostics:
        return _("{files}, {rules}: no problems").format(**read)
    parts = []
    if errors:
        parts.append(ngettext("{count} error", "{count} errors", errors).format(
            count=show_count(errors)))
    if warnings:
        parts.append(ngettext("{count} warning", "{count} warnings", warnings).format(
            count=show_count(warnings)))
    return _("{files}, {rules}: {problems}").format(problems=", ".join(parts), **read)


def _levels(context: AppContext) -> dict[tuple[str, str], int]:
    """How many open invoices sit on each (policy, rule) level, from the store."""
    from sqlalchemy import func, select

    from relance.store.models import Invoice, InvoiceLevel

    query = (
        select(InvoiceLevel.policy, InvoiceLevel.rule, func.count())
        .join(Invoice, Invoice.id == InvoiceLevel.invoice_id)
        .where(Invoice.balance_minor > 0, InvoiceLevel.rule.is_not(None))
        .group_by(InvoiceLevel.policy, InvoiceLevel.rule)
    )
    with context.store.transaction() as session:
        return {(policy, str(rule)): int(count)
                for policy, rule, count in session.execute(query).all()}


def _creditors(context: AppContext) -> frozenset[str]:
    """The creditor codes of the book, for `for creditor = X` (W307 names a code no
    creditor has)."""
    from relance.engine.evaluate import creditor_codes

    with context.store.transaction() as session:
        return creditor_codes(session.connection())


def check(
    ctx: typer.Context,
    paths: PathsArgument = None,
    json_output: JsonOption = False,
    levels: Annotated[
        bool, typer.Option("--levels", help=_("Also read the database: list removed rules "
                                              "that open invoices still sit on, and "
                                              "creditor codes no creditor has."))
    ] = False,
) -> None:
    from relance.dsl.diagnostics import render_all
    from relance.dsl.loader import load_rules

    context: AppContext = ctx.obj
    loaded = load_rules(_paths(context, paths), root=Path.cwd(),
                        catalogue=_catalogue(context),
                        levels=_levels(context) if levels else None,
                        creditors=_creditors(context) if levels else None)
    rules = sum(len(policy.rules) for policy in loaded.policies)
    if json_output or context.json_output:
        context.emit_json({
            "ok": loaded.ok,
            "files": sorted(loaded.files),
            "policies": [policy.name for policy in loaded.policies],
            "rules": rules,
            "diagnostics": [d.to_json() for d in loaded.diagnostics],
        })
    else:
        if loaded.diagnostics:
            typer.echo(render_all(loaded.diagnostics, loaded.files))
            typer.echo("")
        typer.echo(_summary(loaded.diagnostics, len(loaded.files), rules))
    if not loaded.ok:
        raise typer.Exit(1)


def fmt(
    ctx: typer.Context,
    paths: PathsArgument = None,
    check_only: Annotated[
        bool, typer.Option("--check",
                           help=_("Change nothing; list the files that would change."))
    ] = False,
    json_output: JsonOption = False,
) -> None:
    from relance.dsl.diagnostics import render_all
    from relance.dsl.formatter import format_text
    from relance.dsl.loader import display_path, rule_paths

    context: AppContext = ctx.obj
    root = Path.cwd()
    files, problems = rule_paths(_paths(context, paths), root)
    changed: list[str] = []
    diagnostics: list[Diagnostic] = list(problems)
    sources: dict[str, str] = {}
    for path in files:
        name = display_path(path, root)
        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            from relance.dsl.ast import Span
            from relance.dsl.diagnostics import error

            diagnostics.append(error("E100", _("cannot read the file as UTF-8 ({problem})")
                                     .format(problem=exc), Span(name, 0, 0)))
            continue
        sources[name] = text
        formatted, found = format_text(text, name)
        diagnostics.extend(d for d in found if d.is_error)
        if formatted is None or formatted == text:
            continue
        changed.append(name)
        if not check_only:
            path.write_text(formatted, encoding="utf-8")
    if json_output or context.json_output:
        context.emit_json({
            "check": check_only,
            "changed": changed,
            "unchanged": len(sources) - len(changed),
            "diagnostics": [d.to_json() for d in diagnostics],
        })
    else:
        if diagnostics:
            typer.echo(render_all(diagnostics, sources), err=True)
        for name in changed:
            typer.echo((_("would reformat {file}") if check_only
                        else _("reformatted {file}")).format(file=name))
        typer.echo(_fmt_summary(check_only, len(changed), len(sources) - len(changed),
                                len(diagnostics)))
    if diagnostics or (check_only and changed):
        raise typer.Exit(1)


def _fmt_summary(check_only: bool, changed: int, unchanged: int, faulty: int) -> str:
    done = (ngettext("{count} file would reformat", "{count} files would reformat", changed)
            if check_only else
            ngettext("{count} file reformatted", "{count} files reformatted", changed)
            ).format(count=show_count(changed))
    kept = ngettext("{count} already formatted", "{count} already formatted", unchanged
                    ).format(count=show_count(unchanged))
    if not faulty:
        return _("{done}, {kept}").format(done=done, kept=kept)
    return _("{done}, {kept}, {faulty} not formatted (errors)").format(
        done=done, kept=kept, faulty=show_count(faulty))


def register(app: typer.Typer) -> None:
    app.command(help=command_help("check"))(check)
    app.command(help=command_help("fmt"))(fmt)
