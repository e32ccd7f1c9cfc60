"""The portal's pages for the people inside, once signed in (`web.portal_sign_in`).

- `/portal/`: by role. A credit manager, an operator or an auditor reads the dashboard
  (totals, the aged balance as a chart, twelve months of trends, what waits); a sales rep
  the late invoices and open disputes of their own debtors; a client company (a
  collection firm's client) its creditors' aged balance, the cases under mandate, the
  actions taken and the remittances.
- `/portal/debtors/{creditor code}/{debtor ref}`: one debtor's case (open invoices,
  reminders sent, disputes, promises, notes), with the forms "Add a note" and, for the
  team, "I called them". No sequential id in the address; a debtor the person may not
  see is the neutral 404, like one that does not exist.

The portal reads (engine/portal_views.py) and writes only notes and logged calls, through
the core (`case_holds.add_note`, `contacts.log_call`), which lock the debtor within the
person's scope again. Each form carries the session's CSRF token; after a change, a 303
back to the page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from relance.engine import portal_views
from relance.engine.aging import BUCKET_TITLES
from relance.engine.case_holds import add_note
from relance.engine.contacts import SUMMARY_MAX, log_call
from relance.engine.roles import Actor, Role
from relance.engine.scope import NotVisible
from relance.engine.words import CHANNEL_WORDS
from relance.kernel.display import show_count, show_date, show_datetime, show_decimal, show_money
from relance.kernel.errors import NotFound, UsageError
from relance.kernel.i18n import N_, using_language
from relance.store.models import Channel, PromiseStatus
from relance.web.common import PageRefused, Portal, gettext_for, portal_of
from relance.web.portal_charts import aged_bars, trend_chart
from relance.web.portal_people import Insider, check_insider_csrf, insider_of, render_insider

DEBTOR_PATH = "/portal/debtors"
TEXT_FIELD = "text"
WHAT_FIELD = "what"
NOTE, CALL = "note", "call"
# Who is offered "I called them": the people who phone debtors (not a client company).
CALLERS = frozenset({Role.SALES_REP, Role.OPERATOR, Role.CREDIT_MANAGER})
FORM_MAX_FIELDS = 8

# Said of a promise (French: « promesse », feminine).
PROMISE_WORDS: dict[str, str] = {
    PromiseStatus.OPEN: N_("awaited"), PromiseStatus.KEPT: N_("kept"),
    PromiseStatus.BROKEN: N_("broken"), PromiseStatus.CANCELLED: N_("called off"),
}
SAVED: dict[str, str] = {NOTE: N_("Your note is on the case."),
                         CALL: N_("Your call is on the case.")}
TOO_LONG = N_("A note is at most {count} characters.")
REMINDED = N_("{channel} on {day}")
AGED_CHART = N_("Aged balance in {currency} on {day}")
TREND_CHART = N_("Aged balance and DSO in {currency}, the last twelve months")
DSO_DAYS = N_("DSO (days)")


def debtor_path(creditor_code: str, debtor_ref: str) -> str:
    """The address of a debtor's page (its creditor's code and its own reference)."""
    return f"{DEBTOR_PATH}/{quote(creditor_code, safe='')}/{quote(debtor_ref, safe='')}"


class Words:
    """The page's formatter in the person's language: money, days, channels."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.gettext, self.ngettext = gettext_for(language)

    def money(self, minor: int, currency: str) -> str:
        return show_money(minor, currency, self.language)

    def day(self, day: dt.date | None) -> str:
        return show_date(day, self.language)

    def count(self, count: int) -> str:
        return show_count(count, self.language)

    def channel(self, channel: Channel | str) -> str:
        code = str(getattr(channel, "value", channel))
        return self.gettext(CHANNEL_WORDS[code]) if code in CHANNEL_WORDS else code

    def buckets(self) -> list[str]:
        return [self.gettext(title) for title in BUCKET_TITLES]


def _invoice_row(words: Words, line: portal_views.InvoiceLine) -> dict[str, Any]:
    return {
        "debtor_path": debtor_path(line.creditor_code, line.debtor_ref),
        "debtor_name": line.debtor_name, "debtor_ref": line.debtor_ref,
        "creditor_code": line.creditor_code, "number": line.number,
        "issue_date": words.day(line.issue_date), "due_date": words.day(line.due_date),
        "amount": words.money(line.amount_minor, line.currency),
        "balance": words.money(line.balance_minor, line.currency),
        "days_late": words.count(line.days_late) if line.days_late else "",
        "dispute_reason": line.dispute_reason,
        "disputed_since": words.day(line.disputed_since),
        "reminded": words.gettext(REMINDED).format(
            channel=words.channel(line.reminded_by), day=words.day(line.reminded_on))
        if line.reminded_on is not None and line.reminded_by is not None else "",
    }


