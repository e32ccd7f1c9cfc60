"""Dispatch: send what is approved, never twice and never lost.

Each action goes through committed states around its one side effect:

    approved | retry_wait --claim--> in_flight --send--> sent | retry_wait | failed
                                           \\--crash--> uncertain (operator: confirm or resend)

- Claiming is one transaction: on SQLite `BEGIN IMMEDIATE` then `UPDATE ... RETURNING`
  (the write lock serialises dispatchers); on PostgreSQL `SELECT ... FOR UPDATE SKIP
  LOCKED`, so several dispatchers share the queue without waiting on each other.
- In the same transaction, items whose invoice has been paid, paused or disputed since
  the run are dropped (an action left with no item is cancelled); the rest are claimed
  as `in_flight` with the claimant and the attempt number, committed BEFORE the send.
- After the send, the outcome is committed: `sent` (with the files written), a
  temporary failure -> `retry_wait` with a backoff, a permanent one -> `failed` with
  the server's words, an SMTP connection lost during DATA -> `uncertain`.
- A dispatcher starting up turns actions left `in_flight` by a dead claimant (same host
  and its process gone, or any host past the lease) into `uncertain`: they may have
  gone out, so they are shown to operators, never resent blindly.

Calls and escalations are not dispatched: they are operator tasks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import socket
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, selectinload

from relance.channels import mail, sms
from relance.channels.config import (
    DispatchConfig,
    SmsConfig,
    SmtpConfig,
    dispatch_config,
    notify_addresses,
    sms_config,
    smtp_config,
)
from relance.channels.context import LetterData, build_context
from relance.channels.letter import LetterJob, render_many, write_batch, write_pdf
from relance.channels.render import TemplateProblem, render, resolve
from relance.channels.templates import default_templates_dir
from relance.engine.content import ContentLine, content_hash, stale_reason
from relance.errors import NotFound, UsageError
from relance.store import audit
from relance.store.db import Store
from relance.store.models import (
    Action,
    ActionState,
    Channel,
    Creditor,
    Debtor,
    Invoice,
    InvoiceStatus,
    ItemState,
    utcnow,
)
from relance.workspace import Workspace

DISPATCHED_CHANNELS = frozenset({"letter", "email", "sms", "notify"})
CLAIMABLE = (ActionState.APPROVED, ActionState.RETRY_WAIT)


@dataclass
class DispatchReport:
    """What one dispatch did; `to_json()` for `--json` and the scheduler's log."""

    worker: str = ""
    dry_run: bool = False
    sent: int = 0
    failed: int = 0
    retry: int = 0
    dropped: int = 0
    cancelled: int = 0
    uncertain: int = 0
    recovered_uncertain: int = 0
    voided_approvals: int = 0
    rendered: int = 0
    paths: list[str] = field(default_factory=list)
    batch: str | None = None
    errors: list[str] = field(default_factory=list)
    outbox: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "worker": self.worker, "dry_run": self.dry_run, "sent": self.sent,
            "failed": self.failed, "retry": self.retry, "dropped": self.dropped,
            "cancelled": self.cancelled, "uncertain": self.uncertain,
            "recovered_uncertain": self.recovered_uncertain,
            "voided_approvals": self.voided_approvals, "rendered": self.rendered,
            "paths": list(self.paths), "batch": self.batch, "errors": list(self.errors),
            "outbox": self.outbox,
        }


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _now() -> dt.datetime:
    return utcnow().replace(microsecond=0)


def _naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text)[:40].strip("_") or "x"


# --------------------------------------------------------------------------- recovery


def _claimant_alive(claimed_by: str | None) -> bool | None:
    """True/False when the claimant ran on this host, None when it cannot be told."""
    if not claimed_by:
        return False
    parts = claimed_by.split(":")
    if len(parts) < 2 or parts[0] != socket.gethostname():
        return None
    try:
        pid = int(parts[1])
    except ValueError:
        return None
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped by its parent) is not alive for our purpose.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            if handle.read().split(") ", 1)[1].startswith("Z"):
                return False
    except (OSError, IndexError):
        pass
    return True


