"""Finding a case: debtors by name or reference, and invoices by number. One match opens
its case; several are listed in a chooser (`ChooserScreen`) so that the operator picks
the one meant instead of landing on the first.

`find_cases` reads; `choose_case` acts on what was found and is what every search of
the desk calls (the command palette, the case screen's find)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from sqlalchemy import func, or_, select, true, union_all
from sqlalchemy.orm import Session
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from relance.kernel.display import show_money
from relance.kernel.i18n import N_, _, ngettext
from relance.store.models import Debtor, Invoice, InvoiceStatus
from relance.tui.data import invoice_numbers_starting
from relance.tui.screens.modals import DeskModal

if TYPE_CHECKING:
    from textual.app import App

SEARCH_LIMIT = 50


@dataclass(frozen=True)
class CaseMatch:
    """A debtor found, and why: its name or reference, or one of its invoices."""

    debtor_id: int
    name: str
    ref: str
    open_minor: int  # the open balance, in `currency`
    currency: str
    invoice: str = ""  # the invoice number that matched, if the match was an invoice
    exact: bool = False  # the reference or the invoice number is exactly the text


def find_cases(session: Session, text: str, limit: int = SEARCH_LIMIT, *,
               creditor_ids: Sequence[int] | None = None) -> list[CaseMatch]:
    """Debtors whose name or reference contains `text`, and those with an invoice whose
    number starts with it; exact references and numbers first, then by name. Only the
    debtors of `creditor_ids` (the creditors the user may see; None: all)."""
    wanted = text.strip()
    if not wanted:
        return []
    pattern = f"%{wanted.lower()}%"
    seen = (Debtor.creditor_id.in_(list(creditor_ids)) if creditor_ids is not None
            else true())
    debtors = list(session.scalars(
        select(Debtor).where(or_(func.lower(Debtor.name).like(pattern),
                                 func.lower(Debtor.ref).like(pattern)), seen)
        .order_by(Debtor.name, Debtor.id).limit(limit)))
    # Invoice numbers from their start, along the index (as the queue's search): matching
    # them anywhere would read every invoice of a big book at each search.
    numbered = union_all(*(select(Invoice.id).where(starts)
                           for starts in invoice_numbers_starting(wanted))).subquery()
    invoices = session.execute(
        select(Invoice.number, Debtor).join(Debtor, Debtor.id == Invoice.debtor_id)
        .where(Invoice.id.in_(select(numbered.c.id)), seen)
        .order_by(Invoice.number, Invoice.id).limit(limit)).all()
    found: dict[int, tuple[Debtor, str, bool]] = {}
    for debtor in debtors:
        found[debtor.id] = (debtor, "", debtor.ref.lower() == wanted.lower())
    for number, debtor in invoices:
        exact = number.lower() == wanted.lower()
        if debtor.id not in found or (exact and not found[debtor.id][2]):
            found[debtor.id] = (debtor, number, exact)
    balances = _open_balances(session, list(found))
    matches = [CaseMatch(debtor.id, debtor.name, debtor.ref,
                         *balances.get(debtor.id, (0, "EUR")), invoice=number, exact=exact)
               for debtor, number, exact in found.values()]
    matches.sort(key=lambda m: (not m.exact, m.name.lower(), m.debtor_id))
    return matches[:limit]


def _open_balances(session: Session, debtor_ids: list[int]) -> dict[int, tuple[int, str]]:
    """Each debtor's open balance in its main currency (the one it owes most in)."""
    if not debtor_ids:
        return {}
    result: dict[int, tuple[int, str]] = {}
    for debtor_id, currency, total in session.execute(
            select(Invoice.debtor_id, Invoice.currency, func.sum(Invoice.balance_minor))
            .where(Invoice.debtor_id.in_(debtor_ids),
                   Invoice.status != InvoiceStatus.CANCELLED)
            .group_by(Invoice.debtor_id, Invoice.currency)):
        if debtor_id not in result or abs(int(total)) > abs(result[debtor_id][0]):
            result[debtor_id] = (int(total), currency)
    return result


def _option(match: CaseMatch) -> Option:
    line = Text()
    line.append(match.name, style="bold")
    line.append(f"  {match.ref}")
    if match.invoice:
        line.append("  " + _("invoice {number}").format(number=match.invoice), style="italic")
    line.append("  " + show_money(match.open_minor, match.currency), style="dim")
    return Option(line, id=str(match.debtor_id))


class ChooserScreen(DeskModal[int | None]):
    """The debtors a search found: Enter opens the one under the cursor, Esc none."""

    DEFAULT_CSS = """
    ChooserScreen { align: center middle; }
    ChooserScreen > Vertical {
        width: 76; height: auto; max-height: 90%; padding: 0 1;
        border: thick $accent; background: $surface;
    }
    ChooserScreen .title { text-style: bold; }
    ChooserScreen OptionList { height: auto; max-height: 16; border: none; }
    ChooserScreen .hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", N_("Cancel")),
    ]

    def __init__(self, text: str, matches: Sequence[CaseMatch]) -> None:
        super().__init__()
        self.text = text
        self.matches = list(matches)

    def compose(self) -> ComposeResult:
        count = len(self.matches)
        title = ngettext("{count} case matches {text!r}", "{count} cases match {text!r}",
                         count).format(count=count, text=self.text)
        with Vertical():
            yield Static(title, classes="title", markup=False)
            yield OptionList(*[_option(match) for match in self.matches], id="chooser-list")
            yield Static(_("Enter: open the case · Esc: cancel"), classes="hint")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id or 0) or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


def choose_case(app: App[Any], text: str, matches: Sequence[CaseMatch],
                then: Callable[[int], object]) -> None:
    """`then(debtor id)` for the one match, or for the one the operator picks among
    several; a message when nothing matched."""
    if not matches:
        app.notify(_("No debtor or invoice matches {text!r}").format(text=text),
                   severity="warning")
        return
    if len(matches) == 1:
        then(matches[0].debtor_id)
        return

    def picked(debtor_id: int | None) -> None:
        if debtor_id is not None:
            then(debtor_id)

    app.push_screen(ChooserScreen(text, matches), picked)
