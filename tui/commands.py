"""The command palette (Ctrl+P): do what the keys do, and find a case by name.

Four kinds of commands, all in the desk's language:

- the current screen's own keys (approve, reject, pay, pause…): choosing one runs the
  very action its key runs, on the row under the cursor;
- the day's jobs of the core: run the policies for today, dispatch the approved sends
  (the calls `relance run` and `relance dispatch` make), after a yes/no question;
- the reports `relance report` writes: the aged balance (CSV, XLSX, PDF) in the desk's
  language and, on a case, the debtor's statement (PDF) in the debtor's, written under
  the outbox's `reports/` by the very functions the command line calls, then offered
  to a viewer;
- a search of debtors (name, reference) and invoices (number): one match opens its
  case, several are listed to choose from (`relance.tui.screens.chooser`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static

from relance.channels.reports.files import aged_name, statement_name, write_csv_file, write_whole
from relance.kernel.errors import RelanceError, UsageError
from relance.kernel.i18n import N_, _, ngettext
from relance.store.models import Debtor
from relance.tui.context import TuiContext
from relance.tui.screens.chooser import CaseMatch, choose_case, find_cases
from relance.tui.screens.document import open_in_viewer, viewer_command
from relance.tui.screens.help import GENERIC_KEYS
from relance.tui.screens.modals import ConfirmScreen, DeskModal

if TYPE_CHECKING:
    from relance.tui.app import RelanceApp

MIN_SEARCH = 2  # characters typed before the book is searched
# Fuzzy scores of commands grow past 1 with the letters matched; a case found in the
# book by what was typed is above them (a name typed is a name meant).
FOUND_SCORE = 100.0
SHOWN_MATCHES = 5  # cases offered directly in the palette; "find" lists them all
REPORTS_DIR = "reports"  # under the outbox, beside the letters and previews
AGED_FORMATS = ("csv", "xlsx", "pdf")  # not for people: file extensions
AGED_GROUPING = "segment"  # as `relance report aged` groups by default
ResultT = TypeVar("ResultT")


def screen_commands(screen: Screen[object]) -> list[tuple[str, str, str]]:
    """(description, key, action) of the screen's own keys, as its footer shows them
    (translated), including the keys the footer has no room for."""
    commands: dict[str, tuple[str, str, str]] = {}
    for active in screen.active_bindings.values():
        binding = active.binding
        # A table's own moves and the application's keys (screens, help) are not the
        # screen's work; the palette offers the screens on its own.
        if (active.node is not screen or not binding.description or not active.enabled
                or (binding.action, binding.description) in GENERIC_KEYS):
            continue
        commands.setdefault(binding.action, (binding.description,
                                             screen.app.get_key_display(binding),
                                             binding.action))
    return list(commands.values())


def _desk(provider: Provider) -> RelanceApp:
    from relance.tui.app import RelanceApp

    app = provider.app
    assert isinstance(app, RelanceApp)
    return app


def run_today(app: RelanceApp) -> None:
    """Evaluate the policies for today and queue the actions, as `relance run` does."""
    if not app.ctx.actor.can_write:
        app.notify(_("Auditors change nothing"), severity="error")
        return
    from relance.engine.workday import run_workspace_day

    ctx = app.ctx

    def work() -> str:
        report = run_workspace_day(ctx.workspace, ctx.store, ctx.today,
                                   actor=ctx.actor.name)
        return ngettext("Run done: {count} action queued, {proposed} to approve",
                        "Run done: {count} actions queued, {proposed} to approve",
                        report.actions_created).format(count=report.actions_created,
                                                       proposed=report.actions_proposed)

    _confirm_then_work(app, _("Run the policies for today and queue their actions?"), work)


def dispatch_now(app: RelanceApp) -> None:
    """Send the approved letters, e-mails, SMS and alerts, as `relance dispatch` does."""
    if not app.ctx.actor.can_write:
        app.notify(_("Auditors change nothing"), severity="error")
        return
    from relance.channels.dispatch import dispatch

    ctx = app.ctx

    def work() -> str:
        report = dispatch(ctx.store, ctx.workspace, today=ctx.today)
        left = report.left
        return _("Dispatch done: {sent} sent, {failed} failed, {uncertain} uncertain").format(
            sent=report.sent, failed=left.get("failed", 0),
            uncertain=left.get("uncertain", 0))

    _confirm_then_work(app, _("Send every approved letter, e-mail and SMS now?"), work)


def _confirm_then_work(app: RelanceApp, question: str, work: Callable[[], str]) -> None:
    """Ask, then do `work` in the background and say what it did; the screen shown
    reloads as the change counter moves."""

    def then(yes: bool | None) -> None:
        if yes:
            _in_background(app, work, lambda said: app.notify(said, timeout=10))

    app.push_screen(ConfirmScreen(question), then)


def _failed(app: RelanceApp, exc: RelanceError | OSError) -> None:
    """Say why a job or a report was not done: a refusal, or the outbox full or not
    writable."""
    message = exc.message if isinstance(exc, RelanceError) else _(
        "The file could not be written: {error}").format(error=exc.strerror or exc)
    app.notify(message, title=_("Not done"), severity="error", timeout=10)


def _in_background(app: RelanceApp, work: Callable[[], ResultT],
                   done: Callable[[ResultT], None]) -> None:
    """Do `work` off the screen's thread (a run, a dispatch or a PDF takes a while),
    then `done` with its result on it, or say why it failed."""

    def in_thread() -> None:
        try:
            result = work()
        except (RelanceError, OSError) as exc:
            app.call_from_thread(_failed, app, exc)
        else:
            app.call_from_thread(done, result)

    app.notify(_("Working…"))
    app.run_worker(in_thread, thread=True, group="palette")


def reports_dir(ctx: TuiContext) -> Path:
    return ctx.workspace.outbox_dir / REPORTS_DIR


def write_aged(ctx: TuiContext, extension: str) -> Path:
    """Today's aged balance as `extension` (csv, xlsx, pdf) under the outbox, made as
    `relance report aged` makes it, headings in the desk's language."""
    from relance.channels.reports.tables import aged_sheet
    from relance.channels.reports.xlsx_export import write_xlsx
    from relance.engine.aging import aged_balance

    target = reports_dir(ctx) / aged_name(ctx.today, extension)
    seen = ctx.creditor_ids  # the creditors the user may see: theirs only in the file
    with ctx.reading() as session:
        report = aged_balance(session, on=ctx.today, by=AGED_GROUPING, creditor_ids=seen)
        if extension == "pdf":
            from relance.channels.reports.aged_pdf import aged_pdf

            workspace = ctx.workspace
            return write_whole(aged_pdf(session, report, workspace_root=workspace.root,
                                        templates_dir=workspace.templates_dir,
                                        creditor_ids=seen), target)
    if extension == "csv":
        return write_csv_file(aged_sheet(report), target)
    return write_xlsx([aged_sheet(report)], target)


