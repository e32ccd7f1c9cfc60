"""Importing the book: invoice files (CSV/XLSX, canonical format, column mappings).

`import_invoices` is the entry point; the modules each do one step — numbers and dates
read cell text, `reading` streams a file's rows, `columnar` checks a batch of them
column by column, `rows` checks one row (the reference for every refusal), `debtors` merges
what rows say about a debtor, `writing` stores batches (`bulk`: COPY or executemany).
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
