"""Importing invoice files into the book, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from relance.store import audit
from relance.store.db import Store
from relance.store.importing import ImportRefused, Mapping, import_invoices
from relance.store.models import (
    Creditor,
    Debtor,
    DebtorTag,
    Event,
    InvoiceStatus,
    Promise,
    PromiseStatus,
)
from tests.importing.conftest import book_size, invoices, row, write_csv

TODAY = dt.date(2026, 11, 22)


def test_the_shared_example_imports_exactly_and_again_changes_nothing(
        store: Store, examples_dir: Path) -> None:
    path = examples_dir / "invoices.csv"
    first = import_invoices(store, path, today=TODAY)
    assert (first.rows, first.created, first.updated, first.unchanged) == (10, 10, 0, 0)
    assert (first.debtors_created, first.creditors_created) == (9, 1)
    book = invoices(store)
    assert len(book) == 10
    assert book["FA-2026-0100"]["amount_minor"] == 1_890_000  # "18 900.00"
    lille = book["FA-2026-0003"]  # "3 400,50" paid "1 000,00", dates dd/mm/yyyy
    assert (lille["amount_minor"], lille["paid_minor"], lille["balance_minor"]) == (
        340_050, 100_000, 240_050)
    assert lille["issue_date"] == dt.date(2026, 8, 15)
    assert lille["due_date"] == dt.date(2026, 9, 14)
    assert book["FA-2026-0002"]["status"] == InvoiceStatus.PAID
    assert book["FA-2026-0005"]["currency"] == "CHF"
    assert {number: inv["attrs"] for number, inv in book.items()}["FA-2026-0004"] == {
        "region": "BXL"}
    before = book_size(store)

    second = import_invoices(store, path, today=TODAY)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 10)
    assert (second.debtors_created, second.debtors_updated) == (0, 0)
    assert invoices(store) == book
    invoices_after, debtors_after, events_after = book_size(store)
    assert (invoices_after, debtors_after) == before[:2]
    assert events_after == before[2] + 1  # the import itself is logged, nothing else
    with store.transaction() as session:
        creditor = session.execute(select(Creditor)).scalar_one()
        assert (creditor.code, creditor.name) == ("JCDA", "JCDA")
        events = session.execute(select(Event).order_by(Event.id)).scalars().all()
        assert [e.kind for e in events] == ["import.invoices", "import.invoices"]
        assert events[1].data["unchanged"] == 10
        assert audit.verify(session) == []


def test_a_bad_file_is_refused_whole_with_every_fault_named(
        store: Store, tmp_path: Path) -> None:
    good = write_csv(tmp_path / "good.csv", [row("A-1")])
    import_invoices(store, good, today=TODAY)
    before, book = book_size(store), invoices(store)
    rows = [row(f"A-{n}", amount="200.00") for n in range(1, 7)]  # rows 2..7
    rows[2]["due_date"] = "31/02/2026"  # row 4
    rows[5]["amount"] = "-50,00"  # row 7
    path = write_csv(tmp_path / "invoices.csv", rows)
    with pytest.raises(ImportRefused) as refused:
        import_invoices(store, path, today=TODAY)
    assert refused.value.exit_code == 2
    assert refused.value.errors == [
        "invoices.csv: row 4, column due_date: '31/02/2026' is not a day of the calendar",
        "invoices.csv: row 7, column amount: '-50,00' is negative; a credit note needs "
        "document_type = credit_note",
    ]
    assert book_size(store) == before
    assert invoices(store) == book  # A-1 was not updated to 200.00 either


def test_every_fault_of_a_row_is_named(store: Store, tmp_path: Path) -> None:
    bad = row("B-1", amount="1,250", currency="EURO", issue="2026-13-01", email="nobody",
              paid="abc")
    bad["debtor_ref"] = ""
    path = write_csv(tmp_path / "bad.csv", [bad])
    with pytest.raises(ImportRefused) as refused:
        import_invoices(store, path, today=TODAY)
    columns = [error.split(", column ")[1].split(":")[0] for error in refused.value.errors]
    assert columns == ["debtor_ref", "issue_date", "currency", "amount", "paid_amount",
                       "email"]
    assert book_size(store) == (0, 0, 0)


def test_a_missing_column_is_named(store: Store, tmp_path: Path) -> None:
    data = row("C-1")
    del data["due_date"]
    with pytest.raises(ImportRefused, match="row 1, column due_date: this column is missing"):
        import_invoices(store, write_csv(tmp_path / "x.csv", [data]), today=TODAY)


def test_the_same_invoice_twice_in_one_file_is_an_error(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "dup.csv", [row("D-1"), row("D-2"), row("D-1")])
    with pytest.raises(ImportRefused) as refused:
        import_invoices(store, path, today=TODAY)
    assert refused.value.errors == [
        "dup.csv: row 4, column invoice_number: 'D-1' is already on row 2"]
    assert book_size(store) == (0, 0, 0)


def test_reimport_updates_what_changed_and_never_duplicates(
        store: Store, tmp_path: Path) -> None:
    import_invoices(store, write_csv(tmp_path / "v1.csv", [row("E-1"), row("E-2")]),
                    today=TODAY)
    report = import_invoices(store, write_csv(tmp_path / "v2.csv", [
        row("E-1", paid="100.00"), row("E-2"), row("E-3", ref="F-2", name="Salon Nice")]),
        today=TODAY)
    assert (report.created, report.updated, report.unchanged) == (1, 1, 1)
    book = invoices(store)
    assert len(book) == 3
    assert (book["E-1"]["balance_minor"], book["E-1"]["status"]) == (0, InvoiceStatus.PAID)


def test_the_ambiguous_amount_needs_the_mapping_file(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "amb.csv", [row("G-1", amount="1,250"),
                                            row("G-2", amount="0,500")])
    with pytest.raises(ImportRefused) as refused:
        import_invoices(store, path, today=TODAY)
    assert len(refused.value.errors) == 1
    assert "row 2, column amount: '1,250' is ambiguous" in refused.value.errors[0]
    import_invoices(store, path, mapping=Mapping(decimal_mark=","), today=TODAY)
    book = invoices(store)
    assert (book["G-1"]["amount_minor"], book["G-2"]["amount_minor"]) == (125, 50)


def test_more_decimals_than_the_currency_has_are_refused(
        store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "dec.csv", [row("H-1", amount="10.0051")])
    with pytest.raises(ImportRefused,
                       match=re.escape("column amount: '10.0051' has more than 2 decimals")):
        import_invoices(store, path, today=TODAY)


def test_debtor_fields_last_non_empty_value_wins_with_a_warning(
        store: Store, tmp_path: Path) -> None:
    rows = [row("J-1", email="old@example.fr"), row("J-2", email=""),
            row("J-3", email="new@example.fr")]
    report = import_invoices(store, write_csv(tmp_path / "deb.csv", rows), today=TODAY)
    assert report.warnings == [
        "deb.csv: row 4, column email: debtor F-1 had 'old@example.fr' on row 2; "
        "the last value 'new@example.fr' is kept"]
    with store.transaction() as session:
        debtor = session.execute(select(Debtor)).scalar_one()
        assert debtor.email == "new@example.fr"


def test_case_columns_disputes_promises_pauses_tags_risk_and_credit_notes(
        store: Store, tmp_path: Path) -> None:
    extra = {"disputed": "", "promised_until": "", "paused_until": "", "tags": "",
             "risk": "", "document_type": "", "address": "", "is_consumer": ""}
    rows = [
        row("K-1", **{**extra, "disputed": "livraison incomplète", "tags": "VIP; sepa",
                      "risk": "70", "address": "1 rue X\n69002 Lyon"}),
        row("K-2", **{**extra, "disputed": "non", "promised_until": "30/11/2026",
                      "paused_until": "2026-12-15"}),
        row("K-3", amount="120,00", **{**extra, "document_type": "avoir"}),
        row("K-4", ref="I-1", name="Martine Durand", **{**extra, "is_consumer": "oui"}),
    ]
    report = import_invoices(store, write_csv(tmp_path / "case.csv", rows), today=TODAY)
    assert report.promises == 1
    book = invoices(store)
    assert book["K-1"]["dispute_reason"] == "livraison incomplète"
    assert book["K-1"]["disputed_since"] == TODAY
    assert book["K-2"]["dispute_reason"] is None
    assert (book["K-3"]["amount_minor"], book["K-3"]["balance_minor"]) == (-12_000, -12_000)
    with store.transaction() as session:
        lyon = session.execute(select(Debtor).where(Debtor.ref == "F-1")).scalar_one()
        assert (lyon.risk, lyon.paused_until, lyon.pause_reason) == (
            70, dt.date(2026, 12, 15), "imported")
        assert lyon.address == "1 rue X\n69002 Lyon"
        assert not lyon.is_consumer
        assert sorted(session.execute(select(DebtorTag.tag)).scalars()) == ["sepa", "vip"]
        promise = session.execute(select(Promise)).scalar_one()
        assert (promise.promised_on, promise.status) == (dt.date(2026, 11, 30),
                                                         PromiseStatus.OPEN)
        individual = session.execute(select(Debtor).where(Debtor.ref == "I-1")).scalar_one()
        assert individual.is_consumer

    # The same file again: nothing changes. Then the file drops the dispute and the tags.
    again = import_invoices(store, tmp_path / "case.csv", today=TODAY)
    assert (again.created, again.updated, again.unchanged, again.debtors_updated) == (0, 0, 4, 0)
    rows[0].update(disputed="", tags="")
    rows[1].update(promised_until="2026-12-05")
    changed = import_invoices(store, write_csv(tmp_path / "case2.csv", rows), today=TODAY)
    assert (changed.updated, changed.unchanged, changed.debtors_updated) == (2, 2, 1)
    book = invoices(store)
    assert book["K-1"]["dispute_reason"] is None
    with store.transaction() as session:
        assert list(session.execute(select(DebtorTag.tag)).scalars()) == []
        assert session.execute(select(Promise.promised_on)).scalar_one() == dt.date(2026, 12, 5)


def test_a_mapping_renames_columns_and_supplies_the_creditor(
        store: Store, tmp_path: Path) -> None:
    (tmp_path / "sage.toml").write_text(
        'default_creditor = "ACME"\ndate_format = "%d.%m.%Y"\ndecimal_mark = ","\n'
        '[columns]\n"N° pièce" = "invoice_number"\n"Compte" = "debtor_ref"\n'
        '"Raison sociale" = "debtor_name"\n"Date" = "issue_date"\n"Échéance" = "due_date"\n'
        '"Montant TTC" = "amount"\n"Devise" = "currency"\n"Agence" = "attr.agence"\n',
        encoding="utf-8")
    from relance.store.importing import load_mapping

    mapping = load_mapping(tmp_path / "sage.toml")
    path = tmp_path / "export.csv"
    path.write_text("N° pièce;Compte;Raison sociale;Date;Échéance;Montant TTC;Devise;Agence\n"
                    "VT001;411ACME;Acme SARL;01.09.2026;01.10.2026;1.250;EUR;Lyon\n",
                    encoding="utf-8")
    report = import_invoices(store, path, mapping=mapping, today=TODAY)
    assert report.created == 1
    book = invoices(store)
    assert book["VT001"]["amount_minor"] == 125_000  # "1.250" with "," declared decimal
    assert book["VT001"]["issue_date"] == dt.date(2026, 9, 1)
    assert book["VT001"]["attrs"] == {"agence": "Lyon"}


def test_an_xlsx_workbook_imports_like_its_csv(store: Store, tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    header = list(row("X-1"))
    sheet.append([*header, "region"])
    sheet.append(["JCDA", "F-1", "Salon Lyon", "franchisee", "a@example.fr", "+33478000001",
                  "FR", "fr", "transfer", "alice", "X-1", dt.datetime(2026, 9, 1),
                  dt.date(2026, 10, 1), 1250.5, "EUR", 0, "ARA"])
    sheet.append([])  # blank rows are skipped
    sheet.append(["JCDA", "F-1", "Salon Lyon", "franchisee", "a@example.fr", "+33478000001",
                  "FR", "fr", "transfer", "alice", 20261001, "2026-09-15", "15/10/2026",
                  "3 400,50", "EUR", "1000", "ARA"])
    workbook.save(tmp_path / "book.xlsx")
    report = import_invoices(store, tmp_path / "book.xlsx", today=TODAY)
    assert report.created == 2
    book = invoices(store)
    assert book["X-1"]["amount_minor"] == 125_050
    assert book["X-1"]["issue_date"] == dt.date(2026, 9, 1)
    assert book["20261001"]["balance_minor"] == 240_050

    sheet.cell(row=4, column=13, value="someday")
    workbook.save(tmp_path / "bad.xlsx")
    with pytest.raises(ImportRefused,
                       match=re.escape("bad.xlsx: row 4, column due_date: 'someday'")):
        import_invoices(store, tmp_path / "bad.xlsx", today=TODAY)


def test_semicolon_files_and_a_new_debtor_without_a_name(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "semi.csv", [row("L-1", amount="1 234,56")], delimiter=";")
    import_invoices(store, path, today=TODAY)
    assert invoices(store)["L-1"]["amount_minor"] == 123_456
    nameless = write_csv(tmp_path / "nameless.csv", [row("L-2", ref="F-9", name="")])
    with pytest.raises(ImportRefused, match="row 2, column debtor_name: debtor F-9 is new"):
        import_invoices(store, nameless, today=TODAY)
    assert len(invoices(store)) == 1


def test_progress_is_reported_while_a_large_file_streams(
        sqlite_store: Store, tmp_path: Path) -> None:
    from bench.books import write_book

    path = write_book(tmp_path / "book.csv", 12_000)
    seen: list[tuple[int, int | None]] = []
    report = import_invoices(sqlite_store, path, today=TODAY,
                             progress=lambda done, total: seen.append((done, total)))
    assert report.created == 12_000
    assert len(seen) >= 3  # after each batch of 5,000 and at the end
    assert all(total == path.stat().st_size for _, total in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1][0] == path.stat().st_size
