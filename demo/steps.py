"""`relance demo` as an ordered list of steps over one shared context.

A step is a function of the `DemoContext`: it does its part, records its figures in
`ctx.results[step name]` (the `--json` output) and prints a line or two on
`ctx.console`: the portfolio, a run of the rules, the dispatch of letters and e-mails to
`ctx.workspace.outbox_dir`, and the summary last.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from sqlalchemy import func, insert, select

from relance.demo.agency_book import FIRM_CONFIG, VERCORS_CODE
from relance.demo.agency_steps import take_client, work_the_mandate
from relance.demo.portfolio import CREDITOR, CREDITOR_CODE, SALES_REPS, write_portfolio
from relance.engine.words import channel_count
from relance.kernel.console import print_table, say
from relance.kernel.display import show_count, show_date
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _, ngettext
from relance.kernel.starter import create_workspace
from relance.kernel.workspace import CONFIG_NAME, DEFAULT_DB_NAME, Workspace, find_workspace
from relance.store import audit
from relance.store.db import Store, open_store, sqlite_url
from relance.store.importing import import_invoices
from relance.store.models import Creditor, Debtor, Invoice, InvoiceStatus, Promise, PromiseStatus

DEFAULT_DIRECTORY = Path("relance-demo")
MARKER = ".relance-demo"  # says the folder is the demo's, so wiping it is allowed
DEMO_ACTOR = "demo"
PORTFOLIO_FILE = Path("import") / "invoices.csv"
# What the demo adds to the starter relance.toml: where internal alerts go, four eyes on
# large escalations, and two people of the web portal (`relance portal-link NAME`): a
# sales rep of Bellerose's, and the accountant of the firm's client Vercors. [users]
# lists nobody of the desk: whoever runs the demo is a credit manager, so every screen
# of the TUI can be tried.
PORTAL_PEOPLE = {"chloe": ("sales_rep", "chloe@bellerose.example", None),
                 "vercors": ("client", "comptabilite@vercors.example", VERCORS_CODE)}
DEMO_CONFIG = "".join(
    f'\n[users.{name}]\nrole = "{role}"\nemail = "{email}"\n'
    + (f'creditors = ["{creditor}"]\n' if creditor else "")
    for name, (role, email, creditor) in PORTAL_PEOPLE.items()) + """
[approval]
four_eyes_above = "5000 EUR"

[notify]
manager = "direction.credit@bellerose.example"

[notify.people]
""" + "".join(f'{rep} = "{rep}@bellerose.example"\n' for rep in SALES_REPS) + FIRM_CONFIG
# The debtor's page (`relance web` in the demo folder): the demo's messages carry links
# that open it on this machine. Its secret is a file of the workspace, owner-only.
WEB_SECRET_FILE = Path(".relance") / "web.secret"
WEB_CONFIG = f"""
[web]
base_url = "http://127.0.0.1:8000"
secret_file = "{WEB_SECRET_FILE.as_posix()}"
"""


def write_web_secret(directory: Path) -> None:
    """The demo's web secret: kept across rebuilds (links already printed keep
    working), created owner-only the first time."""
    path = directory / WEB_SECRET_FILE
    if path.is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")


@dataclass
class DemoContext:
    """What every demo step shares."""

    workspace: Workspace
    store: Store
    on: dt.date
    seed: int
    console: Console
    results: dict[str, Any] = field(default_factory=dict)
    creditor_id: int | None = None


@dataclass(frozen=True)
class DemoStep:
    name: str
    title: str
    run: Callable[[DemoContext], None]


# --------------------------------------------------------------------------- the folder


def prepare_directory(directory: Path) -> Workspace:
    """A fresh demo workspace in `directory`: the `relance init` files, no database.

    A folder that holds anything but an earlier demo is refused, so that the demo never
    wipes someone's real workspace."""
    directory = directory.resolve()
    if directory.exists() and not directory.is_dir():
        raise UsageError(_("{folder}: exists and is not a folder").format(folder=directory))
    if directory.is_dir() and any(directory.iterdir()) and not (directory / MARKER).exists():
        raise UsageError(_("{folder}: not empty and not a demo workspace; give `relance demo` "
                           "a new or empty folder").format(folder=directory))
    directory.mkdir(parents=True, exist_ok=True)
    for name in (DEFAULT_DB_NAME, f"{DEFAULT_DB_NAME}-wal", f"{DEFAULT_DB_NAME}-shm"):
        (directory / name).unlink(missing_ok=True)
    for folder in ("outbox", "import"):
        shutil.rmtree(directory / folder, ignore_errors=True)
    create_workspace(directory, overwrite=True)
    with (directory / CONFIG_NAME).open("a", encoding="utf-8") as config:
        config.write(DEMO_CONFIG + WEB_CONFIG)
    write_web_secret(directory)
    (directory / MARKER).write_text(
        "Made by `relance demo`, which may wipe and rebuild this folder.\n", encoding="utf-8")
    workspace = find_workspace(directory)
    if workspace.root != directory or not (directory / CONFIG_NAME).is_file():
        raise UsageError(_("{folder}: could not create the demo workspace").format(
            folder=directory))
    return workspace


