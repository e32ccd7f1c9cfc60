"""Adding and changing creditors in the store, on SQLite and PostgreSQL: each change with
its audit event, refusals storing nothing, and `creditors.toml` loaded all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from relance.engine.creditor_fields import FieldRefused
from relance.engine.creditor_file import load_creditors_file
from relance.engine.creditors import (
    CreditorExists,
    add_creditor,
    creditor_lines,
    edit_creditor,
)
from relance.engine.roles import Actor, NotAllowed, Role
from relance.kernel.errors import NotFound, UsageError
from relance.store.audit import verify
from relance.store.db import Store
from relance.store.models import Creditor, Event
from tests.channels.factory import add_debtor, add_invoice

ALICE = Actor("alice", Role.CREDIT_MANAGER)
BRUNO = Actor("bruno", Role.OPERATOR)

ACME = {"code": "ACME", "name": "Acme Distribution SAS", "siren": "552100554",
        "address": ["12 rue des Tanneurs", "69002 Lyon"]}


def _creditors(store: Store) -> dict[str, Creditor]:
    with store.session() as session:
        found = {c.code: c for c in session.scalars(select(Creditor))}
        session.expunge_all()
        return found


def _events(store: Store, kind: str) -> list[Event]:
    with store.session() as session:
        found = list(session.scalars(select(Event).where(Event.kind == kind)
                                     .order_by(Event.id)))
        session.expunge_all()
        return found


def test_a_creditor_is_added_then_edited_each_with_its_event(store: Store) -> None:
    with store.write_transaction() as session:
        added = add_creditor(session, ALICE, ACME)
        assert added.address == "12 rue des Tanneurs\n69002 Lyon"
    with store.write_transaction() as session:
        edited = edit_creditor(session, ALICE, "ACME", {
            "iban": "FR76 3000 6000 0112 3456 7890 189", "siret": "55210055400013",
            "name": "Acme Distribution SAS"})
        assert edited.changed == ["iban", "siret"]  # the name was the same
    stored = _creditors(store)["ACME"]
    assert (stored.iban, stored.siret, stored.languages) == (
        "FR7630006000011234567890189", "55210055400013", ["fr"])
    created, = _events(store, "creditor.created")
    assert created.actor == "alice" and created.data["fields"]["siren"] == "552100554"
    changed, = _events(store, "creditor.edited")
    assert changed.data["before"] == {"iban": None, "siret": None}
    assert changed.data["after"] == {"iban": "FR7630006000011234567890189",
                                     "siret": "55210055400013"}
    with store.session() as session:
        assert verify(session) == []
    # The same values again change nothing and record nothing.
    with store.write_transaction() as session:
        assert edit_creditor(session, ALICE, "ACME", {"siret": "55210055400013"}).changed == []
    assert len(_events(store, "creditor.edited")) == 1


def test_refusals_store_nothing(store: Store) -> None:
    with store.write_transaction() as session:
        add_creditor(session, ALICE, ACME)
    refusals: list[tuple[type[Exception], object]] = [
        (CreditorExists, lambda s: add_creditor(s, ALICE, {**ACME, "name": "Other"})),
        (NotAllowed, lambda s: add_creditor(s, BRUNO, {"code": "NEW", "name": "New"})),
        (NotAllowed, lambda s: edit_creditor(s, BRUNO, "ACME", {"iban": ""})),
        (FieldRefused, lambda s: add_creditor(s, ALICE, {"code": "NEW"})),
        (UsageError, lambda s: add_creditor(s, ALICE, {"code": "a/b", "name": "Slash"})),
        (FieldRefused, lambda s: edit_creditor(s, ALICE, "ACME", {
            "iban": "FR7630006000011234567890189", "bic": "NOPE"})),
        # A new SIREN under the stored SIRET of another company.
        (NotFound, lambda s: edit_creditor(s, ALICE, "NOBODY", {"name": "X"})),
        (NotFound, lambda s: edit_creditor(
            s, Actor("dora", Role.CREDIT_MANAGER, frozenset({"BELLEROSE"})), "ACME",
            {"name": "X"})),
    ]
    for kind, change in refusals:
        with pytest.raises(kind), store.write_transaction() as session:
            change(session)  # type: ignore[operator]
    with store.write_transaction() as session:
        edit_creditor(session, ALICE, "ACME", {"siret": "55210055400013"})
    with pytest.raises(FieldRefused) as refused, store.write_transaction() as session:
        edit_creditor(session, ALICE, "ACME", {"siren": "832917454"})
    assert refused.value.message == (
        "--siren: SIRET 55210055400013 does not start with the SIREN 832917454")
    stored = _creditors(store)
    assert list(stored) == ["ACME"]
    assert (stored["ACME"].name, stored["ACME"].iban, stored["ACME"].siren) == (
        "Acme Distribution SAS", None, "552100554")
    assert len(_events(store, "creditor.created")) == 1
    assert len(_events(store, "creditor.edited")) == 1


def test_the_list_counts_debtors_and_balances_and_says_what_lacks(store: Store) -> None:
    import datetime as dt

    with store.write_transaction() as session:
        acme = add_creditor(session, ALICE, {**ACME, "iban": "FR7630006000011234567890189"})
        bare = add_creditor(session, ALICE, {"code": "BARE", "name": "Bare"})
        debtor = add_debtor(session, acme, "F-1")
        add_debtor(session, acme, "F-2")
        add_invoice(session, debtor, "A-1", 120_000, dt.date(2026, 1, 1))
        add_invoice(session, debtor, "A-2", 50_000, dt.date(2026, 1, 1), paid_minor=10_000)
        add_invoice(session, debtor, "A-3", 9_900, dt.date(2026, 1, 1), currency="CHF")
        assert bare.id
    with store.session() as session:
        lines = {line.code: line for line in creditor_lines(session, ALICE)}
        limited = creditor_lines(session, Actor("dora", Role.OPERATOR, frozenset({"BARE"})))
    assert (lines["ACME"].debtors, lines["ACME"].balances) == (2, {"CHF": 9_900,
                                                                   "EUR": 160_000})
    assert {c: [f.key for f in fs] for c, fs in lines["ACME"].gaps.items()} == {
        "email": ["email"]}
    assert {c: [f.key for f in fs] for c, fs in lines["BARE"].gaps.items()} == {
        "letter": ["address", "siren", "iban"], "email": ["email", "address", "siren"]}
    assert [line.code for line in limited] == ["BARE"]


CREDITORS_TOML = """\
[creditors.ACME]
name = "Acme Distribution SAS"
siren = "552100554"
address = ["12 rue des Tanneurs", "69002 Lyon"]
iban = "FR76 3000 6000 0112 3456 7890 189"
languages = ["fr", "en"]
late_penalties = true

