"""Importing payments: CSV and camt.053 statements, idempotent, hostile XML refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from relance.kernel.errors import UsageError
from relance.store.db import Store
from relance.store.importing import ImportRefused, import_invoices, import_payments
from relance.store.models import Creditor, Payment
from tests.importing.conftest import invoices

TODAY = dt.date(2026, 11, 22)
IBAN = "FR7630006000011234567890189"


@pytest.fixture
def book(store: Store, examples_dir: Path) -> Store:
    import_invoices(store, examples_dir / "invoices.csv", today=TODAY)
    with store.transaction() as session:
        session.execute(update(Creditor).values(iban=IBAN))
    return store


def payment_count(store: Store) -> int:
    with store.transaction() as session:
        return session.execute(select(func.count()).select_from(Payment)).scalar_one()


def test_csv_payments_by_invoice_or_debtor_and_again_records_nothing(
        book: Store, tmp_path: Path, examples_dir: Path) -> None:
    path = tmp_path / "payments.csv"
    path.write_text(
        "creditor;invoice_number;debtor_ref;date;amount;currency;reference\n"
        "JCDA;FA-2026-0001;;20/11/2026;500,00;EUR;VIR-881\n"
        "JCDA;;F-0004;2026-11-21;640.00;EUR;VIR-882\n", encoding="utf-8")
    report = import_payments(book, path)
    assert (report.recorded, report.already_imported, report.unmatched) == (2, 0, [])
    assert report.allocated == {"EUR": "1140.00"}
    after = invoices(book)
    assert after["FA-2026-0001"]["balance_minor"] == 75_000
    assert after["FA-2026-0004"]["balance_minor"] == 0
    again = import_payments(book, path)
    assert (again.recorded, again.already_imported) == (0, 2)
    assert payment_count(book) == 2
    # Re-importing the ERP's invoice file (which does not know the payment yet) keeps it.
    reimport = import_invoices(book, examples_dir / "invoices.csv", today=TODAY)
    assert (reimport.updated, reimport.unchanged) == (0, 10)
    assert invoices(book)["FA-2026-0001"]["balance_minor"] == 75_000


def test_a_payment_for_an_unknown_invoice_refuses_the_file(book: Store, tmp_path: Path) -> None:
    path = tmp_path / "payments.csv"
    path.write_text(
        "creditor,invoice_number,date,amount,currency,reference\n"
        "JCDA,FA-2026-0001,2026-11-20,100.00,EUR,A\n"
        "JCDA,FA-9999,2026-11-20,100.00,EUR,B\n"
        "JCDA,FA-2026-0003,2026-11-20,-5,EUR,C\n", encoding="utf-8")
    with pytest.raises(ImportRefused) as refused:
        import_payments(book, path)
    assert refused.value.errors == [
        "payments.csv: row 4, column amount: '-5': a payment is positive"]
    path.write_text(
        "creditor,invoice_number,date,amount,currency,reference\n"
        "JCDA,FA-2026-0001,2026-11-20,100.00,EUR,A\n"
        "JCDA,FA-9999,2026-11-20,100.00,EUR,B\n", encoding="utf-8")
    with pytest.raises(ImportRefused) as refused:
        import_payments(book, path)
    assert refused.value.errors == [
        "payments.csv: row 3, column invoice_number: no invoice 'FA-9999'"]
    assert payment_count(book) == 0
    assert invoices(book)["FA-2026-0001"]["balance_minor"] == 125_000


CAMT = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>STMT-1</MsgId><CreDtTm>2026-11-21T06:00:00</CreDtTm></GrpHdr>
  <Stmt>
   <Id>STMT-2026-11-20</Id>
   <Acct><Id><IBAN>FR76 3000 6000 0112 3456 7890 189</IBAN></Id></Acct>
   <Ntry>
    <Amt Ccy="EUR">2400.50</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
    <BookgDt><Dt>2026-11-20</Dt></BookgDt><AcctSvcrRef>BANK-0001</AcctSvcrRef>
    <NtryDtls><TxDtls>
     <Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
     <RmtInf><Ustrd>Reglement facture FA-2026-0003 Salon Lille</Ustrd></RmtInf>
    </TxDtls></NtryDtls>
   </Ntry>
   <Ntry>
    <Amt Ccy="EUR">77.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
    <BookgDt><Dt>2026-11-20</Dt></BookgDt><AcctSvcrRef>BANK-0002</AcctSvcrRef>
    <NtryDtls><TxDtls><RmtInf><Ustrd>VIREMENT DIVERS</Ustrd></RmtInf></TxDtls></NtryDtls>
   </Ntry>
   <Ntry>
    <Amt Ccy="EUR">35.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
    <BookgDt><Dt>2026-11-20</Dt></BookgDt><AcctSvcrRef>BANK-0003</AcctSvcrRef>
   </Ntry>
   <Ntry>
    <Amt Ccy="EUR">1300.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
    <BookgDt><Dt>2026-11-21</Dt></BookgDt><AcctSvcrRef>BANK-0004</AcctSvcrRef>
    <NtryDtls><TxDtls>
     <RmtInf><Strd><RfrdDocInf><Nb>FA-2026-0006</Nb></RfrdDocInf></Strd></RmtInf>
    </TxDtls></NtryDtls>
   </Ntry>
  </Stmt>
 </BkToCstmrStmt>
</Document>
"""


def test_a_camt053_statement_pays_the_invoices_its_texts_name(
        book: Store, tmp_path: Path) -> None:
    path = tmp_path / "statement.xml"
    path.write_text(CAMT, encoding="utf-8")
    report = import_payments(book, path)
    assert (report.format, report.lines, report.recorded, report.already_imported) == (
        "camt053", 3, 3, 0)
    # The credit that names nothing is kept in suspense for an operator to allocate.
    assert len(report.unmatched) == 1 and "€77.00" in report.unmatched[0]
    assert "in suspense" in report.unmatched[0]
    after = invoices(book)
    assert (after["FA-2026-0003"]["balance_minor"], after["FA-2026-0003"]["status"]) == (
        0, "paid")
    # 1,300.00 paid on a 1,250.00 invoice: the invoice is paid, 50.00 stays on account.
    assert after["FA-2026-0006"]["balance_minor"] == 0
    with book.transaction() as session:
        payments = session.execute(select(Payment).order_by(Payment.id)).scalars().all()
        assert [(p.reference, p.amount_minor, p.source, p.debtor_id is None)
                for p in payments] == [
            ("BANK-0001", 240_050, "camt053", False), ("BANK-0002", 7_700, "camt053", True),
            ("BANK-0004", 130_000, "camt053", False)]
        assert [p.bank_ref for p in payments] == ["BANK-0001", "BANK-0002", "BANK-0004"]
    again = import_payments(book, path)
    assert (again.recorded, again.already_imported) == (0, 3)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Document><BkToCstmrStmt><Stmt><Ntry><Amt Ccy="EUR">1</Amt>
<AddtlNtryInf>&lol3;</AddtlNtryInf></Ntry></Stmt></BkToCstmrStmt></Document>
"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Document><BkToCstmrStmt><Stmt><Ntry><AddtlNtryInf>&secret;</AddtlNtryInf></Ntry>
</Stmt></BkToCstmrStmt></Document>
"""


@pytest.mark.parametrize("hostile", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_hostile_xml_is_refused_before_expansion(
        book: Store, tmp_path: Path, hostile: str) -> None:
    path = tmp_path / "statement.xml"
    path.write_text(hostile, encoding="utf-8")
    with pytest.raises(UsageError, match="refused: the XML declares a DTD or entities"):
        import_payments(book, path)
    assert payment_count(book) == 0