# --------------------------------------------------------------------------- steps


def add_creditor(ctx: DemoContext) -> None:
    """The white-label creditor with its full branding (letters show it)."""
    with ctx.store.transaction() as session:
        session.execute(insert(Creditor).values(**CREDITOR))
        ctx.creditor_id = session.execute(
            select(Creditor.id).where(Creditor.code == CREDITOR_CODE)).scalar_one()
        audit.record(session, actor=DEMO_ACTOR, kind="creditor.created",
                     subject_type="creditor", subject_id=ctx.creditor_id,
                     creditor_id=ctx.creditor_id,
                     data={"code": CREDITOR_CODE, "name": CREDITOR["name"]})
    ctx.results["creditor"] = {"code": CREDITOR_CODE, "name": CREDITOR["name"]}
    ctx.console.print(_("Creditor [bold]{name}[/] ({code}), late-payment penalties on")
                      .format(name=escape(CREDITOR["name"]), code=CREDITOR_CODE))


def import_portfolio(ctx: DemoContext) -> None:
    """Write the portfolio as a canonical CSV in the workspace and import it."""
    path = ctx.workspace.root / PORTFOLIO_FILE
    write_portfolio(path, ctx.on, ctx.seed)
    report = import_invoices(ctx.store, path, actor=DEMO_ACTOR, today=ctx.on)
    ctx.results["import"] = {key: value for key, value in report.as_dict().items()
                             if key not in ("warnings",)}
    say(ctx.console, _("Imported {invoices} invoices of {debtors} debtors from {file}").format(
        invoices=show_count(report.created), debtors=show_count(report.debtors_created),
        file=PORTFOLIO_FILE))


def run_rules(ctx: DemoContext) -> None:
    """Run the workspace's day as of the demo date, as `relance run` and the scheduler do
    (the starter relance.toml approves routine actions)."""
    from relance.engine.workday import run_workspace_day

    report = run_workspace_day(ctx.workspace, ctx.store, ctx.on, actor=DEMO_ACTOR)
    ctx.results["run"] = report.to_json()
    channels = ", ".join(channel_count(channel, count, show_count(count))
                         for channel, count in report.by_channel)
    reached = ngettext("{count} invoice reached a rule", "{count} invoices reached a rule",
                       report.items_created).format(count=show_count(report.items_created))
    queued = ngettext("{count} action queued", "{count} actions queued",
                      report.actions_created).format(count=show_count(report.actions_created))
    say(ctx.console, _("Run of {day}: {reached}, {queued} ({channels}); {proposed} await an "
                       "operator's approval").format(
        day=show_date(ctx.on), reached=reached, queued=queued, channels=channels,
        proposed=show_count(report.actions_proposed)))


def dispatch_outbox(ctx: DemoContext) -> None:
    """Send what the run approved: with no SMTP configured, letters (PDF) and e-mails
    (.eml) land in the workspace's outbox."""
    from relance.channels.dispatch import dispatch

    report = dispatch(ctx.store, ctx.workspace, today=ctx.on, worker="demo",
                      progress=ctx.console.is_terminal)
    ctx.results["dispatch"] = report.to_json()
    batches = ", ".join(report.batches) if report.batches else ""
    # Each clause is a sentence of its own, with the separator before it (a translation
    # may space it): the line grows with what happened.
    line = ngettext("Dispatched {count} letter or e-mail to {outbox}",
                    "Dispatched {count} letters and e-mails to {outbox}", report.sent).format(
        count=show_count(report.sent), outbox=report.outbox)
    if batches:
        line += _("; print batches for the mail house: {batches}").format(batches=batches)
    if report.dropped:
        line += ngettext("; {count} invoice dropped before sending (paid, paused or disputed)",
                         "; {count} invoices dropped before sending (paid, paused or disputed)",
                         report.dropped).format(count=show_count(report.dropped))
    say(ctx.console, line)
    if report.failed or report.errors:
        ctx.console.print(_("[yellow]{count} failed:[/]").format(count=report.failed) + " "
                          + escape("; ".join(report.errors[:3])))


