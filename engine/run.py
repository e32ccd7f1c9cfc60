"""A run: evaluate every policy as of day D and queue the actions, once.

Over 500 lines because a run is one transaction whose steps share its pending actions
(grouped, then written, then moving the levels): they are kept where one reader can
follow the transaction end to end. The grouping (`Shape`, `PendingAction`, `group`, some
150 lines) is the part to move to a module of its own if the file grows.

1. Take the run lock for D (PostgreSQL: an advisory lock on the date; SQLite: the
   write lock, `BEGIN IMMEDIATE`), so two runs for one date cannot both queue.
2. Store the rule-set version (content hash, git commit, exact text), and rewrite the
   payer profiles as of D (`engine.payer_profile`; committed just before the run's
   transaction when a second connection reads for it, see `run_day`).
3. Decide which rule acts on which invoice (`engine.evaluate`, SQL).
4. Group the items into actions per creditor, debtor, channel, template and tone, across
   policies (`per invoice` opts out); calls and escalations group per debtor.
5. Insert actions and items in batches, move the invoices' levels, and append one event
   per action and one for the run — all in one transaction: a run happens whole or not.

A second run on D finds every acted invoice at a level acted on D and adds nothing,
unless the book changed in between and another rule now acts on an invoice the policy
did not act on yet.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import hashlib
import json
import operator
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar

from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from relance.dsl.ast import ActionSpec, CallTask, Notify, Policy, Rule, Send
from relance.dsl.check_options import STATEMENT_CHANNELS
from relance.engine.bulk import JsonText, bulk_insert, bulk_upsert
from relance.engine.evaluate import Acting, evaluate_python, evaluate_sql
from relance.engine.eventlog import NewEvent, append_events
from relance.engine.facts import ACTION, ACTION_ITEM, INVOICE_LEVEL
from relance.engine.id_sets import only_ids
from relance.engine.payer_profile import recompute_profiles
from relance.engine.plans import check_plans
from relance.engine.run_reuse import (
    SUMMARY_KEY,
    book_state,
    remembered,
    reuse_last_run,
    run_key,
    settled_fingerprint,
)
from relance.engine.run_scope import run_scope
from relance.engine.run_texts import ActionTexts, action_texts, queued_event_data
from relance.engine.versioning import folder_state, record_ruleset
from relance.kernel.errors import RelanceError
from relance.kernel.i18n import _
from relance.kernel.settings import PayerSettings
from relance.store import audit
from relance.store.content import STATEMENT_KEY, ContentLine, content_hash, wants_statement
from relance.store.db import Store
from relance.store.models import ActionState, Run, utcnow
from relance.store.sequences import reserve_ids

# Called inside a run's transaction once its actions are written, with the run's id:
# what the run queued can be read there, even for a dry run, which is rolled back after.
Inspect = Callable[[Session, int, "RunReport"], None]

BATCH = 2000
T = TypeVar("T")
PRIORITY_ORDER = {"low": 0, "normal": 1, "high": 2}
ATTACHABLE = {ActionState.PROPOSED.value, ActionState.APPROVED.value}
Evaluator = Literal["sql", "python"]


class RulesHaveErrors(RelanceError):
    """The rules do not check: nothing is run."""


@dataclass(frozen=True)
class RuleCount:
    policy: str
    rule: str
    channel: str
    items: int


@dataclass(frozen=True)
class RunReport:
    """What a run queued (or would queue, for a dry run)."""

    run_id: int | None
    on: dt.date
    dry_run: bool
    ruleset_hash: str
    git_commit: str | None
    actions_created: int  # new actions
    items_created: int
    actions_proposed: int
    actions_approved: int
    by_rule: tuple[RuleCount, ...]
    by_channel: tuple[tuple[str, int], ...]
    action_ids: tuple[int, ...] = field(default=(), repr=False)
    # Actions queued earlier the same day that received more invoices (the book changed).
    actions_extended: int = 0
    # The rules folder in git (`versioning.FolderState`): clean, dirty or untracked.
    rules_state: str = "untracked"
    rules_diff_hash: str | None = None
    # Nothing changed since this run of the same day: it was not evaluated again
    # (`engine.run_reuse`), and queued nothing.
    reused_from: int | None = None
    # Only some debtors changed since this run of the same day: only they were
    # evaluated (`debtors_evaluated` of them, `engine.run_scope`).
    scoped_from: int | None = None
    debtors_evaluated: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "date": self.on.isoformat(),
            "dry_run": self.dry_run,
            "ruleset": {"hash": self.ruleset_hash, "git_commit": self.git_commit,
                        "state": self.rules_state, "diff_hash": self.rules_diff_hash},
            "actions_created": self.actions_created,
            "actions_extended": self.actions_extended,
            "items_created": self.items_created,
            "actions_proposed": self.actions_proposed,
            "actions_approved": self.actions_approved,
            "by_rule": [
                {"policy": c.policy, "rule": c.rule, "channel": c.channel, "items": c.items}
                for c in self.by_rule
            ],
            "by_channel": dict(self.by_channel),
            "reused_from": self.reused_from,
            "scoped_from": self.scoped_from,
            "debtors_evaluated": self.debtors_evaluated,
        }


# --------------------------------------------------------------------------- grouping


class Shape(NamedTuple):
    """What an action sends, apart from its invoices: the grouping key without the date."""

    creditor_id: int
    debtor_id: int
    channel: str
    template: str | None
    tone: str | None
    notify_role: str | None
    target_stage: str | None
    invoice_id: int | None  # `per invoice`: one action per invoice

    def idempotency_key(self, on: dt.date) -> str:
        parts = [str(self.creditor_id), str(self.debtor_id), self.channel,
                 self.template or "", self.tone or "", self.notify_role or "",
                 self.target_stage or "", on.isoformat()]
        if self.invoice_id is not None:
            parts.append(f"i{self.invoice_id}")
        key = "|".join(parts)
        if len(key) > 180:  # long template names: keep the key within its column
            key = "|".join([*parts[:3], hashlib.sha256(key.encode()).hexdigest()[:40],
                            on.isoformat()])
        return key


Kind = tuple[str, str | None, str | None, str | None, str | None]
CHANNEL_ORDER = {"letter": 0, "email": 1, "sms": 2, "call": 3, "notify": 4, "escalate": 5}


def kind_of(spec: ActionSpec) -> Kind:
    """(channel, template, tone, notify role, target stage) of an action spec."""
    if isinstance(spec, Send):
        return (spec.channel, spec.template, spec.tone, None, None)
    if isinstance(spec, CallTask):
        return ("call", None, None, None, None)
    if isinstance(spec, Notify):
        return ("notify", spec.template, None, spec.role, None)
    return ("escalate", None, None, None, spec.stage)


def _kind_order(kind: Kind) -> tuple[Any, ...]:
    channel, template, tone, role, stage = kind
    return (CHANNEL_ORDER.get(channel, 9), template or "", tone or "", role or "",
            stage or "")


class PendingItem(NamedTuple):
    acting: Acting
    step: int
    spec: ActionSpec


class PendingAction(NamedTuple):
    """An action to queue: its shape and its items, in order (`group`)."""

    shape: Shape
    items: list[PendingItem]

    @property
    def needs_approval(self) -> bool:
        return any(item.acting.rule.needs_approval for item in self.items)

    @property
    def priority(self) -> str | None:
        priorities = [item.spec.priority or "normal" for item in self.items
                      if isinstance(item.spec, CallTask)]
        if not priorities:
            return None
        return max(priorities, key=PRIORITY_ORDER.__getitem__)

    @property
    def with_statement(self) -> bool:
        """The account statement goes along if any rule grouped here asks for it (the
        checker allows the option on letters and e-mails only)."""
        return self.shape.channel in STATEMENT_CHANNELS and any(
            item.acting.rule.options.with_statement for item in self.items)

    def content_hash(self) -> str:
        return content_hash(
            debtor_id=self.shape.debtor_id, channel=self.shape.channel,
            template=self.shape.template, tone=self.shape.tone,
            target_stage=self.shape.target_stage,
            lines=_lines((item.acting.invoice_id, item.acting.balance_minor,
                          item.acting.currency) for item in self.items),
            statement=self.with_statement,
        )


def _lines(lines: Iterable[tuple[int, int, str]]) -> list[ContentLine]:
    # One line per invoice even when two policies put it in the same letter.
    unique = {invoice: ContentLine(invoice, balance, currency)
              for invoice, balance, currency in lines}
    return [unique[invoice] for invoice in sorted(unique)]


# What one rule adds per acting invoice: for each of its actions, the step, the spec and
# the rank of its kind; and whether it sends one action per invoice.
_Plan = tuple[bool, tuple[tuple[int, ActionSpec, int], ...]]


def _plans(found: Iterable[Rule]) -> tuple[dict[int, _Plan], list[Kind]]:
    """Each rule's plan (keyed by the rule's id), and the kinds in the order actions sort."""
    rules = list({id(rule): rule for rule in found}.values())
    kinds = sorted({kind_of(spec) for rule in rules for spec in rule.actions}, key=_kind_order)
    rank = {kind: position for position, kind in enumerate(kinds)}
    plans = {
        id(rule): (rule.options.per_invoice,
                   tuple((step, spec, rank[kind_of(spec)])
                         for step, spec in enumerate(rule.actions)))
        for rule in rules
    }
    return plans, kinds


def group(actings: Iterable[Acting], policies: Sequence[Policy] | None = None
          ) -> list[PendingAction]:
    """Items grouped into actions, in a stable order: by debtor (each belongs to one
    creditor), then channel; within an action, by invoice, then policy as the rule set
    gives them, then step.

    `policies` are those the items come from, in their order; without them they are found
    in the items. Both evaluators give the items policy by policy, in that order."""
    if policies is None:
        actings = list(actings)
        plans, kinds = _plans(acting.rule for acting in actings)
    else:
        plans, kinds = _plans(rule for policy in policies for rule in policy.rules)
    # A first run groups every acting invoice: the loop keys on plain tuples that sort as
    # the actions do (the kind by its rank, 0 for "not per invoice", as invoice ids start
    # at 1). The debtor comes first: sorting compares the first items of the keys on
    # their own while they are integers and differ, which took a third less time than
    # comparing whole tuples. Each action is built as its first item comes, while the
    # database may still be computing the next policy's rows (`engine.fetching`); only
    # the sort is left.
    buckets: dict[tuple[int, int, int, int], PendingAction] = {}
    new_tuple = tuple.__new__
    for acting in actings:
        per_invoice, steps = plans[id(acting.rule)]
        invoice = acting.invoice_id if per_invoice else 0
        for step, spec, kind in steps:
            key = (acting.debtor_id, acting.creditor_id, kind, invoice)
            pending = buckets.get(key)
            if pending is None:
                # Plain tuples: the named tuples' Python constructors, with the kind
                # unpacked into the shape, cost a fifth of the grouping.
                shape = new_tuple(Shape, (key[1], key[0], *kinds[kind], invoice or None))
                pending = buckets[key] = new_tuple(PendingAction, (shape, []))
            pending.items.append(new_tuple(PendingItem, (acting, step, spec)))
    ordered = [buckets[key] for key in sorted(buckets)]
    for pending in ordered:
        # The items came policy by policy and step by step, each policy's invoices in
        # whatever order the database read them: a stable sort by invoice finishes it.
        if len(pending.items) > 1:
            pending.items.sort(key=_INVOICE_OF_ITEM)
    return ordered


_INVOICE_OF_ITEM = operator.attrgetter("acting.invoice_id")


# --------------------------------------------------------------------------- locking


def run_lock_key(on: dt.date) -> int:
    """The advisory-lock key of the runs of one date (a signed 64-bit integer)."""
    digest = hashlib.sha256(f"relance-run:{on.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_run_date(session: Session, on: dt.date) -> None:
    """Serialise the runs of one date until the end of the transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": run_lock_key(on)})
    else:  # SQLite: the write lock, taken now rather than at the first write
        session.connection(execution_options={"sqlite_immediate": True})


