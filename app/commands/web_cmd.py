"""`relance web`: the debtor's page (docs/web.md); `relance web link|revoke`: personal
links by hand.

The server is uvicorn over `relance.web.app.create_app`, bound to the loopback by
default: in production a reverse proxy terminates TLS in front of it and passes the
visitor's address (`X-Forwarded-For`, trusted from the proxy's address only).

`--workers N` runs N uvicorn processes sharing the port, each building its own
application through `worker_app` (its own store connections and its own per-address
limits: docs/web.md, "Under load").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from relance.command_index import command_help
from relance.commands.case_support import (
    CreditorOption,
    UserOption,
    actor_of,
    find_debtor_as,
    open_desk,
    say,
)
from relance.context import AppContext
from relance.kernel.display import show_count, show_datetime
from relance.kernel.errors import ConfigError, NotFound, UsageError
from relance.kernel.i18n import _, ngettext
from relance.kernel.workspace import DATABASE_URL_ENV

if TYPE_CHECKING:
    from starlette.applications import Starlette

# How `relance web --workers N` tells its worker processes which workspace they serve
# (the database URL goes through RELANCE_DATABASE_URL, as for any command).
WORKSPACE_ENV = "RELANCE_WEB_WORKSPACE"
MAX_WORKERS = 64

web_app = typer.Typer(help=command_help("web"), invoke_without_command=True)

HostOption = Annotated[str, typer.Option(
    "--host", help=_("The address to listen on (keep the loopback behind a reverse proxy)."))]
PortOption = Annotated[int, typer.Option("--port", help=_("The port to listen on."))]
ProxyOption = Annotated[str, typer.Option(
    "--proxy", help=_("The reverse proxy's addresses whose X-Forwarded-For is trusted "
                      "(comma-separated)."))]
WorkersOption = Annotated[int, typer.Option(
    "--workers", help=_("Server processes sharing the port (each with its own limits per "
                        "address)."))]


def worker_app() -> Starlette:
    """The application of one process of `relance web --workers N` (uvicorn's factory):
    the workspace the parent named, its store opened here."""
    from relance.context import AppContext
    from relance.web.app import create_app

    context = AppContext(workspace_path=Path(os.environ[WORKSPACE_ENV]))
    return create_app(context.workspace)


def serve_web(context: AppContext, host: str, port: int, proxy: str = "127.0.0.1", *,
              announce: bool = False, workers: int = 1) -> None:
    """Run the debtor's page until interrupted (also called by `relance serve --web`,
    in a thread: then uvicorn's signal handlers stay the scheduler's)."""
    import uvicorn

    from relance.web.app import create_app

    # Built first: without a web secret, the command stops here (exit 2). The store is
    # migrated here too, once, before any worker opens it.
    app = create_app(context.workspace, store=context.store)
    if announce:
        say(context, _("The debtors' pages and the portal (/portal/) listen on "
                       "http://{host}:{port} (Ctrl-C stops them).").format(host=host, port=port))
    served: Starlette | str = app
    if workers > 1:
        os.environ[WORKSPACE_ENV] = str(context.workspace.root)
        os.environ[DATABASE_URL_ENV] = context.database_url
        context.store.dispose()
        served = "relance.commands.web_cmd:worker_app"
    uvicorn.run(served, host=host, port=port, proxy_headers=True, forwarded_allow_ips=proxy,
                server_header=False, date_header=False, log_level="warning",
                access_log=False, workers=workers if workers > 1 else None,
                factory=workers > 1)


@web_app.callback()
def web(
    ctx: typer.Context,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    proxy: ProxyOption = "127.0.0.1",
    workers: WorkersOption = 1,
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    context: AppContext = ctx.obj
    if not 0 < port < 65536:
        raise UsageError(_("--port must be between 1 and 65535, not {port}").format(port=port))
    if not 0 < workers <= MAX_WORKERS:
        raise UsageError(_("--workers must be between 1 and {most}, not {workers}").format(
            most=MAX_WORKERS, workers=workers))
    serve_web(context, host, port, proxy, announce=True, workers=workers)


@web_app.command("link", help=_("Issue a personal link for a debtor by hand and print it."))
def link(
    ctx: typer.Context,
    debtor: Annotated[str, typer.Argument(help=_("The debtor's reference."))],
    creditor: CreditorOption = None,
    user: UserOption = None,
) -> None:
    from relance.engine.portal_links import issue_link, link_keys

    context = open_desk(ctx, user, False)
    actor = actor_of(context)
    with context.store.transaction() as session:
        # The debtor first: one the user may not see does not exist, whatever the setup.
        found = find_debtor_as(session, actor, debtor, creditor_code=creditor)
        keys = link_keys(context.workspace)
        if keys is None or keys.base_url is None:
            raise ConfigError(_("a personal link needs [web] base_url and the web secret "
                                "(RELANCE_WEB_SECRET or [web] secret_file) in {label}")
                              .format(label=context.workspace.config_label))
        issued = issue_link(session, keys, debtor_id=found.id, actor=actor.name)
    say(context, _("Link {id} for {debtor}, valid until {moment}:").format(
        id=issued.link_id, debtor=debtor, moment=show_datetime(issued.expires_at)))
    typer.echo(issued.url)


@web_app.command("revoke", help=_("Revoke a personal link (its number or address), or every "
                                  "link of a debtor (--debtor)."))
def revoke(
    ctx: typer.Context,
    link_given: Annotated[str | None, typer.Argument(
        metavar="LINK", help=_("The link's number or its address."))] = None,
    debtor: Annotated[str | None, typer.Option(
        "--debtor", help=_("Revoke every link of this debtor (ref)."))] = None,
    creditor: CreditorOption = None,
    user: UserOption = None,
) -> None:
    from relance.engine.portal_links import debtor_links, find_link, load_secret
    from relance.engine.portal_links import revoke as revoke_links
    from relance.engine.scope import creditor_ids

    if (link_given is None) == (debtor is None):
        raise UsageError(_("name one link, or a debtor with --debtor"))
    context = open_desk(ctx, user, False)
    actor = actor_of(context)
    with context.store.transaction() as session:
        if debtor is not None:
            links = debtor_links(session, find_debtor_as(
                session, actor, debtor, creditor_code=creditor).id)
        else:
            found = find_link(session, load_secret(context.workspace), link_given or "")
            visible = creditor_ids(session, actor)
            if found is not None and visible is not None:
                from relance.store.models import Debtor

                owner = session.get(Debtor, found.debtor_id)
                found = found if owner is not None and owner.creditor_id in visible else None
            if found is None:
                raise NotFound(_("no personal link {link}").format(link=link_given))
            links = [found]
        done = revoke_links(session, links, actor=actor.name)
    say(context, ngettext("{count} link revoked.", "{count} links revoked.", done).format(
        count=show_count(done)))


def register(app: typer.Typer) -> None:
    app.add_typer(web_app, name="web")
