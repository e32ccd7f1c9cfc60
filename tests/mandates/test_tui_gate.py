"""The desk's escalations screen in a firm's workspace, driven by keys under Textual's
pilot: without a mandate the approval is refused with the sentence that says how to fix
it, and nothing changes; with one, the escalation goes through and the case opens."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from relance.engine import mandates
from relance.kernel.money import Money
from relance.kernel.workspace import Workspace, load_config
from relance.store.db import Store
from relance.store.models import Action, ActionState, MandateCase, MandateScope
from relance.tui.app import RelanceApp
from relance.tui.context import TuiContext
from tests.casework.factory import Book
from tests.mandates.conftest import AGENCY, ALICE, NOW

# One approval is enough here: the four eyes are the case-work tests' business.
CONFIG = '[users]\nalice = "credit_manager"\n\n' + AGENCY


def desk(store: Store, tmp_path: Path) -> RelanceApp:
    (tmp_path / "relance.toml").write_text(CONFIG, encoding="utf-8")
    workspace = Workspace(tmp_path, load_config(tmp_path / "relance.toml"),
                          tmp_path / "relance.toml")
    return RelanceApp(TuiContext.open(store, workspace, "alice", clock=lambda: NOW))


async def approve_on_the_escalations_screen(app: RelanceApp) -> list[str]:
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2", "a")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        return [str(n.message) for n in app._notifications]


def escalation_state(store: Store, book: Book) -> ActionState:
    with store.session() as session:
        action = session.get(Action, book.actions["escalate"])
        assert action is not None
        return action.state


def test_the_desk_shows_the_refusal_then_approves_under_a_mandate(
        store: Store, book: Book, tmp_path: Path) -> None:
    shown = asyncio.run(approve_on_the_escalations_screen(desk(store, tmp_path)))
    assert any("Jean Coutu Diffusion (JCDA) has no mandate in force on 20/11/2026" in n
               and "relance mandate add --creditor JCDA" in n for n in shown), shown
    assert escalation_state(store, book) == ActionState.PROPOSED

    with store.write_transaction() as session:
        mandates.add_mandate(session, ALICE, creditor_code="JCDA", reference="MD-JCDA-2026",
                             signed_on=dt.date(2026, 1, 1), scope=MandateScope.AMICABLE,
                             fee_percent=Decimal("10"), fixed_fee=Money.of("0", "EUR"),
                             starts_on=dt.date(2026, 1, 1))
    shown = asyncio.run(approve_on_the_escalations_screen(desk(store, tmp_path)))
    assert any("Salon Lille Centre: escalated to" in n for n in shown), shown
    assert escalation_state(store, book) == ActionState.SENT
    with store.session() as session:
        assert session.scalars(select(MandateCase.reference)).all() == ["MD-JCDA-2026/0001"]