def recover_in_flight(store: Store, *, lease_seconds: float, actor: str) -> int:
    """Turn actions left in flight by a dead dispatcher into `uncertain` (with an event)."""
    cutoff = _now() - dt.timedelta(seconds=lease_seconds)
    count = 0
    with store.write_transaction() as session:
        rows = session.execute(
            select(Action.id, Action.claimed_by, Action.claimed_at, Action.creditor_id,
                   Action.debtor_id, Action.channel, Action.attempts, Action.output)
            .where(Action.state == ActionState.IN_FLIGHT)
        ).all()
        for (action_id, claimed_by, claimed_at, creditor_id, debtor_id, channel, attempts,
             output) in rows:
            alive = _claimant_alive(claimed_by)
            claimed = _naive_utc(claimed_at)
            stale = claimed is not None and claimed <= _naive_utc(cutoff)  # type: ignore[operator]
            if not (alive is False or (alive is None and stale)):
                continue
            never_started = str(channel) in ("email", "notify", "sms") and (
                (output or {}).get("started_attempt") != attempts)
            if never_started:
                changed = session.execute(
                    update(Action).where(Action.id == action_id,
                                         Action.state == ActionState.IN_FLIGHT)
                    .values(state=ActionState.APPROVED, claimed_by=None,
                            attempts=max(attempts - 1, 0))
                    .returning(Action.id)
                ).first() is not None
                if changed:
                    audit.record(session, actor=actor, kind="action.released",
                                 subject_type="action", subject_id=action_id,
                                 creditor_id=creditor_id, debtor_id=debtor_id,
                                 data={"claimed_by": claimed_by,
                                       "reason": "claimant gone before sending it"})
                continue
            changed = session.execute(
                update(Action).where(Action.id == action_id,
                                     Action.state == ActionState.IN_FLIGHT)
                .values(state=ActionState.UNCERTAIN,
                        last_error=f"in flight when {claimed_by} stopped: may have been "
                                   "sent; confirm or resend")
                .returning(Action.id)
            ).first() is not None
            if changed:
                count += 1
                audit.record(session, actor=actor, kind="action.uncertain",
                             subject_type="action", subject_id=action_id,
                             creditor_id=creditor_id, debtor_id=debtor_id,
                             data={"claimed_by": claimed_by,
                                   "reason": "claimant gone while in flight"})
    return count


def mark_started(store: Store, action_id: int, worker: str) -> bool:
    """Commit that the side effect of this attempt starts now (False: not ours any more).

    After a crash, an action in flight whose current attempt never started is released
    back to `approved` instead of being made uncertain: nothing of it left the process.
    """
    with store.write_transaction() as session:
        action = session.get(Action, action_id)
        if action is None or action.state != ActionState.IN_FLIGHT or (
            action.claimed_by != worker
        ):
            return False
        action.output = {**(action.output or {}), "started_attempt": action.attempts}
        return True


def confirm_sent(store: Store, action_id: int, actor: str) -> None:
    """An operator confirms that an uncertain action did go out: it becomes `sent`."""
    with store.write_transaction() as session:
        action = session.get(Action, action_id)
        if action is None:
            raise NotFound(f"no action {action_id}")
        if action.state != ActionState.UNCERTAIN:
            raise UsageError(f"action {action_id} is {action.state}, not uncertain")
        action.state = ActionState.SENT
        action.sent_at = action.sent_at or _now()
        action.output = {**(action.output or {}), "confirmed_by": actor}
        audit.record(session, actor=actor, kind="action.confirmed_sent", subject_type="action",
                     subject_id=action_id, creditor_id=action.creditor_id,
                     debtor_id=action.debtor_id, data={})


def resend(store: Store, action_id: int, actor: str) -> None:
    """An operator asks to send an uncertain (or failed) action again: back to `approved`."""
    with store.write_transaction() as session:
        action = session.get(Action, action_id)
        if action is None:
            raise NotFound(f"no action {action_id}")
        if action.state not in (ActionState.UNCERTAIN, ActionState.FAILED):
            raise UsageError(f"action {action_id} is {action.state}: only uncertain or failed "
                             "actions can be resent")
        previous = str(action.state)
        action.state = ActionState.APPROVED
        action.claimed_by = None
        action.next_attempt_at = None
        audit.record(session, actor=actor, kind="action.resend", subject_type="action",
                     subject_id=action_id, creditor_id=action.creditor_id,
                     debtor_id=action.debtor_id, data={"from": previous})


# --------------------------------------------------------------------------- claiming


def _drop_reason(invoice: Invoice, debtor: Debtor, today: dt.date,
                 queued_on: dt.date) -> str | None:
    return stale_reason(
        balance_minor=invoice.balance_minor, is_open=invoice.status == InvoiceStatus.OPEN,
        paused_until=debtor.paused_until, disputed_since=invoice.disputed_since,
        dispute_open=invoice.dispute_reason is not None, today=today, queued_on=queued_on)


