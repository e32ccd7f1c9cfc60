"""`relance creditor add|edit|show|list|load` as a user types them, on SQLite and
PostgreSQL; and the dispatch refusing a creditor whose identity is incomplete until
`relance creditor edit` completes it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from relance.store.db import Store, open_store
from relance.store.models import Action, ActionState, Creditor, Debtor, Event, Invoice
from tests.casework.factory import DESK_USERS
from tests.channels.factory import PNG_1X1, add_action, make_workspace
from tests.cli import run_cli
from tests.importing.conftest import row, write_csv


@dataclass
class Desk:
    root: Path
    url: str
    store: Store
    capsys: pytest.CaptureFixture[str]

    def run(self, *args: str, user: str = "alice") -> tuple[int, str, str]:
        return run_cli(self.capsys, "-w", str(self.root), "--db", self.url, "--user", user,
                       *args)

    def json(self, *args: str) -> Any:
        code, out, err = self.run(*args, "--json")
        assert code == 0, err
        return json.loads(out)

    def creditors(self) -> dict[str, Creditor]:
        with self.store.session() as session:
            found = {c.code: c for c in session.scalars(select(Creditor))}
            session.expunge_all()
            return found

    def events(self) -> int:
        with self.store.session() as session:
            return int(session.scalar(select(func.count(Event.id))) or 0)


@pytest.fixture
def desk(db_url: tuple[str, str | None], tmp_path: Path,
         capsys: pytest.CaptureFixture[str]) -> Iterator[Desk]:
    url, schema = db_url
    store = open_store(url, schema=schema)
    root = tmp_path / "ws"
    make_workspace(root)
    (root / "relance.toml").write_text(DESK_USERS, encoding="utf-8")
    cli_url = url if schema is None else (
        f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}")
    try:
        yield Desk(root, cli_url, store, capsys)
    finally:
        store.dispose()


ADD = ("creditor", "add", "--code", "ACME", "--name", "Acme Distribution SAS",
       "--siren", "552 100 554", "--address-line", "12 rue des Tanneurs",
       "--address-line", "69002 Lyon")


def test_add_edit_show_and_list(desk: Desk) -> None:
    code, out, err = desk.run(*ADD)
    assert code == 0, err
    assert out.splitlines() == [
        "Creditor ACME added: Acme Distribution SAS.",
        "Missing for letters: IBAN (relance creditor edit ACME).",
        "Missing for e-mails: sender e-mail (relance creditor edit ACME).",
    ]
    code, out, err = desk.run("creditor", "edit", "ACME", "--iban",
                              "FR76 3000 6000 0112 3456 7890 189", "--email",
                              "relances@acme.example", "--language", "fr", "--language", "en",
                              "--logo", "assets/logo.png", "--phone", "04 72 00 00 00",
                              "--no-penalties", "--waive-segment", "consumer")
    assert code == 0, err
    assert out.splitlines() == [
        "Creditor ACME: changed IBAN, sender e-mail, telephone, languages, logo, segments "
        "waived.",  # penalties were off already
        "Its identity is complete for letters, e-mails and SMS."]
    stored = desk.creditors()["ACME"]
    assert (stored.address, stored.logo_path, stored.languages, stored.waive_segments) == (
        "12 rue des Tanneurs\n69002 Lyon", "assets/logo.png", ["fr", "en"], ["consumer"])
    assert stored.name == "Acme Distribution SAS"  # not given, not changed

    code, out, err = desk.run("creditor", "show", "ACME")
    assert code == 0, err
    lines = [line.strip() for line in out.splitlines()]
    assert lines[0] == "Creditor ACME"
    assert "IBAN                      FR7630006000011234567890189" in lines
    assert "69002 Lyon" in lines and "telephone                 +33 4 72 00 00 00" in lines
    assert lines[-1] == "Its identity is complete for letters, e-mails and SMS."
    shown = desk.json("creditor", "show", "ACME")
    assert shown["fields"]["siren"] == "552100554"
    assert shown["missing"] == {"letter": [], "email": [], "sms": []}

    code, out, err = desk.run("creditor", "add", "--code", "BARE", "--name", "Bare SARL")
    assert code == 0, err
    listed = desk.json("creditor", "list")
    assert [(c["code"], c["complete"], c["missing"]) for c in listed] == [
        ("ACME", True, {}),
        ("BARE", False, {"letter": ["address", "siren", "iban"],
                         "email": ["email", "address", "siren"]})]
    code, out, err = desk.run("creditor", "list")
    assert code == 0, err
    assert "lacks address, SIREN, IBAN, sender e-mail" in out
    assert "complete" in out


@pytest.mark.parametrize(("args", "said"), [
    (("--siren", "552100555"), "--siren: '552100555' is not a SIREN: its check digits are "
                               "wrong"),
    (("--siret", "55210055400014"), "--siret: '55210055400014' is not a SIRET"),
    (("--siret", "83291745400015"), "--siret: SIRET 83291745400015 does not start with the "
                                    "SIREN 552100554"),
    (("--vat", "FR00552100554"), "--vat: 'FR00552100554' is not a VAT number"),
    (("--iban", "FR7630006000011234567890188"), "--iban: 'FR7630006000011234567890188' is "
                                                "not an IBAN"),
    (("--bic", "AGRI"), "--bic: 'AGRI' is not a BIC"),
    (("--email", "nobody"), "--email: 'nobody' is not an e-mail address"),
    (("--logo", "relance.toml"), "--logo: relance.toml is not a PNG, JPEG or SVG image"),
    (("--logo", "../elsewhere.png"), "--logo: ../elsewhere.png is outside the workspace"),
    (("--address", "x", "--address-line", "y"), "give --address or --address-line, not "
                                                "both"),
])
def test_a_bad_value_exits_2_naming_the_option_and_stores_nothing(
        desk: Desk, args: tuple[str, ...], said: str) -> None:
    (desk.root.parent / "elsewhere.png").write_bytes(PNG_1X1)
    code, out, err = desk.run(*ADD[:-4], *args)
    assert code == 2 and said in err, err
    assert "Traceback" not in err and out == ""
    assert desk.creditors() == {} and desk.events() == 0


def test_edits_are_refused_whole_and_only_to_credit_managers(desk: Desk) -> None:
    assert desk.run(*ADD)[0] == 0
    events = desk.events()
    code, _out, err = desk.run("creditor", "edit", "ACME", "--iban",
                               "FR7630006000011234567890189", "--bic", "BAD")
    assert code == 2 and "--bic: 'BAD' is not a BIC" in err
    code, _out, err = desk.run("creditor", "edit", "ACME", "--iban",
                               "FR7630006000011234567890189", user="bruno")
    assert code == 2 and "bruno is operator: only a credit manager can change a creditor" in err
    code, _out, err = desk.run("creditor", "add", "--code", "ACME", "--name", "Again")
    assert code == 2 and "creditor ACME exists already" in err
    code, _out, err = desk.run("creditor", "edit", "NOPE", "--name", "X")
    assert code == 2 and "no creditor 'NOPE'" in err
    code, _out, err = desk.run("creditor", "edit", "ACME")
    assert code == 2 and "nothing to change" in err
    assert desk.creditors()["ACME"].iban is None and desk.events() == events


def test_load_reads_creditors_toml_beside_the_rules(desk: Desk) -> None:
    (desk.root / "creditors.toml").write_text(
        '[creditors.ACME]\nname = "Acme SAS"\nsiren = "552100554"\n'
        'address = ["1 rue X", "69002 Lyon"]\n\n'
        '[creditors.BETA]\nname = "Beta SA"\niban = "FR7630006000011234567890189"\n',
        encoding="utf-8")
    code, out, err = desk.run("creditor", "load")
    assert code == 0, err
    assert f"{desk.root / 'creditors.toml'}: 2 added, 0 updated, 0 unchanged." in out
    bad = desk.root / "other.toml"
    bad.write_text('[creditors.ACME]\nname = "Acme SAS"\nsiren = "552100554"\n'
                   'address = ["1 rue X", "69000 Lyon"]\n\n'
                   '[creditors.GAMMA]\nname = "Gamma"\nbic = "1234"\n', encoding="utf-8")
    code, out, err = desk.run("creditor", "load", str(bad))
    assert code == 2
    assert f"{bad}: [creditors.GAMMA] bic: '1234' is not a BIC" in err
    stored = desk.creditors()
    assert sorted(stored) == ["ACME", "BETA"] and stored["ACME"].address == "1 rue X\n69002 Lyon"
    code, out, err = desk.run("creditor", "load", str(desk.root / "missing.toml"))
    assert code == 2 and "missing.toml: no such file" in err


# ---------------------------------------------------------------- dispatch refuses


def test_dispatch_refuses_an_incomplete_creditor_until_it_is_completed(desk: Desk) -> None:
    """A creditor created by an import has its code for a name and nothing else: its
    letters and e-mails fail before rendering, naming what lacks; once `relance creditor
    edit` completes it, `relance resend` puts them back and they go."""
    invoices = write_csv(desk.root / "invoices.csv", [row("A-1"), row("A-2")])
    code, _out, err = desk.run("import", "invoices", str(invoices))
    assert code == 0, err
    with desk.store.write_transaction() as session:
        debtor = session.scalars(select(Debtor)).one()
        bought = list(session.scalars(select(Invoice).order_by(Invoice.number)))
        letter = add_action(session, debtor, bought, channel="letter", template="relance_2")
        email = add_action(session, debtor, bought[:1], channel="email", template="rappel")
        ids = {"letter": letter.id, "email": email.id}

    code, out, err = desk.run("dispatch", "--on", "2026-11-20")
    assert code == 1
    assert "0 actions sent; 2 failed" in out
    assert ("creditor JCDA lacks address, SIREN, IBAN: complete it with `relance creditor "
            "edit JCDA`") in out
    assert "creditor JCDA lacks sender e-mail, address, SIREN" in out
    with desk.store.session() as session:
        failed = {a.channel.value: (a.state, a.last_error)
                  for a in session.scalars(select(Action))}
    assert failed["letter"] == (ActionState.FAILED, "creditor JCDA lacks address, SIREN, "
                                "IBAN: complete it with `relance creditor edit JCDA`")
    assert failed["email"][0] == ActionState.FAILED
    assert list((desk.root / "outbox").rglob("*.pdf")) == []

    code, out, err = desk.run("creditor", "edit", "JCDA", "--name", "Jean Coutu Diffusion",
                              "--siren", "552100554", "--address", "1 rue X\\n69002 Lyon",
                              "--iban", "FR7630006000011234567890189",
                              "--email", "relances@jcda.example")
    assert code == 0, err
    for action_id in ids.values():
        code, out, err = desk.run("resend", str(action_id))
        assert code == 0, err
    code, out, err = desk.run("dispatch", "--on", "2026-11-20")
    assert code == 0, out + err
    assert "2 actions sent; 0 failed" in out
    with desk.store.session() as session:
        assert {a.state for a in session.scalars(select(Action))} == {ActionState.SENT}
    assert len(list((desk.root / "outbox").rglob("*.pdf"))) >= 1