def _totals(words: Words, aged: Any) -> list[dict[str, Any]]:
    return [{"currency": total.currency, "total": words.money(total.total, total.currency),
             "overdue": words.money(total.overdue, total.currency),
             "invoices": words.ngettext("{count} open invoice", "{count} open invoices",
                                        total.invoices).format(
                 count=words.count(total.invoices)),
             "dso": show_decimal(aged.dso[total.currency], 1, words.language)
             if aged.dso.get(total.currency) is not None else None}
            for total in aged.totals]


def _dashboard_context(portal: Portal, insider: Insider, today: dt.date) -> dict[str, Any]:
    words = Words(insider.language)
    with portal.store.session() as session:
        board = portal_views.dashboard(session, insider.person, today)
    buckets = words.buckets()
    gettext = words.gettext
    charts = []
    for total in board.aged.totals:
        trend = next((t for t in board.trends if t.currency == total.currency), None)
        charts.append({
            "currency": total.currency,
            "aged": aged_bars(total, buckets, gettext(AGED_CHART)
                              .format(currency=total.currency, day=words.day(today)),
                              words.language),
            "trend": trend_chart(trend, buckets,
                                 gettext(TREND_CHART).format(currency=total.currency),
                                 gettext(DSO_DAYS), words.language)
            if trend is not None else None,
        })
    work = board.work
    return {
        "today": words.day(today), "totals": _totals(words, board.aged), "charts": charts,
        "buckets": list(enumerate(buckets)),
        "work": [
            (words.ngettext("{count} action to approve", "{count} actions to approve",
                            work.to_approve), work.to_approve),
            (words.ngettext("{count} escalation waiting", "{count} escalations waiting",
                            work.escalations), work.escalations),
            (words.ngettext("{count} invoice in dispute", "{count} invoices in dispute",
                            work.disputes), work.disputes),
            (words.ngettext("{count} promise due", "{count} promises due",
                            work.promises_due), work.promises_due),
        ],
        "count": words.count,
        "most_overdue": [{"path": debtor_path(d.creditor_code, d.ref), "name": d.name,
                          "ref": d.ref, "creditor_code": d.creditor_code,
                          "overdue": words.money(d.overdue_minor, d.currency),
                          "oldest_due": words.day(d.oldest_due),
                          "days_late": words.count((today - d.oldest_due).days)}
                         for d in board.most_overdue],
    }


def _rep_context(portal: Portal, insider: Insider, today: dt.date) -> dict[str, Any]:
    words = Words(insider.language)
    with portal.store.session() as session:
        home = portal_views.rep_home(session, insider.person, today)
    return {"today": words.day(today),
            "late": [_invoice_row(words, line) for line in home.late],
            "disputes": [_invoice_row(words, line) for line in home.disputes]}


def _client_context(portal: Portal, insider: Insider, today: dt.date) -> dict[str, Any]:
    words = Words(insider.language)
    with portal.store.session() as session:
        home = portal_views.client_home(session, insider.person, today)
    return {
        "today": words.day(today), "buckets": words.buckets(),
        "aged": [{"creditor": line.key, "currency": line.currency,
                  "buckets": [words.money(minor, line.currency) for minor in line.buckets],
                  "total": words.money(line.total, line.currency)}
                 for line in home.aged.lines],
        "totals": _totals(words, home.aged),
        "cases": [{"reference": case.reference, "creditor_code": case.creditor_code,
                   "debtor_name": case.debtor_name, "debtor_ref": case.debtor_ref,
                   "path": debtor_path(case.creditor_code, case.debtor_ref),
                   "opened_on": words.day(case.opened_on),
                   "owed": ", ".join(words.money(minor, currency) for currency, minor
                                     in sorted(case.open_minor.items())) or "–"}
                  for case in home.cases],
        "actions": [{"day": words.day(line.day), "what": words.channel(line.channel),
                     "debtor_name": line.debtor_name, "creditor_code": line.creditor_code,
                     "path": debtor_path(line.creditor_code, line.debtor_ref)}
                    for line in home.actions],
        "remittances": [{"reference": r.reference, "creditor_code": r.creditor_code,
                         "until": words.day(r.until), "made_on": words.day(r.made_on),
                         "collected": words.money(r.collected_minor, r.currency),
                         "fees": words.money(r.fees_minor, r.currency),
                         "net": words.money(r.net_minor, r.currency)}
                        for r in home.remittances],
    }


async def home(request: Request) -> Response:
    insider = await insider_of(request)
    portal = portal_of(request)
    role = insider.person.role
    build: Callable[[Portal, Insider, dt.date], dict[str, Any]]
    if role is Role.SALES_REP:
        build, template = _rep_context, "portal_home_rep.html"
    elif role is Role.CLIENT:
        build, template = _client_context, "portal_home_client.html"
    else:
        build, template = _dashboard_context, "portal_home_dashboard.html"
    context = await run_in_threadpool(build, portal, insider, portal.today())
    return render_insider(request, insider, template, context)


