"""The aged balance, the account statement and the sub-ledger laid out as sheets, with
their headings in the language spoken; the CSV and XLSX writers take these as they are.

The balance brought forward opens an account as a debit (or a credit) of its own, as
in a French ledger (« solde antérieur »): an account's debits less its credits, that
line included, are its closing balance, which its total line repeats.
"""

from __future__ import annotations

from relance.channels.reports.labels import kind_title, movement_label
from relance.channels.reports.sheet import Column, Kind, Sheet, SumIf
from relance.engine.aging import BUCKET_TITLES, AgedBalance
from relance.engine.aging_display import aged_title, grouping_title, line_name
from relance.engine.statement import Statement
from relance.engine.subledger import LedgerLine, SubLedger
from relance.kernel.display import show_date
from relance.kernel.i18n import _


def aged_sheet(report: AgedBalance) -> Sheet:
    """One row per group and currency, then a total per currency."""
    sheet = Sheet(aged_title(report), (
        Column(grouping_title(report.by)), Column(_("name")), Column(_("currency")),
        *(Column(_(title), Kind.AMOUNT) for title in BUCKET_TITLES),
        Column(_("total"), Kind.AMOUNT), Column(_("invoices"), Kind.COUNT)))
    rows: dict[str, list[int]] = {}
    for line in report.lines:
        key, label = line_name(line)
        rows.setdefault(line.currency, []).append(sheet.add(
            key, label, line.currency, *line.buckets, line.total, line.invoices,
            currency=line.currency))
    for total in report.totals:
        sheet.add_total(_("total"), "", total.currency, *total.buckets, total.total,
                        total.invoices, currency=total.currency,
                        sums=rows.get(total.currency, []))
    return sheet


def _opening(balance: int) -> tuple[int | None, int | None]:
    """(debit, credit) of a balance brought forward."""
    return (balance, None) if balance >= 0 else (None, -balance)


def _amount(minor: int) -> int | None:
    return minor or None


def statement_sheet(statement: Statement) -> Sheet:
    party = statement.party
    sheet = Sheet(_("Statement {ref}").format(ref=party.ref), (
        Column(_("date"), Kind.DAY), Column(_("piece")), Column(_("type")),
        Column(_("label")), Column(_("due date"), Kind.DAY), Column(_("currency")),
        Column(_("debit"), Kind.AMOUNT), Column(_("credit"), Kind.AMOUNT),
        Column(_("balance"), Kind.AMOUNT, summed=False)))
    for section in statement.sections:
        currency = section.currency
        debit, credit = _opening(section.brought_forward)
        rows = [sheet.add(statement.since, "", "",
                          _("Balance brought forward"), None, currency, debit, credit,
                          section.brought_forward, currency=currency)]
        for line in section.lines:
            movement = line.movement
            rows.append(sheet.add(
                movement.day, movement.piece, kind_title(movement.kind),
                movement_label(movement), movement.due, currency, _amount(movement.debit),
                _amount(movement.credit), line.balance, currency=currency))
        sheet.add_total(
            statement.on, "", "", _("Balance due on {day}").format(day=show_date(
                statement.on)), None, currency,
            (debit or 0) + section.debit, (credit or 0) + section.credit,
            section.balance, currency=currency, sums=rows)
    return sheet


def _ledger_row(sheet: Sheet, head: tuple[str, str, str, str], line: LedgerLine) -> int:
    movement = line.movement
    lettering = movement.invoice_number if movement.allocated else ", ".join(movement.matched)
    return sheet.add(
        *head, movement.day, movement.piece, kind_title(movement.kind),
        movement_label(movement), movement.due, _amount(movement.debit),
        _amount(movement.credit), line.balance, _amount(movement.allocated), lettering,
        currency=movement.currency)


def ledger_sheet(ledger: SubLedger) -> Sheet:
    """Per debtor and currency: the balance brought forward, every movement of the
    period, the account's total; then a grand total per currency."""
    total_type, grand_type = _("Total"), _("Grand total")
    sheet = Sheet(_("Customer ledger"), (
        Column(_("creditor")), Column(_("account")), Column(_("name")),
        Column(_("currency")), Column(_("date"), Kind.DAY), Column(_("piece")),
        Column(_("type")), Column(_("label")), Column(_("due date"), Kind.DAY),
        Column(_("debit"), Kind.AMOUNT), Column(_("credit"), Kind.AMOUNT),
        Column(_("balance"), Kind.AMOUNT, summed=False),
        Column(_("allocated"), Kind.AMOUNT, summed=False), Column(_("lettering"))))
    opening_type = _("Opening")
    # currency -> (debits, credits) of the accounts' total lines, which the grand
    # total adds up (an opening debit of one account and credit of another stay apart)
    grand: dict[str, tuple[int, int]] = {}
    for account in ledger.accounts:
        party = account.party
        head = (party.creditor_code, party.ref, party.name, account.currency)
        debit, credit = _opening(account.opening)
        rows = [sheet.add(*head, ledger.start, "", opening_type,
                          _("Balance brought forward"), None, debit, credit,
                          account.opening, None, "", currency=account.currency)]
        rows += [_ledger_row(sheet, head, line) for line in account.lines]
        debits = (debit or 0) + account.debit
        credits = (credit or 0) + account.credit
        sheet.add_total(*head, ledger.end, "", total_type,
                        _("Total of account {ref}").format(ref=party.ref), None,
                        debits, credits, account.closing, None, "",
                        currency=account.currency, sums=rows)
        before = grand.get(account.currency, (0, 0))
        grand[account.currency] = (before[0] + debits, before[1] + credits)
    for total in ledger.totals:
        debits, credits = grand[total.currency]
        sheet.add_total(
            "", "", "", total.currency, ledger.end, "", grand_type,
            _("All accounts in {currency}").format(currency=total.currency), None,
            debits, credits, total.closing, None, "", currency=total.currency,
            sums=SumIf(((6, total_type), (3, total.currency))))
    return sheet