def _recheck(session: Session, action: Action, today: dt.date, actor: str,
             report: DispatchReport) -> bool:
    """Drop items paid/paused/disputed since the run; False when nothing is left to send
    (cancelled) or the approval no longer holds (back to proposed)."""
    debtor = session.get(Debtor, action.debtor_id)
    assert debtor is not None
    active = [i for i in action.items if i.state == ItemState.ACTIVE]
    invoices = {inv.id: inv for inv in session.scalars(
        select(Invoice).where(Invoice.id.in_([i.invoice_id for i in active])))}
    dropped = False
    for item in active:
        reason = _drop_reason(invoices[item.invoice_id], debtor, today, action.created_on)
        if reason is None:
            continue
        item.state = ItemState.DROPPED
        item.drop_reason = reason
        dropped = True
        report.dropped += 1
        audit.record(session, actor=actor, kind="action_item.dropped", subject_type="action",
                     subject_id=action.id, creditor_id=action.creditor_id,
                     debtor_id=action.debtor_id,
                     data={"invoice": invoices[item.invoice_id].number, "reason": reason})
    approvals = [a for a in action.approvals if a.decision == "approve"]
    if not dropped:
        if approvals and not any(a.content_hash == action.content_hash for a in approvals):
            # Approved for other content (a change since): it must be approved again.
            return _void_approval(session, action, actor, report,
                                  "content changed since it was approved")
        return True
    remaining = [i for i in action.items if i.state == ItemState.ACTIVE]
    if not remaining:
        action.state = ActionState.CANCELLED
        report.cancelled += 1
        audit.record(session, actor=actor, kind="action.cancelled", subject_type="action",
                     subject_id=action.id, creditor_id=action.creditor_id,
                     debtor_id=action.debtor_id, data={"reason": "no invoice left to chase"})
        return False
    action.content_hash = content_hash(
        debtor_id=action.debtor_id, channel=str(action.channel), template=action.template,
        tone=action.tone, target_stage=str(action.target_stage) if action.target_stage else None,
        lines=[ContentLine(i.invoice_id, i.balance_minor, i.currency) for i in remaining],
    )
    if action.requires_approval or approvals:
        # The approval was given for other content: it must be given again.
        return _void_approval(session, action, actor, report,
                              "invoices dropped before sending")
    return True


def _void_approval(session: Session, action: Action, actor: str, report: DispatchReport,
                   reason: str) -> bool:
    action.state = ActionState.PROPOSED
    action.approved_by = None
    action.approved_at = None
    report.voided_approvals += 1
    audit.record(session, actor=actor, kind="action.approval_voided",
                 subject_type="action", subject_id=action.id,
                 creditor_id=action.creditor_id, debtor_id=action.debtor_id,
                 data={"reason": reason})
    return False


def _claimable(channels: Iterable[str], now: dt.datetime) -> Any:
    return (
        Action.channel.in_(sorted(channels)),
        or_(Action.state == ActionState.APPROVED,
            (Action.state == ActionState.RETRY_WAIT)
            & or_(Action.next_attempt_at.is_(None), Action.next_attempt_at <= now)),
    )


def claim(store: Store, *, channels: Iterable[str], worker: str, today: dt.date,
          limit: int, report: DispatchReport, exclude: Sequence[int] = ()) -> list[int]:
    """Claim up to `limit` actions for `worker`: committed in flight before returning."""
    actor = f"dispatch:{worker}"
    now = _now()
    channels = list(channels)
    with store.write_transaction() as session:
        query = (select(Action.id).where(*_claimable(channels, now))
                 .order_by(Action.id).limit(limit))
        if exclude:
            query = query.where(Action.id.not_in(list(exclude)))
        if not store.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        ids = list(session.scalars(query))
        if not ids:
            return []
        actions = session.scalars(select(Action).where(Action.id.in_(ids))
                                  .options(selectinload(Action.items),
                                           selectinload(Action.approvals))).all()
        keep = [a.id for a in actions if _recheck(session, a, today, actor, report)]
        session.flush()
        if not keep:
            return []
        # The state condition repeats the claim test: on SQLite it is what makes two
        # dispatchers unable to take the same row; on PostgreSQL the row lock already did.
        claimed = list(session.scalars(
            update(Action).where(Action.id.in_(keep), Action.state.in_(CLAIMABLE))
            .values(state=ActionState.IN_FLIGHT, claimed_by=worker, claimed_at=now,
                    attempts=Action.attempts + 1, updated_at=now)
            .returning(Action.id)
            .execution_options(synchronize_session=False)
        ))
        for action in actions:
            if action.id in claimed:
                audit.record(session, actor=actor, kind="action.in_flight",
                             subject_type="action", subject_id=action.id,
                             creditor_id=action.creditor_id, debtor_id=action.debtor_id,
                             data={"attempt": action.attempts + 1})
    return sorted(claimed)


