"""`relance serve`: the scheduler daemon (daily run, dispatch, letters, summary)."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from relance.command_index import command_help
from relance.commands.options import JsonOption, json_wanted
from relance.context import AppContext
from relance.kernel.display import show_count, show_date
from relance.kernel.i18n import N_, _
from relance.kernel.schedule import ScheduleConfig

if TYPE_CHECKING:
    from relance.scheduler.clock import Clock
    from relance.scheduler.logs import JsonLog
    from relance.scheduler.service import Scheduler

Handlers = dict[int, Any]


def _install_signals(stop: threading.Event, log: JsonLog) -> Handlers:
    """Turn SIGTERM and SIGINT into `stop`; returns the handlers they replace."""
    def on_signal(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            log.warning("serve.signal", signal=name, note="already stopping")
            return
        log.info("serve.signal", signal=name,
                 note="finishing the send in progress, starting nothing new")
        stop.set()

    previous: Handlers = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, on_signal)
    return previous


def _restore_signals(previous: Handlers) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def serve(
    ctx: typer.Context,
    status: Annotated[bool, typer.Option(
        "--status", help=_("Print the next run times and the last outcomes, then exit."))
    ] = False,
    once: Annotated[bool, typer.Option(
        "--once", help=_("Run what is due now (catch-up included), then exit: for cron."))
    ] = False,
    web: Annotated[bool, typer.Option(
        "--web", help=_("Serve the debtor's page too (as relance web), beside the "
                        "scheduler."))] = False,
    web_host: Annotated[str, typer.Option(
        "--web-host", help=_("The address the debtor's page listens on."))] = "127.0.0.1",
    web_port: Annotated[int, typer.Option(
        "--web-port", help=_("The port the debtor's page listens on."))] = 8000,
    json_output: JsonOption = False,
) -> None:
    from relance.scheduler.clock import clock_from_env
    from relance.scheduler.logs import JsonLog
    from relance.scheduler.service import resolve_country
    from relance.scheduler.status import render_status, status_report

    context = json_wanted(ctx, json_output)
    # All of relance.toml is checked here, before anything runs: a mistake in `[run]`
    # stops the daemon at start (exit 2) as it stops `relance run`, rather than failing
    # or, worse, being read another way in the daily job.
    config = context.workspace.settings.schedule
    store = context.store
    log = JsonLog(path=config.log_file)
    config = resolve_country(config, store, log)
    clock = clock_from_env(config.tz)
    if status:
        intake = context.workspace.settings.intake
        report = status_report(store, config, clock.now(),
                               intake_every=intake.every_seconds if intake.dir else None)
        log.close()
        if context.json_output:
            context.emit_json(report)
        else:
            typer.echo(render_status(report))
        # A finding for monitoring: the latest attempt of a once-a-day job failed.
        if any(job["last"] and job["last"][0]["status"] == "failed" for job in report["jobs"]):
            raise typer.Exit(1)
        return
    stop = threading.Event()
    if web and not once:
        _start_web(context, web_host, web_port)
    previous = _install_signals(stop, log)
    try:
        _run(context, scheduler_for(context, config, clock, log, stop), once=once)
    finally:
        _restore_signals(previous)
        log.close()


def _start_web(context: AppContext, host: str, port: int) -> None:
    """The debtor's page in a daemon thread: it stops with the scheduler's process.
    Its application is built here, first, so that a missing web secret stops the
    start (exit 2) rather than a thread."""
    from relance.commands.web_cmd import serve_web
    from relance.web.app import create_app

    create_app(context.workspace, store=context.store)
    threading.Thread(target=serve_web, args=(context, host, port), name="relance-web",
                     daemon=True).start()


def scheduler_for(context: AppContext, config: ScheduleConfig, clock: Clock, log: JsonLog,
                  stop: threading.Event) -> Scheduler:
    """The scheduler wired to the real engine run and channels dispatch."""
    from relance.scheduler.core import (
        channels_dispatch,
        channels_summary_mail,
        engine_run_day,
        summary_recipients,
    )
    from relance.scheduler.intake import intake_job
    from relance.scheduler.leader import leadership_for
    from relance.scheduler.service import Scheduler

    store, workspace = context.store, context.workspace
    run_day = engine_run_day(store, workspace, actor="scheduler")
    return Scheduler(
        store, config,
        run_day=run_day,
        dispatch=channels_dispatch(store, workspace),
        leadership=leadership_for(store, workspace.root),
        clock=clock, log=log, stop=stop,
        summary_sink=None if context.json_output else typer.echo,
        mail_summary=channels_summary_mail(workspace),
        summary_to=summary_recipients(workspace, config.summary_to),
        intake=intake_job(store, workspace, actor="intake", run_day=run_day),
        intake_every_seconds=workspace.settings.intake.every_seconds,
    )


def _run(context: AppContext, scheduler: Scheduler, *, once: bool) -> None:
    if not once:
        scheduler.serve()
        return
    try:
        outcomes, sent = scheduler.run_once()
    finally:
        scheduler.close()
    failed = [o for o in outcomes if o.status != "done"] + (
        [sent] if sent is not None and "error" in sent else [])
    if context.json_output:
        context.emit_json({"leader": scheduler.led,
                           "jobs": [o.as_dict() for o in outcomes], "dispatch": sent})
    else:
        _say_once(scheduler.led, outcomes, sent)
    if failed:
        raise typer.Exit(1)


def _say_once(led: bool, outcomes: list[Any], sent: dict[str, Any] | None) -> None:
    """What `--once` did, a line per job then the dispatch's counts."""
    if not outcomes:
        typer.echo(_("Nothing due for the once-a-day jobs.") if led else
                   _("Nothing due for the once-a-day jobs here: another relance serve leads."))
    for outcome in outcomes:
        # The job's name and status are the ones the log and `--status` show.
        said = dict(job=outcome.job, day=show_date(outcome.day), status=outcome.status)
        if "error" in outcome.detail:
            typer.echo(_("{job} {day}: {status} — {error}").format(
                error=outcome.detail["error"], **said))
        else:
            typer.echo(_("{job} {day}: {status}").format(**said))
    if sent is None:
        typer.echo(_("dispatch: outside the sending window, nothing sent."))
    elif "error" in sent:
        typer.echo(_("dispatch: failed — {error}").format(error=sent["error"]))
    else:
        counts = ", ".join(_(DISPATCH_COUNTS[key]).format(count=show_count(sent[key]))
                           for key in DISPATCH_COUNTS if key in sent)
        typer.echo(_("dispatch: {counts}.").format(counts=counts) if counts
                   else _("dispatch: done."))


DISPATCH_COUNTS = {
    "sent": N_("sent {count}"), "failed": N_("failed {count}"), "retry": N_("retry {count}"),
    "uncertain": N_("uncertain {count}"), "dropped": N_("dropped {count}"),
    "cancelled": N_("cancelled {count}"),
}


def register(app: typer.Typer) -> None:
    app.command(help=command_help("serve"))(serve)
