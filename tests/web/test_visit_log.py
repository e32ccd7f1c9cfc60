"""A crowd of first views (a mailing just sent, every debtor opening their page at once)
is written in a few transactions rather than one per view, and each visit still once:
one count on its link, one `portal.opened` event, the log's chain intact; each view is
answered only once its visit is stored."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from relance.engine.portal_links import LinkKeys, issue_link
from relance.store.audit import verify
from relance.store.db import Store
from relance.store.models import Event, PortalLink
from relance.web.visit_log import VisitLog
from tests.web.book import portal_book
from tests.web.conftest import WebServer

CROWD = 40


def _issue(store: Store, keys: LinkKeys, debtors: list[int], count: int
           ) -> list[tuple[int, str]]:
    """`count` links spread over `debtors`: (link id, token)."""
    with store.transaction() as session:
        issued = [issue_link(session, keys, debtor_id=debtors[n % len(debtors)])
                  for n in range(count)]
        return [(link.link_id, link.token) for link in issued]


def _openings(store: Store) -> tuple[dict[int, int], dict[int, int]]:
    """Each link's recorded openings, and its `portal.opened` events."""
    with store.session() as session:
        counts = dict(session.execute(select(PortalLink.id, PortalLink.opened_count)).all())
        events = {int(subject): n for subject, n in session.execute(
            select(Event.subject_id, func.count()).where(Event.kind == "portal.opened")
            .group_by(Event.subject_id)).all()}
        assert verify(session) == []
        return counts, events


def test_first_views_at_once_are_each_recorded_once(web_server: WebServer) -> None:
    book = portal_book(web_server.store)
    links = _issue(web_server.store, web_server.keys,
                   [book.debtor_id, book.other_debtor_id], CROWD)

    async def crowd() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=web_server.base_url, timeout=30) as client:
            # Each link opened twice at once: the second view is inside the same visit.
            return await asyncio.gather(*(client.get(f"/d/{token}")
                                          for _link, token in links * 2))

    answers = asyncio.run(crowd())
    assert [a.status_code for a in answers] == [200] * (2 * CROWD)
    counts, events = _openings(web_server.store)
    assert {link: counts[link] for link, _token in links} == {
        link: 1 for link, _token in links}
    assert events == {link: 1 for link, _token in links}


def test_views_arriving_together_share_a_transaction(web_server: WebServer) -> None:
    book = portal_book(web_server.store)
    links = _issue(web_server.store, web_server.keys, [book.debtor_id], CROWD)
    log = VisitLog(web_server.store)

    async def together() -> list[bool]:
        return await asyncio.gather(*(log.record(link) for link, _token in links))

    assert asyncio.run(together()) == [True] * CROWD
    assert 1 <= log.writes < CROWD // 4
    # Again at once: inside the visits, nothing is written, and each says so.
    assert asyncio.run(together()) == [False] * CROWD
    counts, events = _openings(web_server.store)
    assert all(counts[link] == 1 and events[link] == 1 for link, _token in links)

    # One view alone is written at once, in a transaction of its own.
    alone = _issue(web_server.store, web_server.keys, [book.debtor_id], 1)[0][0]
    writes = log.writes
    assert asyncio.run(log.record(alone)) is True
    assert log.writes == writes + 1
