"""The states and kinds the book's rows take (an action's state, its channel, a
mandate's scope...), as plain enums: `relance.store.models` stores them, and a command
can type its options with them without importing SQLAlchemy and the models (`relance
queue --help`, issue 17).
"""

from __future__ import annotations

import enum


class Stage(enum.StrEnum):
    """Where a case stands in the recovery process."""

    REMINDER = "reminder"
    AMICABLE = "amicable"
    LITIGATION = "litigation"


class InvoiceStatus(enum.StrEnum):
    OPEN = "open"
    PAID = "paid"
    CANCELLED = "cancelled"


class Channel(enum.StrEnum):
    """What an action does; the first four are outbound communications to the debtor."""

    LETTER = "letter"
    EMAIL = "email"
    SMS = "sms"
    CALL = "call"
    NOTIFY = "notify"
    ESCALATE = "escalate"


OUTBOUND_CHANNELS = frozenset({Channel.LETTER, Channel.EMAIL, Channel.SMS, Channel.CALL})


class ActionState(enum.StrEnum):
    """The life of a queued action.

    proposed -> approved -> in_flight -> sent | failed | retry_wait | uncertain;
    proposed -> rejected; proposed/approved/retry_wait -> cancelled.
    """

    PROPOSED = "proposed"
    APPROVED = "approved"
    IN_FLIGHT = "in_flight"
    RETRY_WAIT = "retry_wait"
    SENT = "sent"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


# Actions in these states did not happen and never will: they do not count as a rule
# having acted for `after`, `reminders_sent` or `last_action`.
VOID_ACTION_STATES = frozenset({ActionState.REJECTED, ActionState.CANCELLED, ActionState.FAILED})


class ItemState(enum.StrEnum):
    """An invoice's membership of a (possibly grouped) action."""

    ACTIVE = "active"
    DROPPED = "dropped"  # paid, paused or disputed after the run: left out of the send


class PromiseStatus(enum.StrEnum):
    OPEN = "open"
    KEPT = "kept"
    BROKEN = "broken"
    CANCELLED = "cancelled"


class PaymentKind(enum.StrEnum):
    """What settled part of an invoice: money received, or a credit note cancelling it."""

    PAYMENT = "payment"
    CREDIT_NOTE = "credit_note"


class PlanStatus(enum.StrEnum):
    """A payment plan's life: in force until paid, broken by a missed instalment, or
    cancelled by an operator (or an undo)."""

    ACTIVE = "active"
    COMPLETED = "completed"
    BROKEN = "broken"
    CANCELLED = "cancelled"


class MandateScope(enum.StrEnum):
    """What a creditor's mandate lets the collection firm do (CPCE R124-2)."""

    AMICABLE = "amicable"
    AMICABLE_AND_LITIGATION = "amicable_litigation"


class FundEntryKind(enum.StrEnum):
    """A line of the client-funds ledger: money the firm collected for a creditor, or
    money it has to take back (a payment reversed after it was collected)."""

    COLLECTED = "collected"
    REVERSED = "reversed"


class RequestKind(enum.StrEnum):
    """What a debtor asked on their page (`relance.engine.portal_requests`)."""

    PAYMENT_DECLARED = "payment_declared"
    PLAN_REQUESTED = "plan_requested"


class RequestState(enum.StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REFUSED = "refused"
