"""Control characters (NUL, an escape sequence, a C1 character) in every text column of
every import format: each is refused naming the file, the row or line and the column, and
nothing of the file is stored. These probes also run on PostgreSQL, whose driver once
turned a NUL into a traceback where SQLite stored it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.hostile.bench import Bench
from tests.hostile.probe import Expect, Probe
from tests.importing.conftest import CANONICAL, row, write_csv
from tests.importing.test_fec import FEC, MAPPING_FILE, fixture_rows, set_cell, write_fec

FAMILY = "control-characters"
BANK = Path(__file__).resolve().parents[1] / "data" / "bank"
CONTROLS = {"nul": "\x00", "esc": "\x1b[2J", "c1": "\x9b"}
PAYMENT_COLUMNS = ["creditor", "invoice_number", "date", "amount", "currency", "reference"]
GOOD_PAYMENT = {"creditor": "JCDA", "invoice_number": "FA-2026-0001", "date": "2026-11-20",
                "amount": "10,00", "currency": "EUR", "reference": "VIR-HX-1"}
FEC_TEXT_COLUMNS = ["CompAuxNum", "CompAuxLib", "PieceRef", "PieceDate", "EcritureDate",
                    "Debit", "JournalCode"]
XLSX_TEXT_COLUMNS = ["creditor", "debtor_ref", "debtor_name", "segment", "email", "phone",
                     "country", "language", "payment_method", "sales_rep", "invoice_number",
                     "currency"]


def spiked(value: str, control: str) -> str:
    """`value` with `control` inside it, where a reader keeps looking (not at the end,
    which a trimming reader would drop)."""
    return value[:1] + control + value[1:] if value else control + "x"


def csv_invoices(column: str, control: str) -> Callable[[Bench], None]:
    def check(bench: Bench) -> None:
        extra = {"address": "1 rue X", "disputed": "livraison", "region": "ARA"}
        good, hostile = (row(number, ref="HX-D", **extra) for number in ("HX-1", "HX-2"))
        hostile[column] = spiked(hostile[column], control)
        path = write_csv(bench.root / "invoices.csv", [good, hostile])
        bench.refused("import", "invoices", str(path),
                      names=("invoices.csv: refused", "row 3", f"column {column}"))
    return check


def xlsx_invoices(column: str) -> Callable[[Bench], None]:
    def check(bench: Bench) -> None:
        from openpyxl import Workbook

        workbook = Workbook()
        sheet = workbook.active
        sheet.append(CANONICAL)
        sheet.append(list(row("HX-1", ref="HX-D").values()))
        hostile = row("HX-2", ref="HX-D")
        hostile[column] = spiked(hostile[column], "\x85")  # openpyxl refuses C0 itself
        sheet.append(list(hostile.values()))
        path = bench.root / "invoices.xlsx"
        workbook.save(path)
        bench.refused("import", "invoices", str(path),
                      names=("invoices.xlsx: refused", "row 3", f"column {column}"))
    return check


def fec_invoices(column: str) -> Callable[[Bench], None]:
    def check(bench: Bench) -> None:
        rows = fixture_rows()
        set_cell(rows, 2, column, spiked(rows[1][FEC_TEXT_COLUMNS_AT[column]], "\x00"))
        path = write_fec(bench.root / FEC.name, rows)
        bench.refused("import", "invoices", str(path), "--mapping", str(MAPPING_FILE),
                      names=(f"{FEC.name}: refused", "row 2", f"column {column}"))
    return check


def csv_payments(column: str, control: str) -> Callable[[Bench], None]:
    def check(bench: Bench) -> None:
        hostile = dict(GOOD_PAYMENT, reference="VIR-HX-2")
        hostile[column] = spiked(hostile[column], control)
        path = bench.root / "payments.csv"
        lines = [PAYMENT_COLUMNS, list(GOOD_PAYMENT.values()), list(hostile.values())]
        path.write_text("".join(";".join(cells) + "\n" for cells in lines), encoding="utf-8")
        bench.refused("import", "payments", str(path),
                      names=("payments.csv: refused", "row 3", f"column {column}"))
    return check


def edited_statement(bench: Bench, source: str, line: int, edit: Callable[[str], str]
                     ) -> Path:
    lines = (BANK / source).read_text(encoding="utf-8").split("\n")
    lines[line - 1] = edit(lines[line - 1])
    path = bench.root / source
    path.write_text("\n".join(lines), encoding="utf-8", newline="")
    return path


def statement_line(source: str, line: int, edit: Callable[[str], str],
                   names: tuple[str, ...]) -> Callable[[Bench], None]:
    """A bank statement with one line changed; its import must be refused."""
    def check(bench: Bench) -> None:
        path = edited_statement(bench, source, line, edit)
        bench.refused("import", "payments", str(path), names=(f"{source}: ", *names))
    return check


def statement_text(source: str, line: int, edit: Callable[[str], str]
                   ) -> Callable[[Bench], None]:
    """A control in a statement's free text, which is read to match invoices and never
    stored: the statement is imported and no stored text holds the control."""
    def check(bench: Bench) -> None:
        path = edited_statement(bench, source, line, edit)
        outcome = bench.accepted_clean("import", "payments", str(path))
        assert "3 recorded" in outcome.out
    return check


def splice(line: str, start: int, text: str) -> str:
    return line[:start - 1] + text + line[start - 1 + len(text):]


FEC_TEXT_COLUMNS_AT = {name: fixture_rows()[0].index(name) for name in FEC_TEXT_COLUMNS}

PROBES: list[Probe] = [
    *(Probe(FAMILY, f"csv-invoices-{column}-{label}", Expect.REFUSED,
            csv_invoices(column, control), both_databases=True)
      for column in CANONICAL for label, control in CONTROLS.items()),
    *(Probe(FAMILY, f"csv-invoices-{column}-nul", Expect.REFUSED,
            csv_invoices(column, "\x00"), both_databases=True)
      for column in ("address", "disputed", "region")),
    *(Probe(FAMILY, f"xlsx-invoices-{column}-c1", Expect.REFUSED, xlsx_invoices(column))
      for column in XLSX_TEXT_COLUMNS),
    *(Probe(FAMILY, f"fec-{column}-nul", Expect.REFUSED, fec_invoices(column),
            both_databases=True)
      for column in FEC_TEXT_COLUMNS),
    *(Probe(FAMILY, f"csv-payments-{column}-{label}", Expect.REFUSED,
            csv_payments(column, control), both_databases=True)
      for column in PAYMENT_COLUMNS for label, control in CONTROLS.items()
      if label != "c1"),
    Probe(FAMILY, "cfonb120-label-esc", Expect.NEUTRALISED, statement_text(
        "statement.cfonb120.txt", 2, lambda text: splice(text, 49, "VIR\x1b[2J"))),
    Probe(FAMILY, "cfonb120-reference-nul", Expect.REFUSED, statement_line(
        "statement.cfonb120.txt", 2, lambda text: splice(text, 105, "VIR\x00"),
        ("line 2",))),
    Probe(FAMILY, "cfonb120-complement-c1", Expect.NEUTRALISED, statement_text(
        "statement.cfonb120.txt", 3, lambda text: splice(text, 52, "\x9b"))),
    Probe(FAMILY, "mt940-86-esc", Expect.NEUTRALISED, statement_text(
        "statement.mt940.sta", 8, lambda text: text.replace("REGLEMENT", "REG\x1b[2JLEMENT"))),
    Probe(FAMILY, "mt940-61-end-to-end-nul", Expect.NEUTRALISED, statement_text(
        "statement.mt940.sta", 6, lambda text: text.replace("E2E-LIL", "E2E\x00LIL"))),
    Probe(FAMILY, "mt940-61-bank-reference-esc", Expect.REFUSED, statement_line(
        "statement.mt940.sta", 6, lambda text: text.replace("BNP-000101", "BNP\x1b[2J01"),
        ("line 6",))),
    Probe(FAMILY, "camt053-account-servicer-ref-c1", Expect.REFUSED, statement_line(
        "statement.camt053.xml", 16, lambda text: text.replace("BANK-0101", "BANK\x9b0101"),
        ("entry 1",))),
    Probe(FAMILY, "camt053-ustrd-esc-char-ref", Expect.REFUSED, statement_line(
        "statement.camt053.xml", 20, lambda text: text.replace("Reglement", "Reg&#27;lement"),
        ("not well-formed",))),
    Probe(FAMILY, "camt053-ustrd-raw-c1", Expect.NEUTRALISED, statement_text(
        "statement.camt053.xml", 20, lambda text: text.replace("Reglement", "Reg\x9blement"))),
    Probe(FAMILY, "camt053-end-to-end-raw-nul", Expect.REFUSED, statement_line(
        "statement.camt053.xml", 19, lambda text: text.replace("E2E-LIL", "E2E\x00LIL"),
        ("not well-formed",))),
]
