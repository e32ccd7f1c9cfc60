"""`relance queue`, `approve`, `reject`: the TUI's queue for scripts.

The queue is shown with its invoices as they are now (the core settles the queue in
every change's transaction, so what is listed is what would be sent). Decisions go
through `casework.approve_many` / `reject_many` with what this command read of each
action in the same transaction (`Seen`): the roles, the four eyes on escalations and
the refusal of actions changed meanwhile are the core's, as at the desk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich import box
from rich.table import Table

from relance.command_index import command_help
from relance.commands.case_support import (
    CreditorOption,
    DebtorFilterOption,
    UserOption,
    actor_of,
    creditor_id_as,
    debtor_cell,
    find_debtor_as,
    major,
    open_desk,
    policy_of,
    reader_of,
    say,
)
from relance.commands.options import JsonOption
from relance.context import AppContext, add_row, print_table
from relance.kernel.display import show_count, show_date, show_money
from relance.kernel.errors import NotFound, UsageError
from relance.kernel.i18n import _, ngettext
from relance.store.states import ActionState, Channel

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.orm import Session

    from relance.engine.roles import Actor
    from relance.store.models import Action

FILTER_KEYS = ("channel", "state", "template", "debtor", "creditor")


def _pending_states() -> tuple[ActionState, ...]:
    from relance.store.settle import PENDING_STATES  # SQLAlchemy: not for `--help`

    return PENDING_STATES


@dataclass
class QueueFilter:
    """Which actions: the states (default: those still waiting), and optionally one
    channel, template, debtor reference and creditor code."""

    states: tuple[ActionState, ...] = field(default_factory=_pending_states)
    channel: Channel | None = None
    template: str | None = None
    debtor: str | None = None
    creditor: str | None = None

    def query(self, session: Session, actor: Actor | None = None) -> Select[Action]:
        """The actions matching, among those of the creditors `actor` may see."""
        from sqlalchemy import select

        from relance.engine.scope import scoped
        from relance.store.models import Action

        query = scoped(session, select(Action).where(Action.state.in_(self.states)),
                       Action.creditor_id, actor)
        if self.channel is not None:
            query = query.where(Action.channel == self.channel)
        if self.template is not None:
            query = query.where(Action.template == self.template)
        if self.debtor is not None:
            debtor = find_debtor_as(session, actor, self.debtor, creditor_code=self.creditor)
            query = query.where(Action.debtor_id == debtor.id)
        elif self.creditor is not None:
            query = query.where(Action.creditor_id == creditor_id_as(
                session, actor, self.creditor))
        return query.order_by(Action.id)


_E = TypeVar("_E", ActionState, Channel)


def _choice(kind: type[_E], text: str, what: str) -> _E:
    try:
        return kind(text.strip().lower())
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise UsageError(_("{what} {text!r}: choose one of {allowed}").format(
            what=what, text=text, allowed=allowed)) from None


def parse_filter(text: str) -> QueueFilter:
    """`channel=letter,state=proposed,template=relance_1,debtor=F-0001,creditor=JCDA`."""
    found = QueueFilter()
    seen_keys: set[str] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not value:
            raise UsageError(_("--all-matching {part!r}: write key=value ({keys})").format(
                part=part, keys=", ".join(FILTER_KEYS)))
        if key not in FILTER_KEYS:
            raise UsageError(_("--all-matching: unknown key {key!r}; the keys are {keys}")
                             .format(key=key, keys=", ".join(FILTER_KEYS)))
        if key in seen_keys:
            raise UsageError(_("--all-matching: {key} is given twice").format(key=key))
        seen_keys.add(key)
        if key == "state":
            found.states = (_choice(ActionState, value, "--all-matching state"),)
        elif key == "channel":
            found.channel = _choice(Channel, value, "--all-matching channel")
        elif key == "template":
            found.template = value
        elif key == "debtor":
            found.debtor = value
        else:
            found.creditor = value
    if not seen_keys:
        raise UsageError(_("--all-matching needs at least one key=value ({keys})").format(
            keys=", ".join(FILTER_KEYS)))
    return found


# --------------------------------------------------------------------------- queue


def queue_rows(session: Session, flt: QueueFilter,
               actor: Actor | None = None) -> list[dict[str, Any]]:
    """The actions with their invoices as the book holds them now, among those of the
    creditors `actor` may see."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    # From where it is defined: `casework` would import the amount parsers too.
    from relance.engine.queue_decisions import valid_approvals
    from relance.store.models import Action, Creditor, Debtor, Invoice, ItemState

    actions = session.scalars(flt.query(session, actor).options(
        selectinload(Action.items), selectinload(Action.approvals))).all()
    invoice_ids = {item.invoice_id for action in actions for item in action.items}
    debtor_ids = {action.debtor_id for action in actions}
    invoices = {i.id: i for i in session.scalars(
        select(Invoice).where(Invoice.id.in_(invoice_ids)))} if invoice_ids else {}
    debtors = {d.id: d for d in session.scalars(
        select(Debtor).where(Debtor.id.in_(debtor_ids)))} if debtor_ids else {}
    creditors = {c.id: c.code for c in session.scalars(select(Creditor))}
    rows = []
    for action in actions:
        debtor = debtors[action.debtor_id]
        active = [invoices[i.invoice_id] for i in action.items if i.state == ItemState.ACTIVE]
        rows.append({
            "id": action.id,
            "state": action.state.value,
            "channel": action.channel.value,
            "template": action.template,
            "target_stage": action.target_stage.value if action.target_stage else None,
            "creditor": creditors.get(action.creditor_id),
            "debtor_ref": debtor.ref,
            "debtor_name": debtor.name,
            "created_on": action.created_on.isoformat(),
            "_created_on": action.created_on,
            "approvals": len(valid_approvals(action)),
            "invoices": [{"number": inv.number, "balance": major(inv.balance_minor, inv.currency),
                          "currency": inv.currency, "balance_minor": inv.balance_minor}
                         for inv in active],
            "dropped": [{"number": invoices[i.invoice_id].number, "reason": i.drop_reason}
                        for i in action.items if i.state != ItemState.ACTIVE],
        })
    return rows