# --------------------------------------------------------------------------- the run


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a run builds its many small objects.

    They hold no cycles, and the collector's passes over them cost a third of the
    evaluation time; reference counting still frees them. On the way out they go
    straight to the oldest generation (`freeze`, then `unfreeze`): left young, the first
    allocation after the pause would make the collector scan them all at once, a tenth
    of the run, just before they are freed."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def decide_day(conn: Connection, policies: Sequence[Policy], on: dt.date,
               evaluator: Evaluator = "sql", *, reader: Engine | None = None,
               debtor_ids: Collection[int] | None = None) -> list[PendingAction]:
    """What day `on` queues, grouped into actions, without writing anything.

    `reader`: an engine whose connections see what `conn` sees of the book, so that the
    SQL evaluator may read on a second connection (`engine.fetching`); `debtor_ids`:
    for these debtors only (SQL evaluator, `engine.run_scope`)."""
    actings = (evaluate_sql(conn, policies, on, reader=reader, debtor_ids=debtor_ids)
               if evaluator == "sql" else evaluate_python(conn, policies, on))
    # Grouped as the items come: on PostgreSQL while the server computes the next
    # policy's rows (`engine.fetching`).
    return group(actings, policies)


class _DryRun(Exception):
    """Raised to roll a dry run back after it computed everything."""

    def __init__(self, report: RunReport) -> None:
        super().__init__("dry run")  # not for people: caught, never shown
        self.report = report


