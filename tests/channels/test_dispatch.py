"""The dispatch state machine: drops before sending, claims shared safely, crashes turned
into `uncertain` for operators, never a duplicate."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from relance.channels.claims import DispatchReport, claim, mark_started
from relance.channels.dispatch import dispatch
from relance.channels.in_doubt import confirm_sent, resend
from relance.channels.recovery import recover_in_flight
from relance.kernel.errors import UsageError
from relance.store.db import Store
from relance.store.models import Action, ActionItem, ActionState, Event, Invoice, ItemState
from tests.channels.factory import (
    TODAY,
    add_action,
    add_creditor,
    add_debtor,
    add_invoice,
    make_workspace,
)
from tests.channels.smtp_server import LoopbackSmtp, Recorder


def states(store: Store) -> Counter[str]:
    with store.transaction() as s:
        return Counter(str(a.state) for a in s.scalars(select(Action)))


def test_paid_paused_and_disputed_invoices_are_dropped_before_sending(
        store: Store, tmp_path: Path) -> None:
    with store.transaction() as s:
        creditor = add_creditor(s)
        grouped = add_debtor(s, creditor, "G-1")
        keep = add_invoice(s, grouped, "FA-KEEP", 100_000, TODAY - dt.timedelta(days=20))
        paid = add_invoice(s, grouped, "FA-PAID", 50_000, TODAY - dt.timedelta(days=20))
        disputed = add_invoice(s, grouped, "FA-DISP", 70_000, TODAY - dt.timedelta(days=20))
        letter = add_action(s, grouped, [keep, paid, disputed], template="relance_2")
        paused_debtor = add_debtor(s, creditor, "P-1")
        paused_inv = add_invoice(s, paused_debtor, "FA-PAUS", 10_000,
                                 TODAY - dt.timedelta(days=20))
        paused_action = add_action(s, paused_debtor, [paused_inv], template="relance_1")
        ids = (letter.id, paused_action.id)
    # After the run: a payment, a dispute, a pause.
    with store.transaction() as s:
        s.scalars(select(Invoice).where(Invoice.number == "FA-PAID")).one().balance_minor = 0
        s.scalars(select(Invoice).where(Invoice.number == "FA-DISP")).one().dispute_reason = \
            "livraison incomplète"
        debtor_inv = s.scalars(select(Invoice).where(Invoice.number == "FA-PAUS")).one()
        debtor_inv.debtor.paused_until = TODAY
    report = dispatch(store, make_workspace(tmp_path / "ws"), today=TODAY)
    assert (report.sent, report.dropped, report.cancelled) == (1, 3, 1)
    from tests.channels.test_letters import pdf_text

    text = pdf_text(report.paths[0])
    assert "FA-KEEP" in text and "FA-PAID" not in text and "FA-DISP" not in text
    assert "1 000,00 €" in text
    with store.transaction() as s:
        sent, cancelled = (s.get(Action, i) for i in ids)
        assert sent is not None and cancelled is not None
        assert sent.state == ActionState.SENT and cancelled.state == ActionState.CANCELLED
        reasons = {i.drop_reason for i in s.scalars(select(ActionItem).where(
            ActionItem.state == ItemState.DROPPED))}
        assert reasons == {"paid", "disputed", "paused"}
        settled = {int(e.subject_id): e.data for e in s.scalars(
            select(Event).where(Event.kind == "action.settled"))}
        assert settled[ids[0]]["cause"] == "dispatch"
        assert sorted(c["dropped"] for c in settled[ids[0]]["changes"]) == ["disputed", "paid"]
        assert settled[ids[1]]["state"] == "cancelled"
        assert settled[ids[1]]["changes"] == [{"invoice": "FA-PAUS", "dropped": "paused"}]


def test_a_dispute_known_to_the_run_is_the_rules_to_weigh(
        store: Store, tmp_path: Path) -> None:
    """A rule that does not test `disputed` means to write anyway (franchise.rules'
    `letter amiable_2`); only a dispute recorded since the run drops the invoice."""
    with store.transaction() as s:
        creditor = add_creditor(s)
        debtor = add_debtor(s, creditor, "D-1")
        known = add_invoice(s, debtor, "FA-KNOWN", 80_000, TODAY - dt.timedelta(days=30))
        known.dispute_reason, known.disputed_since = "prix contesté", TODAY - dt.timedelta(days=9)
        fresh = add_invoice(s, debtor, "FA-FRESH", 20_000, TODAY - dt.timedelta(days=30))
        add_action(s, debtor, [known, fresh], template="relance_2")
    with store.transaction() as s:
        late = s.scalars(select(Invoice).where(Invoice.number == "FA-FRESH")).one()
        late.dispute_reason, late.disputed_since = "avoir attendu", TODAY
    report = dispatch(store, make_workspace(tmp_path / "ws"), today=TODAY)
    assert (report.sent, report.dropped) == (1, 1)
    from tests.channels.test_letters import pdf_text

    text = pdf_text(report.paths[0])
    assert "FA-KNOWN" in text and "FA-FRESH" not in text


def test_a_drop_voids_an_approval_that_was_required(sqlite_store: Store, tmp_path: Path) -> None:
    with sqlite_store.transaction() as s:
        creditor = add_creditor(s)
        debtor = add_debtor(s, creditor, "A-1")
        a = add_invoice(s, debtor, "FA-A", 100_000, TODAY - dt.timedelta(days=50))
        b = add_invoice(s, debtor, "FA-B", 100_000, TODAY - dt.timedelta(days=50))
        action = add_action(s, debtor, [a, b], template="mise_en_demeure",
                            requires_approval=True, content_hash="before")
        action_id = action.id
        b.balance_minor = 0
    report = dispatch(sqlite_store, make_workspace(tmp_path / "ws"), today=TODAY)
    assert report.sent == 0 and report.voided_approvals == 1
    with sqlite_store.transaction() as s:
        voided = s.get(Action, action_id)
        assert voided is not None and voided.state == ActionState.PROPOSED
        assert voided.content_hash not in ("", "before")


def test_calls_and_escalations_are_not_dispatched(sqlite_store: Store, tmp_path: Path) -> None:
    with sqlite_store.transaction() as s:
        creditor = add_creditor(s)
        debtor = add_debtor(s, creditor, "C-1")
        inv = add_invoice(s, debtor, "FA-C", 1_000, TODAY - dt.timedelta(days=50))
        add_action(s, debtor, [inv], channel="call", template="call")
    report = dispatch(sqlite_store, make_workspace(tmp_path / "ws"), today=TODAY)
    assert report.sent == 0 and states(sqlite_store) == {"approved": 1}
    with pytest.raises(UsageError, match="calls and escalations"):
        dispatch(sqlite_store, make_workspace(tmp_path / "ws"), today=TODAY, channels={"call"})


def _email_book(store: Store, n: int) -> None:
    with store.transaction() as s:
        creditor = add_creditor(s)
        for k in range(n):
            debtor = add_debtor(s, creditor, f"D-{k:04d}")
            inv = add_invoice(s, debtor, f"FA-{k:04d}", 10_000 + k, TODAY - dt.timedelta(days=9))
            add_action(s, debtor, [inv], channel="email", template="rappel")


def test_concurrent_dispatchers_never_send_twice(store: Store, tmp_path: Path) -> None:
    _email_book(store, 60)
    recorder = Recorder()
    with LoopbackSmtp(recorder) as server:
        workspace = make_workspace(tmp_path / "ws", {
            "smtp": server.config(), "dispatch": {"batch_size": 5}})
        reports: list[DispatchReport] = []

        def run(name: str) -> None:
            reports.append(dispatch(store, workspace, today=TODAY, worker=f"{name}:0:x"))

        threads = [threading.Thread(target=run, args=(f"w{i}",)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sum(r.sent for r in reports) == 60
    assert len(recorder.messages) == 60
    assert max(recorder.message_ids().values()) == 1
    assert states(store) == {"sent": 60}


def test_claim_takes_each_action_once(store: Store) -> None:
    _email_book(store, 10)
    first = claim(store, channels={"email"}, worker="h:1:a", today=TODAY, limit=6,
                  report=DispatchReport())
    second = claim(store, channels={"email"}, worker="h:2:b", today=TODAY, limit=6,
                   report=DispatchReport())
    assert len(first) == 6 and len(second) == 4 and not set(first) & set(second)
    with store.transaction() as s:
        action = s.get(Action, first[0])
        assert action is not None and action.state == ActionState.IN_FLIGHT
        assert action.claimed_by == "h:1:a" and action.attempts == 1


def test_in_flight_of_a_dead_dispatcher_becomes_uncertain_then_operator_decides(
        store: Store, tmp_path: Path) -> None:
    _email_book(store, 3)
    # A claim by a process of this host that no longer exists (pid 2**22 + 1 is beyond
    # the kernel's default pid range) and one by an unknown host, long ago.
    dead = claim(store, channels={"email"}, worker="vm-dead:4194305:z", today=TODAY, limit=1,
                 report=DispatchReport())
    assert mark_started(store, dead[0], "vm-dead:4194305:z")
    import socket

    with store.transaction() as s:
        action = s.get(Action, dead[0])
        assert action is not None
        action.claimed_by = f"{socket.gethostname()}:4194305:z"
    far = claim(store, channels={"email"}, worker="elsewhere:1:y", today=TODAY, limit=1,
                report=DispatchReport())
    assert mark_started(store, far[0], "elsewhere:1:y")
    assert recover_in_flight(store, lease_seconds=3600, actor="t") == 1  # far is in its lease
    assert recover_in_flight(store, lease_seconds=0, actor="t") == 1  # now far is stale too
    recorder = Recorder()
    with LoopbackSmtp(recorder) as server:
        workspace = make_workspace(tmp_path / "ws", {"smtp": server.config()})
        report = dispatch(store, workspace, today=TODAY)
        assert report.sent == 1  # only the one never claimed; uncertain ones are not resent
        confirm_sent(store, dead[0], "alice")
        resend(store, far[0], "alice")
        again = dispatch(store, workspace, today=TODAY)
        assert again.sent == 1
    assert states(store) == {"sent": 3}
    assert len(recorder.messages) == 2
    with store.transaction() as s:
        kinds = [e.kind for e in s.scalars(select(Event).where(
            Event.subject_id == str(dead[0])).order_by(Event.id))]
        assert kinds[-2:] == ["action.uncertain", "action.confirmed_sent"]
    with pytest.raises(UsageError, match="not uncertain"):
        confirm_sent(store, dead[0], "alice")


def test_connection_lost_after_data_is_uncertain_not_retried(sqlite_store: Store,
                                                            tmp_path: Path) -> None:
    _email_book(sqlite_store, 3)
    recorder = Recorder(drop_after_data={"d-0001@client.example"})
    with LoopbackSmtp(recorder) as server:
        workspace = make_workspace(tmp_path / "ws", {"smtp": server.config()})
        report = dispatch(sqlite_store, workspace, today=TODAY)
    assert (report.sent, report.uncertain, report.retry) == (2, 1, 0)
    assert len(recorder.messages) == 3  # it did arrive: resending would duplicate it
    assert states(sqlite_store) == {"sent": 2, "uncertain": 1}


def test_stop_event_starts_nothing_new(sqlite_store: Store, tmp_path: Path) -> None:
    _email_book(sqlite_store, 5)
    stop = threading.Event()
    stop.set()
    report = dispatch(sqlite_store, make_workspace(tmp_path / "ws"), today=TODAY, stop=stop)
    assert report.sent == 0 and states(sqlite_store) == {"approved": 5}


def test_a_claim_never_started_is_released_not_uncertain(sqlite_store: Store) -> None:
    _email_book(sqlite_store, 2)
    claimed = claim(sqlite_store, channels={"email"}, worker="gone:1:q", today=TODAY, limit=2,
                    report=DispatchReport())
    assert len(claimed) == 2
    assert recover_in_flight(sqlite_store, lease_seconds=0, actor="t") == 0
    assert states(sqlite_store) == {"approved": 2}
    with sqlite_store.transaction() as s:
        assert {a.attempts for a in s.scalars(select(Action))} == {0}
        assert Counter(e.kind for e in s.scalars(select(Event)))["action.released"] == 2


def test_an_approval_given_to_other_content_does_not_send(sqlite_store: Store,
                                                         tmp_path: Path) -> None:
    from relance.store.models import Approval

    with sqlite_store.transaction() as s:
        creditor = add_creditor(s)
        debtor = add_debtor(s, creditor, "H-1")
        inv = add_invoice(s, debtor, "FA-H", 100_000, TODAY - dt.timedelta(days=50))
        stale = add_action(s, debtor, [inv], template="relance_2", content_hash="now")
        s.add(Approval(action_id=stale.id, user="bob", decision="approve",
                       content_hash="then"))
        fresh_debtor = add_debtor(s, creditor, "H-2")
        inv2 = add_invoice(s, fresh_debtor, "FA-H2", 100_000, TODAY - dt.timedelta(days=50))
        fresh = add_action(s, fresh_debtor, [inv2], template="relance_2", content_hash="same")
        s.add(Approval(action_id=fresh.id, user="bob", decision="approve",
                       content_hash="same"))
        ids = (stale.id, fresh.id)
    report = dispatch(sqlite_store, make_workspace(tmp_path / "ws"), today=TODAY)
    assert report.sent == 1 and report.voided_approvals == 1
    with sqlite_store.transaction() as s:
        assert [str(s.get(Action, i).state) for i in ids] == ["proposed", "sent"]  # type: ignore[union-attr]
