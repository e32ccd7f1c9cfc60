"""The sentences of the page templates (`web/templates/*.html`), marked here for the
catalogs, which read Python files only. `tests/web/test_page_words.py` holds every
`_("...")` of the templates to a sentence marked in `relance.web`'s modules.
"""

from __future__ import annotations

from relance.kernel.i18n import N_

DEBTOR_PAGE_SENTENCES = (
    N_("Your account with {creditor}"),
    N_("Hello {name},"),
    N_("here is what remains to be paid on your account {ref}, as of {day}."),
    N_("Amount due"),
    N_("Open invoices"),
    N_("Invoice"),
    N_("Due date"),
    N_("Amount"),
    N_("Paid"),
    N_("Balance"),
    N_("Days late"),
    N_("Late-payment interest"),
    N_("Recovery indemnity"),
    N_("disputed"),
    N_("issued {day}"),
    N_("Invoices still due"),
    N_("Recovery indemnities"),
    N_("Total"),
    N_("As on our letters: late-payment interest (French Commercial Code, article L441-10) "
       "and a fixed recovery indemnity of {amount} per late invoice (article D441-5)."),
    N_("Pay by bank transfer"),
    N_("Beneficiary"),
    N_("on behalf of {creditor}"),
    N_("IBAN"),
    N_("BIC"),
    N_("Reference to quote"),
    N_("Scan this code with your banking app: it fills in the transfer for you."),
    N_("Nothing is due"),
    N_("You owe nothing at the moment. Thank you."),
    N_("Your letters"),
    N_("Letter of {day} (PDF)"),
    N_("No letter has been sent to you by post."),
    N_("This page is personal: do not share its address."),
)
