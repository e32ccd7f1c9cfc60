"""The book of accounts receivable, as SQLAlchemy 2 typed models.

Over 500 lines because it is the whole schema on one declarative base: the tables
point at each other through relationships, and the test that compares the migrations
with the models reads them as one. The enums are in `relance.store.states`.

Money columns are integer minor units (`*_minor`) beside a three-letter currency; no
float column exists anywhere in the schema. Every table that a creditor owns carries
`creditor_id` so that a multi-creditor workspace can filter every query by creditor.

Schema changes go through an Alembic migration in `store/migrations/versions/`; a test
checks that the migrations and these models agree.
"""

from __future__ import annotations

import datetime as dt
import enum
from functools import cached_property
from typing import Annotated, Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
    util,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# The enums live in their own module, free of SQLAlchemy (a command's --help types its
# options with them); they are named here too, where the program imports them from.
from relance.store.states import OUTBOUND_CHANNELS as OUTBOUND_CHANNELS
from relance.store.states import VOID_ACTION_STATES as VOID_ACTION_STATES
from relance.store.states import ActionState as ActionState
from relance.store.states import Channel as Channel
from relance.store.states import FundEntryKind as FundEntryKind
from relance.store.states import InvoiceStatus as InvoiceStatus
from relance.store.states import ItemState as ItemState
from relance.store.states import MandateScope as MandateScope
from relance.store.states import PaymentKind as PaymentKind
from relance.store.states import PlanStatus as PlanStatus
from relance.store.states import PromiseStatus as PromiseStatus
from relance.store.states import Stage as Stage

# Stable constraint names make migrations portable between SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MinorUnits = Annotated[int, mapped_column(BigInteger)]
"""An amount in the currency's minor unit (cents for EUR)."""
Currency = Annotated[str, mapped_column(String(3))]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def only_on(dialect: str, index: Index) -> Index:
    """`index` exists on that database only: `present_on` tells the migrations' checks."""
    index.info["only_on"] = dialect
    return index.ddl_if(dialect=dialect)


def present_on(item: object, dialect: str) -> bool:
    """Whether the schema holds `item` (an index, a table...) on this database."""
    only = getattr(item, "info", {}).get("only_on")
    return only is None or only == dialect


class OpenOnlyIndex(Index):
    """A partial index: only the rows `where` holds, on each of the databases `on`.

    Written as `postgresql_where=`, the condition made SQLAlchemy import PostgreSQL's
    dialect as the models were declared, to check the argument's name: 25 ms of the
    start of every command that reads the book here (docs/performance.md), on SQLite as
    well. Here each database's options receive the condition when that database asks
    for them, which only a process talking to it does."""

    def __init__(self, name: str, *columns: str, where: str, on: tuple[str, ...]) -> None:
        super().__init__(name, *columns)
        self.where, self.on = where, on

    @cached_property
    def dialect_options(self) -> Any:  # SQLAlchemy's registry of per-database options
        def options(dialect_name: str) -> Any:
            found = self._kw_reg_for_dialect_cls(dialect_name)
            if dialect_name in self.on:
                found["where"] = text(self.where)
            return found

        return util.PopulateDict(options)


# The columns of SQLite's index on open invoices, the debtor first (`Invoice`).
OPEN_INVOICE_FIELDS = ("debtor_id", "creditor_id", "due_date", "issue_date", "amount_minor",
                       "balance_minor", "currency", "number", "status", "stage",
                       "dispute_reason")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


