"""The intake job of `relance serve` (and `relance intake scan`): a pass over the intake
folders (`relance.engine.intake`), the day's run when it imported something, and the
e-mails that tell creditors their files were refused.

One pass at a time, whatever the number of processes: the pass holds the `intake.scan`
lease (a row of `lease`, expiring after `PASS_LEASE`, taken over at once from a dead
process of this host). Under `relance serve` only the leader starts passes.

When the run follows. The scheduler runs the day at `[schedule] run_at` on business
days, and a run of a day is safe to repeat (the same day's actions are extended, never
queued twice: `engine.run`). A file imported before that hour, or on a day that is not a
business day, waits for the scheduled run, which sees it. A file imported after it, or
after someone ran the day by hand, is followed by a run at once: without it, its
reminders would wait for the next business day, since the daily job runs a day once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from relance.engine import intake_records as records
from relance.engine.intake import intake_folder, scan_intake
from relance.kernel.display import show_datetime
from relance.kernel.i18n import N_, SOURCE_LANGUAGE, supported, translations
from relance.kernel.schedule import ScheduleConfig
from relance.kernel.workspace import Workspace
from relance.scheduler import plan
from relance.scheduler.leader import pid_alive
from relance.scheduler.logs import JsonLog
from relance.store import leases
from relance.store.db import Store
from relance.store.models import Run

INTAKE = "intake"  # not for people: the job's name in job_run, the log and --status
LEASE_NAME = "intake.scan"  # not for people: the lease row's name
PASS_LEASE = dt.timedelta(minutes=30)

RunDay = Callable[[dt.date], dict[str, Any]]


# --------------------------------------------------------------------------- the run


def _finished_run(store: Store, day: dt.date) -> bool:
    with store.transaction() as session:
        return session.execute(select(Run.id).where(
            Run.run_date == day, Run.status == "done").limit(1)).first() is not None


def day_to_run(store: Store, config: ScheduleConfig, now: dt.datetime) -> dt.date | None:
    """The day to run after an import, or None when the scheduled run will see it
    (see the module's text)."""
    moment = plan.local(config, now)
    today = moment.date()
    if _finished_run(store, today):
        return today
    if plan.business_day(config, today) and moment.time() >= config.run_at:
        return today
    return None


# --------------------------------------------------------------------------- e-mails


def _said(language: str, message: str) -> str:
    """`message` (marked with `N_`) in `language`, without changing the language the
    process speaks: other threads of `relance serve` are writing letters meanwhile."""
    if language == SOURCE_LANGUAGE:
        return message
    return translations(language).gettext(message)


SUBJECT = N_("File {name} refused: nothing was imported")
OPENING = N_("Hello,")
REFUSED_TEXT = N_(
    "The file {name}, received on {moment}, was refused whole: none of its rows were "
    "imported. The problems found:")
MORE_TEXT = N_("(only the first problems are listed; fix them and the rest will show)")
AGAIN_TEXT = N_(
    "Correct the file and drop it again in the same folder: it will be imported whole. "
    "The refused file was put aside in {place}.")
CHECKSUM_TEXT = N_("Its SHA-256 checksum: {sha256}")


def refusal_text(notice: records.Notice) -> tuple[str, str]:
    """The subject and text of the e-mail telling a creditor its file was refused, in
    the creditor's first language (French when it speaks none relance knows)."""
    language = supported(notice.language) or "fr"
    moment = show_datetime(notice.received_at, language=language)
    lines = [_said(language, OPENING), "",
             _said(language, REFUSED_TEXT).format(name=notice.file_name, moment=moment), ""]
    lines.extend(f"  - {problem}" for problem in notice.problems)
    if notice.more:
        lines.append(_said(language, MORE_TEXT))
    lines.append("")
    place = notice.moved_to.split("/", 1)[-1] if notice.moved_to else "refused/"
    lines.append(_said(language, AGAIN_TEXT).format(place=place))
    lines.append(_said(language, CHECKSUM_TEXT).format(sha256=notice.sha256))
    return _said(language, SUBJECT).format(name=notice.file_name), "\n".join(lines) + "\n"


def _sender(workspace: Workspace, configured: str | None) -> tuple[str, str]:
    """(display name, address) the notices come from: `[smtp] from`, else the firm's."""
    from relance.channels.config import sender_address

    agency = workspace.settings.agency
    address = configured or sender_address(workspace) or agency.email or (
        "relance@localhost.localdomain")  # not for people: an address
    return agency.name or "relance", address


def send_refusals(store: Store, workspace: Workspace) -> dict[str, int]:
    """E-mail every refusal not yet told to its creditor; without `[smtp]`, write each to
    `outbox/intake/<CODE>/` as an .eml file, as the dispatch does for debtors. Returns
    counts for the log."""
    from relance.channels import mail
    from relance.channels import smtp as sending
    from relance.channels.config import smtp_config

    counts = {"notices_sent": 0, "notices_written": 0, "notices_retry": 0,
              "notices_failed": 0, "notices_uncertain": 0, "notices_no_address": 0}
    counts["notices_uncertain"] += len(records.mark_interrupted(store))
    due = records.notices_due(store)
    if not due:
        return counts
    smtp = smtp_config(workspace)
    name, address = _sender(workspace, smtp.sender if smtp else None)
    domain = address.rpartition("@")[2] or "localhost"
    for notice in due:
        if not notice.contact_email:
            # Left pending: sent at the first pass after the address is recorded.
            counts["notices_no_address"] += 1
            continue
        subject, text = refusal_text(notice)
        try:
            message = mail.build_message(
                sender=mail.mailbox(name, address, "intake sender"),
                to=mail.mailbox(notice.creditor_name, notice.contact_email, "creditor contact"),
                subject=subject, text=text, html=None,
                msg_id=mail.message_id(f"intake:{notice.intake_id}:{notice.sha256}", domain))
        except mail.HeaderRefused as refused:
            records.set_notice_state(store, notice.intake_id, records.FAILED,
                                     str(refused), attempted=True)
            counts["notices_failed"] += 1
            continue
        if smtp is None:
            path = Path(workspace.outbox_dir) / "intake" / notice.creditor_code / (
                f"refused-{notice.intake_id}.eml")
            mail.write_eml(message, path)
            records.set_notice_state(store, notice.intake_id, records.WRITTEN, str(path))
            counts["notices_written"] += 1
            continue
        results: list[sending.SendResult] = []

        def before(_key: int, intake_id: int = notice.intake_id) -> bool:
            # Committed before the first byte leaves: a crash from here on is `uncertain`.
            records.set_notice_state(store, intake_id, records.SENDING)
            return True

        asyncio.run(sending.send_all(
            smtp, [sending.Outgoing(notice.intake_id, message, address,
                                    [notice.contact_email])],
            results.append, before_send=before))
        result = results[0] if results else None
        outcome = result.outcome if result else "retry"
        detail = result.detail if result else None
        state = {"sent": records.SENT, "retry": records.PENDING, "failed": records.FAILED,
                 "uncertain": records.UNCERTAIN}[outcome]
        records.set_notice_state(store, notice.intake_id, state, detail,
                                 attempted=result is not None)
        counts[f"notices_{outcome}"] += 1
    return counts


# --------------------------------------------------------------------------- the pass


def _take_lease(store: Store, holder: str, now: dt.datetime) -> bool:
    if leases.acquire_lease(store, LEASE_NAME, holder, PASS_LEASE, now=now):
        return True
    found = leases.read_lease(store, LEASE_NAME)
    if found is None:
        return leases.acquire_lease(store, LEASE_NAME, holder, PASS_LEASE, now=now)
    host, _, pid = found[0].rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and not pid_alive(int(pid)):
        # A pass of this machine died holding it: no need to wait for the expiry.
        leases.release_lease(store, LEASE_NAME, found[0])
        return leases.acquire_lease(store, LEASE_NAME, holder, PASS_LEASE, now=now)
    return False


def intake_pass(store: Store, workspace: Workspace, *, now: dt.datetime, actor: str,
                run_day: RunDay | None, quiet_seconds: float | None = None,
                follow: bool = True) -> dict[str, Any]:
    """One pass: scan, then the day's run if something was imported and the scheduled
    run will not see it (`follow`: False leaves the run to the caller), then the refusal
    e-mails. Returns what was done as JSON-ready data (`busy` when another pass is on)."""
    config = workspace.settings.schedule
    folder = intake_folder(workspace.root, workspace.settings.intake.dir)
    holder = f"{socket.gethostname()}:{os.getpid()}"
    if not _take_lease(store, holder, now):
        found = leases.read_lease(store, LEASE_NAME)
        return {"busy": found[0] if found else "?"}
    try:
        today = plan.local(config, now).date()
        options: dict[str, Any] = {} if quiet_seconds is None else {
            "quiet_seconds": quiet_seconds}
        report = scan_intake(store, folder, actor=actor, today=today, now=now, **options)
        result: dict[str, Any] = report.as_dict()
        if report.imported and follow and run_day is not None:
            day = day_to_run(store, config, now)
            if day is None:
                result["run"] = {"deferred_to_schedule": f"{config.run_at:%H:%M}"}
            else:
                result["run"] = run_day(day)
        result.update(send_refusals(store, workspace))
        return result
    finally:
        leases.release_lease(store, LEASE_NAME, holder)


def intake_job(store: Store, workspace: Workspace, *, actor: str, run_day: RunDay
               ) -> Callable[[dt.datetime], dict[str, Any]] | None:
    """The pass `relance serve` calls every `[intake] every_seconds`, given the time;
    None when `[intake] dir` is not set (no job)."""
    if not workspace.settings.intake.dir:
        return None

    def run(now: dt.datetime) -> dict[str, Any]:
        return intake_pass(store, workspace, now=now, actor=actor, run_day=run_day)

    return run


def noted_pass(intake: Callable[[dt.datetime], dict[str, Any]], *, store: Store,
               config: ScheduleConfig, now: Callable[[], dt.datetime], log: JsonLog,
               host: str, pid: int) -> dict[str, Any]:
    """Run one pass for `relance serve` and fold its outcome into the day's `intake` row
    of `job_run` (what `--status` shows), as the dispatch's ticks are; a failure (the
    database down, the folder gone) is logged and the next tick tries again."""
    started_at = now()
    today = plan.local(config, started_at).date()
    started = time.monotonic()
    failed = False
    try:
        outcome = intake(started_at)
    except Exception as exc:
        failed = True
        outcome = {"error": str(exc) or exc.__class__.__name__,
                   "error_type": exc.__class__.__name__}
        log.error("job.error", job=INTAKE, day=today.isoformat(), error=outcome["error"],
                  trace=traceback.format_exc(limit=6))
    duration_ms = int((time.monotonic() - started) * 1000)
    totals = {key: value for key, value in outcome.items()
              if isinstance(value, int) and not isinstance(value, bool)}
    try:
        leases.note_repeating_job(store, INTAKE, today, host=host, pid=pid,
                                  outcome={**outcome, "duration_ms": duration_ms},
                                  totals=totals, failed=failed, now=now())
    except Exception as exc:  # informative only: the pass itself is done
        log.warning("intake.note_failed", error=str(exc))
    if failed or any(totals.values()):  # a pass that found nothing leaves no log line
        log.emit("job.end", level="error" if failed else "info", job=INTAKE,
                 day=today.isoformat(), status="failed" if failed else "done",
                 duration_ms=duration_ms, counts=outcome)
    return outcome