def finish(store: Store, action_id: int, *, worker: str, outcome: str, detail: str = "",
           output: dict[str, Any] | None = None, config: DispatchConfig | None = None) -> str:
    """Commit the outcome of a send for an action this worker holds in flight.

    Returns the state written ('sent', 'retry_wait', 'failed', 'uncertain', 'approved'
    for a released claim, or '' when the action was no longer ours).
    """
    cfg = config or DispatchConfig(60, 6 * 3600, 8, 900, 8, 1, 50)
    now = _now()
    with store.write_transaction() as session:
        action = session.get(Action, action_id)
        if action is None or action.state != ActionState.IN_FLIGHT or (
            action.claimed_by != worker
        ):
            return ""
        kind = f"action.{outcome}"
        data: dict[str, Any] = {"attempt": action.attempts}
        if outcome == "sent":
            action.state = ActionState.SENT
            action.sent_at = now
            action.output = {**(action.output or {}), **(output or {})}
            action.last_error = None
            data.update({k: v for k, v in (output or {}).items() if k != "refused"})
        elif outcome == "release":
            action.state = ActionState.APPROVED
            action.attempts = max(0, action.attempts - 1)
            action.claimed_by = None
            kind = "action.released"
        elif outcome == "retry" and action.attempts < cfg.max_attempts:
            delay = min(cfg.retry_base_seconds * (2 ** max(action.attempts - 1, 0)),
                        cfg.retry_max_seconds)
            action.state = ActionState.RETRY_WAIT
            action.next_attempt_at = now + dt.timedelta(seconds=delay)
            action.last_error = detail
            data.update({"error": detail, "next_attempt_at": action.next_attempt_at.isoformat()})
            kind = "action.retry_wait"
        elif outcome == "uncertain":
            action.state = ActionState.UNCERTAIN
            action.last_error = detail
            data["error"] = detail
        else:
            action.state = ActionState.FAILED
            if outcome == "retry":
                detail = f"gave up after {action.attempts} attempts: {detail}"
            action.last_error = detail
            data["error"] = detail
            kind = "action.failed"
        if output and outcome != "sent":
            action.output = {**(action.output or {}), **output}
        audit.record(session, actor=f"dispatch:{worker}", kind=kind, subject_type="action",
                     subject_id=action_id, creditor_id=action.creditor_id,
                     debtor_id=action.debtor_id, data=data)
        return str(action.state)


# --------------------------------------------------------------------------- rendering


@dataclass
class Prepared:
    """An action rendered and ready for its channel."""

    action_id: int
    channel: str
    creditor_code: str
    debtor_ref: str
    template: str
    data: LetterData
    letter_html: str | None = None
    text: str | None = None
    html: str | None = None
    subject: str | None = None
    recipient: str | None = None
    recipient_name: str | None = None
    sender: tuple[str | None, str | None] = (None, None)  # (name, address)
    reply_to: str | None = None
    idempotency_key: str = ""
    error: str | None = None