def run_day(
    store: Store,
    rules: Any,
    on: dt.date,
    *,
    actor: str,
    auto_approve: bool = True,
    dry_run: bool = False,
    rules_dir: Path | None = None,
    evaluator: Evaluator = "sql",
    payer: PayerSettings = PayerSettings(),
    inspect: Inspect | None = None,
    reuse: bool = True,
) -> RunReport:
    """Evaluate every policy of `rules` (a loaded, checked rule set) as of `on` and queue
    the actions, once. `dry_run` computes the same report and writes nothing.
    `payer`: the thresholds of the payer classes (`[payer]` of relance.toml); `inspect`:
    see `Inspect`. `reuse`: when nothing changed since the last run of `on`, record
    that this one reuses it rather than evaluate again (`engine.run_reuse`); when only
    some debtors changed, evaluate only them (`engine.run_scope`)."""
    if not getattr(rules, "ok", True):
        render = getattr(rules, "render", None)
        detail = render() if callable(render) else ""
        raise RulesHaveErrors((_("the rules have errors; nothing was run") + "\n"
                               + detail).rstrip())
    if not dry_run and reuse:
        with store.sessions() as session, session.begin():
            lock_run_date(session, on)
            reused = reuse_last_run(session, rules, on, actor=actor,
                                    auto_approve=auto_approve, payer=payer,
                                    evaluator=evaluator, rules_dir=rules_dir)
            if reused is not None and inspect is not None and reused.run_id is not None:
                inspect(session, reused.run_id, reused)
        if reused is not None:
            return reused
    scoped = False
    if not dry_run:
        # Committed before the run reads the book: its reader connection sees only what
        # is committed, and `plan_broken` must hold from the day the plan breaks.
        with store.write_transaction() as session:
            check_plans(session, on, actor=actor)
            if reuse and evaluator == "sql":
                key = run_key(rules, folder_state(rules_dir), auto_approve=auto_approve,
                              payer=payer, evaluator=evaluator)
                scoped = run_scope(session.connection(), on, key) is not None
            if not scoped:
                # The profiles too: the reader connection sees only what is committed.
                # (A run of a few debtors rewrites theirs in its own transaction.)
                recompute_profiles(session.connection(), on, payer)
    try:
        with store.sessions() as session, session.begin():
            lock_run_date(session, on)
            # The run has written nothing the policies read: a second connection may read
            # for it (`engine.fetching`), unless the book lives in this connection only.
            # A dry run rewrites the profiles in its own transaction, which is rolled back:
            # it reads on this connection only.
            # A run of a few debtors reads on one connection, its profiles its own.
            in_memory = store.is_sqlite and store.engine.url.database in (None, "", ":memory:")
            reader = None if in_memory or dry_run or scoped else store.engine
            report = run_in_session(session, rules, on, actor=actor, auto_approve=auto_approve,
                                    rules_dir=rules_dir, evaluator=evaluator, dry_run=dry_run,
                                    reader=reader, payer=payer,
                                    profiles_fresh=reader is not None, inspect=inspect,
                                    remember=not dry_run, only_changed=scoped)
            if dry_run:
                raise _DryRun(report)
            return report
    except _DryRun as done:
        return done.report