def _queue_table(rows: list[dict[str, Any]]) -> Table:
    from relance.engine.words import channel_word, state_word

    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column(_("id"), justify="right")
    for title in (_("state"), _("channel"), _("template"), _("debtor"),
                  _("invoices (balance now)"), _("queued")):
        table.add_column(title)
    table.add_column(_("appr."), justify="right")
    for row in rows:
        invoices = ", ".join(f"{i['number']} {show_money(i['balance_minor'], i['currency'])}"
                             for i in row["invoices"]) or "—"
        add_row(table, str(row["id"]), state_word(row["state"]), channel_word(row["channel"]),
                row["template"] or row["target_stage"] or "—",
                debtor_cell(row["debtor_ref"], row["debtor_name"]), invoices,
                show_date(row["_created_on"]), str(row["approvals"]))
    return table


def queue(
    ctx: typer.Context,
    state: Annotated[list[ActionState] | None, typer.Option(
        "--state", help=_("Only this state (repeat for several; default: proposed, "
                          "approved, retry_wait)."))] = None,
    channel: Annotated[Channel | None, typer.Option(
        "--channel", help=_("Only this channel."))] = None,
    debtor: DebtorFilterOption = None,
    creditor: CreditorOption = None,
    json_output: JsonOption = False,
) -> None:
    context = open_desk(ctx, None, json_output)
    reader = reader_of(context)
    flt = QueueFilter(states=tuple(state) if state else _pending_states(), channel=channel,
                      debtor=debtor, creditor=creditor)
    with context.store.session() as session:
        rows = queue_rows(session, flt, reader)
    if context.json_output:
        # Amounts as exact text in major units; the minor units were for the table.
        context.emit_json([{**{k: v for k, v in row.items() if not k.startswith("_")},
                            "invoices": [{k: v for k, v in i.items() if k != "balance_minor"}
                                         for i in row["invoices"]]}
                           for row in rows])
        return
    if not rows:
        say(context, _("No queued action matches."))
        return
    print_table(context.console, _queue_table(rows))
    say(context, ngettext("{count} action.", "{count} actions.", len(rows)).format(
        count=show_count(len(rows))))


# --------------------------------------------------------------------------- decisions


def _targets(session: Session, ids: Sequence[int], matching: str | None,
             actor: Actor | None = None) -> list[Action]:
    from sqlalchemy import select

    from relance.engine.scope import scoped
    from relance.store.models import Action

    if ids and matching:
        raise UsageError(_("name actions or give --all-matching, not both"))
    if matching:
        flt = parse_filter(matching)
        query = flt.query(session, actor)
        if flt.channel is None:
            # As in the TUI, whose queue leaves them to the escalations screen: moving
            # cases to recovery is decided by name, never swept up by a broad filter.
            query = query.where(Action.channel != Channel.ESCALATE)
        return list(session.scalars(query))
    if not ids:
        raise UsageError(_("name at least one action (see relance queue), or --all-matching"))
    found = {a.id: a for a in session.scalars(scoped(
        session, select(Action).where(Action.id.in_(list(ids))), Action.creditor_id, actor))}
    for action_id in ids:
        if action_id not in found:
            raise NotFound(_("no action {id}").format(id=action_id))
    return [found[action_id] for action_id in dict.fromkeys(ids)]