def _pk() -> Mapped[int]:
    return mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings (no native PG enum) so that adding a state is a one-line
    # change and SQLite and PostgreSQL share the same migrations.
    return Enum(
        kind,
        name=name,
        native_enum=False,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


# --------------------------------------------------------------------------- parties


class Creditor(Base):
    """A company whose receivables are chased; its branding appears on every letter."""

    __tablename__ = "creditor"

    id: Mapped[int] = _pk()
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text, default="")
    country: Mapped[str] = mapped_column(String(2), default="FR")
    siren: Mapped[str | None] = mapped_column(String(20))
    vat_number: Mapped[str | None] = mapped_column(String(20))
    iban: Mapped[str | None] = mapped_column(String(40))
    bic: Mapped[str | None] = mapped_column(String(11))
    email: Mapped[str | None] = mapped_column(String(200))
    reply_to: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    logo_path: Mapped[str | None] = mapped_column(String(400))
    legal_mentions: Mapped[str] = mapped_column(Text, default="")
    # French B2B late-payment penalties (Code de commerce L441-10) shown on letters.
    late_penalties: Mapped[bool] = mapped_column(Boolean, default=False)
    # A contractual annual rate in percent, as text to stay exact ("12.50"); None: legal.
    penalty_rate: Mapped[str | None] = mapped_column(String(12))
    # Freeze the penalty rate at the due date instead of per half-year segment.
    penalty_rate_frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Identity and sending (`relance creditor`, engine/creditors.py checks each field).
    siret: Mapped[str | None] = mapped_column(String(20))
    sender_name: Mapped[str | None] = mapped_column(String(200))
    # Where the creditor itself is told things: a refused intake file, a payment the
    # firm collected (R124-5); the sender address is for debtors.
    contact_email: Mapped[str | None] = mapped_column(String(200))
    signature: Mapped[str] = mapped_column(Text, default="")
    languages: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["fr"])
    # A `holidays` subdivision for the business calendar ("57" Moselle...); None: France.
    calendar_region: Mapped[str | None] = mapped_column(String(10))
    # A creditor that does not claim the L441-10 penalties and the 40 EUR indemnity
    # from some debtors: all of them, or those of the segments listed.
    waive_penalties: Mapped[bool] = mapped_column(Boolean, default=False)
    waive_segments: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    debtors: Mapped[list[Debtor]] = relationship(back_populates="creditor")


