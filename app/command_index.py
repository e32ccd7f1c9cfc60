"""Which module holds each command of `relance`, and the line `relance --help` shows for it.

The command line loads a command's module only when that command runs (`relance.cli`),
so that `relance --help` and a mistyped command answer without importing the database
layer, the desk or the PDF renderer. The listing therefore reads its lines from here,
and each module registers its commands with these same lines (`command_help`), so that
a command's summary is written once.
"""

from __future__ import annotations

from typing import NamedTuple

from relance.kernel.i18n import N_, _


class Entry(NamedTuple):  # not a dataclass: `relance --help` does without that import
    module: str  # under relance.commands
    help: str  # untranslated: `command_help` translates it when it is shown


# In the order `relance --help` lists them.
COMMANDS: dict[str, Entry] = {
    # relance.commands.workspace_cmd
    "init": Entry("workspace_cmd", N_(
        "Create a workspace: relance.toml, rules/, templates/.")),
    # relance.commands.casework_cmd
    "pay": Entry("casework_cmd", N_(
        "Record a payment on one invoice (its balance and status follow); "
        "more than it owes is recorded whole, the surplus on the debtor's "
        "account.")),
    # relance.commands.queue_cmd
    "queue": Entry("queue_cmd", N_(
        "The queued actions with their invoices as they are now. Changes "
        "nothing.")),
    "approve": Entry("queue_cmd", N_(
        "Approve actions (escalations: credit managers, four eyes). Sends "
        "nothing: `relance dispatch` does. Exit 1 when some changed meanwhile"
        " and were left.")),
    "reject": Entry("queue_cmd", N_(
        "Reject actions with a reason: proposed ones, or approved ones not "
        "yet sent. Exit 1 when some changed meanwhile and were left.")),
    # relance.commands.case_cmd
    "pause": Entry("case_cmd", N_(
        "Pause every reminder to a debtor up to and including a day.")),
    "resume": Entry("case_cmd", N_(
        "End a debtor's pause now: the next run chases it again.")),
    "dispute": Entry("case_cmd", N_(
        "Open a dispute on invoices (reminders about them stop), or close it "
        "(--close).")),
    "promise": Entry("case_cmd", N_(
        "Record a promise to pay by a day: reminders wait until then.")),
    "note": Entry("case_cmd", N_(
        "Add a free-text note to a debtor's case.")),
    "history": Entry("case_cmd", N_(
        "A debtor's events, newest first, with the ids `relance undo` takes.")),
    "undo": Entry("case_cmd", N_(
        "Undo a change (payment, credit note, allocation, pause, resume, "
        "dispute, promise, plan, note) by its opposite; the history keeps "
        "both.")),
    # relance.commands.book_cmd
    "credit-note": Entry("book_cmd", N_(
        "Record a credit note granted on an invoice: its balance goes down.")),
    "reverse": Entry("book_cmd", N_(
        "Take a payment back: its invoices reopen and are chased again.")),
    "allocate": Entry("book_cmd", N_(
        "Allocate what a payment left unallocated (suspense, or a credit on "
        "account).")),
    "payments": Entry("book_cmd", N_(
        "Payments received, newest first (ids for reverse and allocate).")),
    # relance.commands.plan_cmd
    "plan": Entry("plan_cmd", N_(
        "Payment plans: instalments agreed with a debtor.")),
    # relance.commands.request_cmd
    "request": Entry("request_cmd", N_(
        "What debtors asked on their page: payments declared, plans asked for; "
        "accept or refuse each.")),
    # relance.commands.tui_cmd
    "tui": Entry("tui_cmd", N_(
        "Open the operators' desk: queue, escalations, calls, cases, "
        "dashboard.")),
    # relance.commands.import_cmd
    "import": Entry("import_cmd", N_(
        "Load invoices (CSV, XLSX, FEC) and payments (CSV, camt.053, CFONB "
        "120, MT940).")),
    # relance.commands.report_cmd
    "report": Entry("report_cmd", N_(
        "Reports on the book: aged balance, account statements, customer "
        "ledger.")),
    # relance.commands.demo_cmd
    "demo": Entry("demo_cmd", N_(
        "Build a demo workspace with a realistic portfolio and show its aged "
        "balance.")),
    # relance.commands.serve_cmd
    "serve": Entry("serve_cmd", N_(
        "Run the scheduler: the daily run on business days, dispatch in "
        "sending hours, the letter batch and the morning summary; once each, "
        "on one machine or several.")),
    # relance.commands.lang_cmd
    "check": Entry("lang_cmd", N_(
        "Check rule files: syntax, fields, types, templates, references, dead"
        " rules.")),
    "fmt": Entry("lang_cmd", N_(
        "Rewrite rule files in the canonical layout (comments kept, meaning "
        "unchanged).")),
    # relance.commands.dispatch_cmd
    "dispatch": Entry("dispatch_cmd", N_(
        "Send the approved letters, e-mails, SMS and internal alerts. Exits 1"
        " when actions are left failed, uncertain or waiting to retry (a dry "
        "run: when some would fail), saying how many and what to do.")),
    "preview": Entry("dispatch_cmd", N_(
        "Render one action into outbox/preview/ without sending it.")),
    "outcome": Entry("dispatch_cmd", N_(
        "Settle an uncertain send: confirm it went out, or send it again.")),
    # relance.commands.uncertain_cmd
    "uncertain": Entry("uncertain_cmd", N_(
        "List the sends in doubt, with what is known of each.")),
    "confirm": Entry("uncertain_cmd", N_(
        "Confirm that an uncertain send did go out: it is recorded as sent.")),
    "resend": Entry("uncertain_cmd", N_(
        "Send an uncertain or failed action again: it goes back in the queue.")),
    # relance.commands.batches_cmd
    "batches": Entry("batches_cmd", N_(
        "List the print batches (file, day, letters, pages) and the sent "
        "letters in none.")),
    # relance.commands.engine_cmd
    "run": Entry("engine_cmd", N_(
        "Evaluate the policies as of a day and queue the actions (once per "
        "day).")),
    "explain": Entry("engine_cmd", N_(
        "Why each rule acts on an invoice or not, with every value read.")),
    "simulate": Entry("engine_cmd", N_(
        "What the rules will queue day by day if nobody pays (writes "
        "nothing).")),
    # relance.commands.audit_cmd
    "audit": Entry("audit_cmd", N_(
        "The audit trail: an action's story (relance audit ACTION), the log's chain "
        "verified, a signed export of a debtor's or a period's events and its check.")),
    # relance.commands.ruletest_cmd
    "test": Entry("ruletest_cmd", N_(
        "Run the rule tests (`*.rules.test`): given a book and dates, the "
        "expected actions.")),
    # relance.commands.diff_cmd
    "diff": Entry("diff_cmd", N_(
        "Compare two versions of the rules: their text rule by rule, and what "
        "each would send over the same book and days (writes nothing).")),
    # relance.commands.db_cmd
    "db": Entry("db_cmd", N_(
        "The database's schema: where it stands, and upgrading it.")),
    # relance.commands.creditor_cmd
    "creditor": Entry("creditor_cmd", N_(
        "Creditors: the companies whose invoices are chased, their identity "
        "and sending details.")),
    # relance.commands.mandate_cmd
    "mandate": Entry("mandate_cmd", N_(
        "The collection firm's mandates, one creditor's at a time.")),
    "agency": Entry("mandate_cmd", N_(
        "The collection firm that runs this workspace.")),
    # relance.commands.funds_cmd
    "remit": Entry("funds_cmd", N_(
        "Remit to a creditor the funds collected for it up to a day: "
        "statement (collected, fees, net to pay) and entries marked remitted,"
        " once.")),
    "funds": Entry("funds_cmd", N_(
        "The client-funds ledger: entries, what is pending and what is "
        "overdue.")),
    # relance.commands.portfolio_cmd
    "portfolio": Entry("portfolio_cmd", N_(
        "Collectors' portfolios: the debtors each user works first.")),
    # relance.commands.intake_cmd
    "intake": Entry("intake_cmd", N_(
        "The intake folders: files creditors drop are imported by themselves.")),
    # relance.commands.web_cmd
    "web": Entry("web_cmd", N_(
        "The debtor's page behind the personal link of each message: serve it, "
        "issue or revoke links.")),
    # relance.commands.server_cmd
    "server": Entry("server_cmd", N_(
        "Keep relance's imports ready in a resident process, so that each command "
        "starts at once: start, stop, status.")),
    # relance.commands.portal_cmd
    "portal-link": Entry("portal_cmd", N_(
        "Print a one-time sign-in link to the web portal for a person listed in "
        "relance.toml (credit managers; before e-mail is set up).")),
}


def command_help(name: str) -> str:
    """The translated summary of command `name`, for its module's registration."""
    return _(COMMANDS[name].help)


def modules() -> list[str]:
    """The command modules, each once, in the listing's order."""
    return list(dict.fromkeys(entry.module for entry in COMMANDS.values()))
