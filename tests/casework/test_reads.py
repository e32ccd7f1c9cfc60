"""The desk's read queries on both databases: the queue's pages and filters, the call
list, escalations, a case and the dashboard."""

from __future__ import annotations

import dataclasses

from relance.store.db import Store
from relance.tui import data
from tests.casework.factory import TODAY, Book


def test_queue_pages_filters_and_search(store: Store, book: Book) -> None:
    everything = data.QueueFilter()
    with store.session() as session:
        assert data.count_queue(session, everything) == 2  # escalations have their screen
        rows = data.queue_page(session, everything, 0, 10)
        assert [r.action_id for r in rows] == [book.actions["letter"], book.actions["email"]]
        assert (rows[0].amount_minor, rows[0].invoices, rows[0].rule) == (
            223_040, 2, "letter amiable_1")
        assert data.queue_page(session, everything, 1, 10)[0].action_id == book.actions["email"]
        for change, expected in (
            ({"channel": "email"}, [book.actions["email"]]),
            ({"rule": "amiable"}, [book.actions["letter"]]),
            ({"segment": "franchisee"}, [book.actions["letter"], book.actions["email"]]),
            ({"stage": "amicable"}, []),
            ({"creditor": "JCDA", "min_amount_minor": 230_000}, [book.actions["email"]]),
            ({"max_amount_minor": 230_000}, [book.actions["letter"]]),
            ({"search": "nantes"}, [book.actions["email"]]),
            ({"search": "FA-2"}, [book.actions["letter"]]),
            ({"state": "approved", "channel": "call"}, [book.actions["call"]]),
        ):
            flt = dataclasses.replace(everything, **change)
            assert [s.action_id for s in data.seen_for_filter(session, flt)] == expected, change
            assert data.count_queue(session, flt) == len(expected)


def test_calls_escalations_case_dashboard(store: Store, book: Book) -> None:
    with store.session() as session:
        calls = data.call_list(session, TODAY)
        assert [(c.action_id, c.priority, c.amount_minor) for c in calls] == [
            (book.actions["call"], "high", 240_050)]
        escalations = data.escalations(session)
        assert [(e.action_id, e.amount_minor, e.approvers) for e in escalations] == [
            (book.actions["escalate"], 720_000, ())]
        summary = data.case_summary(session, book.debtors["F-0003"])
        assert summary.balances == {"EUR": 770_000} and summary.open_invoices == 2
        case = data.load_case(session, book.debtors["F-0001"])
        assert case is not None and [i.number for i in case.invoices] == ["FA-1", "FA-2"]
        assert case.history[0].detail.startswith("franchise/letter amiable_1")
        board = data.dashboard(session, TODAY)
        assert [t.buckets for t in board.totals] == [(50_000, 0, 98_040, 365_050, 720_000)]
        assert board.runs_today == 1 and board.queued_today == 4


def test_keyset_pages_match_offset_pages(store: Store, book: Book) -> None:
    everything = data.QueueFilter()
    with store.session() as session:
        first = data.queue_page(session, everything, 0, 1)
        after = (first[0].debtor_id, first[0].action_id)
        assert data.queue_page(session, everything, 1, 1, after=after) == \
            data.queue_page(session, everything, 1, 1)


def test_pages_from_the_end_match(store: Store, book: Book) -> None:
    everything = data.QueueFilter()
    with store.session() as session:
        assert data.queue_page(session, everything, 1, 5, total=2) == \
            data.queue_page(session, everything, 1, 5)
