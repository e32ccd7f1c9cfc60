"""What the debtor does on their page: promise a date, dispute invoices, declare a payment
already made (with a proof), ask for a payment plan.

Each has a form at `/d/{token}/promise`, `/dispute`, `/declare`, `/plan` (linked from the
page by `action_panel.html`). A POST is refused with the neutral 403 page unless it
carries the visit's CSRF token; then the change is the core's (`engine.portal_requests`),
made in one transaction with its event, the settled queue and the acknowledgement
e-mail. A refusal (a date too far, another debtor's invoice, a file of the wrong type)
shows the form again with the sentence saying why and nothing written; success shows a
confirmation page.

The core words its refusals in the language being spoken, which is the process's:
requests run in threads (`run_in_threadpool`), so each change runs under `_CHANGE_LOCK`
in the debtor's language (`using_language`), never interleaved with another debtor's.
Changes are rare next to page views, and SQLite serialises writes anyway.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from relance.channels.context import date_text
from relance.engine import portal_requests as portal
from relance.kernel.dates import parse_day
from relance.kernel.display import show_date, show_money
from relance.kernel.errors import UsageError
from relance.kernel.i18n import N_, _, using_language
from relance.store.models import Debtor
from relance.web.common import (
    CSRF_FIELD,
    PageRefused,
    Visit,
    check_csrf,
    gettext_for,
    render,
    visit_of,
)
from relance.web.proof_uploads import (
    NOT_AS_EXPECTED,
    Attached,
    FormUnreadable,
    attached,
    discard_proof,
    proof_of,
    read_multipart,
    store_proof,
)

# The sentences of the action templates (web/templates/action_*.html), which call `_()`
# on these same literals: declared here so that the catalogs find them.
TEMPLATE_SENTENCES = (
    N_("What would you like to do?"),
    N_("Promise to pay by a date"),
    N_("Tell us you have already paid"),
    N_("Ask to pay in instalments"),
    N_("Dispute an invoice"),
    N_("Back to your account"),
    N_("Which invoices?"),
    N_("None ticked: all the invoices listed."),
    N_("due {day}"),
    N_("I will pay by"),
    N_("at the latest {day}"),
    N_("Reason"),
    N_("Your message"),
    N_("Amount paid"),
    N_("Paid on"),
    N_("Reference of the transfer (optional)"),
    N_("Proof of payment (optional): PDF, PNG or JPEG, at most {size} kB"),
    N_("Number of monthly instalments"),
    N_("First instalment on"),
    N_("Send"),
    N_("Nothing is left to pay on your account."),
    N_("A confirmation was sent to {email}."),
)
HEADINGS = {
    "promise": N_("Promise to pay by a date"),
    "dispute": N_("Dispute an invoice"),
    "declare": N_("Tell us you have already paid"),
    "plan": N_("Ask to pay in instalments"),
}
INTROS = {
    "promise": N_("Tell us the day by which you will pay: we will not remind you before "
                  "then."),
    "dispute": N_("Tell us what is wrong: we stop our reminders about the invoices you "
                  "dispute while we look into it."),
    "declare": N_("If you have already paid, tell us how much and when: we hold our "
                  "reminders while we check it."),
    "plan": N_("Ask to pay what you owe in monthly instalments: we will answer you by "
               "e-mail."),
}
DONE_TITLE = N_("Thank you")
DONE = {
    "promise": N_("Your promise to pay by {day} is recorded. We will not remind you before "
                  "then."),
    "dispute": N_("Your dispute of {invoices} is recorded. We stop our reminders about it "
                  "while we look into it, and will get back to you."),
    "declare": N_("The payment of {amount} you declared is recorded (request {id}). We "
                  "hold our reminders while we check it."),
    "plan": N_("Your request to pay in {count} instalments is recorded (request {id}). We "
               "will answer you by e-mail."),
}
# One debtor's change at a time in their language (see the module's docstring).
_CHANGE_LOCK = threading.Lock()
# The fields a form may carry, and their longest sensible length.
FIELD_MAX_CHARS = 4000
INVOICES_MAX = 500
FORM_MAX_FIELDS = 600


@dataclass(frozen=True)
class Sent:
    """The form as the debtor sent it: its text fields, the invoices ticked, the file."""

    fields: Mapping[str, str]
    invoices: list[str]
    file: Attached = field(default_factory=lambda: Attached(b"", False))

    @classmethod
    async def of(cls, form: FormData, *, file_max_bytes: int) -> Sent:
        fields = {name: value for name, value in form.multi_items()
                  if isinstance(value, str) and name != "invoice"}
        numbers = [value for value in form.getlist("invoice") if isinstance(value, str)]
        return cls(fields, numbers, await attached(form.get("proof"), most=file_max_bytes))

    def text(self, name: str) -> str:
        value = self.fields.get(name, "")
        if len(value) > FIELD_MAX_CHARS:
            raise UsageError(_(NOT_AS_EXPECTED))
        return value

    def numbers(self) -> list[str]:
        if len(self.invoices) > INVOICES_MAX or any(len(n) > 80 for n in self.invoices):
            raise UsageError(_(NOT_AS_EXPECTED))
        return list(dict.fromkeys(self.invoices))

    def shown_back(self) -> dict[str, Any]:
        """What the debtor typed, shown in the form again after a refusal (escaped)."""
        return {"invoices": [n[:80] for n in self.invoices[:INVOICES_MAX]],
                **{name: value[:FIELD_MAX_CHARS] for name, value in self.fields.items()
                   if name != CSRF_FIELD}}


@dataclass(frozen=True)
class Done:
    """What a change did, for the confirmation page."""

    sentence: str
    email: str | None


def _day(text: str, what: str) -> dt.date:
    if not text.strip():
        raise UsageError(_("{what}: please fill it in").format(what=what))
    return parse_day(text.strip()[:40], what=what)


def _form_context(visit: Visit, action: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """What every action form shows: the debtor's open invoices and the limits."""
    gettext, _ngettext = gettext_for(visit.language)
    web = visit.workspace.settings.web
    with visit.store.session() as session:
        invoices = [{"number": invoice.number,
                     "due": show_date(invoice.due_date, visit.language),
                     "balance": show_money(invoice.balance_minor, invoice.currency,
                                           visit.language),
                     "disputed": invoice.dispute_reason is not None}
                    for invoice in portal.open_invoices(session, visit.debtor_id)]
    reasons = portal.dispute_reasons(visit.workspace) if action == "dispute" else []
    latest = visit.today + dt.timedelta(days=web.promise_max_days)
    return {
        "action": action,
        "heading": gettext(HEADINGS[action]),
        "intro": gettext(INTROS[action]),
        "invoices": invoices,
        "reasons": [(reason, gettext(portal.REASON_WORDS[reason])
                     if reason in portal.REASON_WORDS else reason) for reason in reasons],
        "today_iso": visit.today.isoformat(),
        "latest_iso": latest.isoformat(),
        "latest": show_date(latest, visit.language),
        "max_instalments": portal.MAX_PLAN_INSTALMENTS,
        "upload_max_kb": web.upload_max_kb,
        "values": {"invoices": [], **values},
        "error": None,
    }


