"""`relance serve --status`: the next run times (from the configuration and the calendar)
and the last outcomes (from the `job_run` table), readable without a running daemon."""

from __future__ import annotations

import datetime as dt
from typing import Any

from relance.kernel.display import show_date, show_datetime
from relance.kernel.i18n import _
from relance.kernel.schedule import WEEKDAYS, ScheduleConfig
from relance.scheduler import plan
from relance.scheduler.intake import INTAKE
from relance.scheduler.leader import LEADER_LOCK_NAME
from relance.scheduler.service import MAX_ATTEMPTS, RETRY_AFTER
from relance.store import leases
from relance.store.db import Store
from relance.store.models import JobRun

HISTORY = 3


def _row(row: JobRun) -> dict[str, Any]:
    detail = dict(row.detail or {})
    return {
        "day": row.day.isoformat(),
        "status": row.status,
        "attempt": row.attempt,
        "host": row.host,
        "pid": row.pid,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "error": detail.get("error"),
        "detail": detail,
    }


def _brief(detail: dict[str, Any]) -> str:
    if detail.get("error"):
        lines = [line.strip() for line in str(detail["error"]).splitlines() if line.strip()]
        text = " ".join(lines[:2])
        return text if len(text) <= 120 else text[:119] + "…"
    if "coalesced_into" in detail:
        return _("missed, coalesced into {day}").format(day=_day(str(detail["coalesced_into"])))
    if "already_run" in detail:
        return _("already run by hand (run {id})").format(id=detail["already_run"])
    numbers = [f"{k} {v}" for k, v in detail.items()
               if isinstance(v, int) and not isinstance(v, bool) and k != "duration_ms"]
    if "totals" in detail and isinstance(detail["totals"], dict):
        numbers = [f"{k} {v}" for k, v in detail["totals"].items()]
        numbers.insert(0, f"ticks {detail.get('ticks', 0)}")
    return ", ".join(numbers[:6])


def status_report(store: Store, config: ScheduleConfig, now: dt.datetime,
                  intake_every: int | None = None) -> dict[str, Any]:
    """Everything `--status` shows, as data (also its `--json` output); `intake_every`:
    the intake job's period in seconds when `[intake] dir` is set."""
    now_local = plan.local(config, now)
    today = now_local.date()
    leader = leases.read_lease(store, LEADER_LOCK_NAME)
    jobs: list[dict[str, Any]] = []
    for job in plan.DAILY_JOBS:
        rows = leases.last_job_runs(store, job, HISTORY)
        done_today = bool(rows) and rows[0].day == today and rows[0].status in (
            leases.FINISHED_STATES)
        upcoming = plan.next_slot(config, job, now, done_today=done_today)
        due = plan.latest_due_day(config, job, now)
        pending = due is not None and not any(r.day >= due for r in rows) and (
            bool(rows) or due == today)
        if rows and rows[0].day == due and rows[0].status == leases.FAILED and (
                rows[0].attempt < MAX_ATTEMPTS and rows[0].finished_at is not None):
            finished = rows[0].finished_at
            if finished.tzinfo is None:  # SQLite: stored in UTC without the zone
                finished = finished.replace(tzinfo=dt.UTC)
            upcoming = (finished + RETRY_AFTER).astimezone(config.tz).replace(microsecond=0)
        jobs.append({
            "job": job,
            "at": f"{plan.job_time(config, job):%H:%M}",
            "next": upcoming.isoformat() if upcoming else None,
            "due_now": pending,
            "last": [_row(r) for r in rows],
        })
    dispatch_rows = leases.last_job_runs(store, plan.DISPATCH, 1)
    upcoming_dispatch = plan.next_dispatch(config, now)
    return {
        "now": now_local.isoformat(timespec="seconds"),
        "timezone": config.timezone,
        "country": plan.country_of(config),
        "business_day_today": plan.business_day(config, today),
        "leader": None if leader is None or leader[1] < now else
        {"holder": leader[0], "until": leader[1].astimezone(config.tz).isoformat(
            timespec="seconds")},
        "jobs": jobs,
        "dispatch": {
            "every_minutes": config.dispatch_every_minutes,
            "sending_hours": config.sending_hours,
            "sending_days": [WEEKDAYS[d] for d in sorted(config.sending_days)],
            "open_now": plan.in_sending_window(config, now),
            "next": upcoming_dispatch.isoformat() if upcoming_dispatch else None,
            "last": [_row(r) for r in dispatch_rows],
        },
        "intake": None if intake_every is None else {
            "every_seconds": intake_every,
            "last": [_row(r) for r in leases.last_job_runs(store, INTAKE, 1)],
        },
    }