def write_statement(ctx: TuiContext, debtor_id: int) -> Path:
    """The debtor's account statement of today as a PDF under the outbox, drawn by the
    function `relance report statement` calls: in the debtor's language, like the
    letters it may go with. It speaks that language while it draws (the process's
    language, for a moment) and then the desk's again: see `export_statement`."""
    from relance.channels.reports.statement_pdf import render_statement
    from relance.engine.statement import account_statement

    workspace = ctx.workspace
    seen = ctx.creditor_ids
    with ctx.reading() as session:
        debtor = session.get(Debtor, debtor_id)
        if debtor is None or (seen is not None and debtor.creditor_id not in seen):
            raise UsageError(_("no debtor {id}").format(id=debtor_id))
        report = account_statement(session, debtor_id, on=ctx.today)
        data = render_statement(session, report, workspace_root=workspace.root,
                                templates_dir=workspace.templates_dir)
    return write_whole(data, reports_dir(ctx) / statement_name(report.party.ref, ctx.today,
                                                                "pdf"))


def _written(app: RelanceApp, path: Path) -> None:
    """Say where a report was written, and offer to open it when this machine can."""
    app.notify(_("Wrote {path}").format(path=path), timeout=15)
    if viewer_command(path) is not None:
        app.push_screen(WrittenScreen(path))


def export(app: RelanceApp, write: Callable[[TuiContext], Path]) -> None:
    """Write a report in the background, say where, and offer to open it."""
    _in_background(app, partial(write, app.ctx), partial(_written, app))


