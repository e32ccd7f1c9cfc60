"""The store and the channels speak French to a French reader, and English to an English
one, while what they record stays English.

Each case runs the real code on real input: a CSV read by the importer, a `relance.toml`
section read by the channels' configuration, an SMS dispatched to a number that is not
one.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from relance.channels.config import dispatch_config, smtp_config
from relance.channels.dispatch import dispatch
from relance.kernel.errors import ConfigError
from relance.kernel.i18n import using_language
from relance.store.db import Store
from relance.store.importing import ImportRefused, import_invoices
from relance.store.importing.fec import open_fec
from relance.store.importing.mapping import Mapping
from relance.store.models import Action, ActionState
from tests.channels.factory import (
    TODAY,
    add_action,
    add_creditor,
    add_debtor,
    add_invoice,
    make_workspace,
)
from tests.importing.conftest import row, write_csv


def _faulty_invoices(folder: Path) -> Path:
    rows = [row("A-1"), row("A-2", amount="12,5x"), row("A-3", due="2026-02-30")]
    return write_csv(folder / "factures.csv", rows)


def _refusal(store: Store, path: Path) -> ImportRefused:
    with pytest.raises(ImportRefused) as refused:
        import_invoices(store, path)
    return refused.value


def test_an_import_refusal_names_file_row_and_column_in_french(
        sqlite_store: Store, tmp_path: Path) -> None:
    path = _faulty_invoices(tmp_path)
    with using_language("fr"):
        refusal = _refusal(sqlite_store, path)
    assert refusal.message.splitlines()[0] == (
        "factures.csv : refusé, rien n’a été importé (2 erreurs) :")
    assert refusal.errors == [
        "factures.csv : ligne 3, colonne amount : '12,5x' n’est pas un nombre",
        "factures.csv : ligne 4, colonne due_date : '2026-02-30' n’est pas un jour du "
        "calendrier",
    ]


def test_the_same_refusal_in_english_is_unchanged(sqlite_store: Store, tmp_path: Path) -> None:
    path = _faulty_invoices(tmp_path)
    with using_language("en"):
        refusal = _refusal(sqlite_store, path)
    assert refusal.message.splitlines()[0] == (
        "factures.csv: refused, nothing was imported (2 errors):")
    assert refusal.errors == [
        "factures.csv: row 3, column amount: '12,5x' is not a number",
        "factures.csv: row 4, column due_date: '2026-02-30' is not a day of the calendar",
    ]


def test_one_error_is_counted_in_the_singular_in_both_languages(
        sqlite_store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "une.csv", [row("A-1", currency="EURO")])
    with using_language("fr"):
        french = _refusal(sqlite_store, path)
    english = _refusal(sqlite_store, path)
    assert french.message.splitlines() == [
        "une.csv : refusé, rien n’a été importé (1 erreur) :",
        "  une.csv : ligne 2, colonne currency : 'EURO' n’est pas un code de devise à trois "
        "lettres"]
    assert english.message.splitlines()[0] == (
        "une.csv: refused, nothing was imported (1 error):")


def test_a_fec_warning_shows_its_amount_as_a_french_reader_writes_it(tmp_path: Path) -> None:
    header = ("JournalCode|JournalLib|EcritureNum|EcritureDate|CompteNum|CompteLib|"
              "CompAuxNum|CompAuxLib|PieceRef|PieceDate|EcritureLib|Debit|Credit|"
              "EcritureLet|DateLet|ValidDate|Montantdevise|Idevise")
    credit = ("BQ|Banque|7|20261105|411000|Clients|C1|Salon|VIR-1|20261105|Virement|"
              "0,00|1234,50||||")
    path = tmp_path / "fec.txt"
    path.write_text(f"{header}\n{credit}\n", encoding="utf-8")
    with using_language("fr"):
        source = open_fec(path, Mapping(default_creditor="JCDA"))
    assert source.warnings == [
        "fec.txt : ligne 2, colonne EcritureLet : est vide : le crédit de 1\u202f234,50\u00a0€ "
        "sur C1 (pièce VIR-1) n’est lettré à aucune facture et n’est pas repris"]


def test_a_channel_setting_is_refused_in_french_and_in_english(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws", {"smtp": {"host": "mail.example.fr",
                                                          "port": 70000}})
    with using_language("fr"), pytest.raises(ConfigError) as french:
        smtp_config(workspace)
    assert french.value.message.endswith(
        "[smtp] port doit être compris entre 1 et 65535, et non 70000")
    with using_language("en"), pytest.raises(ConfigError) as english:
        smtp_config(workspace)
    assert english.value.message.endswith("[smtp] port must be between 1 and 65535, not 70000")


def test_a_setting_of_the_wrong_kind_is_refused_in_french(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws", {"dispatch": {"max_attempts": "huit"}})
    with using_language("fr"), pytest.raises(ConfigError) as refused:
        dispatch_config(workspace)
    assert refused.value.message.endswith(
        "[dispatch] max_attempts doit être un nombre entier, et non 'huit'")


def test_a_failed_send_is_reported_in_french_and_recorded_in_english(
        sqlite_store: Store, tmp_path: Path) -> None:
    with sqlite_store.transaction() as session:
        creditor = add_creditor(session)
        debtor = add_debtor(session, creditor, "S-1", phone="12")
        invoice = add_invoice(session, debtor, "FS-1", 4_250, TODAY - dt.timedelta(days=5))
        action_id = add_action(session, debtor, [invoice], channel="sms",
                               template="relance_1").id
    workspace = make_workspace(tmp_path / "ws")
    with using_language("fr"):
        report = dispatch(sqlite_store, workspace, today=TODAY)
    assert report.failed == 1
    assert report.errors[0].startswith(
        f"action {action_id} : débiteur S-1 : '12' n’est pas un numéro de téléphone valide "
        "pour FR ni au format international")
    assert report.problems[0]["reason"].startswith("débiteur S-1 : '12' n’est pas")
    with sqlite_store.transaction() as session:
        action = session.get(Action, action_id)
        assert action is not None and action.state == ActionState.FAILED
        assert action.last_error == (
            "debtor S-1: '12' is not a valid phone number for FR or in international form")