class Debtor(Base):
    """A customer of a creditor; pauses and contacts are the debtor's."""

    __tablename__ = "debtor"
    __table_args__ = (UniqueConstraint("creditor_id", "ref"),)

    id: Mapped[int] = _pk()
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditor.id"), index=True)
    ref: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(300))
    segment: Mapped[str] = mapped_column(String(60), default="")
    email: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(Text, default="")
    country: Mapped[str] = mapped_column(String(2), default="FR")
    language: Mapped[str] = mapped_column(String(8), default="fr")
    payment_method: Mapped[str] = mapped_column(String(40), default="")
    sales_rep: Mapped[str | None] = mapped_column(String(120))
    risk: Mapped[int | None] = mapped_column(Integer)
    # The pause covers up to and including `paused_until`.
    paused_until: Mapped[dt.date | None] = mapped_column(Date)
    pause_reason: Mapped[str | None] = mapped_column(Text)
    # A consumer debtor: no L441-10 penalties, no recovery indemnity, no fees.
    is_consumer: Mapped[bool] = mapped_column(Boolean, default=False)
    # The user whose portfolio holds this debtor (a collector's call list); None: nobody.
    collector: Mapped[str | None] = mapped_column(String(120), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    creditor: Mapped[Creditor] = relationship(back_populates="debtors")
    tags: Mapped[list[DebtorTag]] = relationship(
        back_populates="debtor", cascade="all, delete-orphan"
    )
    invoices: Mapped[list[Invoice]] = relationship(back_populates="debtor")


class DebtorTag(Base):
    """One tag of a debtor; a table of its own so that `'vip' in tags` is an indexed EXISTS."""

    __tablename__ = "debtor_tag"

    debtor_id: Mapped[int] = mapped_column(
        ForeignKey("debtor.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(60), primary_key=True)

    debtor: Mapped[Debtor] = relationship(back_populates="tags")


# --------------------------------------------------------------------------- invoices


class Invoice(Base):
    """An invoice (or a credit note, with a negative amount) and its open balance."""

    __tablename__ = "invoice"
    __table_args__ = (
        UniqueConstraint("creditor_id", "number"),
        # Runs only look at open invoices: a partial index keeps them cheap to find.
        OpenOnlyIndex("ix_invoice_open_due", "creditor_id", "due_date",
                      where="balance_minor > 0", on=("sqlite", "postgresql")),
        # A debtor's open invoices: runs join them from the debtors of a segment and sum
        # them per debtor without reading the debtor's paid invoices.
        only_on("postgresql", OpenOnlyIndex(
            "ix_invoice_open_debtor", "debtor_id", where="balance_minor > 0",
            on=("postgresql",))),
        # On SQLite the same index also holds every invoice field a policy reads (all
        # but custom attributes), so that a run finds them there without seeking each
        # invoice's row: a fifth of its queries' time. PostgreSQL reads the open
        # invoices in one bitmap scan instead, and there a long dispute reason could
        # outgrow an index entry.
        only_on("sqlite", OpenOnlyIndex(
            "ix_invoice_open_debtor_fields", *OPEN_INVOICE_FIELDS,
            where="balance_minor > 0", on=("sqlite",))),
    )

    id: Mapped[int] = _pk()
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditor.id"))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id"), index=True)
    number: Mapped[str] = mapped_column(String(80))
    issue_date: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    currency: Mapped[Currency]
    amount_minor: Mapped[MinorUnits]
    # Paid so far (imported from the ERP or recorded in relance); balance = amount - paid.
    paid_minor: Mapped[MinorUnits] = mapped_column(default=0)
    balance_minor: Mapped[MinorUnits]
    status: Mapped[InvoiceStatus] = mapped_column(
        _enum(InvoiceStatus, "invoice_status"), default=InvoiceStatus.OPEN
    )
    # None: not disputed; otherwise the reason given.
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    disputed_since: Mapped[dt.date | None] = mapped_column(Date)
    stage: Mapped[Stage] = mapped_column(_enum(Stage, "stage"), default=Stage.REMINDER)
    attrs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    debtor: Mapped[Debtor] = relationship(back_populates="invoices")

    @property
    def disputed(self) -> bool:
        return self.dispute_reason is not None


class Payment(Base):
    """Money received (or a credit note), allocated to one or more invoices.

    What is not allocated stays on the debtor's account (a credit), or, with no debtor,
    in suspense until an operator allocates it. A reversed payment (a returned direct
    debit, a bounced cheque, an undo) keeps its row and its history; its allocations are
    removed and the invoices reopened.
    """

    __tablename__ = "payment"
    __table_args__ = (UniqueConstraint("creditor_id", "bank_ref"),)

    id: Mapped[int] = _pk()
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditor.id"), index=True)
    debtor_id: Mapped[int | None] = mapped_column(ForeignKey("debtor.id"), index=True)
    received_on: Mapped[dt.date] = mapped_column(Date)
    currency: Mapped[Currency]
    amount_minor: Mapped[MinorUnits]
    reference: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(20), default="manual")  # manual, csv, camt053...
    kind: Mapped[PaymentKind] = mapped_column(_enum(PaymentKind, "payment_kind"),
                                              default=PaymentKind.PAYMENT)
    # The bank's own identity of the entry: a statement imported twice records it once.
    bank_ref: Mapped[str | None] = mapped_column(String(120))
    recorded_by: Mapped[str] = mapped_column(String(120), default="")
    reversed_on: Mapped[dt.date | None] = mapped_column(Date)
    reversal_reason: Mapped[str | None] = mapped_column(Text)
    # The bank's reference of the return entry that reversed it, when a statement did.
    reversal_ref: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    allocations: Mapped[list[PaymentAllocation]] = relationship(
        back_populates="payment", cascade="all, delete-orphan"
    )


class PaymentAllocation(Base):
    __tablename__ = "payment_allocation"

    id: Mapped[int] = _pk()
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id", ondelete="CASCADE"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    amount_minor: Mapped[MinorUnits]

    payment: Mapped[Payment] = relationship(back_populates="allocations")


class Promise(Base):
    """A promise to pay; `promised` holds while an open promise's date is not past."""

    __tablename__ = "promise"

    id: Mapped[int] = _pk()
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditor.id"))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id"), index=True)
    # None: the promise covers all the debtor's open invoices.
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"), index=True)
    promised_on: Mapped[dt.date] = mapped_column(Date)  # the last day covered
    currency: Mapped[str | None] = mapped_column(String(3))
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[PromiseStatus] = mapped_column(
        _enum(PromiseStatus, "promise_status"), default=PromiseStatus.OPEN
    )
    recorded_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PaymentPlan(Base):
    """A schedule of instalments agreed with a debtor; `in_plan` holds while it is active."""

    __tablename__ = "payment_plan"

    id: Mapped[int] = _pk()
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditor.id"))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id"), index=True)
    currency: Mapped[Currency]
    status: Mapped[PlanStatus] = mapped_column(_enum(PlanStatus, "plan_status"),
                                               default=PlanStatus.ACTIVE)
    agreed_on: Mapped[dt.date] = mapped_column(Date)
    # The day the plan stopped being in force (completed, broken or cancelled).
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    instalments: Mapped[list[Instalment]] = relationship(
        back_populates="plan", cascade="all, delete-orphan"
    )
    invoices: Mapped[list[PaymentPlanInvoice]] = relationship(
        back_populates="plan", cascade="all, delete-orphan"
    )


