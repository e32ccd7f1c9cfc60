"""`portal_visited` reads the same in the SQL compiler and in the interpreter, on the
window docs/language.md states: a link first opened before D, last opened on or after
D - 30 days (00:00 UTC)."""

from __future__ import annotations

import datetime as dt

from relance.dsl.parser import parse_text
from relance.engine.evaluate import evaluate_python, evaluate_sql
from relance.store.db import Store
from relance.store.models import PortalLink
from tests.channels.factory import TODAY, add_creditor, add_debtor, add_invoice

RULES = """policy web_followup for currency = eur
rule looked:
  when portal_visited and overdue >= 1d
  then call with priority high
rule did_not_look:
  when not portal_visited and overdue >= 1d
  then send email 'relance_1'
"""


def at(day: dt.date, hour: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def test_the_compiler_and_the_interpreter_agree_on_the_window(store: Store) -> None:
    parsed, problems = parse_text(RULES, "web.rules")
    assert parsed is not None and not problems
    policies = parsed.policies
    on = TODAY
    # (first opening, latest opening) of each debtor's one link; None: never opened.
    openings: dict[str, tuple[dt.datetime, dt.datetime] | None] = {
        "never": None,
        "yesterday": (at(on - dt.timedelta(days=1), 23), at(on - dt.timedelta(days=1), 23)),
        "this_morning": (at(on, 0), at(on, 9)),  # on D itself: not yet
        "edge_30": (at(on - dt.timedelta(days=40)), at(on - dt.timedelta(days=30))),
        "edge_31": (at(on - dt.timedelta(days=40)), at(on - dt.timedelta(days=31), 23)),
        "again_later": (at(on - dt.timedelta(days=5)), at(on + dt.timedelta(days=3))),
    }
    with store.transaction() as session:
        creditor = add_creditor(session)
        for ref, opened in openings.items():
            debtor = add_debtor(session, creditor, ref)
            add_invoice(session, debtor, f"F-{ref}", 10_000, on - dt.timedelta(days=10))
            link = PortalLink(token_hash=ref.ljust(64, "0"), debtor_id=debtor.id,
                              expires_at=at(on + dt.timedelta(days=60)), opened_count=0)
            if opened is not None:
                link.first_opened_at, link.last_opened_at = opened
                link.opened_count = 2
            session.add(link)
    with store.sessions() as session, session.begin():
        conn = session.connection()
        by_sql = sorted((a.number, a.rule.name) for a in evaluate_sql(conn, policies, on))
        by_python = sorted((a.number, a.rule.name)
                           for a in evaluate_python(conn, policies, on))
    assert by_sql == by_python
    assert {number for number, rule in by_sql if rule == "looked"} == {
        "F-yesterday", "F-edge_30", "F-again_later"}