class _Renderer:
    def __init__(self, store: Store, workspace: Workspace, today: dt.date,
                 config: DispatchConfig) -> None:
        self.store = store
        self.workspace = workspace
        self.today = today
        self.config = config
        root = getattr(workspace, "root", None)
        self.root: Path | None = Path(root).resolve() if root is not None else None
        tdir = getattr(workspace, "templates_dir", None)
        self.templates_dir: Path | None = Path(tdir).resolve() if tdir is not None else None
        self.notify = notify_addresses(workspace) if workspace is not None else {}

    def resource_roots(self, creditor: Creditor) -> list[Path]:
        roots = [default_templates_dir().resolve()]
        if self.templates_dir is not None:
            roots.append(self.templates_dir)
        if creditor.logo_path and self.root is not None:
            logo = Path(creditor.logo_path)
            logo = (logo if logo.is_absolute() else self.root / logo).resolve()
            if logo.is_relative_to(self.root):
                roots.append(logo)
        return roots

    def letter_html(self, session: Session, action: Action, creditor: Creditor,
                    debtor: Debtor, data: LetterData) -> tuple[str, Path]:
        resolved = resolve(self.templates_dir, creditor=creditor.code,
                           name=action.template or "", channel="letter",
                           language=debtor.language or "fr", tone=action.tone)
        context = dict(data.context)
        context["language"] = resolved.language
        context["assets"] = {"fonts_url": (default_templates_dir() / "_base" / "fonts")
                             .resolve().as_uri()}
        rendered = render(self.templates_dir, resolved, "html", context,
                          creditor=creditor.code)
        return rendered.body, resolved.files["html"].parent

    def prepare(self, session: Session, action: Action) -> Prepared:
        creditor = session.get(Creditor, action.creditor_id)
        debtor = session.get(Debtor, action.debtor_id)
        assert creditor is not None and debtor is not None
        data = build_context(session, action, today=self.today, workspace_root=self.root,
                             deadline_days=self.config.deadline_days)
        channel = str(action.channel)
        prepared = Prepared(action.id, channel, creditor.code, debtor.ref,
                            action.template or "", data,
                            idempotency_key=action.idempotency_key)
        try:
            if channel == "letter":
                prepared.letter_html, _ = self.letter_html(session, action, creditor, debtor,
                                                           data)
            elif channel in ("email", "notify"):
                self._prepare_mail(session, action, creditor, debtor, data, prepared)
            elif channel == "sms":
                resolved = resolve(self.templates_dir, creditor=creditor.code,
                                   name=action.template or "", channel="sms",
                                   language=debtor.language or "fr", tone=action.tone)
                text = render(self.templates_dir, resolved, "txt", data.context,
                              creditor=creditor.code).body
                prepared.text = sms.normalise_text(text)
                prepared.recipient = debtor.phone
        except (TemplateProblem, mail.HeaderRefused) as exc:
            prepared.error = exc.message
        return prepared

    def _prepare_mail(self, session: Session, action: Action, creditor: Creditor,
                      debtor: Debtor, data: LetterData, prepared: Prepared) -> None:
        channel = str(action.channel)
        resolved = resolve(self.templates_dir, creditor=creditor.code,
                           name=action.template or "", channel=channel,
                           language=debtor.language or "fr", tone=action.tone)
        context = dict(data.context)
        text = render(self.templates_dir, resolved, "txt", context, creditor=creditor.code)
        prepared.text = text.body.strip() + "\n"
        prepared.subject = text.subject or (action.template or "")
        if "html" in resolved.files:
            prepared.html = render(self.templates_dir, resolved, "html", context,
                                   creditor=creditor.code).body
        else:
            paragraphs = [p.split("\n") for p in prepared.text.split("\n\n") if p.strip()]
            base = resolve_base_email(self.templates_dir, creditor.code)
            prepared.html = render(self.templates_dir, base, "html",
                                   {**context, "subject": prepared.subject,
                                    "paragraphs": paragraphs},
                                   creditor=creditor.code).body
        prepared.sender = (creditor.name, creditor.email)
        prepared.reply_to = creditor.reply_to
        if channel == "email":
            prepared.recipient = debtor.email
            prepared.recipient_name = debtor.name
            # The letter goes along as PDF when the template has one.
            try:
                prepared.letter_html, _ = self.letter_html(session, action, creditor, debtor,
                                                           data)
            except TemplateProblem as exc:
                if "no template" not in exc.message:
                    raise
        else:
            role = action.notify_role or "sales_rep"
            who = debtor.sales_rep if role == "sales_rep" else None
            address = None
            if who and "@" in who:
                address = who
            elif who:
                address = self.notify.get(who)
            address = address or self.notify.get(role)
            if not address:
                raise TemplateProblem(
                    f"no e-mail address for {role}"
                    + (f" {who!r}" if who else "")
                    + f" of debtor {debtor.ref}: add it under [notify] in relance.toml")
            prepared.recipient = address
            prepared.recipient_name = who if who and "@" not in who else None


def resolve_base_email(templates_dir: Path | None, creditor: str) -> Any:
    from relance.channels.render import ResolvedTemplate
    from relance.channels.templates import search_folders

    for folder in search_folders(templates_dir, creditor):
        path = folder / "_base" / "email.html"
        if path.is_file():
            return ResolvedTemplate("_base", "email", "fr", None, folder, {"html": path})
    raise TemplateProblem("no _base/email.html template")


# --------------------------------------------------------------------------- dispatch


