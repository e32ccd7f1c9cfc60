"""The case view (debtor 360): every invoice with its balance and age, the history of
actions and events with the rule and rules version behind each (and what was undone),
notes, promises and payment plans; and the changes an operator makes to a case.

The case follows the store: a change committed anywhere shows at the next poll, the
cursors staying on their invoice and history line."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from rich.text import Text
from sqlalchemy import select
from sqlalchemy.orm import Session
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from relance.engine import casework
from relance.engine.aging import BUCKET_TITLES, bucket_index
from relance.kernel.display import show_date, show_money
from relance.kernel.errors import UsageError
from relance.kernel.i18n import N_, _
from relance.store.models import Debtor, InvoiceStatus, Stage
from relance.tui import casefile
from relance.tui.preview import Document, sent_document
from relance.tui.screens.case_money import CaseWorkScreen
from relance.tui.screens.chooser import choose_case, find_cases
from relance.tui.screens.document import DocumentScreen
from relance.tui.screens.modals import Field, FormScreen
from relance.tui.widgets.case_notes import notes_text
from relance.tui.widgets.cursor import highlighted_key, restore_cursor
from relance.tui.widgets.mode_bar import ModeBar

INVOICE_STATUS: dict[str, str] = {
    InvoiceStatus.OPEN: N_("open"), InvoiceStatus.PAID: N_("settled"),
    InvoiceStatus.CANCELLED: N_("voided"),
}
STAGES: dict[str, str] = {
    Stage.REMINDER: N_("reminders"), Stage.AMICABLE: N_("amicable recovery"),
    Stage.LITIGATION: N_("litigation"),
}


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
        Binding("m", "payment", N_("Payment")),
        Binding("z", "pause", N_("Pause")),
        Binding("d", "dispute", N_("Dispute")),
        Binding("p", "promise", N_("Promise")),
        Binding("n", "note", N_("Note")),
        Binding("l", "plan", N_("Plan")),
        Binding("e", "end_plan", N_("End plan")),
        Binding("v", "view", N_("Open entry")),
        Binding("u", "undo", N_("Undo")),
        Binding("L", "reset_level", N_("Reset level"), show=False),
        Binding("space", "select", N_("Select"), show=False),
        Binding("slash", "find", N_("Find"), show=False),
        Binding("i", "tab('invoices')", N_("Invoices"), show=False),
        Binding("h", "tab('history')", N_("History"), show=False),
        Binding("t", "tab('notes')", N_("Notes"), show=False),
    ]

    # The tab on show. Keys that act on the invoices' cursor or selection work (and are
    # in the footer) where the invoices are; undo works on the history's lines.
    tab = "invoices"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("undo", "view"):
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
            with TabPane(_("Invoices"), id="invoices"):
                invoices: DataTable[str | Text] = DataTable(id="case-invoices", cursor_type="row")
                invoices.add_columns(" ", _("Invoice"), _("Due"))
                invoices.add_column(Text(_("Amount"), justify="right"))
                invoices.add_column(Text(_("Balance"), justify="right"))
                invoices.add_columns(_("Age"), _("Stage"), _("Note"))
                yield invoices
            with TabPane(_("History"), id="history"):
                history: DataTable[str | Text] = DataTable(id="case-history", cursor_type="row")
                history.add_columns(_("Date"), "#", _("What"), _("Who"), _("Why / detail"))
                yield history
            with TabPane(_("Notes & promises"), id="notes"), \
                    VerticalScroll(id="case-notes-scroll"):
                yield Static("", id="case-notes")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.invoices_table.focus()

    def reload(self) -> None:
        desk = self.desk
        seen = self.ctx.creditor_ids
        with self.ctx.reading() as session:
            if desk.case_debtor_id is None:
                desk.case_debtor_id = (casefile.first_debtor_id(session) if seen is None
                                       else session.scalar(
                                           select(Debtor.id).where(Debtor.creditor_id.in_(seen))
                                           .order_by(Debtor.id).limit(1)))
            case = (casefile.load_case(session, desk.case_debtor_id)
                    if desk.case_debtor_id is not None else None)
        if case is not None and seen is not None and case.debtor.creditor_id not in seen:
            case = None  # another creditor's case: as if there were none
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
            head.update(_("No debtor yet: import invoices first "
                          "(relance import invoices FILE)."))
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
            _("{total} ({by_age})").format(
                total=show_money(sum(b), c),
                by_age=", ".join(f"{_(name)} {show_money(v, c)}"
                                 for name, v in zip(BUCKET_TITLES, b, strict=True) if v))
            for c, b in sorted(balances.items()))
        state = ""
        if debtor.paused_until and debtor.paused_until >= today:
            state = " · " + _("[b]paused until {day}[/b] ({reason})").format(
                day=show_date(debtor.paused_until), reason=escape(debtor.pause_reason or ""))
        selected = (" · " + _("{count} selected").format(count=len(self.selected))
                    if self.selected else "")
        head.update(
            f"[b]{escape(debtor.name)}[/b] {escape(debtor.ref)} · {case.creditor.code} · "
            f"{escape(debtor.segment)}{state}\n"
            f"☎ {debtor.phone or '—'} · ✉ {debtor.email or '—'}{selected}\n"
            + (_("Owes {amounts}").format(amounts=owed) if owed else _("Nothing owed"))
            + ("\n" + escape(casefile.payer_line(case.profile)) if case.profile else "")
        )
        for invoice in case.invoices:
            age = (today - invoice.due_date).days
            if invoice.dispute_reason:
                note = _("disputed: {reason}").format(reason=invoice.dispute_reason)
            elif invoice.balance_minor > 0 and age > 0:
                note = _("{days} d late").format(days=age)
            else:
                note = ""
            table.add_row(
                "●" if invoice.id in self.selected else " ",
                invoice.number, show_date(invoice.due_date),
                Text(show_money(invoice.amount_minor, invoice.currency), justify="right"),
                Text(show_money(invoice.balance_minor, invoice.currency), justify="right"),
                (_(BUCKET_TITLES[bucket_index(invoice.due_date, today)])
                 if invoice.balance_minor > 0
                 else _(INVOICE_STATUS.get(invoice.status, invoice.status.value))),
                # Text, not a string the table reads as markup: a dispute reason may
                # come from the debtor's page, as typed.
                _(STAGES.get(invoice.stage, invoice.stage.value)), Text(note),
                key=str(invoice.id))
        restore_cursor(table, key, keep)
        for line in case.history:
            what, detail = line.what, line.detail
            if line.undone_by:
                detail = _("↶ undone by #{event} · {detail}").format(event=line.undone_by,
                                                                     detail=detail)
            history.add_row(show_date(line.day),
                            f"#{line.event_id}" if line.event_id else "",
                            Text(what, style="strike dim") if line.undone_by else what,
                            Text(line.who[:12]), Text(detail[:60]), key=line.key)
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

    def action_view(self) -> None:
        """The history line under the cursor in full: the document an action sent (the
        very file, not rendered again), or a change with all its details."""
        case = self.case
        key = highlighted_key(self.history_table)
        line = next((h for h in case.history if h.key == key), None) if case else None
        if line is None:
            return
        if line.action_id is not None:
            document = sent_document(self.ctx, line.action_id)
        else:
            who = _("By {who}, on {day}").format(who=line.who, day=show_date(line.day))
            document = Document(f"#{line.event_id} {line.what}", text=f"{who}\n\n{line.detail}")
        self.app.push_screen(DocumentScreen(document))

    @on(DataTable.RowSelected, "#case-history")
    def _history_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_view()

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
                    raise UsageError(_("Resuming needs a reason."))
                if session is not None:
                    casework.resume(session, ctx.actor, debtor.id, reason=answers["reason"],
                                    today=ctx.today, seen_paused_until=seen)
                return None

            self._form(_("Resume {name} (paused until {day})").format(
                name=debtor.name, day=show_date(seen)), [Field("reason", _("Reason"))], resume)
            return

        def pause(answers: dict[str, str], session: Session | None) -> str | None:
            until = casework.parse_day(answers["until"], what=_("end date"))
            if not answers["reason"]:
                raise UsageError(_("A pause needs a reason."))
            if until < ctx.today:
                raise UsageError(_("The pause must end today or later."))
            if session is not None:
                casework.pause(session, ctx.actor, debtor.id, until=until,
                               reason=answers["reason"], today=ctx.today,
                               seen_paused_until=seen)
            return None

        self._form(_("Pause {name}").format(name=debtor.name), [
            Field("until", _("Paused up to and including (date)")),
            Field("reason", _("Reason")),
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
                    raise UsageError(_("Closing a dispute needs a resolution."))
                if session is not None:
                    casework.close_dispute(session, ctx.actor, ids,
                                           resolution=answers["resolution"])
                return None

            self._form(_("Close the dispute on {invoices}").format(invoices=numbers),
                       [Field("resolution", _("Resolution"))], close)
            return
        ids = [i.id for i in chosen if i.dispute_reason is None]

        def open_(answers: dict[str, str], session: Session | None) -> str | None:
            if not answers["reason"]:
                raise UsageError(_("A dispute needs a reason."))
            if session is not None:
                casework.open_dispute(session, ctx.actor, ids, reason=answers["reason"],
                                      today=ctx.today)
            return None

        self._form(_("Dispute {invoices}").format(invoices=numbers),
                   [Field("reason", _("What is disputed"))], open_)

    def action_promise(self) -> None:
        case = self.case
        if case is None:
            return
        ctx = self.ctx
        chosen = self._chosen() if self.selected else []
        invoice_id = chosen[0].id if len(chosen) == 1 else None
        code = (case.invoices[0].currency if case.invoices else "EUR")

        def apply(answers: dict[str, str], session: Session | None) -> str | None:
            day = casework.parse_day(answers["date"], what=_("promised date"))
            amount = casework.parse_money(answers["amount"], code) if answers["amount"] else None
            if day < ctx.today:
                raise UsageError(_("The promised date is already past."))
            if session is not None:
                casework.add_promise(session, ctx.actor, case.debtor.id, promised_on=day,
                                     today=ctx.today, amount=amount, invoice_id=invoice_id)
            return None

        self._form(_("Promise to pay — {name}").format(name=case.debtor.name), [
            Field("date", _("Pays by (date)")),
            Field("amount", _("Amount in {currency} (empty: everything due)").format(
                currency=code)),
        ], apply)

    def action_note(self) -> None:
        case = self.case
        if case is None:
            return
        ctx = self.ctx

        def apply(answers: dict[str, str], session: Session | None) -> str | None:
            if not answers["body"]:
                raise UsageError(_("A note cannot be empty."))
            if session is not None:
                casework.add_note(session, ctx.actor, case.debtor.id, answers["body"])
            return None

        self._form(_("Note on {name}").format(name=case.debtor.name),
                   [Field("body", _("Note"))], apply)

    def action_reset_level(self) -> None:
        invoice = self._current_invoice()
        if invoice is None:
            return
        ctx = self.ctx
        with ctx.reading() as session:
            policies = casefile.invoice_policies(session, invoice.id)
        if not policies:
            self.notify(_("No policy has acted on {invoice} yet").format(invoice=invoice.number),
                        severity="warning")
            return

        def apply(answers: dict[str, str], session: Session | None) -> str | None:
            if answers["policy"] not in policies:
                raise UsageError(_("Policy: one of {policies}.").format(
                    policies=", ".join(policies)))
            if not answers["reason"]:
                raise UsageError(_("A level reset needs a reason."))
            if session is not None:
                casework.reset_level(session, ctx.actor, invoice.id, answers["policy"],
                                     reason=answers["reason"], today=ctx.today)
            return None

        self._form(_("Start {invoice} again at the first rule of a policy").format(
                invoice=invoice.number), [
            Field("policy", _("Policy ({policies})").format(policies=", ".join(policies)),
                  policies[0] if len(policies) == 1 else ""),
            Field("reason", _("Reason")),
        ], apply)

    def action_find(self) -> None:
        def then(answers: dict[str, str] | None) -> None:
            if not answers or not answers["text"]:
                return
            with self.ctx.reading() as session:
                found = find_cases(session, answers["text"], creditor_ids=self.ctx.creditor_ids)
            choose_case(self.app, answers["text"], found, self._open_case)

        self.app.push_screen(FormScreen(_("Find a debtor"), [
            Field("text", _("Name, reference or invoice number"))]), then)

    def _open_case(self, debtor_id: int) -> None:
        self.desk.case_debtor_id = debtor_id
        self.reload()
