"""The operators' changes to cases, as plain operations on a session (no UI): the one
place the command line, the TUI and the scheduler take them from.

Each operation checks the actor's role, changes the store and appends its audit event in
the caller's transaction; the caller commits (`store.write_transaction()`), so a change
and its event land together or not at all. Concurrency is optimistic (`Seen`,
`Conflict`): nothing another operator changed meanwhile is overwritten.

The work lives in modules of one job each:
- `case_locking`: the rows a change locks, what the operator saw, conflicts, audit events;
- `queue_decisions`: approving and rejecting queued actions, escalations (four eyes);
- `case_holds`: pauses, disputes, promises, notes, a level started again;
- `case_payments`: payments, credit notes, reversals, allocations;
- `call_outcomes`: what came of a call task;
- `typed_input` and `relance.kernel.dates`: amounts and days typed by a person.
"""

from __future__ import annotations

from relance.engine.call_outcomes import (
    PAID_ALREADY_CHECK_DAYS,
    CallOutcome,
    call_due_before,
    record_call_outcome,
)
from relance.engine.case_holds import (
    add_note,
    add_promise,
    close_dispute,
    open_dispute,
    pause,
    reset_level,
    resume,
)
from relance.engine.case_locking import (
    Conflict,
    Seen,
    locked_action,
    locked_debtor,
    locked_invoices,
)
from relance.engine.case_payments import (
    allocate_payment,
    pay_invoices,
    record_credit_note,
    record_payment,
    reverse_payment,
)
from relance.engine.queue_decisions import (
    BulkResult,
    EscalationDecision,
    approve,
    approve_escalation,
    approve_many,
    current_lines,
    escalation_amounts,
    refresh_content,
    reject,
    reject_many,
    valid_approvals,
)
from relance.engine.typed_input import parse_money
from relance.kernel.dates import parse_day

__all__ = [
    "PAID_ALREADY_CHECK_DAYS",
    "BulkResult",
    "CallOutcome",
    "Conflict",
    "EscalationDecision",
    "Seen",
    "add_note",
    "add_promise",
    "allocate_payment",
    "approve",
    "approve_escalation",
    "approve_many",
    "call_due_before",
    "close_dispute",
    "current_lines",
    "escalation_amounts",
    "locked_action",
    "locked_debtor",
    "locked_invoices",
    "open_dispute",
    "parse_day",
    "parse_money",
    "pause",
    "pay_invoices",
    "record_call_outcome",
    "record_credit_note",
    "record_payment",
    "refresh_content",
    "reject",
    "reject_many",
    "reset_level",
    "resume",
    "reverse_payment",
    "valid_approvals",
]
