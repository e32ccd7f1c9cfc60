"""Suspense: payments with money no invoice has taken, those no debtor is known for
first (a bank line nobody matched), then credits left on a debtor's account; and
allocating one to a debtor's invoices."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from rich.text import Text
from sqlalchemy.orm import Session
from textual.binding import Binding, BindingType

from relance.engine import casework
from relance.kernel.display import show_money
from relance.kernel.errors import UsageError
from relance.kernel.i18n import N_, _
from relance.store.models import Debtor
from relance.tui import casefile, entry, format, ledger
from relance.tui.screens.list_screen import WholeListScreen
from relance.tui.screens.modals import Field


class SuspenseScreen(WholeListScreen[ledger.SuspenseRow]):
    NAME = "suspense"
    ID_PREFIX = "suspense"
    DETAIL_LINES = 4
    EMPTY = N_("No payment waiting to be allocated.")
    NO_CASE = N_("No debtor known for this payment yet: a allocates it to one")
    COLUMNS = ("#", N_("Received"), N_("Amount"), N_("Left"), N_("Debtor"), N_("Reference"))
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "allocate", N_("Allocate")),
        Binding("c", "case", N_("Case")),
    ]

    def read(self, session: Session) -> list[ledger.SuspenseRow]:
        seen = self.ctx.creditor_ids
        return [row for row in ledger.suspense(session)
                if seen is None or row.creditor_id in seen]

    def key(self, row: ledger.SuspenseRow) -> int:
        return row.payment_id

    def cells(self, row: ledger.SuspenseRow) -> list[str | Text]:
        return [str(row.payment_id), format.short_day(row.received_on),
                format.right(show_money(row.amount_minor, row.currency)),
                format.right(show_money(row.left_minor, row.currency)),
                row.debtor_name[:22] if row.debtor_id else _("— suspense"),
                row.reference[:20]]

    def debtor_of(self, row: ledger.SuspenseRow) -> int | None:
        return row.debtor_id

    def detail(self, row: ledger.SuspenseRow) -> str:
        whose = (_("on the account of [b]{name}[/b] {ref}").format(
            name=escape(row.debtor_name), ref=escape(row.debtor_ref))
                 if row.debtor_id else _("[b]in suspense[/b]: no debtor known"))
        taken = (" · " + _("already on {invoices}").format(invoices=", ".join(row.allocated_to))
                 if row.allocated_to else "")
        bank = (" · " + _("bank ref {ref}").format(ref=escape(row.bank_ref))
                if row.bank_ref else "")
        first = _("Payment #{id} · {amount} received {day} · {left} left").format(
            id=row.payment_id, amount=show_money(row.amount_minor, row.currency),
            day=format.day(row.received_on), left=show_money(row.left_minor, row.currency))
        last = _("“{reference}” · {source}{bank} · recorded by {who}").format(
            reference=escape(row.reference), source=row.source, bank=bank,
            who=escape(row.recorded_by or "?"))
        return f"{first}\n{whose}{taken}\n{last}"

    def _debtor(self, session: Session, row: ledger.SuspenseRow, text: str) -> Debtor:
        """The debtor typed (a reference, or part of a name), among the creditor's."""
        found = casefile.find_debtors(session, text, limit=5, creditor_id=row.creditor_id)
        if not found:
            raise UsageError(_("No debtor matches {text!r}.").format(text=text))
        if len(found) > 1 and found[0].ref.lower() != text.strip().lower():
            names = ", ".join(f"{d.name} ({d.ref})" for d in found[:3])
            raise UsageError(_("{count} debtors match: {names}… type the reference.")
                             .format(count=len(found), names=names))
        return found[0]

    def action_allocate(self) -> None:
        row = self.current
        if row is None:
            return
        ctx = self.ctx

        def parse(answers: dict[str, str]) -> dict[str, str]:
            if not answers["debtor"]:
                raise UsageError(_("Name the debtor who paid (reference or name)."))
            with ctx.reading() as session:
                debtor = self._debtor(session, row, answers["debtor"])
                self._shares(session, debtor, answers["invoices"], row)
            return answers

        def apply(answers: dict[str, str]) -> None:
            def change(session: Session) -> str:
                debtor = self._debtor(session, row, answers["debtor"])
                shares = self._shares(session, debtor, answers["invoices"], row)
                done = casework.allocate_payment(session, ctx.actor, row.payment_id,
                                                 debtor_id=debtor.id, allocations=shares,
                                                 today=ctx.today)
                went = ", ".join(f"{a.number} {show_money(a.amount_minor, row.currency)}"
                                 for a in done)
                return _("Payment #{id} allocated to {name}: {invoices}").format(
                    id=row.payment_id, name=debtor.name, invoices=went)

            said = self.perform(change)
            if said:
                self.notify(said)

        self.ask(_("Allocate payment #{id} ({left} left)").format(
            id=row.payment_id, left=show_money(row.left_minor, row.currency)), [
            Field("debtor", _("Debtor (reference or name)"), row.debtor_ref),
            Field("invoices", _("Invoices with amounts (empty: the oldest due first)"),
                  placeholder="FA-1:500, FA-2:120"),  # not for people: an example to copy
        ], parse, apply)

    def _shares(self, session: Session, debtor: Debtor, text: str,
                row: ledger.SuspenseRow) -> list[tuple[int, int]] | None:
        """The allocations typed: None for the oldest due first. An allocation takes an
        amount per invoice: the payment may be meant for part of each."""
        if not text:
            return None
        invoices = ledger.debtor_invoices(
            session, debtor.id, [item.partition(":")[0].strip() for item in entry.items(text)])
        named = entry.named_invoices(text, list(invoices.values()))
        if not all(amount for _, amount in named):
            raise UsageError(_("Give an amount for each invoice (FA-1:500), or leave it "
                               "empty for the oldest due first."))
        return entry.amounts(named, row.currency)
