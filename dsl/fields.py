"""The fields a condition may read, with their types: the whitelist the checker and the
SQL compiler share. No other name ever reaches a query."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class FieldType(enum.StrEnum):
    DURATION = "duration"  # compared with `15d`, `2w`, `10bd`
    MONEY = "money"  # compared with `500 EUR`
    NUMBER = "number"
    DATE = "date"
    TEXT = "text"  # exact, quoted
    ENUM = "enum"  # bare word or quoted, case-insensitive
    FLAG = "flag"  # true/false, used bare (`paused`) or compared with true/false
    TAGS = "tags"  # a set of words: `'vip' in tags`


class Entity(enum.StrEnum):
    INVOICE = "invoice"
    DEBTOR = "debtor"
    CREDITOR = "creditor"
    HISTORY = "history"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: FieldType
    entity: Entity
    doc: str
    # Known values of an enum field, for "did you mean"; empty: open-ended.
    values: tuple[str, ...] = ()


_SPECS = [
    FieldSpec("overdue", FieldType.DURATION, Entity.INVOICE,
              "days past the due date (negative before it)"),
    FieldSpec("due_in", FieldType.DURATION, Entity.INVOICE,
              "days until the due date (negative once past it)"),
    FieldSpec("age", FieldType.DURATION, Entity.INVOICE, "days since the issue date"),
    FieldSpec("amount", FieldType.MONEY, Entity.INVOICE, "the invoice's amount incl. VAT"),
    FieldSpec("balance", FieldType.MONEY, Entity.INVOICE, "what is still open on the invoice"),
    FieldSpec("currency", FieldType.ENUM, Entity.INVOICE, "the invoice's currency code"),
    FieldSpec("issue_date", FieldType.DATE, Entity.INVOICE, "the invoice's date"),
    FieldSpec("due_date", FieldType.DATE, Entity.INVOICE, "the due date"),
    FieldSpec("disputed", FieldType.FLAG, Entity.INVOICE, "a dispute is open on the invoice"),
    FieldSpec("promised", FieldType.FLAG, Entity.INVOICE,
              "an open promise to pay covers the invoice and its date is not past"),
    FieldSpec("promise_broken", FieldType.FLAG, Entity.INVOICE,
              "the last promise's date has passed and the invoice is still open"),
    FieldSpec("in_plan", FieldType.FLAG, Entity.INVOICE,
              "the invoice is in an active payment plan"),
    FieldSpec("plan_broken", FieldType.FLAG, Entity.INVOICE,
              "the invoice is in a broken payment plan and in no active one"),
    FieldSpec("instalment_overdue", FieldType.DURATION, Entity.INVOICE,
              "days past the due date of the earliest unpaid instalment of an active or "
              "broken plan holding the invoice (0 without one)"),
    FieldSpec("stage", FieldType.ENUM, Entity.INVOICE, "the case stage",
              ("reminder", "amicable", "litigation")),
    FieldSpec("reminders_sent", FieldType.NUMBER, Entity.HISTORY,
              "outbound actions on the invoice, all policies, not rejected/cancelled/failed"),
    FieldSpec("last_action", FieldType.DURATION, Entity.HISTORY,
              "time since the latest outbound action on the invoice"),
    FieldSpec("segment", FieldType.ENUM, Entity.DEBTOR, "the debtor's customer segment"),
    FieldSpec("country", FieldType.ENUM, Entity.DEBTOR, "the debtor's country (ISO code)"),
    FieldSpec("payment_method", FieldType.ENUM, Entity.DEBTOR, "how the debtor pays"),
    FieldSpec("language", FieldType.ENUM, Entity.DEBTOR, "the debtor's language"),
    FieldSpec("tags", FieldType.TAGS, Entity.DEBTOR, "the debtor's tags"),
    FieldSpec("paused", FieldType.FLAG, Entity.DEBTOR, "dunning of the debtor is paused"),
    FieldSpec("portal_visited", FieldType.FLAG, Entity.DEBTOR,
              "one of the debtor's personal links was opened in the 30 days before the "
              "run date (its first opening before that date, its latest within them)"),
    FieldSpec("risk", FieldType.NUMBER, Entity.DEBTOR, "the debtor's risk score, 0 to 100"),
    FieldSpec("debtor_balance", FieldType.MONEY, Entity.DEBTOR,
              "open balance of the debtor's invoices in the invoice's currency"),
    FieldSpec("debtor_overdue", FieldType.MONEY, Entity.DEBTOR,
              "the same, over invoices at least 1 day overdue"),
    FieldSpec("sales_rep", FieldType.ENUM, Entity.DEBTOR, "the debtor's sales rep"),
    FieldSpec("promises_broken", FieldType.NUMBER, Entity.DEBTOR,
              "the debtor's promises to pay broken in the 365 days before the run date"),
    FieldSpec("creditor", FieldType.ENUM, Entity.CREDITOR, "the creditor's code"),
    # The payer profile, recomputed by each run from the 365 days before its date.
    FieldSpec("days_late_avg", FieldType.NUMBER, Entity.DEBTOR,
              "days from due date to payment, weighted by the amounts paid (early: 0), "
              "last 12 months, to 2 decimals; none without a payment"),
    FieldSpec("paid_after_reminders", FieldType.NUMBER, Entity.DEBTOR,
              "mean letters/e-mails/SMS sent before an invoice was paid, invoices paid in "
              "the last 12 months, to 2 decimals; none without one"),
    FieldSpec("promises_kept_ratio", FieldType.NUMBER, Entity.DEBTOR,
              "kept / (kept + broken) of the promises due in the last 12 months, 0 to 1, "
              "to 2 decimals; none without one"),
    FieldSpec("disputes_12m", FieldType.NUMBER, Entity.DEBTOR,
              "disputes opened on the debtor's invoices in the last 12 months"),
    FieldSpec("payer_class", FieldType.ENUM, Entity.DEBTOR,
              "by the [payer] thresholds of relance.toml; new: no payment nor promise to "
              "judge by",
              ("good", "slow", "bad", "new")),
]

FIELDS: dict[str, FieldSpec] = {spec.name: spec for spec in _SPECS}

CUSTOM_PREFIX = "attr."


def lookup(name: str) -> FieldSpec | None:
    """The spec of a field; custom `attr.NAME` fields are text."""
    if name.startswith(CUSTOM_PREFIX) and len(name) > len(CUSTOM_PREFIX):
        return FieldSpec(name, FieldType.TEXT, Entity.INVOICE, "a custom column from imports")
    return FIELDS.get(name)
