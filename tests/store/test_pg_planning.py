"""PostgreSQL plans each of relance's statements for the values it is given.

A statement prepared on the server may, after a few executions, be planned once for all
values. With the tables analysed (autovacuum does it soon after a run), the dispatch's
look-up of the live actions holding a group's invoices got such a plan: it guessed one
live action and read the whole action table for each group of e-mails, 136 ms a group
against 4 ms (10,000 actions; the e-mails went out at 500 a second instead of 690).
"""

from __future__ import annotations

from sqlalchemy import select

from relance.store.db import Store
from relance.store.models import Action, ActionItem
from relance.store.states import VOID_ACTION_STATES


def test_a_statement_run_again_and_again_is_never_prepared_on_the_server(
        pg_store: Store) -> None:
    query = (select(ActionItem.invoice_id, Action.id)
             .join(Action, Action.id == ActionItem.action_id)
             .where(ActionItem.invoice_id.in_([1, 2, 3]),
                    Action.state.not_in(list(VOID_ACTION_STATES))))
    with pg_store.engine.connect() as conn:
        for _ in range(12):  # psycopg prepares from the fifth execution by default
            conn.execute(query).all()
        prepared = conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements")
        assert prepared.scalar_one() == 0