class _Dispatcher:
    def __init__(self, store: Store, workspace: Workspace, *, today: dt.date,
                 channels: set[str], dry_run: bool, worker: str,
                 stop: threading.Event | None, progress: bool) -> None:
        self.store = store
        self.workspace = workspace
        self.today = today
        self.channels = channels
        self.dry_run = dry_run
        self.worker = worker
        self.stop = stop or threading.Event()
        self.progress = progress
        self.config = dispatch_config(workspace)
        self.smtp: SmtpConfig | None = smtp_config(workspace)
        self.sms: SmsConfig | None = sms_config(workspace)
        self.renderer = _Renderer(store, workspace, today, self.config)
        self.report = DispatchReport(worker=worker, dry_run=dry_run)
        outbox = Path(workspace.outbox_dir)
        self.outbox = outbox / "dry-run" if dry_run else outbox
        self.report.outbox = str(outbox)
        self.letter_pdfs: list[Path] = []

    # paths -----------------------------------------------------------------

    def _path(self, kind: str, p: Prepared, suffix: str) -> Path:
        name = f"{p.action_id:06d}-{_slug(p.creditor_code)}-{_slug(p.debtor_ref)}-" \
               f"{_slug(p.template)}{suffix}"
        return self.outbox / kind / self.today.isoformat() / name

    # one pass ----------------------------------------------------------------

    def run(self) -> DispatchReport:
        if not self.dry_run:
            self.report.recovered_uncertain = recover_in_flight(
                self.store, lease_seconds=self.config.lease_seconds,
                actor=f"dispatch:{self.worker}")
        done_this_run: list[int] = []
        while not self.stop.is_set():
            if self.dry_run:
                ids = self._dry_run_ids(done_this_run)
            else:
                ids = claim(self.store, channels=self.channels, worker=self.worker,
                            today=self.today, limit=self.config.batch_size,
                            report=self.report)
            if not ids:
                break
            done_this_run.extend(ids)
            self._process(ids)
        if self.letter_pdfs:
            batch = self.outbox / "letters" / self.today.isoformat() / (
                f"batch-{_now().strftime('%H%M%S')}-{_slug(self.worker.split(':')[-1])}.pdf")
            self.report.batch = str(write_batch(self.letter_pdfs, batch))
        return self.report

    def _dry_run_ids(self, done: list[int]) -> list[int]:
        with self.store.transaction() as session:
            query = (select(Action.id).where(*_claimable(self.channels, _now()))
                     .order_by(Action.id).limit(self.config.batch_size))
            if done:
                query = query.where(Action.id.not_in(done))
            return list(session.scalars(query))

    def _process(self, ids: list[int]) -> None:
        with self.store.transaction() as session:
            actions = session.scalars(select(Action).where(Action.id.in_(ids))
                                      .options(selectinload(Action.items))
                                      .order_by(Action.id)).all()
            prepared = [self.renderer.prepare(session, a) for a in actions]
        by_channel: dict[str, list[Prepared]] = {}
        for p in prepared:
            if p.error:
                self._finish(p.action_id, "failed", p.error)
                continue
            by_channel.setdefault(p.channel, []).append(p)
        if "letter" in by_channel:
            self._letters(by_channel["letter"])
        mails = by_channel.get("email", []) + by_channel.get("notify", [])
        if mails:
            self._mails(mails)
        if "sms" in by_channel:
            self._sms(by_channel["sms"])

    def _finish(self, action_id: int, outcome: str, detail: str = "",
                output: dict[str, Any] | None = None) -> None:
        if self.dry_run:
            if outcome == "failed":
                self.report.errors.append(f"action {action_id}: {detail}")
            return
        state = finish(self.store, action_id, worker=self.worker, outcome=outcome,
                       detail=detail, output=output, config=self.config)
        if state == "sent":
            self.report.sent += 1
        elif state == "failed":
            self.report.failed += 1
            self.report.errors.append(f"action {action_id}: {detail}")
        elif state == "retry_wait":
            self.report.retry += 1
        elif state == "uncertain":
            self.report.uncertain += 1

    # letters -----------------------------------------------------------------

    def _letters(self, items: list[Prepared]) -> None:
        jobs: list[LetterJob] = []
        by_key = {p.action_id: p for p in items}
        with self.store.transaction() as session:
            for p in items:
                creditor = session.scalars(select(Creditor).where(
                    Creditor.code == p.creditor_code)).one()
                roots = tuple(str(r) for r in self.renderer.resource_roots(creditor))
                jobs.append(LetterJob(p.action_id, p.letter_html or "",
                                      str(self._path("letters", p, ".pdf")),
                                      str(default_templates_dir()), roots))
        for key, path, pages, refused, error in self._render_letters(jobs):
            if error:
                self._finish(key, "failed", f"letter not rendered: {error}")
                continue
            self.report.rendered += 1
            self.report.paths.append(path)
            self.letter_pdfs.append(Path(path))
            output: dict[str, Any] = {"pdf": path, "pages": pages,
                                      "totals": by_key[key].data.totals_minor}
            if refused:
                output["refused"] = list(refused)
            warnings = by_key[key].data.context["penalties"]["warnings"]
            if warnings:
                output["warnings"] = list(warnings)
            self._finish(key, "sent", output=output)

    def _render_letters(self, jobs: list[LetterJob]) -> Iterable[
            tuple[int, str, int, tuple[str, ...], str | None]]:
        processes = max(1, self.config.letter_processes)
        if not self.progress:
            yield from render_many(jobs, processes=processes)
            return
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("Rendering letters", total=len(jobs))
            yield from render_many(jobs, processes=processes,
                                   on_done=lambda: bar.advance(task))

    # e-mail ------------------------------------------------------------------

    def _attachments(self, items: list[Prepared]) -> dict[int, Path | str]:
        """Render the letters attached to e-mails, in worker processes like letters;
        a path per action, or the error text when its letter could not be rendered."""
        jobs: list[LetterJob] = []
        with self.store.transaction() as session:
            for p in items:
                if not (p.letter_html and p.channel == "email"):
                    continue
                creditor = session.scalars(select(Creditor).where(
                    Creditor.code == p.creditor_code)).one()
                roots = tuple(str(r) for r in self.renderer.resource_roots(creditor))
                jobs.append(LetterJob(p.action_id, p.letter_html,
                                      str(self._path("emails", p, ".pdf")),
                                      str(default_templates_dir()), roots))
        done: dict[int, Path | str] = {}
        for key, path, _pages, _refused, error in render_many(
                jobs, processes=max(1, self.config.letter_processes)):
            done[key] = f"letter not rendered: {error}" if error else Path(path)
        return done

    def _mails(self, items: list[Prepared]) -> None:
        outgoing: list[mail.Outgoing] = []
        files: dict[int, dict[str, Any]] = {}
        attached = self._attachments(items)
        for p in items:
            pdf = attached.get(p.action_id)
            if isinstance(pdf, str):
                self._finish(p.action_id, "failed", pdf)
                continue
            try:
                message, envelope_from = self._message(p, pdf)
            except (mail.HeaderRefused, TemplateProblem) as exc:
                self._finish(p.action_id, "failed", exc.message)
                continue
            except Exception as exc:  # a letter that cannot render: report it on the action
                self._finish(p.action_id, "failed", f"{exc.__class__.__name__}: {exc}")
                continue
            if self.smtp is None or self.dry_run:
                path = mail.write_eml(message, self._path("emails", p, ".eml"))
                self.report.rendered += 1
                self.report.paths.append(str(path))
                self._finish(p.action_id, "sent",
                             output={"eml": str(path), "delivered": False,
                                     "to": p.recipient or ""})
                continue
            files[p.action_id] = {"to": p.recipient or "", "message_id": message["Message-ID"]}
            outgoing.append(mail.Outgoing(p.action_id, message, envelope_from,
                                          [p.recipient or ""]))
        if not outgoing:
            return
        smtp = self.smtp
        assert smtp is not None

        def report(result: mail.SendResult) -> None:
            outcome = "release" if result.detail == "dispatcher stopping" else result.outcome
            self._finish(result.key, outcome, result.detail,
                         output={**files[result.key], "smtp_reply": result.detail})

        asyncio.run(mail.send_all(smtp, outgoing, report, should_stop=self.stop.is_set,
                                  before_send=lambda key: mark_started(self.store, key,
                                                                       self.worker)))

    def _message(self, p: Prepared, pdf: Path | None = None) -> tuple[Any, str]:
        what = "debtor" if p.channel == "email" else "recipient"
        if not p.recipient:
            raise mail.HeaderRefused(f"{what} {p.debtor_ref} has no e-mail address")
        to = mail.mailbox(p.recipient_name, p.recipient, what)
        sender_name, sender_addr = p.sender
        sender_addr = sender_addr or (self.smtp.sender if self.smtp else None)
        if not sender_addr:
            raise mail.HeaderRefused(
                f"creditor {p.creditor_code} has no e-mail address and [smtp] from is not set")
        sender = mail.mailbox(sender_name, sender_addr, "creditor")
        reply_to = mail.mailbox(sender_name, p.reply_to, "reply-to") if p.reply_to else None
        attachments: list[mail.Attachment] = []
        if p.letter_html and p.channel == "email":
            if pdf is None:
                with self.store.transaction() as session:
                    creditor = session.scalars(select(Creditor).where(
                        Creditor.code == p.creditor_code)).one()
                    roots = self.renderer.resource_roots(creditor)
                pdf = write_pdf(p.letter_html, self._path("emails", p, ".pdf"),
                                base_dir=default_templates_dir(), roots=roots).path
            attachments.append(mail.Attachment(
                f"{_slug(p.template)}-{_slug(p.debtor_ref)}.pdf", pdf.read_bytes()))
        domain = sender.domain
        message = mail.build_message(
            sender=sender, to=to, reply_to=reply_to, subject=p.subject or "",
            text=p.text or "", html=p.html, attachments=attachments,
            msg_id=mail.message_id(p.idempotency_key or str(p.action_id), domain),
            date=utcnow(),
        )
        envelope = (self.smtp.sender if self.smtp and self.smtp.sender else sender_addr)
        return message, envelope

    # sms -----------------------------------------------------------------------

    def _sms(self, items: list[Prepared]) -> None:
        region = self.sms.default_region if self.sms else "FR"
        gateway = sms.HttpGateway(self.sms) if self.sms and not self.dry_run else None
        for p in items:
            if self.stop.is_set():
                self._finish(p.action_id, "release", "dispatcher stopping")
                continue
            try:
                number = sms.to_e164(p.recipient, region)
            except sms.PhoneInvalid as exc:
                self._finish(p.action_id, "failed", f"debtor {p.debtor_ref}: {exc.message}")
                continue
            text = p.text or ""
            size = sms.sms_size(text)
            info = {"to": number, "characters": size.units, "segments": size.segments,
                    "encoding": size.encoding}
            if gateway is None:
                path = self._path("sms", p, ".txt")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"To: {number}\n{size.describe()}\n\n{text}\n", encoding="utf-8")
                self.report.rendered += 1
                self.report.paths.append(str(path))
                self._finish(p.action_id, "sent", output={**info, "file": str(path),
                                                           "delivered": False})
                continue
            if not mark_started(self.store, p.action_id, self.worker):
                continue
            result = gateway.send(number, text)
            self._finish(p.action_id, result.outcome, result.detail,
                         output={**info, "gateway_id": result.gateway_id})


