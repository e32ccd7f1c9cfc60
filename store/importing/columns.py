"""The canonical invoice columns (product.md) and which of them describe the debtor."""

from __future__ import annotations

CANONICAL_COLUMNS = (
    "creditor", "debtor_ref", "debtor_name", "segment", "email", "phone", "country",
    "language", "payment_method", "sales_rep", "invoice_number", "issue_date", "due_date",
    "amount", "currency", "paid_amount",
)
"""The columns of the canonical format, in their documented order."""

OPTIONAL_COLUMNS = (
    "address", "disputed", "promised_until", "paused_until", "tags", "risk",
    "is_consumer", "document_type", "collector",
)
"""Case columns: when a file leaves one out, what relance holds for it is left alone."""

REQUIRED_COLUMNS = (
    "creditor", "debtor_ref", "invoice_number", "issue_date", "due_date", "amount", "currency",
)
"""Without these a row cannot name an invoice; `creditor` may come from the mapping."""

DEBTOR_COLUMNS = (
    "debtor_name", "segment", "email", "phone", "country", "language", "payment_method",
    "sales_rep", "address", "paused_until", "tags", "risk", "is_consumer", "collector",
)
"""Columns that describe the debtor: repeated on its rows, the last non-empty value wins."""

CUSTOM_PREFIX = "attr."

MULTILINE_COLUMNS = frozenset({"address", "disputed"})
"""Free text that may run over several lines (an address, a dispute's reason), as custom
columns may; every other column is one line, and a line break in it is refused."""

NOT_DISPUTED = frozenset({"", "no", "0", "false", "non"})
YES = frozenset({"yes", "oui", "1", "true", "vrai", "y", "o"})
NO = frozenset({"no", "non", "0", "false", "faux", "n", ""})
CREDIT_NOTE = frozenset({"credit_note", "credit note", "avoir"})
INVOICE = frozenset({"", "invoice", "facture"})
