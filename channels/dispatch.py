"""Dispatch: send what is approved, never twice and never lost.

One pass claims approved actions in groups (`relance.channels.claims`: committed in
flight before anything else), renders each one alone (`relance.channels.prepare`: a
template that crashes fails its own action, before anything is started), then hands
them to their channel:

- letters: PDFs rendered in worker processes, then each group goes into one print batch
  for the mail house (`relance.channels.batches`): the batch is committed on the
  letters, written durably, and only then are they committed `sent`;
- e-mails and internal alerts: `output.started_attempt` committed just before each SMTP
  exchange, the outcome after it (`sent`, `retry_wait`, `failed`, `uncertain`);
- SMS: the same around the gateway's request.

A dispatcher starting up first settles what a dead one left in flight (released,
sent, or uncertain for an operator: never resent blindly). Calls and escalations are
not dispatched: they are operator tasks. One action rendered for a look, sending
nothing, is `relance.channels.preview`.

Over 500 lines because one pass is one `_Dispatcher` whose steps share its state: the
claimed groups, the SMTP connections and event loop kept from group to group, the
letter pool and the report. What can stand alone already does (claims, outcomes of
sends in doubt, prepare, mail, smtp, letter, batches).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from relance.channels import mail, sms
from relance.channels.batches import batch_path
from relance.channels.claims import (
    DISPATCHED_CHANNELS,
    ClaimedGroup,
    DispatchReport,
    Outcome,
    claim_group,
    claimable,
    default_worker_id,
    finish,
    finish_many,
    mark_batched,
    mark_started,
    next_attempt,
    now,
    problem,
    release_unstarted,
)
from relance.channels.config import (
    SmsConfig,
    SmtpConfig,
    dispatch_config,
    sms_config,
    smtp_config,
)
from relance.channels.group_facts import group_facts
from relance.channels.in_doubt import count_uncertain
from relance.channels.letter import (
    LetterJob,
    LetterPool,
    PdfRendererMissing,
    render_many,
    write_batch,
)
from relance.channels.prepare import Prepared, Renderer, outbox_file
from relance.channels.processes import process_count, start_helpers, with_helpers
from relance.channels.reasons import Reason, of_exception, reason, told
from relance.channels.recovery import recover_in_flight
from relance.channels.render import TemplateProblem
from relance.channels.smtp import (
    STOPPING_TEXT,
    Lines,
    Outgoing,
    SendResult,
    send_batched,
)
from relance.channels.templates import default_templates_dir
from relance.kernel.errors import UsageError
from relance.kernel.i18n import N_, _
from relance.kernel.workspace import Workspace
from relance.store.db import Store
from relance.store.models import Action, Channel, Creditor, Debtor, Invoice


class _Dispatcher:
    def __init__(self, store: Store, workspace: Workspace, *, today: dt.date,
                 channels: set[str], dry_run: bool, worker: str,
                 stop: threading.Event | None,
                 progress: bool | Callable[[int, int], None]) -> None:
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
        self.renderer = Renderer(store, workspace, today, self.config)
        self.report = DispatchReport(worker=worker, dry_run=dry_run)
        outbox = Path(workspace.outbox_dir)
        self.outbox = outbox / "dry-run" if dry_run else outbox
        self.report.outbox = str(outbox)
        # action id -> (channel, debtor ref, debtor name): what the report names.
        self.about: dict[int, tuple[str, str, str]] = {}
        self.batches_written = 0
        # One set of letter workers for the whole dispatch, not one per group.
        self.letter_pool = LetterPool(max(1, self.config.letter_processes))
        # Likewise one event loop and one set of SMTP connections (`smtp.Lines`), made
        # for the first group of e-mails and closed at the end.
        self.runner: asyncio.Runner | None = None
        self.lines: Lines | None = None

    # paths -----------------------------------------------------------------

    def _path(self, kind: str, p: Prepared, suffix: str) -> Path:
        return outbox_file(self.outbox, kind, self.today, p, suffix)

    # one pass ----------------------------------------------------------------

    def run(self) -> DispatchReport:
        try:
            return self._run()
        finally:
            self.letter_pool.close()
            self._close_lines()

    def _close_lines(self) -> None:
        """QUIT on the connections the e-mails left open, then the loop they ran in."""
        runner, lines = self.runner, self.lines
        self.runner = self.lines = None
        if runner is None:
            return
        try:
            if lines is not None:
                with contextlib.suppress(Exception):
                    runner.run(lines.close())
        finally:
            runner.close()

    def _run(self) -> DispatchReport:
        if not self.dry_run:
            self.report.recovered_uncertain = recover_in_flight(
                self.store, lease_seconds=self.config.lease_seconds,
                actor=f"dispatch:{self.worker}", report=self.report)
        done_this_run: list[int] = []
        while not self.stop.is_set():
            group: ClaimedGroup | None = None
            if self.dry_run:
                ids = self._dry_run_ids(done_this_run)
            else:
                group = claim_group(self.store, channels=self.channels, worker=self.worker,
                                    today=self.today, limit=self.config.batch_size,
                                    report=self.report)
                ids = group.ids
            if not ids:
                break
            done_this_run.extend(ids)
            try:
                self._process(ids, group)
            except BaseException:
                # Whatever stopped this pass (a lost database, Ctrl-C), what it had not
                # started goes back to the queue now rather than waiting for recovery.
                if not self.dry_run:
                    with contextlib.suppress(Exception):
                        release_unstarted(self.store, ids, self.worker,
                                          "dispatch interrupted before sending it")
                raise
        if not self.dry_run:
            self.report.outstanding_uncertain = count_uncertain(self.store)
        return self.report

    def _dry_run_ids(self, done: list[int]) -> list[int]:
        with self.store.transaction() as session:
            query = (select(Action.id).where(*claimable(self.channels, now()))
                     .order_by(Action.id).limit(self.config.batch_size))
            if done:
                query = query.where(Action.id.not_in(done))
            return list(session.scalars(query))

    def _process(self, ids: list[int], group: ClaimedGroup | None = None) -> None:
        with self.store.transaction() as session:
            known: dict[int, Invoice] = {}
            if group is not None:
                # What the claim read to settle the group, as it left it: added to this
                # session rather than read again (`ClaimedGroup`).
                session.add_all(group.objects())
                actions: Sequence[Action] = [group.actions[i] for i in ids]
                debtors: Sequence[Debtor] = list(group.debtors.values())
                known = group.invoices
            else:
                actions = session.scalars(select(Action).where(Action.id.in_(ids))
                                          .options(selectinload(Action.items))
                                          .order_by(Action.id)).all()
                debtors = session.scalars(select(Debtor).where(
                    Debtor.id.in_({a.debtor_id for a in actions}))).all()
            # The group's creditors in one query (its debtors came with the claim, or in
            # one query above): each action's rendering then finds them in the session
            # instead of asking the database one by one. Held here: the session keeps
            # only weak references to what it loaded.
            creditors = session.scalars(select(Creditor).where(
                Creditor.id.in_({a.creditor_id for a in actions}))).all()
            # Their invoices, and the other actions holding them, likewise: two queries
            # for the group instead of three per action.
            facts = group_facts(session, actions, known)
            prepared = [self.renderer.prepare(session, a, facts) for a in actions]
            del debtors, creditors
        by_channel: dict[str, list[Prepared]] = {}
        for p in prepared:
            self.about[p.action_id] = (p.channel, p.debtor_ref, p.debtor_name)
            if p.failure is not None:
                self._finish(p.action_id, "failed", p.failure)
                continue
            by_channel.setdefault(p.channel, []).append(p)
        if "letter" in by_channel:
            self._letters(by_channel["letter"])
        mails = by_channel.get("email", []) + by_channel.get("notify", [])
        if mails:
            self._mails(mails)
        if "sms" in by_channel:
            self._sms(by_channel["sms"])

    def _finish(self, action_id: int, outcome: str, detail: str | Reason = "",
                output: dict[str, Any] | None = None) -> None:
        """Commit an outcome: its reason is recorded in English, reported as read."""
        why = told(detail)
        if self.dry_run:
            if outcome == "failed":
                self._error(action_id, why)
                self._problem(action_id, "failed", why)
            return
        state = finish(self.store, action_id, worker=self.worker, outcome=outcome,
                       detail=why.english, output=output, config=self.config)
        self._account(action_id, state, why)

    def _account(self, action_id: int, state: str, why: Reason) -> None:
        """Count a committed outcome in the report; a problem is named for a person."""
        if state == "sent":
            self.report.sent += 1
        elif state == "failed":
            self.report.failed += 1
            self._error(action_id, why)
        elif state == "retry_wait":
            self.report.retry += 1
        elif state == "uncertain":
            self.report.uncertain += 1
        if state in ("failed", "retry_wait", "uncertain"):
            self._problem(action_id, state, why)

    def _error(self, action_id: int, why: Reason) -> None:
        self.report.errors.append(_("action {action}: {reason}").format(
            action=action_id, reason=why.shown))

    def _problem(self, action_id: int, state: str, why: Reason) -> None:
        channel, ref, name = self.about.get(action_id, ("", "", ""))
        when = next_attempt(self.store, action_id) if state == "retry_wait" else None
        self.report.problems.append(problem(action_id, state, channel, ref, name,
                                            why.shown, when))

    # letters -----------------------------------------------------------------

    def _jobs(self, items: list[Prepared], kind: str) -> list[LetterJob]:
        """The PDFs to render for these actions' letters, into `outbox/KIND/`."""
        jobs: list[LetterJob] = []
        with self.store.transaction() as session:
            for p in items:
                creditor = session.scalars(select(Creditor).where(
                    Creditor.code == p.creditor_code)).one()
                roots = tuple(str(r) for r in self.renderer.resource_roots(creditor))
                # A letter's statement follows it in the same PDF; an e-mail's goes as an
                # attachment of its own (`Renderer.message`).
                appendix = p.statement if kind == "letters" and p.statement else b""
                jobs.append(LetterJob(p.action_id, p.letter_html or "",
                                      str(self._path(kind, p, ".pdf")),
                                      str(default_templates_dir()), roots, appendix))
        return jobs

    def _letters(self, items: list[Prepared]) -> None:
        jobs = self._jobs(items, "letters")
        by_key = {p.action_id: p for p in items}
        rendered: dict[int, dict[str, Any]] = {}
        try:
            for key, path, pages, refused, error in self._render_letters(jobs):
                if error:
                    self._finish(key, "failed", _not_rendered(error))
                    continue
                self.report.rendered += 1
                self.report.paths.append(path)
                output: dict[str, Any] = {"pdf": path, "pages": pages,
                                          "totals": by_key[key].data.totals_minor}
                if refused:
                    output["refused"] = list(refused)
                warnings = by_key[key].data.context.get("penalties", {}).get("warnings")
                if warnings:
                    output["warnings"] = list(warnings)
                rendered[key] = output
        except PdfRendererMissing:
            raise  # no letter can render on this machine: stop; run() requeues the actions
        except Exception as exc:  # the worker processes died (memory...): nothing went out
            for p in items:
                if p.action_id not in rendered:
                    self._finish(p.action_id, "failed", _not_rendered(of_exception(exc)))
        if rendered:
            self._batch(rendered)

    def _batch(self, letters: dict[int, dict[str, Any]]) -> None:
        """Put rendered letters into a new print batch: commit the batch on them, write
        it durably, then commit them `sent` (see `relance.channels.batches`)."""
        self.batches_written += 1
        path = batch_path(self.outbox, self.today, self.worker, self.batches_written, now())
        outputs = {key: {**output, "batch": str(path)} for key, output in letters.items()}
        marked = sorted(outputs) if self.dry_run else mark_batched(self.store, outputs,
                                                                  self.worker)
        if not marked:
            return
        try:
            write_batch([Path(outputs[key]["pdf"]) for key in marked], path)
        except Exception as exc:
            # Renamed into place but not synced still counts as written: never batch
            # these letters a second time.
            if not path.is_file():
                for key in marked:
                    self._finish(key, "retry", reason(
                        N_("print batch {path} could not be written: {error}"),
                        path=path, error=of_exception(exc)))
                return
        self.report.batches.append(str(path))
        self.report.batch = str(path)
        if self.dry_run:
            return
        # The batch is on disk: its letters committed `sent` together, in one transaction.
        states, _started = finish_many(
            self.store, [Outcome(key, "sent", output=outputs[key]) for key in marked],
            worker=self.worker, config=self.config)
        for key in marked:
            self._account(key, states.get(key, ""), told(""))

    def _render_letters(self, jobs: list[LetterJob]) -> Iterable[
            tuple[int, str, int, tuple[str, ...], Reason | None]]:
        processes = max(1, self.config.letter_processes)
        if callable(self.progress):
            # The caller's own bar (the command line's): told letters done / to do.
            report, done = self.progress, [0]

            def one_more() -> None:
                done[0] += 1
                report(done[0], len(jobs))

            yield from render_many(jobs, processes=processes, on_done=one_more,
                                   pool=self.letter_pool)
            return
        if not self.progress:
            yield from render_many(jobs, processes=processes, pool=self.letter_pool)
            return
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(_("Rendering letters"), total=len(jobs))
            yield from render_many(jobs, processes=processes, pool=self.letter_pool,
                                   on_done=lambda: bar.advance(task))

    # e-mail ------------------------------------------------------------------

    def _attachments(self, items: list[Prepared]) -> dict[int, Path | Reason]:
        """Render the letters attached to e-mails, in worker processes like letters;
        a path per action, or the error text when its letter could not be rendered."""
        jobs = self._jobs([p for p in items if p.letter_html and p.channel == "email"],
                          "emails")
        done: dict[int, Path | Reason] = {}
        try:
            for key, path, _pages, _refused, error in render_many(
                    jobs, processes=max(1, self.config.letter_processes),
                    pool=self.letter_pool):
                done[key] = _not_rendered(error) if error else Path(path)
        except PdfRendererMissing:
            raise  # no letter can render on this machine: stop; run() requeues the actions
        except Exception as exc:  # the worker processes died: these e-mails wait for nothing
            for job in jobs:
                done.setdefault(job.key, _not_rendered(of_exception(exc)))
        return done

    def _mails(self, items: list[Prepared]) -> None:
        outgoing: list[Outgoing] = []
        written: list[Outcome] = []
        files: dict[int, dict[str, Any]] = {}
        attached = self._attachments(items)
        for p in items:
            pdf = attached.get(p.action_id)
            if isinstance(pdf, Reason):
                self._finish(p.action_id, "failed", pdf)
                continue
            try:
                data, envelope_from, msg_id = self._message(p, pdf)
            except (mail.HeaderRefused, TemplateProblem) as exc:
                self._finish(p.action_id, "failed", exc.reason)
                continue
            except Exception as exc:  # a letter that cannot render: report it on the action
                self._finish(p.action_id, "failed", of_exception(exc))
                continue
            # The exact message, kept before it leaves: the case's history opens what was
            # sent, never a new rendering of a template that may have changed since. Its
            # bytes are built once, for the kept copy and for the wire.
            kept = mail.write_eml(data, self._path("emails", p, ".eml"))
            if self.smtp is None or self.dry_run:
                self.report.rendered += 1
                self.report.paths.append(str(kept))
                written.append(Outcome(p.action_id, "sent", "", {
                    "eml": str(kept), "delivered": False, "to": p.recipient or ""}))
                continue
            files[p.action_id] = {"to": p.recipient or "", "message_id": msg_id,
                                  "eml": str(kept)}
            outgoing.append(Outgoing(p.action_id, data, envelope_from, [p.recipient or ""]))
        if written and not self.dry_run:
            # Only files were written: their outcomes are committed together.
            states, _marked = finish_many(self.store, written, worker=self.worker,
                                          config=self.config)
            for done in written:
                self._account(done.action_id, states.get(done.action_id, ""), told(""))
        if not outgoing:
            return
        smtp = self.smtp
        assert smtp is not None
        if self.runner is None:
            self.runner = asyncio.Runner()
            self.lines = Lines(smtp)
        self.runner.run(send_batched(
            smtp, outgoing, lambda done, starting: self._commit_sends(done, starting, files),
            should_stop=self.stop.is_set, lines=self.lines))

    def _commit_sends(self, done: Sequence[SendResult], starting: Sequence[int],
                      files: dict[int, dict[str, Any]]) -> list[int]:
        """One transaction: the outcomes of the e-mails just sent, and the started marks
        of those about to be (`send_batched`); returns the marked ones."""
        outcomes: list[Outcome] = []
        for result in done:
            stopping = result.detail == STOPPING_TEXT
            outcomes.append(Outcome(result.key, "release" if stopping else result.outcome,
                                    result.reason.english,
                                    {**files[result.key], "smtp_reply": result.detail}))
        states, marked = finish_many(self.store, outcomes, worker=self.worker,
                                     config=self.config, start=starting)
        for result in done:
            self._account(result.key, states.get(result.key, ""), result.reason)
        return marked

    def _message(self, p: Prepared, pdf: Path | None = None) -> tuple[bytes, str, str]:
        return self.renderer.message_data(p, pdf, attach_to=self._path("emails", p, ".pdf"),
                                          envelope=self.smtp.sender if self.smtp else None)

    # sms -----------------------------------------------------------------------

    def _sms(self, items: list[Prepared]) -> None:
        region = self.sms.default_region if self.sms else "FR"
        gateway = sms.HttpGateway(self.sms) if self.sms and not self.dry_run else None
        for p in items:
            if self.stop.is_set():
                self._finish(p.action_id, "release", reason(N_("dispatcher stopping")))
                continue
            try:
                number = sms.to_e164(p.recipient, region)
            except sms.PhoneInvalid as exc:
                self._finish(p.action_id, "failed", reason(N_("debtor {ref}: {problem}"),
                                                           ref=p.debtor_ref,
                                                           problem=exc.reason))
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
            self._finish(p.action_id, result.outcome, result.reason,
                         output={**info, "gateway_id": result.gateway_id})