def run_in_session(
    session: Session,
    rules: Any,
    on: dt.date,
    *,
    actor: str,
    auto_approve: bool = True,
    rules_dir: Path | None = None,
    evaluator: Evaluator = "sql",
    dry_run: bool = False,
    reader: Engine | None = None,
    payer: PayerSettings = PayerSettings(),
    profiles_fresh: bool = False,
    inspect: Inspect | None = None,
    remember: bool = False,
    only_changed: bool = False,
) -> RunReport:
    """The run's work inside the caller's transaction (which holds the run lock).

    `reader` only when the transaction has changed nothing the policies read (see
    `decide_day`): simulate's days, for one, each read the previous ones' actions.
    The payer profiles are rewritten as of `on` with the `payer` thresholds, unless the
    caller committed them so already (`profiles_fresh`, for the reader's sake).
    `remember`: the run will be committed; its summary keeps what a later run of the
    same day needs to know that nothing changed (`engine.run_reuse`). `only_changed`:
    evaluate only the debtors changed since the last run of `on` when that decides
    what a whole evaluation would (`engine.run_scope`; the SQL evaluator, no `reader`),
    rewriting their profiles here; else the whole book."""
    ruleset = record_ruleset(session, rules, rules_dir)
    folder = folder_state(rules_dir)
    policies: Sequence[Policy] = tuple(rules.policies)
    started = utcnow()
    run = Run(run_date=on, ruleset_id=ruleset.id, started_by=actor, status="running",
              started_at=started, rules_state=folder.state,
              rules_git_commit=folder.commit, rules_diff_hash=folder.diff_hash)
    session.add(run)
    session.flush()
    conn = session.connection()
    # Read before deciding: what the decisions saw is at least this (`engine.run_reuse`).
    before = book_state(conn) if remember else None
    key = run_key(rules, folder, auto_approve=auto_approve, payer=payer, evaluator=evaluator)
    # Decided again under the run lock: what changed since the caller looked counts too.
    scope = (run_scope(conn, on, key) if only_changed and reader is None
             and evaluator == "sql" else None)
    debtor_ids = None if scope is None else scope.debtor_ids
    if not profiles_fresh or scope is not None:
        recompute_profiles(conn, on, payer, debtor_ids)
    with gc_paused():
        groups = decide_day(conn, policies, on, evaluator, reader=reader,
                            debtor_ids=debtor_ids)
        action_ids, proposed, extended = _write(session, groups, on, run.id, ruleset.id,
                                                actor, auto_approve, debtor_ids)

    by_rule: Counter[tuple[str, str, str]] = Counter()
    by_channel: Counter[str] = Counter()
    items = 0
    for pending in groups:
        by_channel[pending.shape.channel] += 1
        for item in pending.items:
            by_rule[(item.acting.policy.name, item.acting.rule.identity,
                     pending.shape.channel)] += 1
            items += 1
    report = RunReport(
        run_id=None if dry_run else run.id, on=on, dry_run=dry_run,
        ruleset_hash=ruleset.content_hash, git_commit=folder.clean_commit,
        rules_state=folder.state, rules_diff_hash=folder.diff_hash,
        actions_created=len(groups) - extended, items_created=items, actions_proposed=proposed,
        actions_approved=len(groups) - extended - proposed, actions_extended=extended,
        by_rule=tuple(RuleCount(p, r, ch, n) for (p, r, ch), n in sorted(by_rule.items())),
        by_channel=tuple(sorted(by_channel.items())),
        action_ids=tuple(action_ids),
        scoped_from=None if scope is None else scope.since,
        debtors_evaluated=None if scope is None else len(scope.debtor_ids),
    )
    run.status = "done"
    run.finished_at = utcnow()
    audit.record(session, actor=actor, kind="run.done", subject_type="run", subject_id=run.id,
                 data={"date": on.isoformat(), "ruleset": ruleset.content_hash,
                       "git_commit": folder.commit, "rules_state": folder.state,
                       "rules_diff_hash": folder.diff_hash, "actions": len(groups),
                       "items": items,
                       **({} if scope is None else {"scope": {
                           "since": scope.since, "debtors": len(scope.debtor_ids)}})})
    summary = report.to_json()
    if before is not None:
        # One event per action written, and the run's own.
        left = settled_fingerprint(conn, before, own_events=len(action_ids) + 1)
        summary[SUMMARY_KEY] = remembered(key, left)
    run.summary = summary
    if inspect is not None:
        inspect(session, run.id, report)
    return report


