"""`relance mandate add|list|show|end`, `relance agency show` and the gate as `relance
approve` shows it, typed as a user would, on SQLite and PostgreSQL.

The workspace is a firm's (`[agency]`) over the case-work book: escalation of Lille's
FA-4 (7 200.00 EUR) waits, above the four-eyes threshold of 5 000 EUR."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from relance.store.db import Store, open_store
from relance.store.models import Action, ActionState, Event, Mandate, MandateCase
from tests.casework.factory import DESK_USERS, Book, build_book
from tests.cli import run_cli
from tests.mandates.conftest import AGENCY

TODAY = dt.date.today()
YESTERDAY = TODAY - dt.timedelta(days=1)
ADD = ("mandate", "add", "--creditor", "JCDA", "--reference", "MD-JCDA-1",
       "--signed", "2020-01-01", "--scope", "amicable", "--fee-percent", "12,5",
       "--fixed-fee", "50 EUR", "--starts", "2020-01-01", "--remit-within", "30d")


@dataclass
class Firm:
    root: Path
    url: str
    store: Store
    book: Book
    capsys: pytest.CaptureFixture[str]

    def run(self, *args: str, user: str = "alice") -> tuple[int, str, str]:
        return run_cli(self.capsys, "-w", str(self.root), "--db", self.url, "--user", user,
                       *args)

    def json(self, *args: str, user: str = "alice") -> Any:
        code, out, err = self.run("--json", *args, user=user)
        assert code == 0, err
        return json.loads(out)

    def count(self, model: type[Mandate] | type[MandateCase] | type[Event]) -> int:
        with self.store.session() as session:
            return int(session.scalar(select(func.count(model.id))) or 0)


def make_firm(db_url: tuple[str, str | None], root: Path, config: str,
              capsys: pytest.CaptureFixture[str]) -> tuple[Firm, Store]:
    url, schema = db_url
    store = open_store(url, schema=schema)
    with store.transaction() as session:
        book = build_book(session)
    (root / "relance.toml").write_text(config, encoding="utf-8")
    cli_url = url if schema is None else (
        f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}")
    return Firm(root, cli_url, store, book, capsys), store


@pytest.fixture
def firm(db_url: tuple[str, str | None], tmp_path: Path,
         capsys: pytest.CaptureFixture[str]) -> Iterator[Firm]:
    made, store = make_firm(db_url, tmp_path, DESK_USERS + AGENCY, capsys)
    try:
        yield made
    finally:
        store.dispose()


@pytest.fixture
def company(db_url: tuple[str, str | None], tmp_path: Path,
            capsys: pytest.CaptureFixture[str]) -> Iterator[Firm]:
    made, store = make_firm(db_url, tmp_path, DESK_USERS, capsys)
    try:
        yield made
    finally:
        store.dispose()


def test_add_list_show_and_end_a_mandate(firm: Firm) -> None:
    code, out, err = firm.run(*ADD)
    assert code == 0, err
    assert "Mandate MD-JCDA-1 of JCDA recorded: amicable recovery, from 01/01/2020." in out
    assert "Fees: 12.50 % of sums collected + €50.00 per case; funds handed back within " \
           "30 days." in out

    rows = firm.json("mandate", "list")
    assert [(r["reference"], r["creditor"], r["scope"], r["fee_percent"], r["fixed_fee"],
             r["currency"], r["in_force"], r["cases"]) for r in rows] == [
        ("MD-JCDA-1", "JCDA", "amicable", "12.5", "50.00", "EUR", True, 0)]
    code, out, _err = firm.run("mandate", "list", "--creditor", "JCDA")
    assert code == 0 and "MD-JCDA-1" in out and "1 mandate." in out

    code, out, _err = firm.run("mandate", "show", "MD-JCDA-1")
    assert code == 0
    assert "Mandate MD-JCDA-1 of Jean Coutu Diffusion (JCDA): in force today." in out
    assert "No case taken under it yet." in out

    code, out, err = firm.run("mandate", "end", "MD-JCDA-1", "--on", YESTERDAY.isoformat())
    assert code == 0, err
    assert f"Mandate MD-JCDA-1 ends on {YESTERDAY.strftime('%d/%m/%Y')}" in out
    assert firm.json("mandate", "list")[0]["in_force"] is False
    code, out, _err = firm.run("mandate", "show", "MD-JCDA-1")
    assert "not in force today" in out
    # Again, later: refused, the mandate keeps its end.
    code, _out, err = firm.run("mandate", "end", "MD-JCDA-1", "--on", TODAY.isoformat())
    assert code == 2 and "it can only be ended earlier" in err


@pytest.mark.parametrize("option, value, message", [
    ("--fee-percent", "120", "--fee-percent 120: a percentage between 0 and 100"),
    ("--fee-percent", "12.345", "--fee-percent 12.345: at most two decimals"),
    ("--fee-percent", "douze", "--fee-percent 'douze': write a percentage"),
    ("--fixed-fee", "-5 EUR", "--fixed-fee -5.00 EUR: a fee cannot be negative"),
    ("--fixed-fee", "50 EURO", "--fixed-fee"),
    ("--signed", "31/02/2026", "--signed: '31/02/2026' is not a day of the calendar"),
    ("--starts", "demain", "--starts: 'demain' is not a date"),
    ("--scope", "total", "--scope 'total': write amicable or amicable-litigation"),
    ("--remit-within", "un mois", "--remit-within 'un mois': write a number of days"),
    ("--remit-within", "0d", "--remit-within 0: between 1 and 366 days"),
    ("--reference", " ", "--reference: a mandate needs a reference"),
    ("--creditor", "NOPE", "no creditor 'NOPE'"),
])
def test_bad_input_names_the_option_and_stores_nothing(firm: Firm, option: str, value: str,
                                                       message: str) -> None:
    args = list(ADD)
    args[args.index(option) + 1] = value
    code, out, err = firm.run(*args)
    assert code == 2, out
    assert message in " ".join(err.split())
    assert "Traceback" not in err
    assert firm.count(Mandate) == 0 and firm.count(Event) == 0


def test_the_rules_between_values_are_refused_too(firm: Firm) -> None:
    code, _out, err = firm.run(*ADD, "--ends", "2019-12-31")
    assert code == 2 and "before it starts on 01/01/2020" in err
    code, _out, err = firm.run(*ADD, "--user", "bruno")
    assert code == 2 and "only a credit manager can record a mandate" in err
    assert firm.run(*ADD)[0] == 0
    overlapping = [a if a != "MD-JCDA-1" else "MD-JCDA-2" for a in ADD]
    code, _out, err = firm.run(*overlapping)
    assert code == 2 and "JCDA already has mandate MD-JCDA-1 from 01/01/2020, open-ended" in err
    code, _out, err = firm.run("mandate", "show", "MD-NOPE")
    assert code == 2 and "no mandate 'MD-NOPE'" in err
    assert firm.count(Mandate) == 1


def test_approve_refuses_an_escalation_without_a_mandate_then_opens_the_case(
        firm: Firm) -> None:
    escalation = str(firm.book.actions["escalate"])
    code, out, _err = firm.run("approve", escalation)
    assert code == 1
    assert ("Refused: Jean Coutu Diffusion (JCDA) has no mandate in force on "
            f"{TODAY.strftime('%d/%m/%Y')}") in out
    assert "(relance mandate add --creditor JCDA ...)" in out

    assert firm.run(*ADD)[0] == 0
    assert firm.run("approve", escalation)[0] == 0  # alice: first of four eyes
    code, out, err = firm.run("approve", escalation, user="david")
    assert code == 0, out + err
    assert f"Approved 1: {escalation}." in out
    with firm.store.session() as session:
        action = session.get(Action, firm.book.actions["escalate"])
        assert action is not None and action.state == ActionState.SENT
    shown = firm.json("mandate", "show", "MD-JCDA-1")
    assert shown["cases"] == 1
    assert [(c["reference"], c["debtor_ref"], c["opened_on"]) for c in shown["case_list"]] == [
        ("MD-JCDA-1/0001", "F-0003", TODAY.isoformat())]
    code, out, _err = firm.run("mandate", "show", "MD-JCDA-1")
    assert "1 case:" in out
    assert (f"MD-JCDA-1/0001  Salon Lille Centre (F-0003), opened on "
            f"{TODAY.strftime('%d/%m/%Y')}") in out


def test_a_company_workspace_approves_without_a_mandate(company: Firm) -> None:
    escalation = str(company.book.actions["escalate"])
    assert company.run("approve", escalation)[0] == 0
    code, out, err = company.run("approve", escalation, user="david")
    assert code == 0, out + err
    assert company.count(MandateCase) == 0


def test_agency_show(firm: Firm) -> None:
    code, out, err = firm.run("agency", "show")
    assert code == 0, err
    assert "Name: Recouvrement Rhône SAS" in out and "SIREN: 732829320" in out
    assert "Address: 12 quai Saint-Antoine, 69002 Lyon" in out
    assert "Insurer: Mutuelle des Huissiers" in out
    assert firm.json("agency", "show")["insurance_policy"] == "RCP-2026-0042"


def test_agency_show_in_a_company_workspace(company: Firm) -> None:
    code, out, _err = company.run("agency", "show")
    assert code == 0 and "This workspace is not a collection firm's" in out
    assert company.json("agency", "show") == {"configured": False}


@pytest.fixture
def french_firm(db_url: tuple[str, str | None], tmp_path: Path,
                capsys: pytest.CaptureFixture[str]) -> Iterator[Firm]:
    made, store = make_firm(db_url, tmp_path, '[ui]\nlanguage = "fr"\n\n' + DESK_USERS + AGENCY,
                            capsys)
    try:
        yield made
    finally:
        store.dispose()


def test_the_refusal_and_the_mandate_in_french(french_firm: Firm) -> None:
    code, out, _err = french_firm.run("approve", str(french_firm.book.actions["escalate"]))
    assert code == 1
    assert (f"Jean Coutu Diffusion (JCDA) n’a aucun mandat en vigueur le "
            f"{TODAY.strftime('%d/%m/%Y')} : une société de recouvrement") in out
    code, out, err = french_firm.run(*ADD)
    assert code == 0, err
    assert "Mandat MD-JCDA-1 de JCDA enregistré : recouvrement amiable, à partir du " \
           "01/01/2020." in out
    assert "Honoraires : 12,50 % des sommes encaissées + 50,00 € par dossier ; fonds " \
           "reversés sous 30 jours." in " ".join(out.split())