def _not_rendered(error: Reason) -> Reason:
    return reason(N_("letter not rendered: {error}"), error=error)


def dispatch(
    store: Store,
    workspace: Workspace,
    *,
    today: dt.date,
    channels: set[str] | None = None,
    dry_run: bool = False,
    worker: str | None = None,
    stop: threading.Event | None = None,
    progress: bool | Callable[[int, int], None] = False,
    processes: int | None = None,
) -> DispatchReport:
    """Send every approved (or due for retry) action of `channels` (default: letter,
    email, sms, notify). With `dry_run`, render them into `outbox/dry-run/` and change
    nothing. `stop` lets a caller (the scheduler on SIGTERM) finish the send in progress
    and start nothing new. `progress`: True for a bar of its own while letters render,
    or a callback told (letters rendered, letters to render). `processes`: how many
    processes send e-mails (default: `[dispatch] processes`, see
    `relance.channels.processes`); the others are started here and waited for."""
    wanted = {str(c) for c in (channels or DISPATCHED_CHANNELS)}
    unknown = wanted - {str(c) for c in Channel}
    # Calls and escalations asked along with other channels are simply not dispatched.
    if unknown or not wanted & DISPATCHED_CHANNELS:
        raise UsageError(_("cannot dispatch channel(s) {channels}: choose among {known} "
                           "(calls and escalations are operator tasks)").format(
                               channels=", ".join(sorted(unknown or wanted)),
                               known=", ".join(sorted(DISPATCHED_CHANNELS))))
    wanted &= DISPATCHED_CHANNELS
    stop = stop or threading.Event()
    dispatcher = _Dispatcher(store, workspace, today=today, channels=wanted,
                             dry_run=dry_run, worker=worker or default_worker_id(),
                             stop=stop, progress=progress)
    helpers = None
    if not dry_run:
        # Its settings read and checked above: the helpers find the same.
        count = processes or process_count(dispatcher.config)
        helpers = start_helpers(store, workspace, dispatcher.config, today=today,
                                channels=wanted, processes=count, stop=stop)
    return with_helpers(helpers, dispatcher.run, store)

