"""`relance pause`, `resume`, `dispute`, `promise`, `note`, `history`, `undo`: a debtor's
case from the command line.

Each command parses what was typed, calls the one function of the core that makes the
change (`relance.engine.casework`, `relance.engine.undo`) in one write transaction, and
says what it did, including what the core's settling of the queue cancelled or changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table

from relance.command_index import command_help
from relance.commands.case_support import (
    CreditorOption,
    QueueWatch,
    UserOption,
    creditor_code,
    debtor_label,
    emit_or_say,
    find_debtor_as,
    find_invoice_as,
    find_invoices,
    open_desk,
    open_desk_as_actor,
    reader_of,
    say,
)
from relance.commands.options import JsonOption, parse_day
from relance.context import add_row, literal, print_table
from relance.kernel.display import show_date, show_datetime, show_money
from relance.kernel.errors import UsageError
from relance.kernel.i18n import N_, _
from relance.kernel.money import Money, money_text

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from relance.store.models import Event, Invoice

HISTORY_LIMIT = 50

DebtorArgument = Annotated[str, typer.Argument(help=_("The debtor's reference, e.g. F-0001."))]
ReasonOption = Annotated[str, typer.Option("--reason", help=_("Why (kept in the audit log)."))]


def _today() -> dt.date:
    return dt.date.today()


# --------------------------------------------------------------------------- pause, resume


def pause(
    ctx: typer.Context,
    debtor: DebtorArgument,
    until: Annotated[str, typer.Option("--until", help=_("Last day of the pause."))],
    reason: ReasonOption,
    creditor: CreditorOption = None,
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine import casework

    context, actor = open_desk_as_actor(ctx, user, json_output)
    last_day = parse_day(until, "--until")
    with context.store.write_transaction() as session:
        target = find_debtor_as(session, actor, debtor, creditor_code=creditor)
        watch = QueueWatch(session, [target.id])
        casework.pause(session, actor, target.id, until=last_day, reason=reason,
                       today=_today())
        queue = watch.effect()
        label = debtor_label(target)
    emit_or_say(context, {"debtor": debtor, "paused_until": last_day.isoformat(),
                          "reason": reason.strip(), "queue": queue.as_dict()},
                [_("{debtor} paused until {day}.").format(debtor=label, day=show_date(last_day)),
                 queue.sentence()])


def resume(
    ctx: typer.Context,
    debtor: DebtorArgument,
    reason: ReasonOption,
    creditor: CreditorOption = None,
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine import casework

    context, actor = open_desk_as_actor(ctx, user, json_output)
    with context.store.write_transaction() as session:
        target = find_debtor_as(session, actor, debtor, creditor_code=creditor)
        casework.resume(session, actor, target.id, reason=reason, today=_today())
        label = debtor_label(target)
    emit_or_say(context, {"debtor": debtor, "resumed": True, "reason": reason.strip()},
                [_("{debtor} resumed: the next run chases it again.").format(debtor=label)])


# --------------------------------------------------------------------------- disputes


def dispute(
    ctx: typer.Context,
    invoices: Annotated[list[str], typer.Argument(help=_("Invoice numbers."))],
    reason: Annotated[str | None, typer.Option(
        "--reason", help=_("One of [disputes] reasons (default: quality, delivery, price, "
                           "not_ordered, other)."))] = None,
    detail: Annotated[str | None, typer.Option(
        "--detail", help=_("Free text added to the reason."))] = None,
    close: Annotated[bool, typer.Option(
        "--close", help=_("Close the dispute instead."))] = False,
    resolution: Annotated[str | None, typer.Option(
        "--resolution", help=_("How the dispute ended (with --close)."))] = None,
    creditor: CreditorOption = None,
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine import casework

    context, actor = open_desk_as_actor(ctx, user, json_output)
    if close:
        if reason is not None or detail is not None:
            raise UsageError(_("--close takes --resolution, not --reason or --detail"))
        if not (resolution or "").strip():
            raise UsageError(_("--resolution: closing a dispute needs a resolution"))
    else:
        if resolution is not None:
            raise UsageError(_("--resolution goes with --close"))
        from relance.engine.case_holds import dispute_reasons

        allowed = dispute_reasons(context.workspace)
        if reason is None:
            raise UsageError(_("no --reason: choose one of {reasons} (add free text with "
                               "--detail)").format(reasons=", ".join(allowed)))
        if reason not in allowed:
            raise UsageError(_("--reason {reason!r}: choose one of {reasons} (add free text "
                               "with --detail)").format(reason=reason,
                                                       reasons=", ".join(allowed)))
    text = reason if not (detail or "").strip() else f"{reason}: {(detail or '').strip()}"
    with context.store.write_transaction() as session:
        targets = find_invoices(session, invoices, creditor_code=creditor, actor=actor)
        ids = [invoice.id for invoice in targets]
        watch = QueueWatch(session, [invoice.debtor_id for invoice in targets])
        if close:
            casework.close_dispute(session, actor, ids, resolution=resolution or "")
        else:
            casework.open_dispute(session, actor, ids, reason=text or "", today=_today())
        queue = watch.effect()
        numbers = [invoice.number for invoice in targets]
    listed = ", ".join(numbers)
    if close:
        emit_or_say(context, {"invoices": numbers, "dispute": "closed",
                              "resolution": (resolution or "").strip()},
                    [_("Dispute closed on {invoices}: they are chased again.").format(
                        invoices=listed)])
        return
    emit_or_say(context, {"invoices": numbers, "dispute": "opened", "reason": text,
                          "queue": queue.as_dict()},
                [_("Dispute opened on {invoices} ({reason}).").format(invoices=listed,
                                                                      reason=text),
                 queue.sentence()])


# --------------------------------------------------------------------------- promise, note


def _promised_amount(session: Session, text: str, debtor_id: int,
                     invoice: Invoice | None) -> Money:
    """The promised amount in the invoice's currency, or the debtor's when it owes in
    one; a debtor owing in several currencies must write the code (`500 CHF`)."""
    from sqlalchemy import select

    from relance.engine import casework
    from relance.store.models import Invoice, InvoiceStatus

    if invoice is not None:
        return casework.parse_money(text, invoice.currency, what="--amount")
    parts = text.strip().rsplit(None, 1)
    if len(parts) == 2 and parts[1].isalpha() and len(parts[1]) == 3:
        return casework.parse_money(text, parts[1].upper(), what="--amount")
    owed = sorted(set(session.scalars(select(Invoice.currency).where(
        Invoice.debtor_id == debtor_id, Invoice.balance_minor > 0,
        Invoice.status == InvoiceStatus.OPEN))))
    if len(owed) > 1:
        raise UsageError(_("--amount {text!r}: write the currency too, e.g. '{text} EUR' "
                           "(the debtor owes in {currencies})").format(
                               text=text, currencies=", ".join(owed)))
    if not owed:
        raise UsageError(_("--amount {text!r}: write the currency too, e.g. '{text} EUR'")
                         .format(text=text))
    return casework.parse_money(text, owed[0], what="--amount")


def promise(
    ctx: typer.Context,
    debtor: DebtorArgument,
    on: Annotated[str, typer.Option("--on", help=_("Paid by this day (inclusive)."))],
    amount: Annotated[str | None, typer.Option(
        "--amount", help=_("How much (default: everything owed)."))] = None,
    invoice: Annotated[str | None, typer.Option(
        "--invoice", help=_("For this invoice only (default: all the debtor's)."))] = None,
    creditor: CreditorOption = None,
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine import casework

    context, actor = open_desk_as_actor(ctx, user, json_output)
    by = parse_day(on, "--on")
    with context.store.write_transaction() as session:
        target = find_debtor_as(session, actor, debtor, creditor_code=creditor)
        covered = (find_invoice_as(session, actor, invoice,
                                   creditor_code=creditor_code(session, target.creditor_id))
                   if invoice is not None else None)
        promised = (_promised_amount(session, amount, target.id, covered)
                    if amount is not None else None)
        watch = QueueWatch(session, [target.id])
        made = casework.add_promise(session, actor, target.id, promised_on=by,
                                    today=_today(), amount=promised,
                                    invoice_id=covered.id if covered else None)
        queue = watch.effect()
        label = debtor_label(target)
        promise_id = made.id
    words = dict(id=promise_id, debtor=label, day=show_date(by),
                 amount=show_money(promised.minor, promised.currency) if promised else "",
                 invoice=covered.number if covered else "")
    if promised and covered:
        sentence = _("Promise {id} recorded: {debtor} pays {amount} on {invoice} by {day}.")
    elif promised:
        sentence = _("Promise {id} recorded: {debtor} pays {amount} by {day}.")
    elif covered:
        sentence = _("Promise {id} recorded: {debtor} pays everything owed on {invoice} by "
                     "{day}.")
    else:
        sentence = _("Promise {id} recorded: {debtor} pays everything owed by {day}.")
    emit_or_say(context, {"promise_id": promise_id, "debtor": debtor,
                          "promised_on": by.isoformat(),
                          "amount": str(promised.amount) if promised else None,
                          "currency": promised.currency if promised else None,
                          "invoice": covered.number if covered else None,
                          "queue": queue.as_dict()},
                [sentence.format(**words), queue.sentence()])


def note(
    ctx: typer.Context,
    debtor: DebtorArgument,
    text: Annotated[str, typer.Argument(help=_("The note."))],
    creditor: CreditorOption = None,
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine import casework

    context, actor = open_desk_as_actor(ctx, user, json_output)
    with context.store.write_transaction() as session:
        target = find_debtor_as(session, actor, debtor, creditor_code=creditor)
        added = casework.add_note(session, actor, target.id, text)
        label, note_id = debtor_label(target), added.id
    emit_or_say(context, {"note_id": note_id, "debtor": debtor, "body": text.strip()},
                [_("Note {id} added to {debtor}.").format(id=note_id, debtor=label)])


# --------------------------------------------------------------------------- history, undo


# What an event's data holds, as the history names it (JSON keeps the keys).
SUMMARY_KEYS = {
    "until": N_("until {value}"), "promised_on": N_("promised on {value}"),
    "amount": N_("amount {value}"), "reference": N_("reference {value}"),
    "reason": N_("reason {value}"), "resolution": N_("resolution {value}"),
    "body": N_("note {value}"), "outcome": N_("outcome {value}"),
    "cause": N_("cause {value}"), "state": N_("state {value}"),
}
SUBJECTS = {"action": N_("action {id}"), "payment": N_("payment {id}"),
            "plan": N_("plan {id}"), "promise": N_("promise {id}"), "note": N_("note {id}")}
DATE_KEYS = ("until", "promised_on")


def _shown_value(key: str, value: Any) -> str:
    """A value of an event's data for a person: a day in the language's form."""
    if key in DATE_KEYS and isinstance(value, str):
        try:
            return show_date(dt.date.fromisoformat(value))
        except ValueError:
            pass
    return str(value)


def _summary(event: Event, people: bool = True) -> str:
    """A short line from the event's data: amounts, invoices, reasons, dates; for
    people in their language, else (`--json`) in plain words and machine amounts."""
    def said(sentence: str, **values: Any) -> str:
        return (_(sentence) if people else sentence).format(**values)

    def money(minor: int, currency: str) -> str:
        return show_money(minor, currency) if people else money_text(minor, currency)

    data = event.data or {}
    parts: list[str] = []
    if isinstance(data.get("amount_minor"), int) and data.get("currency"):
        parts.append(money(data["amount_minor"], str(data["currency"])))
    numbers = [str(a.get("number")) for a in data.get("allocations", []) or []
               if isinstance(a, dict)]
    if data.get("number"):
        numbers.insert(0, str(data["number"]))
    if isinstance(data.get("invoices"), list):
        numbers += [str(n) for n in data["invoices"]]
    if numbers:
        parts.append(", ".join(numbers))
    if (isinstance(data.get("unallocated_minor"), int) and data["unallocated_minor"] > 0
            and data.get("currency")):
        parts.append(said(N_("unallocated {amount}"), amount=money(
            data["unallocated_minor"], str(data["currency"]))))
    for key, sentence in SUMMARY_KEYS.items():
        value = data.get(key)
        if value and not (key == "amount" and "amount_minor" in data):
            parts.append(said(sentence, value=_shown_value(key, value) if people else value))
    if data.get("undoes"):
        parts.append(said(N_("undoes {id}"), id=data["undoes"]))
    # The debtor is the history's and an invoice is named by its number above; an
    # action, a payment or a plan is named by the id the other commands take.
    text = "; ".join(parts)
    if event.subject_type not in ("debtor", "invoice"):
        known = SUBJECTS.get(event.subject_type)
        name = (said(known, id=event.subject_id) if known
                else f"{event.subject_type} {event.subject_id}")
        text = f"{name}: {text}" if text else name
    return text[:160]


def history_rows(session: Session, debtor_id: int, limit: int) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from relance.engine.undo import can_undo, undoers_of
    from relance.store.models import Event

    events = session.scalars(select(Event).where(Event.debtor_id == debtor_id)
                             .order_by(Event.id.desc()).limit(limit)).all()
    undone = undoers_of(session, events)
    rows = []
    for event in events:
        later = undone.get(event.id)
        rows.append({
            "id": event.id, "at": event.at.isoformat(timespec="seconds"),
            "kind": event.kind, "actor": event.actor,
            "subject": f"{event.subject_type} {event.subject_id}",
            "summary": _summary(event, people=False),
            "undoable": can_undo(event) and later is None,
            "undone_by": later.id if later is not None else None,
            "_at": event.at, "_summary": _summary(event),
        })
    return rows


def history(
    ctx: typer.Context,
    debtor: DebtorArgument,
    limit: Annotated[int, typer.Option("--limit", min=1, help=_("How many events."))
                     ] = HISTORY_LIMIT,
    creditor: CreditorOption = None,
    json_output: JsonOption = False,
) -> None:
    context = open_desk(ctx, None, json_output)
    reader = reader_of(context)
    with context.store.session() as session:
        target = find_debtor_as(session, reader, debtor, creditor_code=creditor)
        rows = history_rows(session, target.id, limit)
        label = debtor_label(target)
    if context.json_output:
        context.emit_json([{k: v for k, v in row.items() if not k.startswith("_")}
                           for row in rows])
        return
    if not rows:
        say(context, _("No event for {debtor}.").format(debtor=label))
        return
    table = Table(title=literal(_("History of {debtor}").format(debtor=label)),
                  title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column(_("event"), justify="right")
    for title in (_("when"), _("kind"), _("by"), _("summary"), _("undo")):
        table.add_column(title)
    for row in rows:
        undo_text = (_("undone by {event}").format(event=row["undone_by"]) if row["undone_by"]
                     else _("yes") if row["undoable"] else "")
        add_row(table, str(row["id"]), show_datetime(row["_at"]), row["kind"],
                row["actor"], row["_summary"], undo_text)
    print_table(context.console, table)


def undo(
    ctx: typer.Context,
    event_id: Annotated[int, typer.Argument(
        help=_("The event, as `relance history` lists it."))],
    reason: Annotated[str, typer.Option("--reason", help=_("Why (kept in the audit log)."))
                      ] = "",
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine import undo as undoing
    from relance.engine.scope import visible
    from relance.store.models import Event

    context, actor = open_desk_as_actor(ctx, user, json_output)
    with context.store.write_transaction() as session:
        event = session.get(Event, event_id)
        if event is not None and not visible(session, actor, event.creditor_id or -1):
            event = None  # another creditor's: `undo` refuses it as unknown
        watch = QueueWatch(session, [event.debtor_id] if event is not None else [])
        undoing.undo(session, actor, event_id, reason=reason, today=_today())
        assert event is not None  # `undo` refused an unknown event
        session.flush()
        by = undoing.undone_by(session, event)
        kind, by_id = event.kind, by.id if by is not None else None
        queue = watch.effect()
    emit_or_say(context, {"undone": event_id, "kind": kind, "by_event": by_id,
                          "queue": queue.as_dict()},
                [_("Event {id} ({kind}) undone by event {by}.").format(
                    id=event_id, kind=kind, by=by_id) if by_id else
                 _("Event {id} ({kind}) undone.").format(id=event_id, kind=kind),
                 queue.sentence()])


# Each command with its name in the command index, which holds its summary.
HELP: dict[Callable[..., None], str] = {
    pause: "pause",
    resume: "resume",
    dispute: "dispute",
    promise: "promise",
    note: "note",
    history: "history",
    undo: "undo",
}


def register(app: typer.Typer) -> None:
    for command, name in HELP.items():
        app.command(help=command_help(name))(command)
