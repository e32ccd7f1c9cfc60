"""`relance report ledger`: the customer sub-ledger auditors ask for, and how it adds up."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from relance.kernel.money import Money
from relance.store.book import record_payment
from relance.store.models import Invoice, InvoiceStatus
from tests.reports.conftest import ON, Books
from tests.reports.helpers import french, read_csv

CREDITOR, ACCOUNT, NAME, CURRENCY, DAY, PIECE, TYPE, LABEL = range(8)
DEBIT, CREDIT, BALANCE, ALLOCATED, LETTERING = range(9, 14)


def test_each_account_adds_up_to_its_balance(books: Books) -> None:
    target = books.root / "ledger.csv"
    code, _, err = books.run("report", "ledger", "--from", "2026-09-01", "--to",
                             "2026-11-30", "-o", str(target))
    assert code == 0, err
    table = read_csv(target)
    assert table[0][:4] == ["creditor", "account", "name", "currency"]
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    totals = {}
    for row in table[1:]:
        key = (row[ACCOUNT], row[CURRENCY])
        if row[TYPE] == "Total":
            totals[key] = row
        elif row[TYPE] != "Grand total":
            sums[key] += french(row[DEBIT]) - french(row[CREDIT])
    for key, total in totals.items():
        assert sums[key] == french(total[BALANCE]), key
        assert french(total[DEBIT]) - french(total[CREDIT]) == french(total[BALANCE])
    assert french(totals[("F-1", "EUR")][BALANCE]) == Decimal("1630.00")
    assert french(totals[("F-1", "CHF")][BALANCE]) == Decimal("750.00")
    lyon = [row for row in table[1:] if row[ACCOUNT] == "F-1" and row[CURRENCY] == "EUR"]
    # F-103 was issued in August: brought forward, as a debit.
    assert lyon[0][TYPE] == "Opening" and lyon[0][DEBIT] == "300,00"
    assert lyon[0][DAY] == "01/09/2026"
    lettered = [row for row in lyon if row[TYPE] == "Allocation"]
    assert [(row[PIECE], row[LETTERING], row[ALLOCATED]) for row in lettered] == [
        ("AV-7", "F-103", "300,00"), ("VIR-2", "F-101", "500,00")]
    assert all(row[DEBIT] == row[CREDIT] == "" for row in lettered)
    grand = {row[CURRENCY]: row for row in table[1:] if row[TYPE] == "Grand total"}
    assert french(grand["EUR"][BALANCE]) == Decimal("1729.90")  # with the evil 99,90


def test_a_cancelled_invoice_is_written_off_and_a_later_payment_left_out(
        books: Books) -> None:
    with books.store.transaction() as session:
        invoice = session.query(Invoice).filter_by(number="F-102").one()
        invoice.status = InvoiceStatus.CANCELLED
        record_payment(session, creditor_id=invoice.creditor_id,
                       debtor_id=invoice.debtor_id, amount=Money.of("10.00", "EUR"),
                       received_on=ON.replace(month=12, day=15), reference="VIR-LATER",
                       actor="test", allocations=[], today=ON)
    code, out, err = books.run("report", "ledger", "--from", "2026-01-01", "--to",
                               "2026-12-31", "--format", "csv", "--dialect", "rfc4180")
    assert code == 0, err
    import csv
    import io

    table = list(csv.reader(io.StringIO(out)))
    lyon = [row for row in table[1:] if row[ACCOUNT] == "F-1" and row[CURRENCY] == "EUR"]
    write_off = [row for row in lyon if row[TYPE] == "Write-off"]
    assert [(row[PIECE], row[CREDIT]) for row in write_off] == [("F-102", "800.00")]
    assert lyon[-1][BALANCE] == "820.00"  # 1 630 - 800 written off - 10 paid in December
    code, out, _ = books.run("report", "ledger", "--from", "2026-01-01", "--to",
                             "2026-11-30", "--format", "csv", "--dialect", "rfc4180")
    assert "VIR-LATER" not in out


def test_ledger_xlsx_grand_totals_are_formulas_over_the_account_totals(books: Books) -> None:
    from openpyxl import load_workbook

    target = books.root / "ledger.xlsx"
    code, _, err = books.run("report", "ledger", "--from", "2026-01-01", "--to",
                             "2026-12-31", "--format", "xlsx", "-o", str(target))
    assert code == 0, err
    sheet = load_workbook(target).active
    rows = list(sheet.iter_rows(min_row=2))
    account_totals = [row for row in rows if row[TYPE].value == "Total"]
    assert all(str(row[DEBIT].value).startswith("=SUM(") for row in account_totals)
    grand = [row for row in rows if row[TYPE].value == "Grand total"]
    eur = next(row for row in grand if row[CURRENCY].value == "EUR")
    last = eur[0].row - 1
    assert eur[DEBIT].value == (f'=SUMIFS(J2:J{last},G2:G{last},"Total",'
                                f'D2:D{last},"EUR")')
    assert eur[DEBIT].number_format == '#,##0.00 "€"'


def test_ledger_refuses_a_period_that_ends_before_it_starts(books: Books) -> None:
    code, _, err = books.run("report", "ledger", "--from", "2026-11-30", "--to", "2026-11-01")
    assert code == 2 and "before --from" in err