class PaymentPlanInvoice(Base):
    __tablename__ = "payment_plan_invoice"
    # Settling and the plan facts look plans up by invoice.
    __table_args__ = (Index("ix_payment_plan_invoice_invoice", "invoice_id"),)

    plan_id: Mapped[int] = mapped_column(
        ForeignKey("payment_plan.id", ondelete="CASCADE"), primary_key=True
    )
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), primary_key=True)

    plan: Mapped[PaymentPlan] = relationship(back_populates="invoices")


class Instalment(Base):
    __tablename__ = "instalment"

    id: Mapped[int] = _pk()
    plan_id: Mapped[int] = mapped_column(ForeignKey("payment_plan.id", ondelete="CASCADE"),
                                         index=True)
    due_on: Mapped[dt.date] = mapped_column(Date)
    amount_minor: Mapped[MinorUnits]
    paid_minor: Mapped[MinorUnits] = mapped_column(default=0)

    plan: Mapped[PaymentPlan] = relationship(back_populates="instalments")


class Note(Base):
    __tablename__ = "note"

    id: Mapped[int] = _pk()
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditor.id"))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"))
    author: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # An undone note stays in the history, marked.
    retracted_at: Mapped[dt.datetime | None] = mapped_column()


# --------------------------------------------------------------------------- rules and runs


