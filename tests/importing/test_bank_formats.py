"""Bank statements: CFONB 120, MT940 and camt.053 read into credits and returns.

The fixtures of tests/data/bank/ are written from the published layouts:

- `statement.cfonb120.txt`: CFONB "Relevé de compte sur support informatique" (July
  2004), records of 120 characters, positions 1-based and inclusive: 1-2 record code
  (01 old balance, 04 movement, 05 complement, 07 new balance), 3-7 bank, 8-11 operation
  code, 12-16 branch, 17-19 currency, 20 decimals, 22-32 account, 33-34 interbank
  operation code, 35-40 date DDMMYY; in 04: 41-42 rejection reason, 43-48 value date,
  49-79 label, 82-88 entry number, 89 exoneration, 90 unavailability, 91-104 amount (last
  digit overpunched: `{` A-I positive, `}` J-R negative), 105-120 reference; in 05: 46-48
  qualifier, 49-118 information. CRLF line ends.
- `statement.mt940.sta`: SWIFT MT940 in `{1:}{2:}{4: … -}{5:}` blocks; fields `:20:`,
  `:25:`, `:28C:`, `:60F:`, `:61:` (`6!n[4!n]2a[1!a]15d1!a3!c[16x][//16x]`, then `[34x]`),
  `:86:` (free, German `?20` subfields, Dutch `/RTRN/…/EREF/…/`), `:62F:`, `:64:`.
- `statement.camt053.xml`: ISO 20022 camt.053.001.02; its comment lists the elements.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relance.kernel.errors import UsageError
from relance.store.importing.camt import read_camt053
from relance.store.importing.cfonb120 import iban_of_rib, read_cfonb120
from relance.store.importing.mt940 import iban_of_account, read_mt940
from relance.store.importing.rows import RowError
from relance.store.importing.statement import BankEntry, EntryKind
from relance.store.importing.statement_formats import detect_format, read_statement

BANK = Path(__file__).resolve().parents[1] / "data" / "bank"
CFONB = BANK / "statement.cfonb120.txt"
MT940 = BANK / "statement.mt940.sta"
CAMT = BANK / "statement.camt053.xml"
IBAN = "FR7630006000011234567890189"
CREDIT, RETURN = EntryKind.CREDIT, EntryKind.RETURN


def summary(entries: list[BankEntry]) -> list[tuple[int, EntryKind, Decimal, dt.date, str]]:
    return [(e.number, e.kind, e.amount, e.booked_on, e.currency) for e in entries]


def where(errors: list[RowError]) -> list[tuple[int, str | None]]:
    return [(error.row, error.column) for error in errors]


def variant(tmp_path: Path, source: Path, edit: dict[int, str | None], *,
            newline: str = "\r\n") -> Path:
    """A copy of `source` with lines replaced (1-based; None removes the line)."""
    lines = source.read_text(encoding="utf-8").splitlines()
    kept = [edit.get(number, line) for number, line in enumerate(lines, start=1)]
    path = tmp_path / source.name
    path.write_text(newline.join(line for line in kept if line is not None) + newline,
                    encoding="utf-8", newline="")
    return path


def splice(line: str, start: int, text: str) -> str:
    """`line` with `text` written from position `start` (1-based)."""
    return line[:start - 1] + text + line[start - 1 + len(text):]


# --- CFONB 120 ------------------------------------------------------------------------

def test_cfonb120_reads_the_credits_and_the_returned_direct_debit() -> None:
    entries, errors = read_cfonb120(CFONB)
    assert errors == []
    assert summary(entries) == [
        (2, CREDIT, Decimal("2400.50"), dt.date(2026, 11, 20), "EUR"),
        (5, CREDIT, Decimal("1250.00"), dt.date(2026, 11, 20), "EUR"),
        (8, CREDIT, Decimal("980.40"), dt.date(2026, 11, 21), "EUR"),
        (10, RETURN, Decimal("640.00"), dt.date(2026, 11, 21), "EUR"),
    ]  # the bank fee of line 13 is a plain debit: left out
    lille, lyon, nantes, brussels = entries
    assert all(e.account_iban == IBAN for e in entries)  # built from bank, branch, account
    # RCN and REF references come first, then the 04 reference, then the words.
    assert lille.candidates[:2] == ("E2E-LIL-0003", "VIR0000101")
    assert "FA-2026-0003" in lille.candidates
    assert lille.text == ("VIR SEPA SALON LILLE CENTRE REGLEMENT FACTURE FA-2026-0003 "
                          "SALON LILLE")
    assert lyon.candidates[0] == "FA-2026-0001"
    assert {"FA-2026-0114", "FA-2026-0002"} <= set(nantes.candidates)
    assert (brussels.original_ref, brussels.return_reason) == ("E2E-BXL-0004", "64")
    assert "FA-2026-0004" in brussels.candidates
    assert "EUR200000000000740" not in brussels.text  # the FEE complement is an amount
    assert lille.bank_ref == ("cfonb:300060000112345678901:2026-11-20:0000101:VIR0000101:"
                              "2400.50")
    assert (lille.original_ref, lille.return_reason) == (None, None)


def test_cfonb120_tolerates_lf_and_a_missing_last_newline(tmp_path: Path) -> None:
    path = tmp_path / "lf.txt"
    path.write_text(CFONB.read_text(encoding="ascii").replace("\r\n", "\n").rstrip("\n"),
                    encoding="ascii")
    assert read_cfonb120(path) == read_cfonb120(CFONB)


@pytest.mark.parametrize(("last", "cents"), [
    ("{", 12_340), ("A", 12_341), ("I", 12_349), ("}", -12_340), ("J", -12_341),
    ("R", -12_349)])
def test_cfonb120_overpunch_codes(tmp_path: Path, last: str, cents: int) -> None:
    lines = CFONB.read_text(encoding="ascii").splitlines()
    amount = splice(lines[1], 91, f"0000000001234{last}")
    # A debit is read only as a return: give it a reason so that each sign shows.
    path = variant(tmp_path, CFONB, {2: splice(amount, 41, "  " if cents > 0 else "64")})
    entries, _ = read_cfonb120(path)
    first = entries[0]
    assert first.number == 2
    assert (first.kind, first.amount) == (
        CREDIT if cents > 0 else RETURN, abs(Decimal(cents) / 100))


def test_cfonb120_faulty_records_are_named_by_line_and_field(tmp_path: Path) -> None:
    lines = CFONB.read_text(encoding="ascii").splitlines()
    path = variant(tmp_path, CFONB, {
        3: lines[2][:119],  # a complement cut short
        5: splice(lines[4], 104, "X"),  # no sign code
        8: splice(lines[7], 35, "310226"),  # 31 February
        10: splice(lines[9], 17, "EUR3"),  # EUR has 2 decimals
        13: splice(lines[12], 1, "09"),  # no such record
    })
    entries, errors = read_cfonb120(path)
    assert where(errors) == [(3, "length"), (5, "amount"), (8, "date"), (10, "decimals"),
                             (13, "record code")]
    assert [error.render(path.name) for error in errors[:2]] == [
        "statement.cfonb120.txt: line 3, column length: has 119 characters; a CFONB 120 "
        "record has 120",
        "statement.cfonb120.txt: line 5, column amount: '0000000012500X' is not an amount: "
        "its last character 'X' is not a sign code ({ A-I, } J-R)"]
    assert errors[2].message == "'310226' is not a day of the calendar (DDMMYY)"
    assert errors[3].message == "EUR has 2 decimals, not 3"
    assert all(error.unit == "line" for error in errors)
    assert entries == []  # every movement had a fault (the first through its complement)


def test_cfonb120_movement_and_statement_must_agree(tmp_path: Path) -> None:
    lines = CFONB.read_text(encoding="ascii").splitlines()
    path = variant(tmp_path, CFONB, {
        2: splice(lines[1], 17, "USD"),
        5: splice(lines[4], 22, "99999999999"),
        6: splice(lines[5], 22, "99999999999"),  # follows its own (faulty) movement
        11: splice(lines[10], 22, "88888888888"),
    })
    _, errors = read_cfonb120(path)
    assert where(errors) == [(2, "currency"), (5, "account"), (11, "account")]
    assert errors[0].message == "USD is not the statement's currency EUR (line 1)"


def test_cfonb120_orphan_complement_and_not_cfonb_at_all(tmp_path: Path) -> None:
    lines = CFONB.read_text(encoding="ascii").splitlines()
    _, errors = read_cfonb120(variant(tmp_path, CFONB, {2: None}))
    assert lines[2].startswith("05") and lines[3].startswith("05")
    assert [e.render("s.txt") for e in errors] == [
        f"s.txt: line {n}, column record code: a 05 complement must follow a 04 movement"
        for n in (2, 3)]
    with pytest.raises(UsageError, match=r"^statement\.mt940\.sta: not a CFONB 120"):
        read_cfonb120(MT940)


def test_identical_cfonb_movements_get_distinct_refs(tmp_path: Path) -> None:
    lines = CFONB.read_text(encoding="ascii").splitlines()
    twice = [*lines[:4], *lines[1:4], *lines[4:]]
    path = tmp_path / "twice.txt"
    path.write_text("\n".join(twice) + "\n", encoding="ascii")
    entries, errors = read_cfonb120(path)
    assert errors == []
    first, second = entries[0].bank_ref, entries[1].bank_ref
    assert second == f"{first}/2"


def test_rib_key_gives_the_iban() -> None:
    assert iban_of_rib("30006", "00001", "12345678901") == IBAN
    assert iban_of_rib("30006", "00001", "1234567890 ") is None


# --- MT940 ----------------------------------------------------------------------------

def test_mt940_reads_credits_and_the_reversed_credit() -> None:
    entries, errors = read_mt940(MT940)
    assert errors == []
    assert summary(entries) == [
        (6, CREDIT, Decimal("2400.50"), dt.date(2026, 11, 20), "EUR"),
        (9, CREDIT, Decimal("1250.00"), dt.date(2026, 11, 20), "EUR"),
        (12, CREDIT, Decimal("980.40"), dt.date(2026, 11, 21), "EUR"),
        (15, RETURN, Decimal("640.00"), dt.date(2026, 11, 21), "EUR"),
    ]  # the fee of line 17 (D, NCHG) is left out
    lille, lyon, nantes, brussels = entries
    assert all(e.account_iban == IBAN for e in entries)
    assert [e.bank_ref for e in entries] == [
        "BNP-000101", "BNP-000102", "mt940:STMT-2026-11-21:00321/001:3", "BNP-000104"]
    assert lille.candidates[0] == "E2E-LIL-0003"  # the customer reference
    assert lille.text == "VIREMENT SEPA RECU REGLEMENT FACTURE FA-2026-0003 SALON LILLE CENTRE"
    assert "FA-2026-0003" in lille.candidates
    # German subfields joined: `?21…Body Sal` + `?22on Lyon`; NONREF is no candidate.
    assert lyon.candidates[0] == "E2E-LYO-0001"
    assert "NONREF" not in lyon.candidates and "FA-2026-0001" in lyon.candidates
    assert "Body Salon Lyon" in lyon.text
    assert nantes.candidates[0] == "FA-2026-0114" and "FA-2026-0002" in nantes.candidates
    assert (brussels.original_ref, brussels.return_reason) == ("E2E-BXL-0004", "AM04")
    assert "FA-2026-0004" in brussels.candidates


MT940_MARKS = """:20:MARKS
:25:NL91ABNA0417164300EUR
:28C:1/1
:60F:C261119EUR100,00
:61:261120RD10,00NTRFNONREF//R-1
:61:261120D20,00NRTIE2E-9//R-2
:86:/EREF/E2E-9/RTRN/MD06/
:61:261120C30,00NRTINONREF//R-3
:61:261120D40,00NDDTNONREF//R-4
:61:261120CR50,NTRFNONREF
:62F:C261120EUR110,00
-
:20:SECOND
:25:NOT-AN-IBAN
:60F:C261119EUR0,00
:61:261231C1,00NTRFNONREF
:61:2612310102C2,00NTRFNONREF
"""


def test_mt940_marks_and_transaction_types(tmp_path: Path) -> None:
    path = tmp_path / "marks.sta"
    path.write_text(MT940_MARKS, encoding="utf-8")
    entries, errors = read_mt940(path)
    assert errors == []
    # RD (a reversed debit), C NRTI (our payment back), D NDDT: left out.
    assert [(e.number, e.kind, e.amount, e.bank_ref) for e in entries] == [
        (6, RETURN, Decimal("20.00"), "R-2"),
        (10, CREDIT, Decimal("50.00"), "mt940:MARKS:1/1:5"),  # funds code R, `50,`
        (16, CREDIT, Decimal("1.00"), "mt940:SECOND::1"),
        (17, CREDIT, Decimal("2.00"), "mt940:SECOND::2"),
    ]
    assert (entries[0].original_ref, entries[0].return_reason) == ("E2E-9", "MD06")
    assert str(entries[1].amount) == "50.00"
    assert entries[0].account_iban == "NL91ABNA0417164300"  # the currency after it dropped
    assert entries[2].account_iban is None
    # An entry date in January after a December value date is in the next year.
    assert entries[3].booked_on == dt.date(2027, 1, 2)


def test_mt940_faulty_fields_are_named_by_line_and_field(tmp_path: Path) -> None:
    lines = MT940.read_text(encoding="utf-8").splitlines()
    path = variant(tmp_path, MT940, {
        5: ":60F:C26111910000,00",  # the currency left out
        6: lines[5].replace("2400,50", "2400.50"),
        9: ":61:2613201120C1250,00NTRFNONREF//BNP-000102",  # month 13
        12: ":61:261121X980,40NTRFFA-2026-0114",
        15: ":61:2611211121RC640,00XDDTE2E-BXL-0004//BNP-000104",
    })
    entries, errors = read_mt940(path)
    assert where(errors) == [(5, ":60F: currency"), (6, ":61: amount"),
                             (9, ":61: value date"), (12, ":61: mark"), (15, ":61: type")]
    assert [error.render(path.name) for error in errors[:2]] == [
        "statement.mt940.sta: line 5, column :60F: currency: 'C26111910000,00' has no "
        "currency code after its date: write C or D, YYMMDD, the currency and the amount "
        "(C261120EUR1250,00)",
        "statement.mt940.sta: line 6, column :61: amount: '2400.50' is not an amount "
        "(digits and a decimal comma: 1250,00)"]
    assert entries == []


def test_mt940_without_opening_balance_and_odd_amounts(tmp_path: Path) -> None:
    lines = MT940.read_text(encoding="utf-8").splitlines()
    path = variant(tmp_path, MT940, {5: None})
    entries, errors = read_mt940(path)
    assert [error.render("s.sta") for error in errors] == [
        "s.sta: line 5, column :60F:: the statement of line 2 has no opening balance "
        "(:60F: or :60M:) before its entries, so no currency"]
    assert entries == []
    path = variant(tmp_path, MT940, {6: lines[5].replace("2400,50", "2400,505"),
                                     9: lines[8].replace("1250,00", "1234567890123,45")})
    _, errors = read_mt940(path)
    assert [(e.row, e.column, e.message) for e in errors] == [
        (6, ":61: amount", "'2400,505' has more than 2 decimals for EUR"),
        (9, ":61: amount", "'1234567890123,45' is not an amount (digits and a decimal "
                           "comma: 1250,00)")]
    with pytest.raises(UsageError, match=r"^statement\.cfonb120\.txt: not an MT940"):
        read_mt940(CFONB)


def test_iban_of_account() -> None:
    assert iban_of_account("BNPAFRPP/FR76 3000 6000 0112 3456 7890 189") == IBAN
    assert iban_of_account("10020030/1234567") is None


# --- camt.053 -------------------------------------------------------------------------

def test_camt053_reads_the_credits_and_the_r_transaction() -> None:
    entries, errors = read_camt053(CAMT)
    assert errors == []
    # The reversed credit entry (3), the plain debit (4) and the pending one (6): out.
    assert summary(entries) == [
        (1, CREDIT, Decimal("2400.50"), dt.date(2026, 11, 20), "EUR"),
        (2, RETURN, Decimal("640.00"), dt.date(2026, 11, 21), "EUR"),
        (5, CREDIT, Decimal("1250.00"), dt.date(2026, 11, 21), "EUR"),
        (5, CREDIT, Decimal("980.40"), dt.date(2026, 11, 21), "EUR"),
    ]
    lille, brussels, lyon, nantes = entries
    assert [e.bank_ref for e in entries] == [
        "BANK-0101", "BANK-0102", "BANK-0105/1", "BANK-0105/2"]
    assert all(e.account_iban == IBAN for e in entries)
    assert "FA-2026-0003" in lille.candidates
    assert (brussels.original_ref, brussels.return_reason) == ("E2E-BXL-0004", "AM04")
    assert brussels.candidates[0] == "FA-2026-0004"
    assert lyon.candidates == ("FA-2026-0001",)
    assert nantes.candidates == ("FACTURE", "FA-2026-0114")


def test_camt053_faulty_entry_is_named(tmp_path: Path) -> None:
    text = CAMT.read_text(encoding="utf-8").replace(
        '<Amt Ccy="EUR">640.00</Amt>', '<Amt Ccy="EUR">6x0.00</Amt>')
    path = tmp_path / "statement.xml"
    path.write_text(text, encoding="utf-8")
    entries, errors = read_camt053(path)
    assert [error.render(path.name) for error in errors] == [
        "statement.xml: entry 2, column Amt: is not an amount"]
    assert len(entries) == 3


# --- every format ---------------------------------------------------------------------

@pytest.mark.parametrize("path", [CFONB, MT940, CAMT], ids=["cfonb120", "mt940", "camt053"])
def test_bank_refs_are_stable_across_reads_and_unique_in_a_file(path: Path) -> None:
    _, first, _ = read_statement(path)
    _, again, _ = read_statement(path)
    refs = [entry.bank_ref for entry in first]
    assert refs == [entry.bank_ref for entry in again]
    assert len(set(refs)) == len(refs) == 4


@pytest.mark.parametrize(("path", "kind"), [
    (CFONB, "cfonb120"), (MT940, "mt940"), (CAMT, "camt053")])
def test_the_format_is_told_by_the_content(tmp_path: Path, path: Path, kind: str) -> None:
    renamed = tmp_path / "statement.dat"  # the suffix says nothing
    renamed.write_bytes(path.read_bytes())
    assert detect_format(renamed) == kind
    found, entries, errors = read_statement(renamed)
    assert (found, len(entries), errors) == (kind, 4, [])


def test_detection_of_bare_mt940_csv_and_the_rest(tmp_path: Path) -> None:
    bare = tmp_path / "bare.txt"
    bare.write_text(MT940_MARKS, encoding="utf-8")
    assert detect_format(bare) == "mt940"
    csv = tmp_path / "payments.csv"
    csv.write_text("creditor;invoice_number;date;amount;currency;reference\n",
                   encoding="utf-8")
    assert read_statement(csv) == ("csv", [], [])
    sheet = tmp_path / "payments.xlsx"
    sheet.write_bytes(b"PK\x03\x04 not really a workbook")
    assert detect_format(sheet) == "csv"
    other = tmp_path / "notes.txt"
    other.write_text("hello\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"^notes\.txt: not a payment file"):
        read_statement(other)
    xml = tmp_path / "other.xml"
    xml.write_text("<?xml version='1.0'?><Invoice/>", encoding="utf-8")
    with pytest.raises(UsageError, match=r"^other\.xml: not a camt\.053 statement"):
        read_statement(xml)
    with pytest.raises(UsageError, match="no such file"):
        detect_format(tmp_path / "missing.sta")


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
@pytest.mark.parametrize("source", [CFONB, MT940, CAMT], ids=["cfonb120", "mt940", "camt053"])
def test_a_corrupted_statement_gives_errors_never_a_traceback(
        tmp_path: Path, source: Path, data: st.DataObject) -> None:
    text = source.read_text(encoding="utf-8")
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(text) - 1))
        cut = data.draw(st.integers(0, 3))
        text = text[:at] + data.draw(st.text(max_size=3)) + text[at + cut:]
    path = tmp_path / "corrupted"
    path.write_text(text, encoding="utf-8")
    reader = {CFONB: read_cfonb120, MT940: read_mt940, CAMT: read_camt053}[source]
    try:
        entries, errors = reader(path)
    except UsageError:
        return
    assert all(entry.amount > 0 and entry.bank_ref for entry in entries)
    assert all(error.unit in ("line", "entry") and error.column for error in errors)


def test_an_unknown_xml_encoding_is_refused_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "statement.xml"
    path.write_text(CAMT.read_text(encoding="utf-8").replace('"UTF-8"', '"NO-SUCH-8"'),
                    encoding="utf-8")
    with pytest.raises(UsageError, match=r"^statement\.xml: not well-formed XML"):
        read_statement(path)
