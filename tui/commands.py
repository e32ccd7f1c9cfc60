"""The command palette (Ctrl+P): do what the keys do, and find a case by name.

Three kinds of commands, all in the desk's language:

- the current screen's own keys (approve, reject, pay, pause…): choosing one runs the
  very action its key runs, on the row under the cursor;
- the day's jobs of the core: run the policies for today, dispatch the approved sends
  (the calls `relance run` and `relance dispatch` make), after a yes/no question;
- a search of debtors (name, reference) and invoices (number): one match opens its
  case, several are listed to choose from (`relance.tui.screens.chooser`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen

from relance.kernel.errors import RelanceError
from relance.kernel.i18n import _, ngettext
from relance.tui.screens.chooser import CaseMatch, choose_case, find_cases
from relance.tui.screens.help import GENERIC_KEYS
from relance.tui.screens.modals import ConfirmScreen

if TYPE_CHECKING:
    from relance.tui.app import RelanceApp

MIN_SEARCH = 2  # characters typed before the book is searched
# Fuzzy scores of commands grow past 1 with the letters matched; a case found in the
# book by what was typed is above them (a name typed is a name meant).
FOUND_SCORE = 100.0
SHOWN_MATCHES = 5  # cases offered directly in the palette; "find" lists them all


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
    """Ask, then do `work` off the screen's thread (a run or a dispatch takes a while)
    and say what it did; the screen shown reloads as the change counter moves."""

    def done(said: str) -> None:
        app.notify(said, timeout=10)

    def failed(message: str) -> None:
        app.notify(message, title=_("Not done"), severity="error", timeout=10)

    def in_thread() -> None:
        try:
            said = work()
        except RelanceError as exc:
            app.call_from_thread(failed, exc.message)
        else:
            app.call_from_thread(done, said)

    def then(yes: bool | None) -> None:
        if yes:
            app.notify(_("Working…"))
            app.run_worker(in_thread, thread=True, group="palette")

    app.push_screen(ConfirmScreen(question), then)


def search_cases(app: RelanceApp, text: str) -> None:
    """Open the case `text` names, asking which when several match."""
    with app.ctx.reading() as session:
        matches = find_cases(session, text)
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
            return find_cases(session, text)
