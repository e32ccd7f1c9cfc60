"""The fault campaign, small: the same code as `python -m bench.faults` (docs/reliability.md)
with a few kills per database, one hostile SMTP round, 2 and 4 dispatchers on
PostgreSQL; 0 lost, 0 duplicated, every in-doubt send listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.faults.book import Sizes
from bench.faults.campaign import Plan, run


@pytest.mark.slow
def test_the_short_campaign_loses_nothing_and_sends_nothing_twice(tmp_path: Path) -> None:
    plan = Plan(kills=10, kills_per_round=10, max_kill_delay=1.5,
                round_sizes=Sizes(letter=6, email=80, sms=30), hostile_emails=27,
                dispatchers=(2, 4), concurrent_sizes=Sizes(letter=3, email=40, sms=20), seed=7)
    report = run(plan, folder=tmp_path)
    print(report.text())
    assert report.clean, report.text()
    scenarios = {(database, scenario, channel) for database, scenario, channel, _ in report.rows}
    for database in ("sqlite", "postgresql"):
        kills, _idle, _rounds = report.kills[database]
        assert kills >= 5, f"{database}: most kills must land while work is in progress"
        for channel in ("letter", "email", "sms"):
            assert (database, "kills", channel) in scenarios
        assert (database, "hostile smtp", "email") in scenarios
    hostile = [v for db, scenario, _, v in report.rows if scenario == "hostile smtp"]
    # The server kept some messages without answering: in doubt, and listed.
    assert all(v.in_doubt_delivered > 0 and v.refused > 0 for v in hostile)
    for count in (2, 4):
        assert ("postgresql", f"{count} dispatchers", "email") in scenarios