def _decide(context: AppContext, ids: Sequence[int], matching: str | None,
            reason: str | None) -> None:
    from relance.engine import casework

    actor = actor_of(context)
    policy = policy_of(context)
    with context.store.write_transaction() as session:
        actions = _targets(session, ids, matching, actor)
        # What this command saw of each action, read in the deciding transaction: an
        # action changed in between (PostgreSQL lets another writer in) is refused.
        seen = [casework.Seen.of(action) for action in actions]
        if reason is None:
            result = casework.approve_many(session, actor, seen, policy=policy)
        else:
            result = casework.reject_many(session, actor, seen, reason)
        session.flush()
        # An escalation above the four-eyes threshold stays proposed after its first
        # approval: done, but waiting for a second credit manager.
        waiting = [action.id for action in actions
                   if action.id in result.done and action.state == ActionState.PROPOSED]
    verb = "approved" if reason is None else "rejected"
    payload = {
        verb: [i for i in result.done if i not in waiting],
        "awaiting_second_approval": waiting,
        "skipped": result.skipped,
        "conflicts": [{"action": c.action_id, "message": c.message} for c in result.conflicts],
        "refused": [{"action": action_id, "message": message}
                    for action_id, message in result.refused],
    }
    if context.json_output:
        context.emit_json(payload)
    else:
        _say_decision(context, verb, payload, matched=len(actions))
    if result.conflicts or result.refused:
        raise typer.Exit(1)


def _say_decision(context: AppContext, verb: str, payload: dict[str, Any],
                  matched: int) -> None:
    def ids(values: list[int]) -> str:
        return ", ".join(str(v) for v in values)

    if not matched:
        say(context, _("No action matches: nothing done."))
        return
    done: list[int] = payload[verb]
    approving = verb == "approved"
    if done:
        say(context, (_("Approved {count}: {ids}.") if approving
                      else _("Rejected {count}: {ids}.")).format(count=len(done), ids=ids(done)))
    else:
        say(context, _("Approved 0.") if approving else _("Rejected 0."))
    if payload["awaiting_second_approval"]:
        say(context, _("First approval recorded, a second credit manager must approve: "
                       "{ids}.").format(ids=ids(payload["awaiting_second_approval"])))
    if payload["skipped"]:
        skipped = payload["skipped"]
        say(context, (_("Skipped {count}, not in a state to be approved: {ids}.") if approving
                      else _("Skipped {count}, not in a state to be rejected: {ids}."))
            .format(count=len(skipped), ids=ids(skipped)))
    for conflict in [*payload["conflicts"], *payload["refused"]]:
        say(context, _("Refused: {reason}").format(reason=conflict["message"]))


ActionIds = Annotated[list[int] | None, typer.Argument(
    help=_("Action ids, as `relance queue` lists them."), show_default=False)]
MatchingOption = Annotated[str | None, typer.Option(
    "--all-matching", help=_("Every waiting action matching key=value pairs, "
                             "comma-separated: channel, state, template, debtor, creditor "
                             "(e.g. channel=letter,state=proposed); escalations only with "
                             "channel=escalate."))]


def approve(
    ctx: typer.Context,
    actions: ActionIds = None,
    all_matching: MatchingOption = None,
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    context = open_desk(ctx, user, json_output)
    _decide(context, actions or [], all_matching, None)


def reject(
    ctx: typer.Context,
    actions: ActionIds = None,
    reason: Annotated[str, typer.Option("--reason", help=_("Why (kept in the audit log)."))
                      ] = "",
    all_matching: MatchingOption = None,
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    context = open_desk(ctx, user, json_output)
    if not reason.strip():
        raise UsageError(_("--reason: a rejection needs a reason"))
    _decide(context, actions or [], all_matching, reason)


def register(app: typer.Typer) -> None:
    app.command(help=command_help("queue"))(queue)
    app.command(help=command_help("approve"))(approve)
    app.command(help=command_help("reject"))(reject)
