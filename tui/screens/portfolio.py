"""The queue and the call list open on the user's portfolio (the debtors whose collector
they are: engine/portfolios.py) when they have one; a key switches to every debtor they
may see and back, and the choice is kept through the screen's reloads."""

from __future__ import annotations

from textual.binding import Binding

from relance.kernel.display import show_count
from relance.kernel.i18n import N_, _, ngettext
from relance.tui.screens.base import DeskScreen

# A key free on both screens (the queue's `a` approves).
PORTFOLIO_KEY = "m"
PORTFOLIO_BINDING = Binding(PORTFOLIO_KEY, "portfolio", N_("Mine/all"), show=False)


def portfolio_line(size: int, mine: bool) -> str:
    """What the screen says of the user's portfolio: nothing when they have none (they
    see every debtor they may see)."""
    if not size:
        return ""
    if mine:
        return ngettext("Your portfolio: {count} debtor — press m to see all",
                        "Your portfolio: {count} debtors — press m to see all", size).format(
            count=show_count(size))
    return ngettext("All debtors — press m for your portfolio ({count} debtor)",
                    "All debtors — press m for your portfolio ({count} debtors)", size).format(
        count=show_count(size))


class PortfolioScreen(DeskScreen):
    """A desk screen that shows the user's portfolio or everything they may see."""

    # Whether the portfolio only is shown: decided at the first read (yes when the user
    # has one), then switched by the key.
    mine: bool | None = None
    portfolio = 0  # the debtors in the user's portfolio, read at each reload

    def collector(self) -> str | None:
        """The user's name when the screen shows their portfolio only (read again: an
        assignment made meanwhile counts), else None."""
        self.portfolio = self.ctx.portfolio_size()
        if self.mine is None:
            self.mine = self.portfolio > 0
        return self.ctx.actor.name if self.mine and self.portfolio else None

    def portfolio_text(self) -> str:
        return portfolio_line(self.portfolio, bool(self.mine))

    def action_portfolio(self) -> None:
        """Between the user's portfolio and everything they may see."""
        if not self.ctx.portfolio_size():
            self.notify(_("You have no portfolio: every debtor you may see is shown."))
            return
        self.mine = not self.mine
        self.portfolio_switched()

    def portfolio_switched(self) -> None:
        """Read the list again, the other way."""
        self.reload()