def _email(session: Session, visit: Visit) -> str | None:
    debtor = session.get(Debtor, visit.debtor_id)
    return debtor.email if debtor is not None else None


def _promise(visit: Visit, sent: Sent) -> Done:
    promised_on = _day(sent.text("promised_on"), _("the date"))
    with visit.store.write_transaction() as session:
        portal.promise_from_portal(
            session, visit.debtor_id, promised_on=promised_on, today=visit.today,
            max_days=visit.workspace.settings.web.promise_max_days,
            invoice_numbers=sent.numbers())
        email = _email(session, visit)
    return Done(_(DONE["promise"]).format(
        day=date_text(promised_on, visit.language, "long")), email)


def _dispute(visit: Visit, sent: Sent) -> Done:
    with visit.store.write_transaction() as session:
        invoices = portal.dispute_from_portal(
            session, visit.debtor_id, invoice_numbers=sent.numbers(),
            reason=sent.text("reason"), message=sent.text("message"),
            reasons=portal.dispute_reasons(visit.workspace), today=visit.today)
        email = _email(session, visit)
        numbers = ", ".join(invoice.number for invoice in invoices)
    return Done(_(DONE["dispute"]).format(invoices=numbers), email)


def _plan(visit: Visit, sent: Sent) -> Done:
    first_on = _day(sent.text("first_on"), _("the first instalment"))
    count_text = sent.text("instalments").strip()
    if not count_text.isdigit() or len(count_text) > 3:
        raise UsageError(_("choose between 2 and {most} instalments").format(
            most=portal.MAX_PLAN_INSTALMENTS))
    with visit.store.write_transaction() as session:
        request = portal.request_plan(
            session, visit.debtor_id, instalments=int(count_text), first_on=first_on,
            today=visit.today, max_days=visit.workspace.settings.web.promise_max_days,
            invoice_numbers=sent.numbers(), link_id=visit.link_id)
        email = _email(session, visit)
        request_id = request.id
    return Done(_(DONE["plan"]).format(count=int(count_text), id=request_id), email)


