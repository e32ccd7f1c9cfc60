"""The case view (debtor 360): every invoice with its balance and age, the history of
actions and events with the rule and rules version behind each, notes, promises and
payment plans; and the changes an operator makes to a case."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.markup import escape
from rich.text import Text
from sqlalchemy.orm import Session
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from relance.engine import casework
from relance.errors import UsageError
from relance.store.models import Invoice
from relance.store.money import Money
from relance.tui import data, format
from relance.tui.screens.base import DeskScreen
from relance.tui.screens.modals import Field, FormScreen
from relance.tui.widgets.cursor import highlighted_key
from relance.tui.widgets.mode_bar import ModeBar


def parse_allocations(text: str, invoices: list[Invoice], payment: Money
                      ) -> list[tuple[int, int]] | None:
    """`FA-1:500, FA-2` → allocations: an amount per invoice, or its balance (up to what
    is left of the payment) when none is given; empty text: oldest due first (None)."""
    if not text.strip():
        return None
    by_number = {invoice.number: invoice for invoice in invoices}
    result: list[tuple[int, int]] = []
    left = payment.minor
    for token in text.replace(";", ",").split(","):
        number, _, amount = token.strip().partition(":")
        if not number:
            continue
        invoice = by_number.get(number.strip())
        if invoice is None:
            raise UsageError(f"no invoice {number.strip()} in this case")
        if amount.strip():
            minor = casework.parse_money(amount, payment.currency,
                                         what=f"amount for {invoice.number}").minor
        else:
            minor = min(left, invoice.balance_minor)
        if minor > 0:
            result.append((invoice.id, minor))
            left -= minor
    if not result:
        raise UsageError("nothing to allocate: the invoices named have no balance")
    return result


class CaseScreen(DeskScreen):
    DEFAULT_CSS = """
    #case-head { height: auto; max-height: 5; padding: 0 1; background: $boost; }
    #case-tabs { height: 1fr; }
    #case-tabs DataTable { height: 1fr; }
    #case-notes { padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "payment", "Payment"),
        Binding("z", "pause", "Pause"),
        Binding("d", "dispute", "Dispute"),
        Binding("p", "promise", "Promise"),
        Binding("n", "note", "Note"),
        Binding("L", "reset_level", "Reset level", show=False),
        Binding("space", "select", "Select", show=False),
        Binding("slash", "find", "Find", show=False),
        Binding("i", "tab('invoices')", "Invoices", show=False),
        Binding("h", "tab('history')", "History", show=False),
        Binding("t", "tab('notes')", "Notes", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.case: data.Case | None = None
        self.selected: set[int] = set()

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
                history.add_columns("Date", "What", "Who", "Why / detail")
                yield history
            with TabPane("Notes & promises", id="notes"):
                yield Static("", id="case-notes")
        yield Footer(compact=True)

    @property
    def invoices_table(self) -> DataTable[str | Text]:
        return self.query_one("#case-invoices", DataTable)

    def on_mount(self) -> None:
        self.invoices_table.focus()

    def reload(self) -> None:
        desk = self.desk
        with self.ctx.reading() as session:
            if desk.case_debtor_id is None:
                desk.case_debtor_id = data.first_debtor_id(session)
            case = (data.load_case(session, desk.case_debtor_id)
                    if desk.case_debtor_id is not None else None)
        if self.case is None or case is None or case.debtor.id != self.case.debtor.id:
            self.selected.clear()
        self.case = case
        self._fill()

    def _fill(self) -> None:
        head = self.query_one("#case-head", Static)
        table = self.invoices_table
        keep = table.cursor_row
        table.clear()
        history = self.query_one("#case-history", DataTable)
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
                buckets = balances.setdefault(invoice.currency, [0] * 5)
                buckets[data.BUCKETS.index(data.bucket_of(invoice.due_date, today))] += (
                    invoice.balance_minor)
        owed = " · ".join(
            f"{format.money(sum(b), c)} ("
            + ", ".join(f"{name} {format.amount(v, c)}"
                        for name, v in zip(data.BUCKETS, b, strict=True) if v)
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
                (data.bucket_of(invoice.due_date, today) if invoice.balance_minor > 0
                 else invoice.status.value),
                invoice.stage.value,
                (f"disputed: {invoice.dispute_reason}" if invoice.dispute_reason
                 else f"{age}d" if invoice.balance_minor > 0 and age > 0 else ""),
                key=str(invoice.id))
        if case.invoices:
            table.move_cursor(row=min(max(keep, 0), len(case.invoices) - 1))
        for line in case.history:
            history.add_row(format.short_day(line.day), line.what, line.who[:12],
                            line.detail[:60])
        notes.update(self._notes_text(case))

    def _notes_text(self, case: data.Case) -> str:
        lines = ["[b]Promises[/b]"]
        for promise in case.promises:
            amount = (format.money(promise.amount_minor, promise.currency or "EUR")
                      if promise.amount_minor is not None else "everything due")
            lines.append(f"  {format.day(promise.promised_on)} {amount} · "
                         f"{promise.status.value} · {promise.recorded_by}")
        if not case.promises:
            lines.append("  none")
        lines.append("[b]Payment plans[/b]")
        for plan, instalments in case.plans:
            done = sum(1 for i in instalments if i.paid_minor >= i.amount_minor)
            lines.append(f"  {'active' if plan.active else 'ended'}: {done}/{len(instalments)}"
                         " instalments paid")
            for inst in instalments[:6]:
                lines.append(f"    {format.day(inst.due_on)} "
                             f"{format.money(inst.amount_minor, plan.currency)}"
                             f" paid {format.amount(inst.paid_minor, plan.currency)}")
        if not case.plans:
            lines.append("  none")
        lines.append("[b]Notes[/b]")
        for note in case.notes:
            lines.append(f"  {note.created_at:%d/%m/%y} {note.author}: {note.body}")
        if not case.notes:
            lines.append("  none")
        return "\n".join(lines)

    # ------------------------------------------------------------------ choosing invoices

    def _current_invoice(self) -> Invoice | None:
        case = self.case
        key = highlighted_key(self.invoices_table)
        if case is None or key is None:
            return None
        return next((i for i in case.invoices if str(i.id) == key), None)

    def _chosen(self) -> list[Invoice]:
        case = self.case
        if case is None:
            return []
        if self.selected:
            return [i for i in case.invoices if i.id in self.selected]
        current = self._current_invoice()
        return [current] if current else []

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
        if event.pane.id == "invoices":
            self.invoices_table.focus()
        elif event.pane.id == "history":
            self.query_one("#case-history", DataTable).focus()

    # ------------------------------------------------------------------ changes

    def _form(self, title: str, fields: list[Field],
              act: Callable[[dict[str, str], Session | None], object]) -> None:
        """Ask; check the answers with `act(answers, None)` (parsing only), then apply
        them with `act(answers, session)` in one transaction."""
        def parse(answers: dict[str, str]) -> dict[str, str]:
            act(answers, None)
            return answers

        def apply(answers: dict[str, str]) -> None:
            self.perform(lambda session: act(answers, session), done=title)

        self.ask(title, fields, parse, apply)

    def action_payment(self) -> None:
        case = self.case
        if case is None:
            return
        ctx = self.ctx
        chosen = [i for i in self._chosen() if i.balance_minor > 0] if self.selected else []
        open_invoices = [i for i in case.invoices if i.balance_minor > 0]
        pool = chosen or open_invoices or case.invoices
        code = pool[0].currency if pool else "EUR"
        due = sum(i.balance_minor for i in (chosen or open_invoices) if i.currency == code)

        def apply(answers: dict[str, str], session: Session | None) -> object:
            amount = casework.parse_money(answers["amount"], code)
            on = casework.parse_day(answers["date"]) if answers["date"] else ctx.today
            allocations = parse_allocations(answers["invoices"], case.invoices, amount)
            if session is None:
                return None
            return casework.record_payment(
                session, ctx.actor, creditor_id=case.debtor.creditor_id,
                debtor_id=case.debtor.id, amount=amount, received_on=on,
                reference=answers["reference"], allocations=allocations)

        self._form(f"Payment from {case.debtor.name}", [
            Field("amount", f"Amount received ({code})", format.amount(due, code).replace(" ", "")),
            Field("date", "Received on", format.day(ctx.today)),
            Field("reference", "Reference (bank, cheque)"),
            Field("invoices", "Allocate to (e.g. FA-1:500, FA-2; empty: oldest due first)",
                  ", ".join(i.number for i in chosen)),
        ], apply)

    def action_pause(self) -> None:
        case = self.case
        if case is None:
            return
        ctx = self.ctx
        debtor = case.debtor
        seen = debtor.paused_until
        if seen is not None and seen >= ctx.today:
            def resume(answers: dict[str, str], session: Session | None) -> object:
                if not answers["reason"]:
                    raise UsageError("Resuming needs a reason.")
                if session is not None:
                    casework.resume(session, ctx.actor, debtor.id, reason=answers["reason"],
                                    today=ctx.today, seen_paused_until=seen)
                return None

            self._form(f"Resume {debtor.name} (paused until {format.day(seen)})",
                       [Field("reason", "Reason")], resume)
            return

        def pause(answers: dict[str, str], session: Session | None) -> object:
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
            def close(answers: dict[str, str], session: Session | None) -> object:
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

        def open_(answers: dict[str, str], session: Session | None) -> object:
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

        def apply(answers: dict[str, str], session: Session | None) -> object:
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

        def apply(answers: dict[str, str], session: Session | None) -> object:
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
            policies = data.invoice_policies(session, invoice.id)
        if not policies:
            self.notify(f"No policy has acted on {invoice.number} yet", severity="warning")
            return

        def apply(answers: dict[str, str], session: Session | None) -> object:
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
                found = data.find_debtors(session, answers["text"])
            if not found:
                self.notify(f"No debtor matches {answers['text']!r}", severity="warning")
                return
            if len(found) > 1:
                self.notify(f"{len(found)} debtors match; showing {found[0].name}")
            self.desk.case_debtor_id = found[0].id
            self.reload()

        self.app.push_screen(FormScreen("Find a debtor", [
            Field("text", "Name or reference")]), then)
