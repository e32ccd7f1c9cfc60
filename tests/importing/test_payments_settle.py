"""A payment imported from any format settles the queue in the import's own transaction:
the letter, e-mail, call and escalation queued for the invoice it pays are cancelled or
reduced at once; a bank's return reverses the payment and reopens the invoice; a second
import of the same file changes nothing; a faulty file is refused whole."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from relance.store.db import Store, open_store
from relance.store.importing import ImportRefused, import_invoices, import_payments
from relance.store.models import (
    Action,
    ActionState,
    Approval,
    Channel,
    Creditor,
    Debtor,
    Event,
    Invoice,
    ItemState,
    Payment,
    Stage,
)
from tests.casework.factory import add_action, add_invoice, add_run
from tests.cli import run_cli
from tests.importing.test_payments import IBAN, TODAY

BANK = Path(__file__).resolve().parents[1] / "data" / "bank"
CSV_PAYMENT = ("creditor;invoice_number;date;amount;currency;reference\n"
               "JCDA;FA-2026-0001;20/11/2026;1250,00;EUR;VIR-LYON-1\n")
FORMATS = {
    "csv": None,
    "camt053": BANK / "statement.camt053.xml",
    "cfonb120": BANK / "statement.cfonb120.txt",
    "mt940": BANK / "statement.mt940.sta",
}


def _queue(store: Store) -> dict[str, int]:
    """Lyon's FA-2026-0001 in a letter (with FA-2026-0114), an approved e-mail, a call on
    the list and a proposed escalation."""
    with store.transaction() as session:
        session.execute(update(Creditor).values(iban=IBAN))
        lyon = session.scalars(select(Debtor).where(Debtor.ref == "F-0001")).one()
        fa1 = session.scalars(select(Invoice).where(Invoice.number == "FA-2026-0001")).one()
        # An invoice no statement pays, to stay in the grouped letter.
        other = add_invoice(session, lyon, "FA-2026-0900", 45_000, dt.date(2026, 10, 31))
        run = add_run(session, TODAY)
        letter = add_action(session, run, lyon, [fa1, other], Channel.LETTER)
        email = add_action(session, run, lyon, [fa1], Channel.EMAIL, rule="email relance_1",
                           policy="mail", template="relance_1", state=ActionState.APPROVED)
        session.add(Approval(action_id=email.id, user="alice", role="operator",
                             decision="approve", content_hash=email.content_hash))
        call = add_action(session, run, lyon, [fa1], Channel.CALL, state=ActionState.APPROVED,
                          rule="call", policy="phone", template=None, priority="high")
        escalate = add_action(session, run, lyon, [fa1], Channel.ESCALATE,
                              rule="escalate amicable", policy="recovery", template=None,
                              target_stage=Stage.AMICABLE)
        return {"letter": letter.id, "email": email.id, "call": call.id,
                "escalate": escalate.id, "other": other.id}


@pytest.fixture
def queued(store: Store, examples_dir: Path) -> tuple[Store, dict[str, int]]:
    import_invoices(store, examples_dir / "invoices.csv", today=TODAY)
    return store, _queue(store)


def _file(kind: str, tmp_path: Path) -> Path:
    source = FORMATS[kind]
    if source is None:
        path = tmp_path / "payments.csv"
        path.write_text(CSV_PAYMENT, encoding="utf-8")
        return path
    return Path(shutil.copy(source, tmp_path / source.name))


def _states(store: Store, ids: dict[str, int]) -> dict[str, str]:
    with store.session() as session:
        return {name: session.get_one(Action, ids[name]).state.value
                for name in ("letter", "email", "call", "escalate")}


def _event_count(store: Store) -> int:
    with store.session() as session:
        return session.execute(select(func.count()).select_from(Event)).scalar_one()


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_a_payment_from_any_format_settles_all_four_channels_at_once(
        queued: tuple[Store, dict[str, int]], tmp_path: Path, kind: str) -> None:
    store, ids = queued
    path = _file(kind, tmp_path)
    report = import_payments(store, path, today=TODAY)
    assert report.format == kind and report.recorded >= 1
    assert _states(store, ids) == {"letter": "proposed", "email": "cancelled",
                                   "call": "cancelled", "escalate": "cancelled"}
    with store.session() as session:
        letter = session.get_one(Action, ids["letter"])
        # The grouped letter keeps its other invoice, for what it owes now.
        assert [(i.invoice_id, i.state, i.balance_minor) for i in letter.items
                if i.state == ItemState.ACTIVE] == [(ids["other"], ItemState.ACTIVE, 45_000)]
        assert {i.drop_reason for i in letter.items if i.state == ItemState.DROPPED} == {"paid"}
        settled = session.scalars(select(Event).where(Event.kind == "action.settled")).all()
        assert {int(e.subject_id) for e in settled} >= {ids["letter"], ids["email"],
                                                       ids["call"], ids["escalate"]}
        assert all(e.data["cause"].startswith("payment ") for e in settled)
    before = _event_count(store)
    again = import_payments(store, path, today=TODAY)
    assert again.recorded == 0 and again.already_imported == report.recorded
    assert _event_count(store) == before + 1  # the import's own event, nothing else


@pytest.mark.parametrize("kind", ["camt053", "cfonb120", "mt940"])
def test_a_bank_return_reverses_the_payment_and_reopens_the_invoice(
        store: Store, examples_dir: Path, tmp_path: Path, kind: str) -> None:
    import_invoices(store, examples_dir / "invoices.csv", today=TODAY)
    with store.transaction() as session:
        session.execute(update(Creditor).values(iban=IBAN))
    collected = tmp_path / "collected.csv"
    collected.write_text("creditor;invoice_number;date;amount;currency;reference\n"
                         "JCDA;FA-2026-0004;2026-11-19;640,00;EUR;E2E-BXL-0004\n",
                         encoding="utf-8")
    import_payments(store, collected, today=TODAY)
    with store.session() as session:
        assert session.scalars(select(Invoice.balance_minor).where(
            Invoice.number == "FA-2026-0004")).one() == 0
    path = _file(kind, tmp_path)
    report = import_payments(store, path, today=TODAY)
    assert len(report.reversed) == 1 and "E2E-BXL-0004" in report.reversed[0]
    with store.session() as session:
        invoice = session.scalars(select(Invoice).where(Invoice.number == "FA-2026-0004")).one()
        assert (invoice.balance_minor, invoice.paid_minor, invoice.status.value) == (
            64_000, 0, "open")
        returned = session.scalars(select(Payment).where(
            Payment.reference == "E2E-BXL-0004")).one()
        assert returned.reversed_on is not None and returned.allocations == []
        assert (returned.reversal_reason or "").startswith("returned by the bank")
    again = import_payments(store, path, today=TODAY)
    assert again.reversed == [] and again.recorded == 0
    assert again.already_imported == report.recorded + 1


@pytest.mark.parametrize(("kind", "damage", "message"), [
    ("cfonb120", lambda text: text.replace("0000000012500{", "00000000125X0{"),
     "statement.cfonb120.txt: line 5, column amount"),
    ("mt940", lambda text: text.replace("C1250,00NTRF", "C12A0,00NTRF"),
     "statement.mt940.sta: line 9, column :61:"),
    ("camt053", lambda text: text.replace('<Amt Ccy="EUR">2400.50', '<Amt Ccy="EUR">24x0.50', 1),
     "statement.camt053.xml: entry 1, column Amt"),
])
def test_a_faulty_statement_is_refused_whole_with_exit_2(
        tmp_path: Path, examples_dir: Path, capsys: pytest.CaptureFixture[str], kind: str,
        damage: object, message: str) -> None:
    ws = str(tmp_path)
    assert run_cli(capsys, "-w", ws, "import", "invoices",
                   str(examples_dir / "invoices.csv"))[0] == 0
    path = _file(kind, tmp_path)
    assert callable(damage)
    path.write_text(damage(path.read_text(encoding="utf-8")), encoding="utf-8")
    code, out, err = run_cli(capsys, "-w", ws, "import", "payments", str(path))
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err
    store = open_store(f"sqlite:///{tmp_path / 'relance.sqlite'}")
    try:
        with store.session() as session:  # nothing of the refused file was stored
            assert session.execute(select(func.count()).select_from(Payment)).scalar_one() == 0
    finally:
        store.dispose()


def test_a_control_character_in_a_statement_reference_is_refused(
        store: Store, examples_dir: Path, tmp_path: Path) -> None:
    import_invoices(store, examples_dir / "invoices.csv", today=TODAY)
    path = _file("mt940", tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace("//BNP-000102", "//BNP-0\x00102"),
                    encoding="utf-8")
    with pytest.raises(ImportRefused) as refused:
        import_payments(store, path, today=TODAY)
    assert any("line 9, column reference" in error and "U+0000" in error
               for error in refused.value.errors), refused.value.errors
    with store.session() as session:
        assert session.execute(select(func.count()).select_from(Payment)).scalar_one() == 0