def dispatch(
    store: Store,
    workspace: Workspace,
    *,
    today: dt.date,
    channels: set[str] | None = None,
    dry_run: bool = False,
    worker: str | None = None,
    stop: threading.Event | None = None,
    progress: bool = False,
) -> DispatchReport:
    """Send every approved (or due for retry) action of `channels` (default: letter,
    email, sms, notify). With `dry_run`, render them into `outbox/dry-run/` and change
    nothing. `stop` lets a caller (the scheduler on SIGTERM) finish the send in progress
    and start nothing new."""
    wanted = {str(c) for c in (channels or DISPATCHED_CHANNELS)}
    unknown = wanted - {str(c) for c in Channel}
    # Calls and escalations asked along with other channels are simply not dispatched.
    if unknown or not wanted & DISPATCHED_CHANNELS:
        raise UsageError(f"cannot dispatch channel(s) {', '.join(sorted(unknown or wanted))}: "
                         f"choose among {', '.join(sorted(DISPATCHED_CHANNELS))} "
                         "(calls and escalations are operator tasks)")
    wanted &= DISPATCHED_CHANNELS
    return _Dispatcher(store, workspace, today=today, channels=wanted, dry_run=dry_run,
                       worker=worker or default_worker_id(), stop=stop,
                       progress=progress).run()