class RuleSet(Base):
    """One version of the rules, stored whole so that an audit years later reads its text."""

    __tablename__ = "ruleset"

    id: Mapped[int] = _pk()
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    git_commit: Mapped[str | None] = mapped_column(String(40))
    # {relative path: exact file text}
    files: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Run(Base):
    """One evaluation of the policies as of a date."""

    __tablename__ = "run"

    id: Mapped[int] = _pk()
    run_date: Mapped[dt.date] = mapped_column(Date, index=True)
    ruleset_id: Mapped[int] = mapped_column(ForeignKey("ruleset.id"))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    started_by: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(20), default="running")  # running, done, failed
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The rules folder as the run saw it: "clean" at `rules_git_commit`, "dirty" (edits
    # not committed: `rules_diff_hash` hashes them) or "untracked" (no git repository).
    # The rule set's own commit is only the first one it was seen at.
    rules_state: Mapped[str] = mapped_column(String(12), default="untracked")
    rules_git_commit: Mapped[str | None] = mapped_column(String(40))
    rules_diff_hash: Mapped[str | None] = mapped_column(String(64))


class InvoiceLevel(Base):
    """The current level of an invoice in a policy: the identity of the last rule that acted."""

    __tablename__ = "invoice_level"

    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoice.id", ondelete="CASCADE"), primary_key=True
    )
    policy: Mapped[str] = mapped_column(String(120), primary_key=True)
    # None after an operator reset: the invoice starts the policy again.
    rule: Mapped[str | None] = mapped_column(String(200))
    acted_on: Mapped[dt.date | None] = mapped_column(Date)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Action(Base):
    """A queued communication or step: one letter, e-mail, SMS, call task, alert or escalation.

    Grouped actions cover several invoices of one debtor (see `ActionItem`). The
    idempotency key is unique, so the same action cannot be queued twice.
    """

    __tablename__ = "action"
    __table_args__ = (
        Index("ix_action_state_channel", "state", "channel"),
        Index("ix_action_debtor", "debtor_id", "created_on"),
        # The operators' queue pages through one state in debtor order (keyset/offset).
        Index("ix_action_queue", "state", "debtor_id", "id"),
    )

    id: Mapped[int] = _pk()
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditor.id"))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("run.id"), index=True)
    ruleset_id: Mapped[int | None] = mapped_column(ForeignKey("ruleset.id"))
    created_on: Mapped[dt.date] = mapped_column(Date)  # the run date D
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"))
    template: Mapped[str | None] = mapped_column(String(120))
    tone: Mapped[str | None] = mapped_column(String(40))
    priority: Mapped[str | None] = mapped_column(String(10))  # calls: low, normal, high
    notify_role: Mapped[str | None] = mapped_column(String(60))
    target_stage: Mapped[Stage | None] = mapped_column(_enum(Stage, "target_stage"))
    state: Mapped[ActionState] = mapped_column(
        _enum(ActionState, "action_state"), default=ActionState.PROPOSED
    )
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    # Hash of what will be sent (recipients, invoices, amounts): an approval binds to it.
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    approved_by: Mapped[str | None] = mapped_column(String(120))
    approved_at: Mapped[dt.datetime | None]
    proposed_by: Mapped[str] = mapped_column(String(120), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # Where the rendered artefacts were written (PDF path, .eml path, gateway id).
    output: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    items: Mapped[list[ActionItem]] = relationship(
        back_populates="action", cascade="all, delete-orphan", order_by="ActionItem.id"
    )
    approvals: Mapped[list[Approval]] = relationship(
        back_populates="action", cascade="all, delete-orphan", order_by="Approval.id"
    )


class ActionItem(Base):
    """One rule acting on one invoice: the unit of levels, `after` and the audit trail."""

    __tablename__ = "action_item"
    __table_args__ = (
        # A policy acts at most once per invoice per day; `step` numbers the actions of
        # a multi-channel rule (`send letter X and send email X`), one item each.
        UniqueConstraint("invoice_id", "policy", "acted_on", "step"),
        Index("ix_action_item_invoice_policy", "invoice_id", "policy", "rule"),
    )

    id: Mapped[int] = _pk()
    action_id: Mapped[int] = mapped_column(ForeignKey("action.id", ondelete="CASCADE"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"))
    policy: Mapped[str] = mapped_column(String(120))
    rule: Mapped[str] = mapped_column(String(200))  # the rule's identity
    rule_file: Mapped[str] = mapped_column(String(400), default="")
    rule_line: Mapped[int] = mapped_column(Integer, default=0)
    acted_on: Mapped[dt.date] = mapped_column(Date)
    step: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[ItemState] = mapped_column(
        _enum(ItemState, "item_state"), default=ItemState.ACTIVE
    )
    drop_reason: Mapped[str | None] = mapped_column(Text)
    # Balance and currency when queued, and the facts that made the rule fire.
    balance_minor: Mapped[MinorUnits]
    currency: Mapped[Currency]
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    action: Mapped[Action] = relationship(back_populates="items")


class Approval(Base):
    """A decision on an action by one person, bound to the content it saw."""

    __tablename__ = "approval"

    id: Mapped[int] = _pk()
    action_id: Mapped[int] = mapped_column(ForeignKey("action.id", ondelete="CASCADE"), index=True)
    user: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(40), default="")
    decision: Mapped[str] = mapped_column(String(10))  # approve, reject
    reason: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    action: Mapped[Action] = relationship(back_populates="approvals")


# --------------------------------------------------------------------------- audit


class Event(Base):
    """The append-only log: who did what, when. Each entry hashes the one before it.

    The database itself refuses UPDATE and DELETE on this table (triggers created by the
    migrations), and `relance.store.audit.verify_chain` finds an edited or removed entry.
    """

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = _pk()
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(60), index=True)
    creditor_id: Mapped[int | None] = mapped_column(BigInteger)
    debtor_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(80))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


# --------------------------------------------------------------------------- agency


