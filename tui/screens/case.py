"""The case view (debtor 360): every invoice with its balance and age, the history of
actions and events with the rule and rules version behind each (and what was undone),
notes, promises and payment plans; and the changes an operator makes to a case.

The case follows the store: a change committed anywhere shows at the next poll, the
cursors staying on their invoice and history line."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from rich.text import Text
from sqlalchemy.orm import Session
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from relance.engine import casework
from relance.engine.aging import BUCKET_TITLES, bucket_index
from relance.kernel.errors import UsageError
from relance.tui import casefile, format
from relance.tui.screens.case_money import CaseWorkScreen
from relance.tui.screens.modals import Field, FormScreen
from relance.tui.widgets.case_notes import notes_text
from relance.tui.widgets.cursor import highlighted_key, restore_cursor
from relance.tui.widgets.mode_bar import ModeBar


class CaseScreen(CaseWorkScreen):
    LIVE = True
    DEFAULT_CSS = """
    #case-head { height: auto; max-height: 5; padding: 0 1; background: $boost; }
    #case-tabs { height: 1fr; }
    #case-tabs DataTable { height: 1fr; }
    #case-notes-scroll { height: 1fr; }
    #case-notes { padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "payment", "Payment"),
        Binding("z", "pause", "Pause"),
        Binding("d", "dispute", "Dispute"),
        Binding("p", "promise", "Promise"),
        Binding("n", "note", "Note"),
        Binding("l", "plan", "Plan"),
        Binding("e", "end_plan", "End plan"),
        Binding("u", "undo", "Undo"),
        Binding("L", "reset_level", "Reset level", show=False),
        Binding("space", "select", "Select", show=False),
        Binding("slash", "find", "Find", show=False),
        Binding("i", "tab('invoices')", "Invoices", show=False),
        Binding("h", "tab('history')", "History", show=False),
        Binding("t", "tab('notes')", "Notes", show=False),
    ]

    # The tab on show. Keys that act on the invoices' cursor or selection work (and are
    # in the footer) where the invoices are; undo works on the history's lines.
    tab = "invoices"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "undo":
            return self.tab == "history"
        if action in ("dispute", "select", "reset_level"):
            return self.tab == "invoices"
        if action == "plan":
            return self.tab != "history"
        if action == "end_plan":
            return self.tab == "notes"  # where the plans are listed
        return True

    def compose(self) -> ComposeResult:
        yield ModeBar("case")
        yield Static("", id="case-head")
        with TabbedContent(id="case-tabs", initial="invoices"):
            with TabPane("Invoices", id="invoices"):
                invoices: DataTable[str | Text] = DataTable(id="case-invoices", cursor_type="row")
                invoices.add_columns(" ", "Invoice", "Due", "Amount", "Balance", "Age",
                                     "Stage", "Note")
                yield invoices
            with TabPane("History", id="history"):
                history: DataTable[str | Text] = DataTable(id="case-history", cursor_type="row")
                history.add_columns("Date", "#", "What", "Who", "Why / detail")
                yield history
            with TabPane("Notes & promises", id="notes"), VerticalScroll(id="case-notes-scroll"):
                yield Static("", id="case-notes")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.invoices_table.focus()

    def reload(self) -> None:
        desk = self.desk
        with self.ctx.reading() as session:
            if desk.case_debtor_id is None:
                desk.case_debtor_id = casefile.first_debtor_id(session)
            case = (casefile.load_case(session, desk.case_debtor_id)
                    if desk.case_debtor_id is not None else None)
        if self.case is None or case is None or case.debtor.id != self.case.debtor.id:
            self.selected.clear()
        self.case = case
        self._fill()

    def _fill(self) -> None:
        head = self.query_one("#case-head", Static)
        table = self.invoices_table
        key, keep = highlighted_key(table), table.cursor_row
        table.clear()
        history = self.history_table
        history_key, history_keep = highlighted_key(history), history.cursor_row
        history.clear()
        notes = self.query_one("#case-notes", Static)
        case = self.case
        if case is None:
            head.update("No debtor yet: import invoices first (relance import invoices FILE).")
            notes.update("")
            return
        today = self.ctx.today
        debtor = case.debtor
        balances: dict[str, list[int]] = {}
        for invoice in case.invoices:
            if invoice.balance_minor > 0:
                buckets = balances.setdefault(invoice.currency, [0] * len(BUCKET_TITLES))
                buckets[bucket_index(invoice.due_date, today)] += invoice.balance_minor
        owed = " · ".join(
            f"{format.money(sum(b), c)} ("
            + ", ".join(f"{name} {format.amount(v, c)}"
                        for name, v in zip(BUCKET_TITLES, b, strict=True) if v)
            + ")" for c, b in sorted(balances.items())) or "nothing owed"
        state = ""
        if debtor.paused_until and debtor.paused_until >= today:
            state = (f" · [b]paused until {format.day(debtor.paused_until)}[/b]"
                     f" ({escape(debtor.pause_reason or '')})")
        selected = f" · {len(self.selected)} selected" if self.selected else ""
        head.update(
            f"[b]{escape(debtor.name)}[/b] {escape(debtor.ref)} · {case.creditor.code} · "
            f"{debtor.segment}{state}\n"
            f"☎ {debtor.phone or '—'} · ✉ {debtor.email or '—'}{selected}\n"
            f"Owes {owed}"
        )
        for invoice in case.invoices:
            age = (today - invoice.due_date).days
            table.add_row(
                "●" if invoice.id in self.selected else " ",
                invoice.number, format.short_day(invoice.due_date),
                format.right(format.amount(invoice.amount_minor, invoice.currency)),
                format.right(format.amount(invoice.balance_minor, invoice.currency)),
                (BUCKET_TITLES[bucket_index(invoice.due_date, today)]
                 if invoice.balance_minor > 0
                 else invoice.status.value),
                invoice.stage.value,
                (f"disputed: {invoice.dispute_reason}" if invoice.dispute_reason
                 else f"{age}d" if invoice.balance_minor > 0 and age > 0 else ""),
                key=str(invoice.id))
        restore_cursor(table, key, keep)
        for line in case.history:
            detail = (f"↶ undone by #{line.undone_by} · {line.detail}" if line.undone_by
                      else line.detail)
            history.add_row(format.short_day(line.day),
                            f"#{line.event_id}" if line.event_id else "",
                            Text(line.what, style="strike dim") if line.undone_by else line.what,
                            line.who[:12], detail[:60], key=line.key)
        restore_cursor(history, history_key, history_keep)
        notes.update(notes_text(case, today))

    def action_select(self) -> None:
        invoice = self._current_invoice()
        if invoice is None:
            return
        self.selected.symmetric_difference_update({invoice.id})
        row = self.invoices_table.cursor_row
        self._fill()
        self.invoices_table.move_cursor(row=min(row + 1, self.invoices_table.row_count - 1))

    def action_tab(self, name: str) -> None:
        self.query_one(TabbedContent).active = name

    @on(TabbedContent.TabActivated)
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        self.tab = event.pane.id or "invoices"
        self.refresh_bindings()
        if event.pane.id == "invoices":
            self.invoices_table.focus()
        elif event.pane.id == "history":
            self.history_table.focus()
        else:
            self.query_one("#case-notes-scroll", VerticalScroll).focus()

    # ------------------------------------------------------------------ changes

    def action_pause(self) -> None:
        case = self.case
        if case is None:
            return
        ctx = self.ctx
        debtor = case.debtor
        seen = debtor.paused_until
        if seen is not None and seen >= ctx.today:
            def resume(answers: dict[str, str], session: Session | None) -> str | None:
                if not answers["reason"]:
                    raise UsageError("Resuming needs a reason.")
                if session is not None:
                    casework.resume(session, ctx.actor, debtor.id, reason=answers["reason"],
                                    today=ctx.today, seen_paused_until=seen)
                return None

            self._form(f"Resume {debtor.name} (paused until {format.day(seen)})",
                       [Field("reason", "Reason")], resume)
            return

        def pause(answers: dict[str, str], session: Session | None) -> str | None:
            until = casework.parse_day(answers["until"], what="end date")
            if not answers["reason"]:
                raise UsageError("A pause needs a reason.")
            if until < ctx.today:
                raise UsageError("The pause must end today or later.")
            if session is not None:
                casework.pause(session, ctx.actor, debtor.id, until=until,
                               reason=answers["reason"], today=ctx.today,
                               seen_paused_until=seen)
            return None

        self._form(f"Pause {debtor.name}", [
            Field("until", "Paused up to and including (date)"),
            Field("reason", "Reason"),
        ], pause)

    def action_dispute(self) -> None:
        chosen = self._chosen()
        if not chosen:
            return
        ctx = self.ctx
        numbers = ", ".join(i.number for i in chosen)
        ids = [i.id for i in chosen]
        if all(i.dispute_reason is not None for i in chosen):
            def close(answers: dict[str, str], session: Session | None) -> str | None:
                if not answers["resolution"]:
                    raise UsageError("Closing a dispute needs a resolution.")
                if session is not None:
                    casework.close_dispute(session, ctx.actor, ids,
                                           resolution=answers["resolution"])
                return None

            self._form(f"Close the dispute on {numbers}", [Field("resolution", "Resolution")],
                       close)
            return
        ids = [i.id for i in chosen if i.dispute_reason is None]

        def open_(answers: dict[str, str], session: Session | None) -> str | None:
            if not answers["reason"]:
                raise UsageError("A dispute needs a reason.")
            if session is not None:
                casework.open_dispute(session, ctx.actor, ids, reason=answers["reason"],
                                      today=ctx.today)
            return None

        self._form(f"Dispute {numbers}", [Field("reason", "What is disputed")], open_)

    def action_promise(self) -> None:
        case = self.case
        if case is None:
            return
        ctx = self.ctx
        chosen = self._chosen() if self.selected else []
        invoice_id = chosen[0].id if len(chosen) == 1 else None
        code = (case.invoices[0].currency if case.invoices else "EUR")

        def apply(answers: dict[str, str], session: Session | None) -> str | None:
            day = casework.parse_day(answers["date"], what="promised date")
            amount = casework.parse_money(answers["amount"], code) if answers["amount"] else None
            if day < ctx.today:
                raise UsageError("The promised date is already past.")
            if session is not None:
                casework.add_promise(session, ctx.actor, case.debtor.id, promised_on=day,
                                     today=ctx.today, amount=amount, invoice_id=invoice_id)
            return None

        self._form(f"Promise to pay — {case.debtor.name}", [
            Field("date", "Pays by (date)"),
            Field("amount", f"Amount in {code} (empty: everything due)"),
        ], apply)

    def action_note(self) -> None:
        case = self.case
        if case is None:
            return
        ctx = self.ctx

        def apply(answers: dict[str, str], session: Session | None) -> str | None:
            if not answers["body"]:
                raise UsageError("A note cannot be empty.")
            if session is not None:
                casework.add_note(session, ctx.actor, case.debtor.id, answers["body"])
            return None

        self._form(f"Note on {case.debtor.name}", [Field("body", "Note")], apply)

    def action_reset_level(self) -> None:
        invoice = self._current_invoice()
        if invoice is None:
            return
        ctx = self.ctx
        with ctx.reading() as session:
            policies = casefile.invoice_policies(session, invoice.id)
        if not policies:
            self.notify(f"No policy has acted on {invoice.number} yet", severity="warning")
            return

        def apply(answers: dict[str, str], session: Session | None) -> str | None:
            if answers["policy"] not in policies:
                raise UsageError(f"Policy: one of {', '.join(policies)}.")
            if not answers["reason"]:
                raise UsageError("A level reset needs a reason.")
            if session is not None:
                casework.reset_level(session, ctx.actor, invoice.id, answers["policy"],
                                     reason=answers["reason"], today=ctx.today)
            return None

        self._form(f"Start {invoice.number} again at the first rule of a policy", [
            Field("policy", f"Policy ({', '.join(policies)})",
                  policies[0] if len(policies) == 1 else ""),
            Field("reason", "Reason"),
        ], apply)

    def action_find(self) -> None:
        def then(answers: dict[str, str] | None) -> None:
            if not answers or not answers["text"]:
                return
            with self.ctx.reading() as session:
                found = casefile.find_debtors(session, answers["text"])
            if not found:
                self.notify(f"No debtor matches {answers['text']!r}", severity="warning")
                return
            if len(found) > 1:
                self.notify(f"{len(found)} debtors match; showing {found[0].name}")
            self.desk.case_debtor_id = found[0].id
            self.reload()

        self.app.push_screen(FormScreen("Find a debtor", [
            Field("text", "Name or reference")]), then)