def _debtor_context(portal: Portal, insider: Insider, code: str, ref: str,
                    today: dt.date) -> dict[str, Any]:
    words = Words(insider.language)
    with portal.store.session() as session:
        view = portal_views.debtor_view(session, insider.person, code, ref, today)
    if view is None:
        raise PageRefused(404)
    open_lines = [line for line in view.invoices if line.balance_minor > 0]
    owed: dict[str, int] = {}
    for line in open_lines:
        owed[line.currency] = owed.get(line.currency, 0) + line.balance_minor
    person = insider.person
    return {
        "debtor": {"name": view.name, "ref": view.ref, "creditor_code": view.creditor_code,
                   "creditor_name": view.creditor_name, "sales_rep": view.sales_rep,
                   "case_reference": view.case_reference,
                   "paused_until": words.day(view.paused_until)
                   if view.paused_until is not None and view.paused_until >= today else ""},
        "path": debtor_path(view.creditor_code, view.ref),
        "owed": [words.money(minor, currency) for currency, minor in sorted(owed.items())],
        "invoices": [_invoice_row(words, line) for line in open_lines],
        "disputes": [_invoice_row(words, line) for line in view.disputes],
        "reminders": [{"day": words.day(r.day), "channel": words.channel(r.channel),
                       "invoices": ", ".join(r.invoices)} for r in view.reminders],
        "promises": [{"day": words.day(p.promised_on),
                      "amount": words.money(p.amount_minor, p.currency)
                      if p.amount_minor is not None and p.currency else "",
                      "status": words.gettext(PROMISE_WORDS.get(p.status, p.status)),
                      "who": p.recorded_by} for p in view.promises],
        "notes": [{"at": show_datetime(n.at, words.language), "author": n.author,
                   "body": n.body, "call": n.call} for n in view.notes],
        "can_note": person.can_note, "can_call": person.can_note and person.role in CALLERS,
        "text_field": TEXT_FIELD, "what_field": WHAT_FIELD, "note": NOTE, "call": CALL,
        "text_max": SUMMARY_MAX,
    }


def _write(portal: Portal, person: Actor, language: str, code: str, ref: str, what: str,
           text: str) -> str | None:
    """Add the note or the call through the core; a refusal's sentence, or None."""
    today = portal.today()
    with using_language(language):
        try:
            with portal.store.write_transaction() as session:
                debtor = portal_views.find_debtor(session, person, code, ref)
                if debtor is None:
                    raise PageRefused(404)
                if what == CALL:
                    log_call(session, person, debtor.id, text, today)
                else:
                    add_note(session, person, debtor.id, text)
        except (NotFound, NotVisible):
            raise PageRefused(404) from None
        except UsageError as exc:
            return str(exc)
    return None


async def _read_form(request: Request) -> FormData:
    try:
        return await request.form(max_files=0, max_fields=FORM_MAX_FIELDS,
                                  max_part_size=SUMMARY_MAX * 4 + 1024)
    except Exception:  # malformed or oversized: nothing was done
        raise PageRefused(404) from None


async def debtor_page(request: Request) -> Response:
    insider = await insider_of(request)
    portal = portal_of(request)
    code = str(request.path_params["creditor_code"])
    ref = str(request.path_params["debtor_ref"])
    error, typed, kind = "", "", NOTE
    if request.method == "POST":
        form = await _read_form(request)
        try:
            check_insider_csrf(insider, form)
            what = str(form.get(WHAT_FIELD, ""))
            typed = str(form.get(TEXT_FIELD, ""))
        finally:
            await form.close()
        person = insider.person
        if what not in (NOTE, CALL) or not person.can_note \
                or (what == CALL and person.role not in CALLERS):
            raise PageRefused(403)
        kind = what
        gettext, _ngettext = gettext_for(insider.language)
        if len(typed) > SUMMARY_MAX:
            error = gettext(TOO_LONG).format(count=show_count(SUMMARY_MAX, insider.language))
        else:
            refused = await run_in_threadpool(_write, portal, person, insider.language, code,
                                              ref, what, typed)
            if refused is None:
                return RedirectResponse(f"{debtor_path(code, ref)}?saved={what}",
                                        status_code=303)
            error = refused
    context = await run_in_threadpool(_debtor_context, portal, insider, code, ref,
                                      portal.today())
    saved = request.query_params.get("saved", "")
    gettext, _ngettext = gettext_for(insider.language)
    context.update({"error": error, "typed": typed, "typed_kind": kind,
                    "saved": gettext(SAVED[saved]) if saved in SAVED and not error else ""})
    return render_insider(request, insider, "portal_debtor.html", context,
                          status=400 if error else 200)


def routes() -> list[BaseRoute]:
    """`/portal/` and the debtors' pages (GET shows, POST adds a note or a call)."""
    return [Route("/portal/", home, methods=["GET"]),
            Route(DEBTOR_PATH + "/{creditor_code}/{debtor_ref:path}", debtor_page,
                  methods=["GET", "POST"])]