class Mandate(Base):
    """A creditor's written mandate to the collection firm (CPCE R124-3): without one in
    force, no case of that creditor goes to amicable recovery under the firm's name."""

    __tablename__ = "mandate"

    id: Mapped[int] = _pk()
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditor.id"), index=True)
    reference: Mapped[str] = mapped_column(String(60), unique=True)
    signed_on: Mapped[dt.date] = mapped_column(Date)
    scope: Mapped[MandateScope] = mapped_column(_enum(MandateScope, "mandate_scope"))
    # The firm's fee on sums collected, in percent as exact text ("12.5"); "0": none.
    fee_percent: Mapped[str] = mapped_column(String(12), default="0")
    # A fixed fee per case taken under the mandate, in minor units of `currency`.
    fixed_fee_minor: Mapped[MinorUnits] = mapped_column(default=0)
    currency: Mapped[Currency] = mapped_column(default="EUR")
    # Collected funds go back to the creditor within this many days (R124-6: a month).
    remit_within_days: Mapped[int] = mapped_column(Integer, default=30)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    # The last day in force; None: until ended.
    ends_on: Mapped[dt.date | None] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MandateCase(Base):
    """A debtor's case taken by the firm under a mandate: from the escalation's approval
    on, every message of the case recalls the firm's first letter (R124-4)."""

    __tablename__ = "mandate_case"
    __table_args__ = (UniqueConstraint("mandate_id", "debtor_id"),)

    id: Mapped[int] = _pk()
    mandate_id: Mapped[int] = mapped_column(ForeignKey("mandate.id"), index=True)
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditor.id"))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id"), index=True)
    opened_on: Mapped[dt.date] = mapped_column(Date)
    # The firm's reference of the case, printed on each of its messages.
    reference: Mapped[str] = mapped_column(String(80), unique=True)
    first_letter_action_id: Mapped[int | None] = mapped_column(ForeignKey("action.id"))
    first_letter_on: Mapped[dt.date | None] = mapped_column(Date)
    # Whether the fixed fee of the mandate has been charged on a remittance.
    fixed_fee_charged: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Remittance(Base):
    """Funds handed back to a creditor: what was collected up to a day, the firm's fees
    and the net paid, once (`relance remit`)."""

    __tablename__ = "remittance"
    __table_args__ = (UniqueConstraint("creditor_id", "reference"),)

    id: Mapped[int] = _pk()
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditor.id"), index=True)
    reference: Mapped[str] = mapped_column(String(60))
    until: Mapped[dt.date] = mapped_column(Date)
    made_on: Mapped[dt.date] = mapped_column(Date)
    currency: Mapped[Currency]
    collected_minor: Mapped[MinorUnits] = mapped_column(default=0)
    fees_minor: Mapped[MinorUnits] = mapped_column(default=0)
    net_minor: Mapped[MinorUnits] = mapped_column(default=0)
    statement_path: Mapped[str | None] = mapped_column(String(400))
    made_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FundEntry(Base):
    """One line of a creditor's client-funds ledger; remitted once, by one remittance."""

    __tablename__ = "fund_entry"
    __table_args__ = (UniqueConstraint("payment_id", "kind"),)

    id: Mapped[int] = _pk()
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditor.id"), index=True)
    mandate_id: Mapped[int] = mapped_column(ForeignKey("mandate.id"))
    mandate_case_id: Mapped[int] = mapped_column(ForeignKey("mandate_case.id"))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id"))
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"))
    kind: Mapped[FundEntryKind] = mapped_column(_enum(FundEntryKind, "fund_entry_kind"))
    # Signed: a reversal is negative.
    amount_minor: Mapped[MinorUnits]
    currency: Mapped[Currency]
    booked_on: Mapped[dt.date] = mapped_column(Date)
    remittance_id: Mapped[int | None] = mapped_column(ForeignKey("remittance.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class IntakeFile(Base):
    """A file a creditor dropped in its intake folder: imported or refused, once per
    content (the checksum), so the same file is never imported twice."""

    __tablename__ = "intake_file"
    __table_args__ = (UniqueConstraint("creditor_id", "sha256"),)

    id: Mapped[int] = _pk()
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditor.id"), index=True)
    name: Mapped[str] = mapped_column(String(400))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20))  # imported, refused
    rows: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    archived_as: Mapped[str | None] = mapped_column(String(400))


class Lease(Base):
    """A named lock with an expiry: who runs the day's job, who dispatches a shard."""

    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[dt.datetime]
    acquired_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class JobRun(Base):
    """A scheduled job's outcome for one day: the scheduler runs each (job, day) once."""

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job", "day"),)

    id: Mapped[int] = _pk()
    job: Mapped[str] = mapped_column(String(60))
    day: Mapped[dt.date] = mapped_column(Date)
    # running, done, failed, skipped (a missed day coalesced into a later one)
    status: Mapped[str] = mapped_column(String(20), default="running")
    host: Mapped[str] = mapped_column(String(200), default="")
    # The claimant's process and how long its claim holds without a heartbeat: a row left
    # `running` by a dead process is taken over (same host, pid gone, or lease expired).
    pid: Mapped[int | None] = mapped_column(Integer)
    lease_expires_at: Mapped[dt.datetime | None]
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)



# --------------------------------------------------------------------------- payer profile


