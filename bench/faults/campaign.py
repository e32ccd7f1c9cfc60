"""The campaign: the scenarios over the databases asked for, and the report."""

from __future__ import annotations

import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.faults.book import CHANNELS, Sizes
from bench.faults.checker import EMPTY, Verdict, table
from bench.faults.scenarios import (
    MAX_KILL_DELAY,
    concurrent_round,
    hostile_round,
    kill_round,
    restart_round,
)

FULL_ROUND = Sizes(letter=20, email=300, sms=100)


@dataclass(frozen=True)
class Plan:
    kills: int = 500  # per database
    databases: tuple[str, ...] = ("sqlite", "postgresql")
    seed: int = 20261206
    kills_per_round: int = 50
    max_kill_delay: float = MAX_KILL_DELAY  # seconds
    round_sizes: Sizes = FULL_ROUND
    hostile_emails: int = 90
    dispatchers: tuple[int, ...] = (2, 4, 8)
    concurrent_sizes: Sizes = FULL_ROUND
    restart_db: bool = False


@dataclass
class Report:
    rows: list[tuple[str, str, str, Verdict]] = field(default_factory=list)
    kills: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # db: kills, idle, rounds
    recovered: dict[str, Counter[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return all(v.clean for *_, v in self.rows)

    def add(self, database: str, scenario: str, verdicts: dict[str, Verdict]) -> None:
        for channel in CHANNELS:
            if verdicts[channel].actions:
                self.rows.append((database, scenario, channel, verdicts[channel]))

    def _settled(self, database: str) -> str:
        found = self.recovered.get(database, Counter())
        return (f"{found['released']} released (never started), {found['sent']} sent "
                f"(their print batch on disk), {found['uncertain']} made uncertain")

    def text(self) -> str:
        lines = [table(self.rows), ""]
        for database, (kills, idle, rounds) in self.kills.items():
            lines.append(f"{database}: {kills} dispatchers SIGKILLed while running "
                         f"({idle} had finished before their kill), {rounds} rounds; "
                         "what they left in flight, settled by the next dispatcher: "
                         f"{self._settled(database)}")
        lines += self.notes
        lines.append(f"{'CLEAN' if self.clean else 'FAULTS FOUND'}: 0 lost, 0 duplicated "
                     "and every in-doubt send listed is the target; "
                     f"{self.seconds:.0f} s")
        return "\n".join(lines)


def run(plan: Plan, folder: Path | None = None,
        say: Callable[[str], None] = lambda line: None) -> Report:
    """Run every scenario of `plan`; `say` hears one line per round as it ends."""
    started = time.monotonic()
    report = Report()
    rng = random.Random(plan.seed)
    with tempfile.TemporaryDirectory(prefix="relance-faults-", dir=folder) as tmp:
        root = Path(tmp)
        number = 0
        for database in plan.databases:
            landed = idle = rounds = 0
            recovered: Counter[str] = Counter()
            total = EMPTY
            per_channel = {c: EMPTY for c in CHANNELS}
            while landed < plan.kills:
                number += 1
                result = kill_round(database, root / f"r{number}", plan.round_sizes,
                                    min(plan.kills_per_round, plan.kills - landed), rng,
                                    number, plan.max_kill_delay)
                landed += result.kills
                idle += result.idle
                rounds += 1
                recovered += result.recovered
                for channel, verdict in result.verdicts.items():
                    per_channel[channel] = per_channel[channel] + verdict
                    total = total + verdict
                say(f"{database} kill round {rounds}: {landed}/{plan.kills} kills, "
                    f"{total.lost} lost, {total.duplicated} duplicated, "
                    f"{total.in_doubt} in doubt")
            report.add(database, "kills", per_channel)
            report.kills[database] = (landed, idle, rounds)
            report.recovered[database] = recovered
            number += 1
            report.add(database, "hostile smtp",
                       hostile_round(database, root / f"r{number}", plan.hostile_emails,
                                     number))
            say(f"{database} hostile SMTP round done")
            if database == "postgresql":
                for count in plan.dispatchers:
                    number += 1
                    report.add(database, f"{count} dispatchers",
                               concurrent_round(database, root / f"r{number}",
                                                plan.concurrent_sizes, count, number))
                    say(f"{database} {count} dispatchers done")
                if plan.restart_db:
                    number += 1
                    report.add(database, "db restarted",
                               restart_round(root / f"r{number}", plan.concurrent_sizes,
                                             number))
                    say(f"{database} restart done")
            else:
                report.notes.append(
                    "sqlite: no database restart (a file, not a server: a dropped "
                    "connection is not a fault SQLite has) and no concurrent dispatchers "
                    "scenario (one writer at a time; PostgreSQL is where they share a queue)")
    report.seconds = time.monotonic() - started
    return report
