"""The two core calls the scheduler orchestrates, as plain callables.

The scheduler never imports the engine's run or the channels' dispatch directly: it is
handed `RunDay` and `Dispatch` functions. `relance serve` wires the real ones here; tests
wire the same real ones against a test store, and only the clock is theirs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import threading
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from relance.kernel.display import show_date
from relance.kernel.errors import RelanceError
from relance.kernel.i18n import _
from relance.kernel.workspace import Workspace
from relance.store.db import Store
from relance.store.models import Channel

RunDay = Callable[[dt.date], dict[str, Any]]
"""Evaluate the rules as of a day and queue the actions; returns counts for the log."""

Dispatch = Callable[[dt.date, Collection[Channel] | None, threading.Event], dict[str, Any]]
"""Send what is approved on the given channels (None: all); stop when the event is set
after the send in progress."""


def plain(value: Any, depth: int = 0) -> Any:
    """A report object as JSON-ready data (dataclasses, enums, dates, mappings)."""
    if depth > 6:
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name), depth + 1)
                for f in dataclasses.fields(value) if not f.name.startswith("_")}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(v, depth + 1) for v in value]
        # A long list of per-action records does not belong in one log line.
        return items if len(items) <= 50 else {"count": len(items)}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "__dict__"):
        return {k: plain(v, depth + 1) for k, v in vars(value).items() if not k.startswith("_")}
    return str(value)


def engine_run_day(store: Store, workspace: Workspace, *, actor: str) -> RunDay:
    """The workspace's day (`relance.engine.workday.run_workspace_day`, as `relance run` does),
    its report as counts for the log. The rules are read afresh at each run, so that an
    edited rule file takes effect on the next day without a restart."""

    def run(day: dt.date) -> dict[str, Any]:
        from relance.engine.workday import run_workspace_day

        return run_workspace_day(workspace, store, day, actor=actor).to_json()

    return run


def channels_dispatch(store: Store, workspace: Workspace) -> Dispatch:
    """`relance.channels.dispatch.dispatch` for the workspace."""

    def send(day: dt.date, channels: Collection[Channel] | None,
             stop: threading.Event) -> dict[str, Any]:
        from relance.channels.dispatch import dispatch

        wanted = None if channels is None else {str(c) for c in channels}
        report = dispatch(store, workspace, today=day, channels=wanted, stop=stop)
        result = plain(report)
        return result if isinstance(result, dict) else {"report": result}

    return send


MailSummary = Callable[[dt.date, str, Sequence[str]], dict[str, Any]]
"""Send the morning summary's text to managers; returns what was done, for the log."""


def summary_recipients(workspace: Workspace, configured: Sequence[str]) -> tuple[str, ...]:
    """`[schedule] summary_to`, else the `[notify] manager` address, else nobody."""
    if configured:
        return tuple(configured)
    from relance.channels.config import notify_addresses

    manager = notify_addresses(workspace).get("manager")
    return (manager,) if manager else ()


def channels_summary_mail(workspace: Workspace) -> MailSummary:
    """E-mail the summary through the channels' SMTP settings; without `[smtp]`, write
    it to `outbox/summaries/` as .eml files, as dispatch does for debtors' e-mails."""

    def send(day: dt.date, text: str, recipients: Sequence[str]) -> dict[str, Any]:
        import asyncio

        from relance.channels import mail
        from relance.channels import smtp as sending
        from relance.channels.config import smtp_config

        smtp = smtp_config(workspace)
        sender_address = (smtp.sender if smtp else None) or "relance@localhost.localdomain"
        # `mailbox` names the part in English and translates it itself (mail.PARTS).
        sender = mail.mailbox("relance", sender_address, "summary sender")
        domain = sender_address.rpartition("@")[2] or "localhost"
        outgoing: list[Any] = []
        written: list[str] = []
        for number, recipient in enumerate(recipients):
            message = mail.build_message(
                sender=sender, to=mail.mailbox(None, recipient, "summary recipient"),
                subject=_("relance — morning summary {day}").format(day=show_date(day)),
                text=text, html=None,
                msg_id=mail.message_id(f"summary:{day.isoformat()}:{recipient}", domain))
            if smtp is None:
                path = Path(workspace.outbox_dir) / "summaries" / day.isoformat() / (
                    f"summary-{number + 1}.eml")
                written.append(str(mail.write_eml(message, path)))
            else:
                outgoing.append(sending.Outgoing(number, message, sender_address, [recipient]))
        results: list[str] = []
        if smtp is not None and outgoing:
            asyncio.run(sending.send_all(smtp, outgoing,
                                         lambda r: results.append(f"{r.outcome} {r.detail}")))
            failed = [r for r in results if not r.startswith("sent")]
            if failed:
                raise RelanceError(_("the summary e-mail was not sent: {problems}").format(
                    problems="; ".join(failed)))
        return {"mailed_to": len(recipients), "written": written}

    return send
