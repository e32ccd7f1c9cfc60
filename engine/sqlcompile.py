"""The policy language compiled to SQLAlchemy Core: one set-based query per policy.

Over 500 lines because the compiler is one class with one method per node of the
language behind a dispatch table, and every method leans on the same field whitelist
and the same NULL handling: spread over modules, a new node could miss either.

For a policy and a date D, `compile_policy` builds a SELECT over the open invoices that
returns only the invoices on which the policy acts on D, with the position of the rule
that acts (`acting`) and the columns the audit needs to record the facts. The SQL
decides outright: conditions, levels (current level, jumps, `every`), the once-a-day
limit; Python only reads the rows it returns.

Safety: a field reaches SQL only through this module's whitelist (`dsl.fields` names
mapped to columns), and every value of a rule is a bound parameter: no text of a rule
file is ever pasted into SQL. One method per kind of node, behind a dispatch on type.

Each compiled comparison is two-valued (never NULL), so that `not` keeps the
interpreter's meaning: nullable columns (risk, sales rep, custom columns, the last
action) are tested for NULL explicitly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    Subquery,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.sql.util import ClauseAdapter

from relance.dsl.ast import (
    After,
    And,
    BoolValue,
    Compare,
    Condition,
    DateValue,
    Duration,
    FieldRef,
    FlagTest,
    HasTag,
    InList,
    MoneyValue,
    Not,
    NumberValue,
    Or,
    Policy,
    TextValue,
    WordValue,
)
from relance.dsl.fields import FieldType
from relance.engine.durations import FLIPPED, Calendar, DateBound, Op, amount, bound_for
from relance.engine.facts import (
    ACTION,
    ACTION_ITEM,
    CREDITOR,
    DEBTOR,
    DEBTOR_TAG,
    INSTALMENT,
    INVOICE,
    INVOICE_LEVEL,
    LIVE_PLANS,
    OUTBOUND,
    PLAN,
    PLAN_INVOICE,
    PORTAL_LINK,
    PROMISE,
    PROMISE_WINDOW_DAYS,
    SETTLED_PROMISES,
    VOID,
    open_invoice_filter,
    portal_visit_window,
)
from relance.engine.id_sets import only_ids
from relance.engine.interpret import RuleError, field_type, probes
from relance.engine.payer_profile import NEW, PROFILE, SCALED
from relance.kernel.i18n import _
from relance.kernel.money import minor_units
from relance.store.models import ItemState, PlanStatus, PromiseStatus

Expr = ColumnElement[Any]

i, d, c = INVOICE, DEBTOR, CREDITOR

# The whitelist: a field name of the language -> the column holding it. Fields that need
# a join or a sub-query (aggregates, history, flags) are built by `_Compiler` methods.
PLAIN_COLUMNS: dict[str, Expr] = {
    "issue_date": i.c.issue_date,
    "due_date": i.c.due_date,
    "currency": i.c.currency,
    "stage": type_coerce(i.c.stage, String),
    "segment": d.c.segment,
    "country": d.c.country,
    "payment_method": d.c.payment_method,
    "language": d.c.language,
    "sales_rep": d.c.sales_rep,
    "risk": d.c.risk,
    "creditor": c.c.code,
}
NULLABLE = {"sales_rep", "risk"}

# A run's creditors by code, lower-cased as the interpreter compares them -> their ids
# (`evaluate.creditor_ids`). Two codes may differ only by case: both ids are listed.
CreditorIds = Mapping[str, tuple[int, ...]]
DURATION_COLUMNS: dict[str, tuple[Expr, int]] = {
    "overdue": (i.c.due_date, 1),
    "due_in": (i.c.due_date, -1),
    "age": (i.c.issue_date, 1),
}


def _compares_with(ref: FieldRef, what: str) -> RuleError:
    """A field compared with the wrong kind of value (`what`, translated by the caller);
    the checker refuses it first, so only rules that skipped it get here."""
    return RuleError(_("{place}: {field} compares with {what}").format(
        place=ref.span, field=ref.name, what=what))


def _integer_bound(op: Op, value: Decimal) -> tuple[Op, int] | bool:
    """`integer OP value` as a comparison with an integer, or a constant outcome when
    the decimal value makes it one (`risk = 5.5` never holds)."""
    if value == value.to_integral_value():
        return op, int(value)
    ceiling = int(value.to_integral_value(rounding=ROUND_CEILING))
    floor = int(value.to_integral_value(rounding=ROUND_FLOOR))
    if op in (">", ">="):
        return ">=", ceiling
    if op in ("<", "<="):
        return "<=", floor
    return op == "!="


def _apply(column: Expr, op: Op, value: Any) -> Expr:
    result: Expr
    if op == "=":
        result = column == value
    elif op == "!=":
        result = column != value
    elif op == "<":
        result = column < value
    elif op == "<=":
        result = column <= value
    elif op == ">":
        result = column > value
    else:
        result = column >= value
    return result


def _const(value: bool) -> Expr:
    return true() if value else false()


def _creditor(creditor_ids: CreditorIds, op: Op, code: str) -> Expr:
    """`creditor = CODE` as `invoice.creditor_id IN (ids)`, the ids read once per run:
    a test of the invoice's own column instead of lower-casing the joined creditor's
    code on every open invoice (as fast on a million invoices, and open to the index of
    open invoices by creditor), and the code is lower-cased by Python, as the
    interpreter does: SQLite's `lower` leaves letters outside ASCII alone. A code no
    creditor has matches nothing."""
    ids = sorted(creditor_ids.get(code.lower(), ()))
    if op == "=":
        return i.c.creditor_id.in_(ids) if ids else false()
    return i.c.creditor_id.not_in(ids) if ids else true()


@dataclass
class _Compiler:
    """Compiles one policy's conditions; remembers which joins they need."""

    policy: Policy
    on: dt.date
    # The creditors' business calendars, (country, calendar region or None), each once.
    calendars: Sequence[Calendar]
    needs_debtor_totals: bool = False
    needs_history: bool = False
    after_columns: dict[str, Expr] = field(default_factory=dict)
    tag_columns: dict[str, Expr] = field(default_factory=dict)
    # Joined to the invoices when a condition or a record reads `instalment_overdue`.
    late_instalments: Subquery | None = None
    # The creditors' ids by code, when the run read them: `creditor` then compiles to a
    # test of the invoice's own creditor_id (see `_creditor`).
    creditor_ids: CreditorIds | None = None
    # The debtor's payer profile is joined when a condition reads it.
    needs_profile: bool = False

    # ---------------------------------------------------------------- joins

    def debtor_total(self, which: str) -> Expr:
        """The debtor's open balance in the invoice's currency (`balance`), or the part
        at least a day overdue (`overdue`). A correlated sub-query: it costs per
        invoice that gets this far in the conditions, not per invoice of the book."""
        self.needs_debtor_totals = True
        other = INVOICE.alias("totals_invoice")
        yesterday = self.on - dt.timedelta(days=1)
        value = other.c.balance_minor if which == "balance" else case(
            (other.c.due_date <= yesterday, other.c.balance_minor), else_=0)
        return (
            select(func.coalesce(func.sum(value), 0))
            .where(other.c.debtor_id == i.c.debtor_id, other.c.currency == i.c.currency,
                   other.c.balance_minor > literal_column("0"), other.c.status != "cancelled")
            .scalar_subquery()
        )

    def history_value(self, which: str) -> Expr:
        """Outbound actions that count before D (`sent`), or the latest one's date."""
        self.needs_history = True
        ai, a = ACTION_ITEM.alias("history_item"), ACTION.alias("history_action")
        value = func.count(a.c.id.distinct()) if which == "sent" else func.max(ai.c.acted_on)
        return (
            select(value)
            .select_from(ai.join(a, a.c.id == ai.c.action_id))
            .where(
                ai.c.invoice_id == i.c.id,
                ai.c.acted_on < self.on,
                ai.c.state == ItemState.ACTIVE.value,
                a.c.state.not_in(VOID),
                a.c.channel.in_(OUTBOUND),
            )
            .scalar_subquery()
        )

    def instalment_since(self) -> Expr:
        """The due date of the earliest instalment past due and not fully paid, of an
        active or broken plan holding the invoice, or D itself when there is none: the
        date `instalment_overdue` counts from (0 days from D, in any kind of day).

        A column of a grouped table joined to the invoices (`compile_policy`), not a
        correlated sub-query: nothing indexes instalments by plan nor plans by invoice,
        and PostgreSQL then read every instalment for every invoice (minutes for a book
        of 20,000 invoices), where the join reads them once."""
        if self.late_instalments is None:
            late, link, plan = (INSTALMENT.alias("late_instalment"),
                                PLAN_INVOICE.alias("late_plan_invoice"),
                                PLAN.alias("late_plan"))
            self.late_instalments = (
                select(link.c.invoice_id, func.min(late.c.due_on).label("since"))
                .select_from(late.join(link, link.c.plan_id == late.c.plan_id)
                             .join(plan, plan.c.id == late.c.plan_id))
                .where(plan.c.status.in_(LIVE_PLANS), late.c.paid_minor < late.c.amount_minor,
                       late.c.due_on < self.on)
                .group_by(link.c.invoice_id)
                .subquery("late_instalments")
            )
        return func.coalesce(self.late_instalments.c.since, self.on)

    def promises_broken(self) -> Expr:
        """The debtor's promises broken in the window before D (see `engine.facts`)."""
        p = PROMISE.alias("broken_promise")
        return (
            select(func.count(p.c.id))
            .where(p.c.debtor_id == i.c.debtor_id, p.c.status.not_in(SETTLED_PROMISES),
                   p.c.promised_on < self.on,
                   p.c.promised_on >= self.on - dt.timedelta(days=PROMISE_WINDOW_DAYS))
            .scalar_subquery()
        )

    def profile_value(self, name: str) -> Expr:
        """A payer-profile fact from the row the run stored (`engine.payer_profile`),
        joined to the invoices (`compile_policy`); a debtor without a row is `new`,
        with no disputes and no averages (NULL), as `engine.facts` reads it."""
        self.needs_profile = True
        return _profile_source(name)

    # ---------------------------------------------------------------- dates

    def _date_bound(self, column: Expr, bound: DateBound) -> Expr:
        parts = []
        if bound.low is not None:
            parts.append(column > bound.low)
        if bound.high is not None:
            parts.append(column <= bound.high)
        inner = and_(*parts) if parts else true()
        return not_(inner) if bound.negate else inner

    def elapsed_cmp(self, column: Expr, op: Op, count: int, business: bool) -> Expr:
        """`days since column OP count` as of D, for a non-NULL date column."""
        if not business:
            return self._date_bound(column, bound_for(op, count, self.on, business=False,
                                                      country="", subdivision=None))
        # Business days depend on the creditor's calendar, its country and region: one
        # bound per calendar of the book, worked out here once per run. Calendars whose
        # bounds coincide on D (most days: a region differs by a holiday or two) share
        # one test of the date.
        sharing: dict[DateBound, list[Calendar]] = {}
        for country, region in self.calendars:
            bound = bound_for(op, count, self.on, business=True, country=country,
                              subdivision=region)
            sharing.setdefault(bound, []).append((country, region))
        return or_(
            false(),
            *(and_(self._creditor_calendar(group), self._date_bound(column, bound))
              for bound, group in sharing.items()),
        )

    def _creditor_calendar(self, group: Sequence[Calendar]) -> Expr:
        """The invoice's creditor keeps one of these calendars. A country all of whose
        calendars are in the group is tested alone: the region then changes nothing."""
        tests = []
        for country in sorted({country for country, _region in group}):
            regions = {region for known, region in group if known == country}
            if regions == {region for known, region in self.calendars if known == country}:
                tests.append(c.c.country == country)
                continue
            named = sorted(region for region in regions if region is not None)
            # False, not unknown, for a creditor with no region: under a `not`, an
            # unknown would leave out an invoice whose own calendar's bound holds.
            region_tests = [and_(c.c.calendar_region.is_not(None),
                                 c.c.calendar_region.in_(named))] if named else []
            if None in regions:  # the national calendar: no region recorded
                region_tests.append(c.c.calendar_region.is_(None))
            tests.append(and_(c.c.country == country, or_(*region_tests)))
        return or_(false(), *tests)

    # ---------------------------------------------------------------- nodes

    def condition(self, cond: Condition) -> Expr:
        handler = self._dispatch.get(type(cond))
        if handler is None:
            raise RuleError(_("cannot compile {condition!r}").format(condition=cond))
        return handler(self, cond)

    def _and(self, cond: And) -> Expr:
        return and_(true(), *(self.condition(part) for part in cond.operands))

    def _or(self, cond: Or) -> Expr:
        return or_(false(), *(self.condition(part) for part in cond.operands))

    def _not(self, cond: Not) -> Expr:
        return not_(self.condition(cond.operand))

    def _in_list(self, cond: InList) -> Expr:
        either = or_(
            false(), *(self._compare(Compare(cond.field, "=", item)) for item in cond.values.items)
        )
        return not_(either) if cond.negated else either

    def _has_tag(self, cond: HasTag) -> Expr:
        tag = cond.value.value.lower()
        found = exists(
            select(DEBTOR_TAG.c.tag).where(
                DEBTOR_TAG.c.debtor_id == i.c.debtor_id, func.lower(DEBTOR_TAG.c.tag) == tag
            )
        )
        self.tag_columns[tag] = found
        return not_(found) if cond.negated else found

    def _flag(self, cond: FlagTest) -> Expr:
        if field_type(cond.field) is not FieldType.FLAG:
            raise RuleError(_("{place}: {field} is not a yes/no field").format(
                place=cond.field.span, field=cond.field.name))
        return self.flag(cond.field.name)

    def flag(self, name: str) -> Expr:
        if name == "paused":
            return and_(d.c.paused_until.is_not(None), d.c.paused_until >= self.on)
        if name == "disputed":
            return i.c.dispute_reason.is_not(None)
        if name == "in_plan":
            return self._in_plan_with(PlanStatus.ACTIVE)
        if name == "plan_broken":
            # An active plan on the invoice (agreed again) supersedes the broken one.
            return and_(self._in_plan_with(PlanStatus.BROKEN),
                        not_(self._in_plan_with(PlanStatus.ACTIVE)))
        if name == "portal_visited":
            start, end = portal_visit_window(self.on)
            link = PORTAL_LINK.alias("visited_link")
            return exists(select(link.c.id).where(
                link.c.debtor_id == i.c.debtor_id, link.c.first_opened_at < end,
                link.c.last_opened_at >= start))
        p = PROMISE.alias("p")
        covers = and_(p.c.debtor_id == i.c.debtor_id,
                      or_(p.c.invoice_id.is_(None), p.c.invoice_id == i.c.id))
        if name == "promised":
            return exists(
                select(p.c.id).where(
                    covers, p.c.status == PromiseStatus.OPEN.value, p.c.promised_on >= self.on
                )
            )
        if name == "promise_broken":
            # The last standing promise (latest date, then latest recorded) is not kept
            # and its date has passed.
            q = PROMISE.alias("q")
            later = exists(
                select(q.c.id).where(
                    q.c.debtor_id == i.c.debtor_id,
                    or_(q.c.invoice_id.is_(None), q.c.invoice_id == i.c.id),
                    q.c.status != PromiseStatus.CANCELLED.value,
                    or_(q.c.promised_on > p.c.promised_on,
                        and_(q.c.promised_on == p.c.promised_on, q.c.id > p.c.id)),
                ).correlate_except(q)  # two levels deep: refer to the outer invoice too
            )
            return exists(
                select(p.c.id).where(
                    covers,
                    p.c.status.not_in(SETTLED_PROMISES),
                    p.c.promised_on < self.on,
                    not_(later),
                )
            )
        raise RuleError(_("{field} is not a yes/no field").format(field=name))

    def _in_plan_with(self, status: PlanStatus) -> Expr:
        # Not correlated: nothing indexes a plan's invoices by invoice, so a correlated
        # EXISTS read every plan's invoices for every invoice (seconds for a book of
        # 20,000), while the list of invoices is built once per query and probed.
        link = PLAN_INVOICE.alias(f"{status.value}_plan_invoice")
        plan = PLAN.alias(f"{status.value}_plan")
        return i.c.id.in_(
            select(link.c.invoice_id)
            .select_from(link.join(plan, plan.c.id == link.c.plan_id))
            .where(plan.c.status == status.value)
        )

    def _after(self, cond: After) -> Expr:
        ai, a = ACTION_ITEM.alias("after_item"), ACTION.alias("after_action")
        counted = and_(
            ai.c.invoice_id == i.c.id,
            ai.c.policy == self.policy.name,
            ai.c.rule == cond.rule,
            ai.c.state == ItemState.ACTIVE.value,
            ai.c.acted_on < self.on,
            a.c.state.not_in(VOID),
        )
        joined = ai.join(a, a.c.id == ai.c.action_id)
        self.after_columns[cond.rule] = (
            select(func.min(ai.c.acted_on)).select_from(joined).where(counted).scalar_subquery()
        )
        return exists(
            select(ai.c.id).select_from(joined).where(
                counted, self.elapsed_cmp(ai.c.acted_on, ">=", amount(cond.by), cond.by.business)
            )
        )

    def _compare(self, cond: Compare) -> Expr:
        ref, op, value = cond.field, cond.op, cond.value
        kind = field_type(ref)
        if kind is FieldType.DURATION:
            if not isinstance(value, Duration):
                raise _compares_with(ref, _("a duration"))
            return self._duration(ref.name, op, value)
        if kind is FieldType.MONEY:
            if not isinstance(value, MoneyValue):
                raise _compares_with(ref, _("money"))
            return self._money(ref.name, op, value)
        if kind is FieldType.NUMBER:
            if not isinstance(value, NumberValue):
                raise _compares_with(ref, _("a number"))
            if ref.name in SCALED:  # kept in hundredths: `> 20` compares with 2000
                return self._integer(self.profile_value(ref.name), op,
                                     value.value.scaleb(2), nullable=True)
            number: Expr
            if ref.name == "disputes_12m":
                number = self.profile_value(ref.name)
            elif ref.name == "reminders_sent":
                number = self.history_value("sent")
            elif ref.name == "promises_broken":
                number = self.promises_broken()
            else:
                number = PLAIN_COLUMNS[ref.name]
            return self._integer(number, op, value.value, nullable=ref.name in NULLABLE)
        if kind is FieldType.DATE:
            if not isinstance(value, DateValue):
                raise _compares_with(ref, _("a date"))
            return _apply(PLAIN_COLUMNS[ref.name], op, value.value)
        if kind is FieldType.FLAG:
            if not isinstance(value, BoolValue) or op not in ("=", "!="):
                raise _compares_with(ref, _("true or false"))
            flag = self.flag(ref.name)
            return flag if value.value == (op == "=") else not_(flag)
        if kind in (FieldType.ENUM, FieldType.TEXT):
            if not isinstance(value, TextValue | WordValue) or op not in ("=", "!="):
                raise _compares_with(ref, _("= or != a text"))
            if ref.name == "creditor" and self.creditor_ids is not None:
                return _creditor(self.creditor_ids, op, value.value)
            if kind is FieldType.TEXT:  # attr.NAME: the key is a bound JSON path
                column: Expr = i.c.attrs[ref.name[len("attr."):]].as_string()
                wanted: str = value.value
                nullable = True
            else:
                column = func.lower(self.profile_value(ref.name) if ref.name == "payer_class"
                                    else PLAIN_COLUMNS[ref.name])
                wanted = value.value.lower()
                nullable = ref.name in NULLABLE
            if op == "=":
                test = column == wanted
                return and_(column.is_not(None), test) if nullable else test
            test = column != wanted
            return or_(column.is_(None), test) if nullable else test
        raise RuleError(_("{place}: {field} cannot be compared").format(place=ref.span,
                                                                        field=ref.name))

    def _integer(self, column: Expr, op: Op, value: Decimal, *, nullable: bool) -> Expr:
        bound = _integer_bound(op, value)
        test = _const(bound) if isinstance(bound, bool) else _apply(column, *bound)
        if not nullable:
            return test
        if op == "!=":
            return or_(column.is_(None), test)
        return and_(column.is_not(None), test)

    def _money(self, name: str, op: Op, value: MoneyValue) -> Expr:
        columns: dict[str, Callable[[], Expr]] = {
            "amount": lambda: i.c.amount_minor,
            "balance": lambda: i.c.balance_minor,
            "debtor_balance": lambda: self.debtor_total("balance"),
            "debtor_overdue": lambda: self.debtor_total("overdue"),
        }
        currency = value.currency.upper()
        scaled = value.amount.scaleb(minor_units(currency))
        same = func.upper(i.c.currency) == currency
        test = self._integer(columns[name](), op, scaled, nullable=False)
        if op == "!=":
            return or_(not_(same), test)
        return and_(same, test)

    def _duration(self, name: str, op: Op, value: Duration) -> Expr:
        count = amount(value)
        if name == "last_action":
            column = self.history_value("last_on")
            test = self.elapsed_cmp(column, op, count, value.business)
            if op in (">", ">=", "!="):  # never acted: longer than any duration
                return or_(column.is_(None), test)
            return and_(column.is_not(None), test)
        if name == "instalment_overdue":  # never NULL: D when no instalment is late
            return self.elapsed_cmp(self.instalment_since(), op, count, value.business)
        since, sign = DURATION_COLUMNS[name]
        if sign < 0:  # due_in = -(days since the due date)
            op, count = FLIPPED[op], -count
        return self.elapsed_cmp(since, op, count, value.business)

    _dispatch: ClassVar[dict[type, Callable[[_Compiler, Any], Expr]]] = {
        And: _and,
        Or: _or,
        Not: _not,
        Compare: _compare,
        InList: _in_list,
        HasTag: _has_tag,
        FlagTest: _flag,
        After: _after,
    }


