"""A small, deterministic book for case-work tests: one creditor, a few debtors,
invoices of known balances, and queued actions in known states."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from relance.store.content import ContentLine, content_hash
from relance.store.models import (
    Action,
    ActionItem,
    ActionState,
    Channel,
    Creditor,
    Debtor,
    Invoice,
    RuleSet,
    Run,
    Stage,
)

TODAY = dt.date(2026, 11, 20)


@dataclass
class Book:
    creditor_id: int = 0
    debtors: dict[str, int] = field(default_factory=dict)
    invoices: dict[str, int] = field(default_factory=dict)
    actions: dict[str, int] = field(default_factory=dict)
    run_id: int = 0


def add_creditor(session: Session, code: str = "JCDA") -> Creditor:
    # A complete identity: the dispatch refuses letters of a creditor without its SIREN
    # and IBAN (engine/creditor_fields.py).
    creditor = Creditor(code=code, name="Jean Coutu Diffusion", address="1 rue de la Paix",
                        siren="552100554", iban="FR7630006000011234567890189")
    session.add(creditor)
    session.flush()
    return creditor


def add_debtor(session: Session, creditor: Creditor, ref: str, name: str,
               segment: str = "franchisee", phone: str | None = "+33478000001") -> Debtor:
    debtor = Debtor(creditor_id=creditor.id, ref=ref, name=name, segment=segment,
                    email=f"{ref.lower()}@example.fr", phone=phone)
    session.add(debtor)
    session.flush()
    return debtor


def add_invoice(session: Session, debtor: Debtor, number: str, amount_minor: int,
                due: dt.date, *, paid_minor: int = 0, currency: str = "EUR") -> Invoice:
    invoice = Invoice(
        creditor_id=debtor.creditor_id, debtor_id=debtor.id, number=number,
        issue_date=due - dt.timedelta(days=30), due_date=due, currency=currency,
        amount_minor=amount_minor, paid_minor=paid_minor,
        balance_minor=amount_minor - paid_minor,
    )
    session.add(invoice)
    session.flush()
    return invoice


def add_run(session: Session, on: dt.date = TODAY) -> Run:
    ruleset = session.query(RuleSet).first()
    if ruleset is None:
        ruleset = RuleSet(content_hash="f" * 64, files={"franchise.rules": "# demo\n"})
        session.add(ruleset)
        session.flush()
    run = Run(run_date=on, ruleset_id=ruleset.id, status="done", started_by="scheduler")
    session.add(run)
    session.flush()
    return run


def add_action(session: Session, run: Run, debtor: Debtor, invoices: list[Invoice],
               channel: Channel, *, state: ActionState = ActionState.PROPOSED,
               rule: str = "letter amiable_1", policy: str = "franchise",
               template: str | None = "amiable_1", priority: str | None = None,
               target_stage: Stage | None = None, proposed_by: str = "run",
               key: str | None = None) -> Action:
    lines = [ContentLine(i.id, i.balance_minor, i.currency) for i in invoices]
    action = Action(
        idempotency_key=key or f"{debtor.id}:{channel.value}:{rule}:{run.run_date}",
        creditor_id=debtor.creditor_id, debtor_id=debtor.id, run_id=run.id,
        ruleset_id=run.ruleset_id, created_on=run.run_date, channel=channel,
        template=template, priority=priority, target_stage=target_stage, state=state,
        requires_approval=state == ActionState.PROPOSED, proposed_by=proposed_by,
        content_hash=content_hash(
            debtor_id=debtor.id, channel=channel.value, template=template, tone=None,
            target_stage=target_stage.value if target_stage else None, lines=lines),
    )
    for invoice in invoices:
        action.items.append(ActionItem(
            invoice_id=invoice.id, policy=policy, rule=rule, rule_file="rules/franchise.rules",
            rule_line=12, acted_on=run.run_date, balance_minor=invoice.balance_minor,
            currency=invoice.currency,
            facts={"days_overdue": (run.run_date - invoice.due_date).days},
        ))
    session.add(action)
    session.flush()
    return action


def build_book(session: Session) -> Book:
    """Three debtors of one creditor, with a letter, an e-mail, a call and an escalation
    proposed by the run of TODAY."""
    book = Book()
    creditor = add_creditor(session)
    book.creditor_id = creditor.id
    lyon = add_debtor(session, creditor, "F-0001", "Body Salon Lyon Bellecour")
    nantes = add_debtor(session, creditor, "F-0002", "Institut Nantes Graslin")
    lille = add_debtor(session, creditor, "F-0003", "Salon Lille Centre", segment="key_account")
    for debtor in (lyon, nantes, lille):
        book.debtors[debtor.ref] = debtor.id
    inv = {
        "FA-1": add_invoice(session, lyon, "FA-1", 125_000, dt.date(2026, 8, 31)),
        "FA-2": add_invoice(session, lyon, "FA-2", 98_040, dt.date(2026, 10, 1)),
        "FA-3": add_invoice(session, nantes, "FA-3", 340_050, dt.date(2026, 9, 14),
                            paid_minor=100_000),
        "FA-4": add_invoice(session, lille, "FA-4", 720_000, dt.date(2026, 7, 1)),
        "FA-5": add_invoice(session, lille, "FA-5", 50_000, dt.date(2026, 12, 15)),
    }
    book.invoices = {k: v.id for k, v in inv.items()}
    run = add_run(session)
    book.run_id = run.id
    book.actions["letter"] = add_action(session, run, lyon, [inv["FA-1"], inv["FA-2"]],
                                        Channel.LETTER).id
    book.actions["email"] = add_action(session, run, nantes, [inv["FA-3"]], Channel.EMAIL,
                                       rule="email relance_1", template="relance_1").id
    book.actions["call"] = add_action(session, run, nantes, [inv["FA-3"]], Channel.CALL,
                                      state=ActionState.APPROVED, rule="call", policy="phone",
                                      template=None, priority="high").id
    book.actions["escalate"] = add_action(
        session, run, lille, [inv["FA-4"]], Channel.ESCALATE, rule="escalate amicable",
        template=None, target_stage=Stage.AMICABLE).id
    return book


def build_crowded_book(session: Session) -> Book:
    """`build_book`, plus a debtor (F-0004) whose invoice FA-6 is in every kind of
    waiting action at once: a letter grouped with FA-7, an e-mail, a call task on the
    call list and a proposed escalation. Paying FA-6 must cancel the last three and
    leave the letter for FA-7 alone."""
    book = build_book(session)
    creditor = session.get(Creditor, book.creditor_id)
    assert creditor is not None
    marseille = add_debtor(session, creditor, "F-0004", "Salon Marseille Prado")
    book.debtors[marseille.ref] = marseille.id
    fa6 = add_invoice(session, marseille, "FA-6", 150_000, dt.date(2026, 8, 1))
    fa7 = add_invoice(session, marseille, "FA-7", 80_000, dt.date(2026, 10, 15))
    book.invoices |= {"FA-6": fa6.id, "FA-7": fa7.id}
    run = session.get(Run, book.run_id)
    assert run is not None
    # One policy per action: a policy acts once per invoice and day (ActionItem's key).
    book.actions["crowded_letter"] = add_action(
        session, run, marseille, [fa6, fa7], Channel.LETTER, policy="franchise").id
    book.actions["crowded_email"] = add_action(
        session, run, marseille, [fa6], Channel.EMAIL, rule="email relance_1",
        policy="mail", template="relance_1").id
    book.actions["crowded_call"] = add_action(
        session, run, marseille, [fa6], Channel.CALL, state=ActionState.APPROVED,
        rule="call", policy="phone", template=None, priority="high").id
    book.actions["crowded_escalate"] = add_action(
        session, run, marseille, [fa6], Channel.ESCALATE, rule="escalate amicable",
        policy="recovery", template=None, target_stage=Stage.AMICABLE).id
    return book


def add_tui_debtor_in_every_channel(session: Session, book: Book) -> None:
    """For the desk's tests, on a book from `build_book`: a debtor (F-0009) whose one
    invoice FA-9 (3 000.00 EUR) waits in a proposed letter, a proposed e-mail, an
    approved call task (normal priority, after Nantes' call) and a proposed escalation
    (after Lille's). Recorded in `book` as "tui_letter", "tui_email", "tui_call" and
    "tui_escalate"."""
    creditor = session.get(Creditor, book.creditor_id)
    run = session.get(Run, book.run_id)
    assert creditor is not None and run is not None
    rennes = add_debtor(session, creditor, "F-0009", "Spa Rennes Liberté",
                        phone="+33299000009")
    book.debtors[rennes.ref] = rennes.id
    fa9 = add_invoice(session, rennes, "FA-9", 300_000, dt.date(2026, 8, 15))
    book.invoices["FA-9"] = fa9.id
    # One policy per action: a policy acts once per invoice and day.
    book.actions["tui_letter"] = add_action(session, run, rennes, [fa9], Channel.LETTER,
                                            policy="franchise").id
    book.actions["tui_email"] = add_action(
        session, run, rennes, [fa9], Channel.EMAIL, rule="email relance_1", policy="mail",
        template="relance_1").id
    book.actions["tui_call"] = add_action(
        session, run, rennes, [fa9], Channel.CALL, state=ActionState.APPROVED, rule="call",
        policy="phone", template=None).id
    book.actions["tui_escalate"] = add_action(
        session, run, rennes, [fa9], Channel.ESCALATE, rule="escalate amicable",
        policy="recovery", template=None, target_stage=Stage.AMICABLE).id


# The desk's people in relance.toml: two credit managers (four eyes above 5,000 EUR),
# an operator and an auditor; the command-line and terminal UI tests share them.
DESK_USERS = """\
[users]
alice = "credit_manager"
david = "credit_manager"
bruno = "operator"
carla = "auditor"

[approval]
four_eyes_above = "5000 EUR"
"""