def _day(text: str) -> str:
    """An ISO day of the report as a person reads it."""
    try:
        return show_date(dt.date.fromisoformat(text))
    except ValueError:
        return text


def _moment(text: str | None) -> str:
    """An ISO moment of the report (in the scheduler's zone) as a person reads it."""
    if not text:
        return "-"
    try:
        return show_datetime(dt.datetime.fromisoformat(text))
    except ValueError:
        return text


def render_status(report: dict[str, Any]) -> str:
    """The report as lines for a terminal, in the language spoken; job names and job
    states are the names the JSON log and `--json` use."""
    today = (_("Now {now} ({zone}), holidays of {country}; a business day.")
             if report["business_day_today"] else
             _("Now {now} ({zone}), holidays of {country}; not a business day."))
    lines = [today.format(now=_moment(report["now"]), zone=report["timezone"],
                          country=report["country"])]
    leader = report["leader"]
    lines.append(_("Leader: {holder} (until {until})").format(
                     holder=leader["holder"], until=_moment(leader["until"])) if leader
                 else _("Leader: none (no relance serve is running, or it has not ticked yet)"))
    lines.append("")
    job_head, at_head, next_head = _("job"), _("at"), _("next run")
    # The widths of the columns: the job names, a time, a moment.
    widths = (max(14, len(job_head) + 1), max(7, len(at_head) + 1),
              max(19, len(next_head) + 1))
    lines.append(f"{job_head:<{widths[0]}}{at_head:<{widths[1]}}{next_head:<{widths[2]}}"
                 f"{_('last outcomes')}")
    for job in report["jobs"]:
        last = job["last"]
        outcome = _("never run") if not last else "; ".join(
            f"{_day(r['day'])} {r['status']}" + (f" ({_brief(r['detail'])})"
                                                 if _brief(r["detail"]) else "")
            for r in last)
        nxt = _("due now") if job["due_now"] else _moment(job["next"])
        lines.append(f"{job['job']:<{widths[0]}}{job['at']:<{widths[1]}}{nxt:<{widths[2]}}"
                     f"{outcome}")
    disp = report["dispatch"]
    last = disp["last"]
    last_text = _("never run") if not last else (
        f"{_day(last[0]['day'])} {last[0]['status']} ({_brief(last[0]['detail'])})")
    every = "/" + str(disp["every_minutes"]) + "min"
    lines.append(f"{'dispatch':<{widths[0]}}{every:<{widths[1]}}"
                 f"{_moment(disp['next']):<{widths[2]}}{last_text}")
    intake = report.get("intake")
    if intake is not None:
        last = intake["last"]
        detail = last[0]["detail"] if last else {}
        # Only what happened: most passes find nothing, and five zeros say less than none.
        found = ", ".join(f"{key} {value}" for key, value in
                          dict(detail.get("totals") or {}).items() if value)
        brief = str(detail["last"]["error"]) if "error" in dict(
            detail.get("last") or {}) else found
        last_text = _("never run") if not last else (
            f"{_day(last[0]['day'])} {last[0]['status']} (ticks {detail.get('ticks', 0)}"
            + (f", {brief}" if brief else "") + ")")
        every = "/" + str(intake["every_seconds"]) + "s"
        lines.append(f"{INTAKE:<{widths[0]}}{every:<{widths[1]}}{'':<{widths[2]}}{last_text}")
    window = (_("Sending window {hours} on {days}: open now.") if disp["open_now"]
              else _("Sending window {hours} on {days}: closed now."))
    lines.append(window.format(hours=disp["sending_hours"],
                               days=" ".join(disp["sending_days"])))
    return "\n".join(lines)
