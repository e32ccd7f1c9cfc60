"""Hostile files: odd encodings, oversized and malformed files of every import format,
XML attacks on camt.053, and paths that try to leave their folder."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from relance.store.models import Debtor
from tests.hostile.bench import Bench, listening
from tests.hostile.probe import Expect, Probe
from tests.importing.conftest import row
from tests.importing.test_fec import FEC, MAPPING_FILE, fixture_rows, write_fec
from tests.importing.test_xlsx_limits import bomb

CORPUS = Path(__file__).resolve().parent / "corpus"
BANK = Path(__file__).resolve().parents[1] / "data" / "bank"
NAME = "Café Zoé Œuvre"


def csv_text(rows: list[dict[str, str]], newline: str = "\r\n") -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator=newline)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def debtor_names(bench: Bench) -> set[str]:
    with bench.store.transaction() as session:
        return set(session.scalars(select(Debtor.name)))


def refused_bytes(file_name: str, data: bytes | Callable[[Path], None], *names: str,
                  command: str = "invoices", extra: tuple[str, ...] = ()
                  ) -> Callable[[Bench], None]:
    """A file of these bytes (or built by the callable) is refused, naming what is given."""
    def check(bench: Bench) -> None:
        path = bench.root / file_name
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            data(path)
        bench.refused("import", command, str(path), *extra, names=(file_name, *names))
    return check


def decoded(file_name: str, encoding: str, *, declared: bool,
            newline: str = "\r\n") -> Callable[[Bench], None]:
    """An invoice file in another encoding, declared in a mapping (or carrying its BOM):
    read as the text it is, the name stored as typed."""
    def check(bench: Bench) -> None:
        path = bench.root / file_name
        rows = [row("ENC-1", ref="ENC-D", name=NAME), row("ENC-2", ref="ENC-D", name=NAME)]
        path.write_bytes(csv_text(rows, newline).encode(encoding))
        extra: tuple[str, ...] = ()
        if declared:
            mapping = bench.root / "map.toml"
            mapping.write_text(f'encoding = "{encoding}"\n', encoding="utf-8")
            extra = ("--mapping", str(mapping))
        outcome = bench.accepted_clean("import", "invoices", str(path), *extra)
        assert "2 created" in outcome.out
        assert NAME in debtor_names(bench)
    return check


def one_huge_cell(path: Path) -> None:
    path.write_text(csv_text([row("BIG-1", name="A" * 3_000_000)]), encoding="utf-8")


def a_million_columns(path: Path) -> None:
    columns = [f"c{number}" for number in range(1_000_000)]
    path.write_text(",".join(columns) + "\n" + ",".join("x" for _ in columns) + "\n",
                    encoding="utf-8")


def zip_bomb(path: Path) -> None:
    bomb(path, 20)


def bank_file(source: str, edit: Callable[[str], str]) -> bytes:
    return edit((BANK / source).read_bytes().decode("utf-8")).encode("utf-8")


def corpus_statement(file_name: str, *names: str, fetches: bool = False
                     ) -> Callable[[Bench], None]:
    """A camt.053 attack from the corpus folder, `{listener}` replaced by the URL of a
    loopback listener that must receive no connection."""
    def check(bench: Bench) -> None:
        with listening() as listener:
            text = (CORPUS / file_name).read_text(encoding="utf-8")
            path = bench.root / file_name
            path.write_text(text.replace("{listener}", listener.url), encoding="utf-8")
            if names:
                outcome = bench.refused("import", "payments", str(path),
                                        names=(file_name, *names))
            else:
                outcome = bench.accepted_clean("import", "payments", str(path))
        assert listener.connections == 0, "the import fetched a URL named in the file"
        assert "root:" not in outcome.text  # nothing of /etc/passwd is echoed
    return check


def fec_rows(edit: Callable[[list[list[str]]], None]) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        rows = fixture_rows()
        edit(rows)
        write_fec(path, rows)
    return build


def creditor_code(code: str) -> Callable[[Bench], None]:
    def check(bench: Bench) -> None:
        path = bench.root / "invoices.csv"
        path.write_text(csv_text([row("TR-1", ref="TR-D", creditor=code)]), encoding="utf-8")
        bench.refused("import", "invoices", str(path),
                      names=("invoices.csv: refused", "row 2", "column creditor",
                             "is not a creditor code"))
    return check


def mapping_default_creditor(code: str) -> Callable[[Bench], None]:
    def check(bench: Bench) -> None:
        mapping = bench.root / "map.toml"
        mapping.write_text(f"default_creditor = {code!r}\n", encoding="utf-8")
        rows = [{k: v for k, v in row("TR-1").items() if k != "creditor"}]
        path = bench.root / "invoices.csv"
        path.write_text(csv_text(rows), encoding="utf-8")
        bench.refused("import", "invoices", str(path), "--mapping", str(mapping),
                      names=("map.toml", "default_creditor", "is not a creditor code"))
    return check


def drop_last_column(rows: list[list[str]]) -> None:
    for cells in rows:
        cells.pop()


def cfonb_line(number: int, edit: Callable[[str], str]) -> Callable[[str], str]:
    def change(text: str) -> str:
        lines = text.split("\r\n")
        lines[number - 1] = edit(lines[number - 1])
        return "\r\n".join(lines)
    return change


UTF8 = csv_text([row("ENC-1", ref="ENC-D", name=NAME)])
ENC, MAL, XML, TRAV = "encodings", "malformed-and-oversized", "xml-attacks", "path-traversal"

PROBES: list[Probe] = [
    Probe(ENC, "utf16-bom-undeclared", Expect.REFUSED, refused_bytes(
        "u16.csv", UTF8.encode("utf-16"), "row 1", "encoding")),
    # The row named is the one holding the first byte not in the encoding: the name on
    # row 2; in UTF-16 without a BOM, the lone CR of the header's line end ends row 1
    # and its NUL and LF make row 2 (each NUL is valid UTF-8); in the bytes 0 to 255, LF
    # and CR end rows 1 and 2 before the first byte over 127.
    Probe(ENC, "latin1-undeclared", Expect.REFUSED, refused_bytes(
        "latin1.csv", UTF8.encode("latin-1", errors="replace"), "row 2", "encoding")),
    Probe(ENC, "invalid-utf8", Expect.REFUSED, refused_bytes(
        "bad.csv", UTF8.encode("utf-8").replace(b"Zo\xc3\xa9", b"Zo\xff\xfe"), "row 2",
        "encoding")),
    Probe(ENC, "utf16le-without-bom", Expect.REFUSED, refused_bytes(
        "u16le.csv", UTF8.encode("utf-16-le"), "row 3", "encoding")),
    Probe(ENC, "binary-garbage", Expect.REFUSED, refused_bytes(
        "garbage.csv", bytes(range(256)) * 16, "row 3")),
    Probe(ENC, "utf16-declared", Expect.NEUTRALISED, decoded("u16.csv", "utf-16",
                                                             declared=True)),
    Probe(ENC, "latin9-declared", Expect.NEUTRALISED, decoded("latin.csv", "iso-8859-15",
                                                              declared=True)),
    Probe(ENC, "utf8-bom", Expect.NEUTRALISED, decoded("bom.csv", "utf-8-sig",
                                                       declared=False)),
    Probe(ENC, "bare-cr-line-ends", Expect.NEUTRALISED, decoded("cr.csv", "utf-8",
                                                                declared=False, newline="\r")),
    Probe(ENC, "lf-line-ends", Expect.NEUTRALISED, decoded("lf.csv", "utf-8", declared=False,
                                                           newline="\n")),
    Probe(MAL, "csv-empty", Expect.REFUSED, refused_bytes("empty.csv", b"", "empty")),
    Probe(MAL, "csv-header-only", Expect.REFUSED, refused_bytes(
        "header.csv", b"creditor,debtor_ref\n", "row 1", "missing from the header")),
    Probe(MAL, "csv-huge-cell", Expect.REFUSED, refused_bytes(
        "huge.csv", one_huge_cell, "row 2", "field limit")),
    Probe(MAL, "csv-million-columns", Expect.REFUSED, refused_bytes(
        "wide.csv", a_million_columns, "row 1", "missing from the header")),
    Probe(MAL, "csv-unclosed-quote", Expect.REFUSED, refused_bytes(
        "quote.csv", UTF8.replace(f",{NAME},", f',"{NAME},').encode(), "row")),
    Probe(MAL, "xlsx-zip-bomb", Expect.REFUSED, refused_bytes(
        "bomb.xlsx", zip_bomb, "zip bomb")),
    Probe(MAL, "xlsx-not-a-zip", Expect.REFUSED, refused_bytes(
        "fake.xlsx", b"PK\x03\x04 truncated", "not a readable XLSX workbook")),
    Probe(MAL, "fec-wrong-column-count", Expect.REFUSED, refused_bytes(
        FEC.name, fec_rows(lambda rows: rows[3].append("extra")), "row 4",
        "has 19 cells but the header has 18 columns", extra=("--mapping", str(MAPPING_FILE)))),
    Probe(MAL, "fec-missing-column", Expect.REFUSED, refused_bytes(
        FEC.name, fec_rows(drop_last_column), "row 1",
        "Idevise", extra=("--mapping", str(MAPPING_FILE)))),
    Probe(MAL, "cfonb120-short-record", Expect.REFUSED, refused_bytes(
        "statement.cfonb120.txt", bank_file("statement.cfonb120.txt",
                                            cfonb_line(2, lambda line: line[:90])),
        "line 2", command="payments")),
    Probe(MAL, "cfonb120-long-record", Expect.REFUSED, refused_bytes(
        "statement.cfonb120.txt", bank_file("statement.cfonb120.txt",
                                            cfonb_line(2, lambda line: line + "X" * 40)),
        "line 2", command="payments")),
    Probe(MAL, "cfonb120-huge-line", Expect.REFUSED, refused_bytes(
        "statement.cfonb120.txt", bank_file("statement.cfonb120.txt",
                                            cfonb_line(4, lambda line: line * 20_000)),
        "line 4", command="payments")),
    Probe(MAL, "cfonb120-bad-amount", Expect.REFUSED, refused_bytes(
        "statement.cfonb120.txt", bank_file(
            "statement.cfonb120.txt",
            cfonb_line(2, lambda line: line[:90] + "00000000ZZ005{" + line[104:])),
        "line 2", "amount", command="payments")),
    Probe(MAL, "mt940-broken-61", Expect.REFUSED, refused_bytes(
        "statement.mt940.sta", bank_file("statement.mt940.sta", lambda text: text.replace(
            ":61:2611201120C2400,50", ":61:26XX201120C2400,50")), "line 6",
        command="payments")),
    Probe(MAL, "mt940-unknown-sign", Expect.REFUSED, refused_bytes(
        "statement.mt940.sta", bank_file("statement.mt940.sta", lambda text: text.replace(
            "1120C2400,50", "1120Q2400,50")), "line 6", command="payments")),
    Probe(MAL, "mt940-letters-in-amount", Expect.REFUSED, refused_bytes(
        "statement.mt940.sta", bank_file("statement.mt940.sta", lambda text: text.replace(
            "1120C2400,50", "1120C24OO,50")), "line 6", command="payments")),
    Probe(MAL, "camt053-truncated", Expect.REFUSED, refused_bytes(
        "statement.camt053.xml", (BANK / "statement.camt053.xml").read_bytes()[:900],
        "not well-formed", command="payments")),
    Probe(MAL, "camt053-deep-nesting", Expect.REFUSED, refused_bytes(
        "deep.xml", b"<?xml version='1.0'?>" + b"<a>" * 100_000 + b"</a>" * 100_000,
        "deep.xml", command="payments")),
    Probe(XML, "camt053-billion-laughs", Expect.REFUSED,
          corpus_statement("camt053-billion-laughs.xml", "entit")),
    Probe(XML, "camt053-xxe-file", Expect.REFUSED,
          corpus_statement("camt053-xxe-file.xml", "entit")),
    Probe(XML, "camt053-xxe-http", Expect.REFUSED,
          corpus_statement("camt053-xxe-http.xml", "entit")),
    Probe(XML, "camt053-external-dtd", Expect.REFUSED,
          corpus_statement("camt053-dtd-external.xml", "DTD")),
    Probe(XML, "camt053-xinclude", Expect.NEUTRALISED, corpus_statement("camt053-xinclude.xml")),
    *(Probe(TRAV, f"creditor-column-{label}", Expect.REFUSED, creditor_code(code))
      for label, code in (("dotdot", "../outbox"), ("absolute", "/etc"),
                          ("backslash", "..\\..\\x"), ("dot", "."), ("encoded", "%2e%2e"))),
    *(Probe(TRAV, f"mapping-default-creditor-{label}", Expect.REFUSED,
            mapping_default_creditor(code))
      for label, code in (("dotdot", "../../templates"), ("absolute", "/tmp/x"))),
]