def _chunks(rows: Sequence[T], size: int = BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


# An action's `output` without the statement, and with it, as their JSON column stores
# them: written as text, rather than serialised again for each of a run's actions.
_NO_OUTPUT = JsonText(json.dumps({}))
_STATEMENT_OUTPUT = JsonText(json.dumps({STATEMENT_KEY: True}))


def _write(
    session: Session,
    groups: Sequence[PendingAction],
    on: dt.date,
    run_id: int,
    ruleset_id: int,
    actor: str,
    auto_approve: bool,
    debtor_ids: Collection[int] | None = None,
) -> tuple[list[int], int, int]:
    """Insert the actions, their items, the levels and the events; return the action ids,
    how many new actions wait for approval, and how many earlier ones got more items.
    `debtor_ids`: the run decided for these debtors only (their earlier actions are
    the only ones its actions may join)."""
    if not groups:
        return [], 0, 0
    conn = session.connection()
    now = utcnow()
    existing = {
        row.idempotency_key: row
        for row in conn.execute(
            select(ACTION.c.id, ACTION.c.idempotency_key, ACTION.c.state)
            .where(ACTION.c.created_on == on, *only_ids(ACTION.c.debtor_id, debtor_ids))
        )
    }
    traits: dict[int, tuple[bool, bool]] = {}
    keyed: dict[str, tuple[PendingAction, ActionTexts]] = {}
    attach: dict[int, PendingAction] = {}
    written: dict[int, ActionTexts] = {}  # the attached actions', by their id
    for pending in groups:
        key = pending.shape.idempotency_key(on)
        earlier = existing.get(key) if existing else None
        serial = 1
        # The book changed since an earlier run today: add to that day's letter if it
        # has not left yet, else queue a second communication.
        while earlier is not None and str(earlier.state) not in ATTACHABLE:
            serial += 1
            earlier = existing.get(f"{key}#{serial}")
        if earlier is not None:
            attach[earlier.id] = pending
            written[earlier.id] = action_texts(pending, traits)
        else:
            keyed[key if serial == 1 else f"{key}#{serial}"] = (pending,
                                                                action_texts(pending, traits))

    proposed = 0
    action_rows: list[dict[str, Any]] = []
    approved, waiting = ActionState.APPROVED.value, ActionState.PROPOSED.value
    for key, (pending, facts) in keyed.items():
        needs = facts.needs_approval
        is_approved = auto_approve and not needs
        proposed += not is_approved
        shape = pending.shape
        action_rows.append({
            "idempotency_key": key, "creditor_id": shape.creditor_id,
            "debtor_id": shape.debtor_id, "run_id": run_id, "ruleset_id": ruleset_id,
            "created_on": on, "channel": shape.channel, "template": shape.template,
            "tone": shape.tone,
            # Only calls have a priority (`PendingAction.priority`).
            "priority": pending.priority if shape.channel == "call" else None,
            "notify_role": shape.notify_role,
            "target_stage": shape.target_stage, "state": approved if is_approved else waiting,
            "requires_approval": needs,
            "content_hash": facts.content_hash,
            "approved_at": now if is_approved else None,
            "proposed_by": actor, "created_at": now, "updated_at": now,
            "output": _STATEMENT_OUTPUT if facts.with_statement else _NO_OUTPUT,
        })
    # The ids are chosen here rather than returned by the INSERT: SQLite can return
    # them in order only one row per statement. The run has written its `Run` row, so
    # on SQLite it holds the write lock that `reserve_ids` needs.
    ids: dict[str, int] = {}
    for values, new_id in zip(action_rows, reserve_ids(conn, ACTION, len(action_rows)),
                              strict=True):
        values["id"] = new_id
        ids[str(values["idempotency_key"])] = new_id
    bulk_insert(conn, ACTION, action_rows)
    del action_rows
    by_id: dict[int, PendingAction] = {}
    for key, (pending, facts) in keyed.items():
        by_id[ids[key]] = pending
        written[ids[key]] = facts
    by_id.update(attach)

    # Items, levels and events go in batch by batch, each built just before it is sent:
    # built whole, a first run's rows would hold a few hundred megabytes at once.
    for batch in _chunks(list(by_id.items())):
        bulk_insert(conn, ACTION_ITEM, [
            {"action_id": action_id, "invoice_id": item.acting.invoice_id,
             "policy": item.acting.policy.name, "rule": item.acting.rule.identity,
             "rule_file": item.acting.rule.span.file, "rule_line": item.acting.rule.span.line,
             "acted_on": on, "step": item.step, "state": "active",
             "balance_minor": item.acting.balance_minor, "currency": item.acting.currency,
             "facts": item.acting.facts}
            for action_id, pending in batch for item in pending.items
        ])

    if attach:
        _refresh_attached(session, attach, auto_approve)
    _move_levels(session, by_id.values(), on)

    events = (
        NewEvent(
            actor=actor,
            kind="action.items_added" if action_id in attach else "action.queued",
            subject_type="action", subject_id=str(action_id),
            data=queued_event_data(
                run_id=run_id, channel=pending.shape.channel,
                template=pending.shape.template, invoices=told.invoices, rules=told.rules,
                state="proposed" if told.needs_approval or not auto_approve
                else "approved"),
            creditor_id=pending.shape.creditor_id, debtor_id=pending.shape.debtor_id,
        )
        for action_id, pending in by_id.items()
        for told in (written[action_id],)
    )
    append_events(session, events, at=now)
    return sorted(by_id), proposed, len(attach)


def _refresh_attached(session: Session, attach: dict[int, PendingAction],
                      auto_approve: bool) -> None:
    """Actions that received more invoices: new content hash (voiding an approval)."""
    conn = session.connection()
    for action_id, pending in attach.items():
        lines = conn.execute(
            select(ACTION_ITEM.c.invoice_id, ACTION_ITEM.c.balance_minor, ACTION_ITEM.c.currency)
            .where(ACTION_ITEM.c.action_id == action_id, ACTION_ITEM.c.state == "active")
        ).all()
        output = dict(conn.execute(select(ACTION.c.output).where(ACTION.c.id == action_id))
                      .scalar_one() or {})
        # The statement an earlier run asked for stays; a later rule may add it.
        statement = wants_statement(output) or pending.with_statement
        shape = pending.shape
        digest = content_hash(
            debtor_id=shape.debtor_id, channel=shape.channel, template=shape.template,
            tone=shape.tone, target_stage=shape.target_stage,
            lines=_lines((r.invoice_id, r.balance_minor, r.currency) for r in lines),
            statement=statement,
        )
        values: dict[str, Any] = {"content_hash": digest, "updated_at": utcnow()}
        if statement and not wants_statement(output):
            values["output"] = {**output, STATEMENT_KEY: True}
        if pending.needs_approval or not auto_approve:
            values.update(state=ActionState.PROPOSED.value, approved_at=None, approved_by=None)
        session.execute(update(ACTION).where(ACTION.c.id == action_id).values(**values))


def _move_levels(session: Session, pendings: Iterable[PendingAction], on: dt.date) -> None:
    """Each acted invoice's level in its policy becomes the rule that acted, today."""
    levels: dict[tuple[int, str], str] = {}
    for pending in pendings:
        for item in pending.items:
            levels[(item.acting.invoice_id, item.acting.policy.name)] = item.acting.rule.identity
    if not levels:
        return
    now = utcnow()
    conn = session.connection()
    bulk_upsert(conn, INVOICE_LEVEL, (
        {"invoice_id": invoice, "policy": policy, "rule": rule, "acted_on": on,
         "updated_at": now} for (invoice, policy), rule in sorted(levels.items())
    ), keys=("invoice_id", "policy"))