@dataclass(frozen=True)
class CompiledPolicy:
    """A policy's query for one date; its rows carry the values their rule records."""

    policy: Policy
    statement: Select[Any]
    after_rules: tuple[str, ...]
    tags: tuple[str, ...]
    extras: dict[str, Expr]
    needs: tuple[frozenset[str], ...]  # per rule: the extra values its facts include


def _profile_source(name: str) -> Expr:
    """The payer-profile column behind a fact, with the value of a debtor without a row
    (see `_Compiler.profile_value`, which also asks for the join)."""
    if name in SCALED:
        return PROFILE.c[SCALED[name]]
    if name == "disputes_12m":
        return func.coalesce(PROFILE.c.disputes_12m, 0)
    return func.coalesce(PROFILE.c.payer_class, NEW)


PROFILE_COLUMNS = frozenset({*SCALED.values(), "disputes_12m", "payer_class"})


# Where the value behind a field lives, for the facts a run records.
RAW_COLUMNS = {
    "overdue": "due_date", "due_in": "due_date", "age": "issue_date",
    "amount": "amount_minor", "balance": "balance_minor", "creditor": "code",
    "paused": "paused_until", "disputed": "dispute_reason", **SCALED,
}
RAW_SOURCES: dict[str, Expr] = {
    "due_date": i.c.due_date, "issue_date": i.c.issue_date, "amount_minor": i.c.amount_minor,
    "balance_minor": i.c.balance_minor, "currency": i.c.currency, "stage": i.c.stage,
    "dispute_reason": i.c.dispute_reason, "attrs": i.c.attrs, "code": c.c.code,
    "segment": d.c.segment, "country": d.c.country, "payment_method": d.c.payment_method,
    "language": d.c.language, "sales_rep": d.c.sales_rep, "risk": d.c.risk,
    "paused_until": d.c.paused_until,
    **{column: PROFILE.c[column] for column in SCALED.values()},
    "disputes_12m": _profile_source("disputes_12m"),
    "payer_class": _profile_source("payer_class"),
}