def export_statement(app: RelanceApp, debtor_id: int) -> None:
    """Write the debtor's statement on the desk's own thread, not in the background
    like the other reports: the language it is drawn in is the process's, so drawn
    beside the desk it would make the screens that redraw meanwhile speak the debtor's
    language. Here no screen redraws before the statement is drawn and the desk
    speaks its own language again (the screens are still for a second)."""

    def draw() -> None:
        try:
            path = write_statement(app.ctx, debtor_id)
        except (RelanceError, OSError) as exc:
            _failed(app, exc)
        else:
            _written(app, path)

    app.notify(_("Drawing the statement…"))
    app.call_after_refresh(draw)  # the message is on the screen before the wait


class WrittenScreen(DeskModal[None]):
    """A report just written: `o` opens it in the machine's viewer."""

    DEFAULT_CSS = """
    WrittenScreen { align: center middle; }
    WrittenScreen > Vertical {
        width: 72; height: auto; padding: 1 2; border: thick $accent; background: $surface;
    }
    WrittenScreen .hint { color: $text-muted; margin-top: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "open_file", N_("Open in a viewer")),
        Binding("escape,enter", "close", N_("Close")),
    ]

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(_("Wrote {path}").format(path=self.path), markup=False)
            yield Static(_("o: open in a viewer · Esc: close"), classes="hint")

    def action_open_file(self) -> None:
        opened, said = open_in_viewer(self.path)
        self.notify(said, severity="information" if opened else "warning",
                    timeout=5 if opened else 30)
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


def search_cases(app: RelanceApp, text: str) -> None:
    """Open the case `text` names, asking which when several match."""
    with app.ctx.reading() as session:
        matches = find_cases(session, text, creditor_ids=app.ctx.creditor_ids)
    choose_case(app, text, matches, app.open_case)


class DeskCommands(Provider):
    """The desk's commands in the palette (see the module's docstring)."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        """(title, help, callback) of every command but the search."""
        app = _desk(self)
        screen = self.screen
        found: list[tuple[str, str, Callable[[], object]]] = [
            (_("{description} ({key})").format(description=description, key=key),
             _("On this screen"), partial(screen.run_action, action))
            for description, key, action in screen_commands(screen)]
        found.append((_("Help: the keys of this screen (?)"), _("On this screen"),
                      app.action_help))
        found.append((_("Run the policies for today"),
                      _("Queue today's actions, as `relance run` does"),
                      partial(run_today, app)))
        found.append((_("Dispatch the approved sends"),
                      _("Send letters, e-mails and SMS, as `relance dispatch` does"),
                      partial(dispatch_now, app)))
        where = _("Written under {folder}").format(folder=f"{REPORTS_DIR}/")
        for extension in AGED_FORMATS:
            found.append((_("Export the aged balance ({format})").format(
                format=extension.upper()), where, partial(export, app, partial(
                    write_aged, extension=extension))))
        debtor_id = app.case_debtor_id
        if app.current_mode == "case" and debtor_id is not None:
            found.append((_("Export this debtor's statement (PDF)"), where,
                          partial(export_statement, app, debtor_id)))
        return found

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
        text = query.strip()
        if len(text) < MIN_SEARCH:
            return
        app = _desk(self)
        # Read here rather than in a thread: a bounded query on names and numbers, and
        # the palette's list then settles at once (a slow provider leaves the previous
        # letters' hits under the cursor, and Enter would pick one of them).
        matches = self._find(app, text)
        if not matches:
            return
        for match in matches[:SHOWN_MATCHES]:
            title = _("Open the case of {name} ({ref})").format(name=match.name,
                                                                ref=match.ref)
            why = (_("invoice {number}").format(number=match.invoice) if match.invoice
                   else _("debtor"))
            yield Hit(FOUND_SCORE - (1 if match.exact else 2), title,
                      partial(app.open_case, match.debtor_id), text=title, help=why)
        if len(matches) > 1:
            title = ngettext("Find {text!r}: {count} case", "Find {text!r}: {count} cases",
                             len(matches)).format(text=text, count=len(matches))
            yield Hit(FOUND_SCORE, title, partial(search_cases, app, text), text=title,
                      help=_("List the debtors and invoices that match, to choose one"))

    @staticmethod
    def _find(app: RelanceApp, text: str) -> list[CaseMatch]:
        with app.ctx.reading() as session:
            return find_cases(session, text, creditor_ids=app.ctx.creditor_ids)
