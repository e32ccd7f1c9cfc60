"""A second run of a day with nothing changed reuses the first; any change runs it again.

On SQLite and PostgreSQL, on the worked example imported as a user does: the reused run
queues nothing (as an evaluated one would), says which run it reused, and leaves the
event log verifiable; an import changing one invoice, a payment, an edited rule and a
row written outside relance each make the next run evaluate, and queue what is new.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from relance.engine.facts import INVOICE
from relance.engine.run import RunReport, run_day
from relance.kernel.money import Money
from relance.store import audit
from relance.store.book import record_payment
from relance.store.db import Store
from relance.store.importing.invoices import import_invoices
from relance.store.models import ActionItem, Event, Invoice, Run
from tests.cli import run_cli
from tests.engine.helpers import example_rules, rules_from

D = dt.date(2026, 11, 22)
PAID_ROW = "FA-2026-0002"  # paid in full in the example: no rule acts on it


def _import(store: Store, examples: Path, tmp_path: Path, *, unpaid: str | None = None) -> None:
    """The example's invoices, imported; `unpaid`: that invoice's payment taken back,
    as a corrected export from the ERP would say."""
    text = (examples / "invoices.csv").read_text(encoding="utf-8")
    if unpaid is not None:
        lines = [line.replace("1250.00,EUR,1250.00", "1250.00,EUR,0")
                 if f",{unpaid}," in line else line for line in text.splitlines()]
        text = "\n".join(lines) + "\n"
    path = tmp_path / "invoices.csv"
    path.write_text(text, encoding="utf-8")
    import_invoices(store, path, today=D)


def _invoices_queued(store: Store) -> set[str]:
    """The invoices some action holds for day D (new, or added to an earlier one)."""
    with store.transaction() as session:
        return set(session.scalars(
            select(Invoice.number).join(ActionItem, ActionItem.invoice_id == Invoice.id)
            .where(ActionItem.acted_on == D, ActionItem.state == "active")))


@pytest.fixture
def first(store: Store, examples_dir: Path, tmp_path: Path) -> RunReport:
    _import(store, examples_dir, tmp_path)
    report = run_day(store, example_rules(examples_dir), D, actor="alice")
    assert (report.actions_created, report.reused_from) == (6, None)
    return report


def test_nothing_changed_the_second_run_reuses_the_first(
        store: Store, examples_dir: Path, first: RunReport) -> None:
    rules = example_rules(examples_dir)
    second = run_day(store, rules, D, actor="bob")
    assert second.reused_from == first.run_id
    assert second.run_id is not None and second.run_id != first.run_id
    # What an evaluated second run reports, apart from its identity.
    evaluated = run_day(store, rules, D, actor="bob", reuse=False)
    assert evaluated.reused_from is None
    same = {key: value for key, value in second.to_json().items()
            if key not in ("run_id", "reused_from")}
    assert same == {key: value for key, value in evaluated.to_json().items()
                    if key not in ("run_id", "reused_from")}
    assert (second.actions_created, second.items_created, second.by_rule) == (0, 0, ())
    # The evaluated run wrote its own event: the next run reuses it, and the one after
    # reuses that reuse.
    third = run_day(store, rules, D, actor="carol")
    assert third.reused_from == evaluated.run_id
    assert run_day(store, rules, D, actor="dave").reused_from == third.run_id
    with store.transaction() as session:
        assert audit.verify(session) == []
        reused = session.scalars(select(Event).where(Event.kind == "run.done",
                                                     Event.subject_id == str(second.run_id))
                                 ).one()
        assert reused.actor == "bob" and reused.data["reused"] == first.run_id
        assert session.get(Run, second.run_id) is not None


def test_an_import_changing_one_invoice_runs_again(
        store: Store, examples_dir: Path, tmp_path: Path, first: RunReport) -> None:
    assert PAID_ROW not in _invoices_queued(store)
    _import(store, examples_dir, tmp_path, unpaid=PAID_ROW)
    second = run_day(store, example_rules(examples_dir), D, actor="bob")
    assert second.reused_from is None
    assert second.actions_created >= 1
    assert PAID_ROW in _invoices_queued(store)


def test_a_payment_runs_again(store: Store, examples_dir: Path, first: RunReport) -> None:
    with store.transaction() as session:
        invoice = session.scalars(select(Invoice).where(Invoice.number == "FA-2026-0001")
                                  ).one()
        record_payment(session, creditor_id=invoice.creditor_id, debtor_id=invoice.debtor_id,
                       amount=Money.of("100.00", "EUR"), received_on=D, reference="VIR-1",
                       actor="alice", allocations=[(invoice.id, 10_000)])
    second = run_day(store, example_rules(examples_dir), D, actor="bob")
    assert second.reused_from is None


def test_an_edited_rule_runs_again(store: Store, examples_dir: Path, first: RunReport) -> None:
    text = (examples_dir / "franchise.rules").read_text(encoding="utf-8")
    edited = text + ("\npolicy paid_watch for segment = franchisee\n"
                     "rule watch: when overdue >= 1d then send email 'watch'\n")
    second = run_day(store, rules_from(edited), D, actor="bob")
    assert second.reused_from is None
    assert second.actions_created >= 1
    assert {count.policy for count in second.by_rule} == {"paid_watch"}


def test_an_invoice_written_outside_relance_runs_again(
        store: Store, examples_dir: Path, first: RunReport) -> None:
    """No event (a script writing to the database): the new row's id is seen."""
    with store.transaction() as session:
        model = session.scalars(select(Invoice).where(Invoice.number == "FA-2026-0001")
                                ).one()
        session.execute(insert(INVOICE).values(
            creditor_id=model.creditor_id, debtor_id=model.debtor_id, number="FA-2026-9999",
            issue_date=model.issue_date, due_date=model.due_date, currency=model.currency,
            amount_minor=50_000, paid_minor=0, balance_minor=50_000, status="open",
            stage="reminder", attrs={}))
    second = run_day(store, example_rules(examples_dir), D, actor="bob")
    assert second.reused_from is None
    assert "FA-2026-9999" in _invoices_queued(store)


def test_a_dry_run_is_always_computed(store: Store, examples_dir: Path,
                                      first: RunReport) -> None:
    dry = run_day(store, example_rules(examples_dir), D, actor="bob", dry_run=True)
    assert (dry.reused_from, dry.run_id, dry.actions_created) == (None, None, 0)


def test_the_command_says_it_reused_the_run(
        tmp_path: Path, examples_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(tmp_path)
    assert run_cli(capsys, "init", ws)[0] == 0
    code, _out, err = run_cli(capsys, "-w", ws, "import", "invoices",
                              str(examples_dir / "invoices.csv"))
    assert code == 0, err
    for path in (tmp_path / "rules").iterdir():
        if not path.name.startswith("franchise.rules"):
            path.unlink()
    code, out, err = run_cli(capsys, "-w", ws, "--json", "run", "--on", D.isoformat())
    first = json.loads(out)
    assert code == 0 and first["actions_created"] == 6 and first["reused_from"] is None
    code, out, err = run_cli(capsys, "-w", ws, "--json", "run", "--on", D.isoformat())
    second = json.loads(out)
    assert code == 0, err
    assert second["reused_from"] == first["run_id"]
    assert (second["actions_created"], second["communications"], second["actions"]) == (0, [], [])
    code, out, err = run_cli(capsys, "-w", ws, "run", "--on", D.isoformat())
    assert code == 0, err
    assert f"nothing changed since run {second['run_id']}" in " ".join(out.split())
    code, out, err = run_cli(capsys, "-w", ws, "audit", "verify")
    assert code == 0, err