def _declare(visit: Visit, sent: Sent) -> Done:
    paid_on = _day(sent.text("paid_on"), _("the date of payment"))
    proof = proof_of(sent.file, most=visit.workspace.settings.web.upload_max_kb * 1024)
    root = visit.workspace.root
    stored = store_proof(root, proof) if proof is not None else None
    try:
        with visit.store.write_transaction() as session:
            request = portal.declare_payment(
                session, visit.debtor_id, amount_text=sent.text("amount"), paid_on=paid_on,
                today=visit.today, invoice_numbers=sent.numbers(),
                reference=sent.text("reference"), proof_path=stored, link_id=visit.link_id)
            email = _email(session, visit)
            data, request_id = dict(request.data), request.id
    except BaseException:
        discard_proof(root, stored)  # no request refers to it
        raise
    shown = show_money(int(data["amount_minor"]), str(data["currency"]))
    return Done(_(DONE["declare"]).format(amount=shown, id=request_id), email)


CHANGES: dict[str, Callable[[Visit, Sent], Done]] = {
    "promise": _promise, "dispute": _dispute, "declare": _declare, "plan": _plan}


def _change(visit: Visit, action: str, sent: Sent) -> Done | str:
    """Make the change in the debtor's language, one at a time (see the module's
    docstring); a refusal comes back as its sentence."""
    with _CHANGE_LOCK, using_language(visit.language):
        try:
            return CHANGES[action](visit, sent)
        except UsageError as exc:
            return str(exc)


async def _read(request: Request, visit: Visit, action: str) -> FormData:
    upload_max = visit.workspace.settings.web.upload_max_kb * 1024
    if action == "declare":
        return await read_multipart(request, file_max_bytes=upload_max)
    try:
        return await request.form(max_files=0, max_fields=FORM_MAX_FIELDS,
                                  max_part_size=FIELD_MAX_CHARS * 4)
    except Exception:  # malformed or oversized: Starlette's own refusals
        raise FormUnreadable(NOT_AS_EXPECTED) from None


async def _refused(request: Request, visit: Visit, action: str, sentence: str,
                   values: Mapping[str, Any]) -> Response:
    context = await run_in_threadpool(_form_context, visit, action, values)
    context["error"] = sentence
    return render(request, visit, f"action_{action}.html", context, status=400)


async def _submit(request: Request, visit: Visit, action: str) -> Response:
    try:
        form = await _read(request, visit, action)
    except FormUnreadable as exc:
        # Nothing of the form could be read, not even its CSRF token: nothing was done.
        gettext, _ngettext = gettext_for(visit.language)
        return await _refused(request, visit, action,
                              gettext(exc.sentence).format(**exc.params), {})
    try:
        check_csrf(visit, form)
        sent = await Sent.of(form, file_max_bytes=visit.workspace.settings.web
                             .upload_max_kb * 1024)
    finally:
        await form.close()
    done = await run_in_threadpool(_change, visit, action, sent)
    if isinstance(done, str):
        return await _refused(request, visit, action, done, sent.shown_back())
    gettext, _ngettext = gettext_for(visit.language)
    return render(request, visit, "action_done.html",
                  {"heading": gettext(DONE_TITLE), "sentence": done.sentence,
                   "email": done.email})


async def _action(request: Request) -> Response:
    action = str(request.path_params["action"])
    if action not in CHANGES:
        raise PageRefused(404)
    visit = await visit_of(request)
    if request.method == "POST":
        return await _submit(request, visit, action)
    context = await run_in_threadpool(_form_context, visit, action, {})
    return render(request, visit, f"action_{action}.html", context)


def routes() -> list[BaseRoute]:
    """The forms of the debtor's actions, `/d/{token}/{action}`: GET shows the form,
    POST makes the change."""
    return [Route("/d/{token}/{action}", _action, methods=["GET", "POST"])]