# The first columns of every compiled query, in this order: an action item's invoice
# fields, read by position (`evaluate.evaluate_sql`).
LEADING = ("id", "number", "creditor_id", "debtor_id", "balance_minor", "currency")

# Flags computed by a sub-query; `paused` and `disputed` come from plain columns.
FLAG_FIELDS = ("promised", "promise_broken", "in_plan", "plan_broken", "portal_visited")
# Values computed by a sub-query, recorded under the field's own name.
COUNTED_FIELDS = ("debtor_balance", "debtor_overdue", "reminders_sent", "promises_broken")


def fields_read(cond: Condition | None) -> set[str]:
    """The names of the fields a condition reads."""
    if cond is None:
        return set()
    if isinstance(cond, And | Or):
        return set().union(*(fields_read(part) for part in cond.operands))
    if isinstance(cond, Not):
        return fields_read(cond.operand)
    if isinstance(cond, Compare | InList | HasTag | FlagTest):
        return {cond.field.name}
    return set()


DebtorRange = tuple[int | None, int | None]


def _debtor_range(debtors: DebtorRange | None) -> list[Expr]:
    first, last = debtors or (None, None)
    return [*([] if first is None else [d.c.id >= first]),
            *([] if last is None else [d.c.id <= last])]


def compile_policy(policy: Policy, on: dt.date, calendars: Sequence[Calendar], *,
                   debtors: DebtorRange | None = None,
                   creditors: CreditorIds | None = None,
                   debtor_ids: Collection[int] | None = None) -> CompiledPolicy:
    """The query returning the invoices on which `policy` acts on `on` (see module doc).

    `debtors=(first, last)`: only the invoices of the debtors whose id lies between
    the two (either end None: open), so that connections can share one policy's work
    (`engine.fetching`); `debtor_ids`: only the invoices of these debtors (a run after a
    small change, `engine.run_scope`). `creditors`: the creditors' ids by lower-cased
    code, read once per run (`evaluate.creditor_ids`); without them `creditor` compares
    the joined creditor's code, with the same meaning for codes in ASCII. `calendars`: the
    creditors' (country, calendar region) pairs of the book, read once per run
    (`evaluate.creditor_calendars`): business days compare with one bound each."""
    distinct = sorted(set(calendars), key=lambda calendar: (calendar[0], calendar[1] or ""))
    compiler = _Compiler(policy, on, distinct, creditor_ids=creditors)
    il = INVOICE_LEVEL
    identities = [rule.identity for rule in policy.rules]
    fallback_item = ACTION_ITEM.alias("level_item")
    fallback = (
        select(
            case(*((fallback_item.c.rule == identity, index)
                   for index, identity in enumerate(identities)), else_=-1)
        )
        .where(
            fallback_item.c.invoice_id == i.c.id,
            fallback_item.c.policy == policy.name,
            fallback_item.c.rule.in_(identities),
            fallback_item.c.acted_on < on,
        )
        .order_by(fallback_item.c.acted_on.desc(), fallback_item.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    level = case(
        (il.c.rule.is_(None), literal(-1, Integer)),
        *((il.c.rule == identity, literal(index, Integer))
          for index, identity in enumerate(identities)),
        else_=func.coalesce(fallback, -1),
    )
    whens = []
    for index in reversed(range(len(policy.rules))):
        rule = policy.rules[index]
        held = compiler.condition(rule.condition)
        candidate = and_(held, level < index)
        every = rule.options.every
        if every is not None:
            due_again = and_(
                level == index,
                il.c.acted_on.is_not(None),
                compiler.elapsed_cmp(il.c.acted_on, ">=", amount(every), every.business),
            )
            candidate = or_(candidate, and_(held, due_again))
        whens.append((candidate, literal(index, Integer)))
    scope = compiler.condition(policy.scope) if policy.scope is not None else true()
    acting = case(*whens, else_=None) if whens else literal(None, Integer)

    # The values sub-queries compute (flags, `after`, tags, totals, history) are not
    # read for every acting row: the outer query computes them for the rows whose rule
    # records them.
    extras: dict[str, Expr] = {}
    extras.update({f"flag_{name}": compiler.flag(name) for name in FLAG_FIELDS})
    after_labels = {rule: f"after_{n}" for n, rule in enumerate(compiler.after_columns)}
    tag_labels = {tag: f"tag_{n}" for n, tag in enumerate(compiler.tag_columns)}
    extras.update({after_labels[r]: e for r, e in compiler.after_columns.items()})
    extras.update({tag_labels[t]: e for t, e in compiler.tag_columns.items()})
    extras["debtor_balance"] = compiler.debtor_total("balance")
    extras["debtor_overdue"] = compiler.debtor_total("overdue")
    extras["reminders_sent"] = compiler.history_value("sent")
    extras["last_action_on"] = compiler.history_value("last_on")
    extras["promises_broken"] = compiler.promises_broken()

    plain: dict[str, Expr] = {}
    needs: list[frozenset[str]] = []
    for rule in policy.rules:
        labels: set[str] = set()
        cond = rule.condition if policy.scope is None else And((policy.scope, rule.condition))
        for _key, kind, name, _business in probes(cond):
            if kind == "tag":
                labels.add(tag_labels[name])
            elif kind == "after":
                labels.add(after_labels[name])
            elif name in FLAG_FIELDS:
                labels.add(f"flag_{name}")
            elif name in COUNTED_FIELDS:
                labels.add(name)
            elif name == "last_action":
                labels.add("last_action_on")
            elif name == "instalment_overdue":  # a column of the joined row
                plain["instalment_since"] = compiler.instalment_since()
            else:
                column_name = RAW_COLUMNS.get(name, "attrs" if name.startswith("attr.")
                                              else name)
                plain[column_name] = RAW_SOURCES[column_name]
                # Recorded even when no comparison compiled it (`payer_class in []`).
                compiler.needs_profile |= column_name in PROFILE_COLUMNS
        needs.append(frozenset(labels))
    columns: list[Expr] = [
        *(getattr(i.c, name) for name in LEADING), acting.label("acting"),
        c.c.country.label("creditor_country"), c.c.calendar_region.label("creditor_region"),
        *(column.label(name) for name, column in sorted(plain.items()) if name not in LEADING),
    ]

    joined = (
        i.join(d, d.c.id == i.c.debtor_id)
        .join(c, c.c.id == i.c.creditor_id)
        .outerjoin(il, and_(il.c.invoice_id == i.c.id, il.c.policy == policy.name))
    )
    if compiler.needs_profile:  # one row per debtor at most
        joined = joined.outerjoin(PROFILE, PROFILE.c.debtor_id == i.c.debtor_id)
    if compiler.late_instalments is not None:  # at most one row per invoice
        joined = joined.outerjoin(compiler.late_instalments,
                                  compiler.late_instalments.c.invoice_id == i.c.id)
    inner = (
        select(*columns)
        .select_from(joined)
        .where(
            open_invoice_filter(),
            scope,
            or_(il.c.acted_on.is_(None), il.c.acted_on != on),
            *_debtor_range(debtors),
            # On the invoice's column: its index finds the few debtors' invoices.
            *only_ids(i.c.debtor_id, debtor_ids),
        )
        # OFFSET 0 keeps SQLite and PostgreSQL from merging this query into the outer
        # one, which would copy `acting` (and its sub-queries) into every place the
        # outer query names it: the filter and each extra value below.
        .offset(0)
        .subquery("evaluated")
    )
    # The extra values are computed in the same pass, only on the acting rows whose rule
    # records them (a CASE evaluates the sub-query of the branch it takes), rather than
    # fetched by a second query per batch.
    adapter = ClauseAdapter(inner)
    extra_columns = []
    for label in sorted(set().union(*needs)):
        recording = [index for index, labels in enumerate(needs) if label in labels]
        extra_columns.append(
            case((inner.c.acting.in_(recording), adapter.traverse(extras[label])),
                 else_=None).label(label)
        )
    statement = select(inner, *extra_columns).where(inner.c.acting.is_not(None))
    if statement.get_final_froms() != [inner]:  # an extra reached past the invoice row
        raise RuleError(_("policy {policy}: extra values must read the evaluated row").format(
            policy=policy.name))
    return CompiledPolicy(
        policy=policy,
        statement=statement,
        after_rules=tuple(compiler.after_columns),
        tags=tuple(compiler.tag_columns),
        extras=extras,
        needs=tuple(needs),
    )
