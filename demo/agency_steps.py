"""The demo's collection-firm steps: a client company under mandate, end to end.

Before the run: the joinery Menuiseries du Vercors is added as a creditor (through the
same checks as `relance creditor add`), signs a mandate with the firm, and its invoices
are imported; its own rules file scopes its track to it (`for creditor = VERCORS`).
After the first dispatch: its longest-unpaid customer's escalation, proposed by the run,
is approved (which opens the case under the mandate), the day is run again so that the
firm's first letter is queued, the letter goes out, the debtor pays part of the debt to
the firm's client account (a receipt to the debtor and a notice to the creditor follow),
and the firm remits the month's funds with their statement.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.demo.agency_book import (
    ESCALATED_REF,
    MANDATE_FEE_PERCENT,
    MANDATE_FIXED_FEE,
    MANDATE_REFERENCE,
    VERCORS,
    VERCORS_CODE,
    VERCORS_RULES,
    write_vercors_invoices,
)
from relance.kernel.console import say
from relance.kernel.display import show_count, show_money
from relance.kernel.i18n import _
from relance.kernel.money import Money
from relance.store.importing import import_invoices
from relance.store.models import (
    Action,
    ActionState,
    Channel,
    Creditor,
    Debtor,
    Invoice,
    MandateScope,
)

if TYPE_CHECKING:
    from relance.demo.steps import DemoContext

FIRM_ACTOR = "demo"
# The run proposes escalations in the demo's name; another credit manager approves them.
APPROVER = "direction"
VERCORS_FILE = "import/vercors.csv"
RULES_FILE = "vercors.rules"


def take_client(ctx: DemoContext) -> None:
    """The joinery as a creditor, its mandate to the firm, its rules and its invoices."""
    from relance.engine.creditors import add_creditor
    from relance.engine.mandates import add_mandate
    from relance.engine.roles import Actor, Role

    actor = Actor(FIRM_ACTOR, Role.CREDIT_MANAGER)
    with ctx.store.transaction() as session:
        add_creditor(session, actor, VERCORS, root=ctx.workspace.root, source="demo")
        add_mandate(session, actor, creditor_code=VERCORS_CODE, reference=MANDATE_REFERENCE,
                    signed_on=ctx.on - dt.timedelta(days=120), scope=MandateScope.AMICABLE,
                    fee_percent=Decimal(MANDATE_FEE_PERCENT),
                    fixed_fee=Money.of(MANDATE_FIXED_FEE, "EUR"),
                    starts_on=ctx.on - dt.timedelta(days=120))
    (ctx.workspace.rules_dir / RULES_FILE).write_text(VERCORS_RULES, encoding="utf-8")
    path = ctx.workspace.root / VERCORS_FILE
    write_vercors_invoices(path, ctx.on)
    report = import_invoices(ctx.store, path, actor=FIRM_ACTOR, today=ctx.on)
    ctx.results["client"] = {"creditor": VERCORS_CODE, "mandate": MANDATE_REFERENCE,
                             "invoices": report.created}
    say(ctx.console, _("Client company {name} ({code}) under mandate {mandate}: {invoices} "
                       "invoices imported, its own rules in rules/{file}").format(
        name=VERCORS["name"], code=VERCORS_CODE, mandate=MANDATE_REFERENCE,
        invoices=show_count(report.created), file=RULES_FILE))


def _escalation(session: Session) -> Action:
    return session.scalars(
        select(Action).join(Debtor, Debtor.id == Action.debtor_id)
        .join(Creditor, Creditor.id == Action.creditor_id)
        .where(Creditor.code == VERCORS_CODE, Debtor.ref == ESCALATED_REF,
               Action.channel == Channel.ESCALATE,
               Action.state == ActionState.PROPOSED)).one()


def work_the_mandate(ctx: DemoContext) -> None:
    """Approve the escalation, send the firm's first letter, take a payment, remit."""
    from relance.channels.dispatch import dispatch
    from relance.channels.reports.remittance_pdf import save_remittance_statement
    from relance.engine import casework
    from relance.engine.case_locking import Seen
    from relance.engine.client_funds import remit
    from relance.engine.mandates import case_under_mandate
    from relance.engine.roles import Actor, Role, workspace_policy
    from relance.engine.workday import run_workspace_day

    workspace = ctx.workspace
    policy = workspace_policy(workspace)
    manager = Actor(APPROVER, Role.CREDIT_MANAGER)
    when = dt.datetime.combine(ctx.on, dt.time(9), tzinfo=dt.UTC)
    with ctx.store.transaction() as session:
        escalation = _escalation(session)
        casework.approve_escalation(session, manager, Seen.of(escalation), policy=policy,
                                    now=when)
        case = case_under_mandate(session, escalation.debtor_id)
        assert case is not None
        case_reference, debtor_id = case.reference, escalation.debtor_id
    run_workspace_day(workspace, ctx.store, ctx.on, actor=FIRM_ACTOR)
    letters = dispatch(ctx.store, workspace, today=ctx.on, worker="demo")

    with ctx.store.transaction() as session:
        oldest = session.scalars(select(Invoice).where(Invoice.debtor_id == debtor_id)
                                 .order_by(Invoice.due_date, Invoice.number)).first()
        assert oldest is not None
        paid = Money(oldest.currency, oldest.balance_minor)
        casework.pay_invoices(session, manager, [oldest.id], amount=paid, received_on=ctx.on,
                              reference=f"VIR {case_reference}", today=ctx.on)
    notices = dispatch(ctx.store, workspace, today=ctx.on, worker="demo")

    with ctx.store.transaction() as session:
        made = remit(session, manager, VERCORS_CODE, until=ctx.on, made_on=ctx.on)
        statements = [save_remittance_statement(session, workspace, figures)
                      for figures in made]
        figures = [(f.remittance.collected_minor, f.remittance.fees_minor,
                    f.remittance.net_minor, f.remittance.currency, f.remittance.reference)
                   for f in made]
    ctx.results["mandate"] = {
        "case": case_reference,
        "sent": letters.sent + notices.sent,
        "failed": letters.failed + notices.failed,
        "remittances": [{"reference": ref, "collected_minor": collected,
                         "fees_minor": fees, "net_minor": net, "currency": currency}
                        for collected, fees, net, currency, ref in figures],
        "statements": [str(path.relative_to(workspace.root)) for path in statements],
    }
    say(ctx.console, _("Case {case} taken under mandate: the firm's first letter sent, "
                       "{paid} received and receipted").format(
        case=case_reference, paid=show_money(paid.minor, paid.currency)))
    for collected, fees, net, currency, reference in figures:
        say(ctx.console, _("Remittance {reference}: collected {collected}, fees {fees}, net "
                           "to pay {net}").format(
            reference=reference, collected=show_money(collected, currency),
            fees=show_money(fees, currency), net=show_money(net, currency)))
