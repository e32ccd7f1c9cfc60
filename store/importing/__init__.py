"""Importing the book: invoice files (CSV/XLSX, canonical format, column mappings).

`import_invoices` is the entry point; the modules each do one step — numbers and dates
read cell text, `reading` streams a file's rows, `rows` checks one row, `debtors` merges
what rows say about a debtor, `writing` stores batches with SQLAlchemy Core.
`import_payments` records payments from CSV files and camt.053 statements (`camt`).
"""

from relance.store.importing.invoices import (
    ImportRefused,
    ImportReport,
    import_invoices,
    import_source,
)
from relance.store.importing.mapping import Mapping, load_mapping
from relance.store.importing.payments import PaymentReport, import_payments

__all__ = [
    "ImportRefused",
    "ImportReport",
    "Mapping",
    "PaymentReport",
    "import_invoices",
    "import_payments",
    "import_source",
    "load_mapping",
]