# --------------------------------------------------------------------------- preview


@dataclass(frozen=True)
class Preview:
    """An action rendered without sending: its text, and the files written for a look."""

    text: str
    pdf_path: Path | None
    eml: Path | None
    subject: str | None = None
    error: str | None = None


def render_preview(store: Store, workspace: Workspace, action_id: int,
                   today: dt.date | None = None) -> Preview:
    """Render action `action_id` into `outbox/preview/` (nothing is sent or changed)."""
    day = today or dt.date.today()
    dispatcher = _Dispatcher(store, workspace, today=day, channels=set(DISPATCHED_CHANNELS),
                             dry_run=True, worker="preview", stop=None, progress=False)
    dispatcher.outbox = Path(workspace.outbox_dir) / "preview"
    with store.transaction() as session:
        action = session.scalars(select(Action).where(Action.id == action_id)
                                 .options(selectinload(Action.items))).one_or_none()
        if action is None:
            raise NotFound(f"no action {action_id}")
        if str(action.channel) not in DISPATCHED_CHANNELS:
            raise UsageError(f"action {action_id} is a {action.channel}: nothing to render")
        prepared = dispatcher.renderer.prepare(session, action)
    if prepared.error:
        return Preview("", None, None, error=prepared.error)
    pdf: Path | None = None
    eml: Path | None = None
    text = prepared.text or ""
    if prepared.channel == "letter":
        with store.transaction() as session:
            creditor = session.scalars(select(Creditor).where(
                Creditor.code == prepared.creditor_code)).one()
            roots = dispatcher.renderer.resource_roots(creditor)
        pdf = write_pdf(prepared.letter_html or "", dispatcher._path("letters", prepared, ".pdf"),
                        base_dir=default_templates_dir(), roots=roots).path
        text = _pdf_text(pdf)
    elif prepared.channel == "sms":
        size = sms.sms_size(text)
        try:
            number = sms.to_e164(prepared.recipient,
                                 dispatcher.sms.default_region if dispatcher.sms else "FR")
        except sms.PhoneInvalid as exc:
            number = f"invalid number: {exc.message}"
        text = f"To: {number}\n{size.describe()}\n\n{text}"
    elif prepared.channel in ("email", "notify"):
        try:
            message, _ = dispatcher._message(prepared)
        except mail.HeaderRefused as exc:
            return Preview(text, None, None, prepared.subject, exc.message)
        eml = mail.write_eml(message, dispatcher._path("emails", prepared, ".eml"))
        attached = dispatcher._path("emails", prepared, ".pdf")
        pdf = attached if attached.exists() else None
    return Preview(text, pdf, eml, prepared.subject)


def _pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)


__all__ = [
    "DispatchReport",
    "Preview",
    "claim",
    "confirm_sent",
    "dispatch",
    "finish",
    "recover_in_flight",
    "render_preview",
    "resend",
]