[creditors.BELLEROSE]
name = "Bellerose Beauté SAS"
siren = "832917454"
vat = "FR73832917454"
address = "18 quai Saint-Antoine\\n69002 Lyon"
email = "recouvrement@bellerose.example.fr"
"""


def test_a_creditors_file_adds_then_updates(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "creditors.toml"
    path.write_text(CREDITORS_TOML, encoding="utf-8")
    with store.write_transaction() as session:
        add_creditor(session, ALICE, {"code": "ACME", "name": "ACME"})  # as an import does
        report = load_creditors_file(session, ALICE, path, root=tmp_path)
    assert report.added == ["BELLEROSE"]
    assert report.updated == {"ACME": ["name", "siren", "address", "iban", "languages",
                                       "late_penalties"]}
    stored = _creditors(store)
    assert stored["BELLEROSE"].vat_number == "FR73832917454"
    assert stored["ACME"].languages == ["fr", "en"] and stored["ACME"].late_penalties
    with store.write_transaction() as session:
        again = load_creditors_file(session, ALICE, path, root=tmp_path)
    assert (again.added, again.updated, again.unchanged) == ([], {}, ["ACME", "BELLEROSE"])
    assert {e.data.get("source") for e in _events(store, "creditor.edited")} == {
        "creditors.toml"}


@pytest.mark.parametrize(("text", "said"), [
    (CREDITORS_TOML.replace('iban = "FR76 3000 6000 0112 3456 7890 189"',
                            'iban = "FR76 3000"'),
     "creditors.toml: [creditors.ACME] iban: 'FR76 3000' is not an IBAN"),
    (CREDITORS_TOML + '\n[creditors.NEW]\nsiren = "552100554"\n',
     "creditors.toml: [creditors.NEW] name: a new creditor needs its legal name"),
    (CREDITORS_TOML.replace("languages", "langauges"),
     "creditors.toml: [creditors.ACME] langauges is not a field of a creditor: did you mean "
     "languages?"),
    (CREDITORS_TOML + "\n[creditors.BAD]\nname = 3\n",
     "creditors.toml: [creditors.BAD] name: write a text"),
    ("[creditors]\nACME = 1\n", "creditors.toml: creditors.ACME must be a table"),
    ("[acme]\nname = 'x'\n", "creditors.toml: acme is not known here"),
    ("[creditors.ACME\n", "creditors.toml: not valid TOML"),
])
def test_one_bad_field_refuses_the_whole_file(store: Store, tmp_path: Path, text: str,
                                              said: str) -> None:
    path = tmp_path / "creditors.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError) as refused, store.write_transaction() as session:
        load_creditors_file(session, ALICE, path, root=tmp_path)
    assert refused.value.message.startswith(str(tmp_path / said)), refused.value.message
    assert refused.value.exit_code == 2
    assert _creditors(store) == {}
    with store.session() as session:
        assert session.scalar(select(func.count(Event.id))) == 0