def _book_figures(ctx: DemoContext) -> dict[str, Any]:
    invoice, debtor = Invoice.__table__, Debtor.__table__
    with ctx.store.transaction() as session:
        segments: dict[str, int] = dict(session.execute(
            select(debtor.c.segment, func.count()).group_by(debtor.c.segment)).all())
        statuses: dict[str, int] = dict(session.execute(
            select(invoice.c.status, func.count()).group_by(invoice.c.status)).all())
        partly = session.execute(select(func.count()).where(
            invoice.c.paid_minor > 0, invoice.c.balance_minor > 0)).scalar_one()
        disputed = session.execute(select(func.count()).where(
            invoice.c.dispute_reason.is_not(None), invoice.c.balance_minor > 0)).scalar_one()
        paused = session.execute(select(func.count()).where(
            debtor.c.paused_until >= ctx.on)).scalar_one()
        promised = session.execute(select(func.count()).select_from(Promise.__table__).where(
            Promise.__table__.c.status == PromiseStatus.OPEN)).scalar_one()
    return {
        "debtors": {str(key): int(value) for key, value in sorted(segments.items())},
        "invoices": int(sum(statuses.values())),
        "open": int(statuses.get(InvoiceStatus.OPEN, 0)),
        "paid": int(statuses.get(InvoiceStatus.PAID, 0)),
        "partly_paid": int(partly), "disputed": int(disputed),
        "paused_debtors": int(paused), "open_promises": int(promised),
    }


def summary(ctx: DemoContext) -> None:
    """The book in figures and the aged balance by segment, to the cent."""
    from relance.engine.aging import aged_balance
    from relance.engine.aging_display import aged_balance_table, dso_text

    figures = _book_figures(ctx)
    with ctx.store.transaction() as session:
        aged = aged_balance(session, on=ctx.on, by="segment")
    ctx.results["book"] = figures
    ctx.results["aged_balance"] = aged.as_dict()
    console = ctx.console
    # The segments by their names in the book (franchisee, public...).
    debtors = ", ".join(f"{show_count(count)} {segment}"
                        for segment, count in figures["debtors"].items())
    console.print()
    console.print(_("[bold]The book on {day}[/]: {debtors}").format(
        day=show_date(ctx.on), debtors=escape(debtors)))
    say(console, _("{invoices} invoices: {open} open ({partly_paid} partly paid, {disputed} "
                   "disputed), {paid} paid; {paused} debtors paused, {promises} promises to "
                   "pay").format(
        invoices=show_count(figures["invoices"]), open=show_count(figures["open"]),
        partly_paid=show_count(figures["partly_paid"]),
        disputed=show_count(figures["disputed"]), paid=show_count(figures["paid"]),
        paused=show_count(figures["paused_debtors"]),
        promises=show_count(figures["open_promises"])))
    print_table(console, aged_balance_table(aged))
    dso = dso_text(aged)
    if dso:
        say(console, dso)


def point_to_tui(ctx: DemoContext) -> None:
    root = ctx.workspace.root
    ctx.results["workspace"] = str(root)
    ctx.console.print()
    ctx.console.print(_("Demo workspace: [bold]{folder}[/]. Next: [bold]{command}[/] to work "
                        "the queue.").format(folder=escape(str(root)),
                                             command=escape(f"cd {root} && relance tui")),
                      soft_wrap=True)
    ctx.console.print(_("The debtors' pages and the portal: [bold]{serve}[/], then "
                        "[bold]{sales_rep}[/] (a sales rep) or [bold]{client}[/] (the client "
                        "company) prints a sign-in link.").format(
        serve="relance web", sales_rep="relance portal-link chloe",
        client="relance portal-link vercors"), soft_wrap=True)


STEPS: list[DemoStep] = [
    DemoStep("creditor", "creditor and branding", add_creditor),
    DemoStep("portfolio", "portfolio import", import_portfolio),
    DemoStep("client", "a client company under mandate", take_client),
    DemoStep("run", "run of the rules", run_rules),
    DemoStep("dispatch", "letters and e-mails to the outbox", dispatch_outbox),
    DemoStep("mandate", "a case taken under mandate, its funds remitted", work_the_mandate),
    DemoStep("summary", "summary", summary),
    DemoStep("next", "pointer to the TUI", point_to_tui),
]
"""The demo, in order. Insert new steps before "summary"."""


def insert_step(step: DemoStep, *, before: str = "summary") -> None:
    """Add a step to the demo before an existing one (by name)."""
    names = [existing.name for existing in STEPS]
    STEPS.insert(names.index(before), step)


def run_demo(directory: Path, *, on: dt.date, seed: int, console: Console,
             steps: list[DemoStep] | None = None) -> DemoContext:
    """Build the demo workspace in `directory` and run each step; returns the context."""
    workspace = prepare_directory(directory)
    store = open_store(sqlite_url(workspace.root / DEFAULT_DB_NAME))
    ctx = DemoContext(workspace=workspace, store=store, on=on, seed=seed, console=console)
    try:
        for step in steps if steps is not None else STEPS:
            step.run(ctx)
    finally:
        store.dispose()
    return ctx