class PayerProfile(Base):
    """How a debtor has paid over the twelve months before a run, recomputed by each run
    (`engine.payer_profile`): the facts `days_late_avg`, `paid_after_reminders`,
    `promises_kept_ratio`, `disputes_12m` and `payer_class`.

    The three averages are kept in hundredths (12.5 days: 1250), rounded half up, so
    that a rule compares the same integer in SQL and in the interpreter; None: nothing to
    average (no payment, no invoice paid, no promise due in the twelve months)."""

    __tablename__ = "payer_profile"

    debtor_id: Mapped[int] = mapped_column(
        ForeignKey("debtor.id", ondelete="CASCADE"), primary_key=True
    )
    computed_on: Mapped[dt.date] = mapped_column(Date)  # the run date
    days_late_hundredths: Mapped[int | None] = mapped_column(BigInteger)
    reminders_hundredths: Mapped[int | None] = mapped_column(BigInteger)
    promises_kept_hundredths: Mapped[int | None] = mapped_column(Integer)
    disputes_12m: Mapped[int] = mapped_column(Integer, default=0)
    # good, slow, bad, or new (no payment and no promise due in the twelve months)
    payer_class: Mapped[str] = mapped_column(String(8))


# --------------------------------------------------------------------------- debtor portal


class PortalLink(Base):
    """A debtor's personal link to their page (`relance web`), printed in one letter,
    e-mail or SMS: bound to the debtor and that communication, expiring, revocable.

    Only a hash of the token is kept: a copy of the database gives nobody a working link.
    """

    __tablename__ = "portal_link"

    id: Mapped[int] = _pk()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id", ondelete="CASCADE"),
                                           index=True)
    # The communication that carries the link; None: issued by hand.
    action_id: Mapped[int | None] = mapped_column(ForeignKey("action.id", ondelete="SET NULL"),
                                                  index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(120))
    opened_count: Mapped[int] = mapped_column(Integer, default=0)
    first_opened_at: Mapped[dt.datetime | None]
    last_opened_at: Mapped[dt.datetime | None]


class PortalSignIn(Base):
    """A one-time link the web portal e-mailed to a person of the `[users]` table; it
    opens one session, once, before it expires. Only its token's hash is kept."""

    __tablename__ = "portal_sign_in"

    id: Mapped[int] = _pk()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_name: Mapped[str] = mapped_column(String(120), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class PortalSession(Base):
    """A person signed in to the web portal (the cookie holds the token, the store its
    hash); it ends on signing out, at `expires_at`, or when left idle."""

    __tablename__ = "portal_session"

    id: Mapped[int] = _pk()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_name: Mapped[str] = mapped_column(String(120), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None]


class PortalRequest(Base):
    """What a debtor asked or declared on their page that an operator decides: a payment
    declared as made (with its proof), a payment plan asked for."""

    __tablename__ = "portal_request"

    id: Mapped[int] = _pk()
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id", ondelete="CASCADE"),
                                           index=True)
    link_id: Mapped[int | None] = mapped_column(ForeignKey("portal_link.id",
                                                           ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(24))  # payment_declared, plan_requested
    # What the debtor gave: amounts in minor units, days as ISO text, invoice numbers.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The uploaded proof, stored outside any web root under a random name.
    proof_path: Mapped[str | None] = mapped_column(String(400))
    state: Mapped[str] = mapped_column(String(12), default="open")  # open, accepted, refused
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[dt.datetime | None]

__all__ = [
    "OUTBOUND_CHANNELS",
    "VOID_ACTION_STATES",
    "Action",
    "ActionItem",
    "ActionState",
    "Approval",
    "Base",
    "Channel",
    "Creditor",
    "Debtor",
    "DebtorTag",
    "Event",
    "FundEntry",
    "FundEntryKind",
    "Instalment",
    "IntakeFile",
    "Invoice",
    "InvoiceLevel",
    "InvoiceStatus",
    "ItemState",
    "JobRun",
    "Lease",
    "Mandate",
    "MandateCase",
    "MandateScope",
    "Note",
    "PayerProfile",
    "Payment",
    "PaymentAllocation",
    "PaymentPlan",
    "PaymentPlanInvoice",
    "PortalLink",
    "PortalRequest",
    "PortalSession",
    "PortalSignIn",
    "Promise",
    "PromiseStatus",
    "Remittance",
    "RuleSet",
    "Run",
    "Stage",
]
