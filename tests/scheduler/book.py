"""A workspace and a small book for the scheduler's process tests."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from sqlalchemy import func, select

from relance.store.db import Store
from relance.store.models import Action, ActionItem, Creditor, Debtor, Invoice, JobRun, Run

RULES = """\
policy chase for segment = franchisee

rule relance_1:
  when overdue >= 1d and not paused and not disputed
  then send email 'relance_1' with tone soft

rule amiable:
  when overdue >= 30d and after relance_1 by 20d
  then send letter 'amiable_2' with tone firm
"""

CONFIG = """\
[schedule]
run_at = "07:00"
timezone = "Europe/Paris"
country = "FR"
dispatch_every_minutes = 1
"""

RELANCE = [str(Path(sys.executable).parent / "relance")]


def make_workspace(root: Path, config: str = CONFIG) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "relance.toml").write_text(config, encoding="utf-8")
    (root / "rules").mkdir(exist_ok=True)
    (root / "rules" / "chase.rules").write_text(RULES, encoding="utf-8")
    return root


def add_book(store: Store, debtors: int = 3, invoices_each: int = 2,
             due: dt.date = dt.date(2026, 1, 15)) -> int:
    """Debtors of segment franchisee, each with overdue invoices; returns the invoices."""
    count = 0
    with store.transaction() as session:
        creditor = Creditor(code="ACME", name="Acme SAS", country="FR",
                            email="relances@acme.test", address="1 rue X\n69002 Lyon",
                            siren="552100554", iban="FR7630006000011234567890189")
        session.add(creditor)
        session.flush()
        for d in range(debtors):
            debtor = Debtor(creditor_id=creditor.id, ref=f"D{d:04d}", name=f"Client {d}",
                            segment="franchisee", email=f"client{d}@example.test")
            session.add(debtor)
            session.flush()
            for i in range(invoices_each):
                session.add(Invoice(creditor_id=creditor.id, debtor_id=debtor.id,
                                    number=f"F{d:04d}-{i}", issue_date=due - dt.timedelta(30),
                                    due_date=due, currency="EUR", amount_minor=120_000,
                                    balance_minor=120_000))
                count += 1
    return count


def env_for(url: str, now: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELANCE_")}
    env.update({"RELANCE_DATABASE_URL": url, "RELANCE_NOW": now, "RELANCE_USER": "ops"})
    env.update(extra)
    return env


def start_serve(workspace: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*RELANCE, "--workspace", str(workspace), "serve", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_event(stream: IO[str], event: str, seen: list[str]) -> None:
    """Read JSON log lines until one with `"event": "<event>"`."""
    marker = f'"event": "{event}"'
    for line in stream:
        seen.append(line)
        if marker in line:
            return
    raise AssertionError(f"the process ended before logging {event}:\n{''.join(seen)}")


def runs_on(store: Store, day: dt.date) -> list[tuple[int, str]]:
    with store.transaction() as session:
        return [(r.id, r.status) for r in session.execute(
            select(Run).where(Run.run_date == day).order_by(Run.id)).scalars()]


def queue_shape(store: Store) -> list[tuple[str, str, int]]:
    """(debtor ref, channel, items) per action: what an operator's queue shows."""
    with store.transaction() as session:
        rows = session.execute(
            select(Debtor.ref, Action.channel, func.count(ActionItem.id))
            .join(Action, Action.debtor_id == Debtor.id)
            .join(ActionItem, ActionItem.action_id == Action.id)
            .group_by(Action.id, Debtor.ref, Action.channel)
            .order_by(Debtor.ref, Action.channel)
        ).all()
        return [(ref, str(getattr(ch, "value", ch)), int(n)) for ref, ch, n in rows]


def items_per_invoice(store: Store) -> list[int]:
    with store.transaction() as session:
        return [int(n) for (n,) in session.execute(
            select(func.count(ActionItem.id)).group_by(ActionItem.invoice_id,
                                                      ActionItem.policy))]


def job_run(store: Store, job: str, day: dt.date) -> JobRun | None:
    with store.transaction() as session:
        return session.execute(
            select(JobRun).where(JobRun.job == job, JobRun.day == day)).scalar_one_or_none()


def finish(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def all_done(processes: Sequence[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    return [finish(p) for p in processes]


def action_states(store: Store) -> dict[str, int]:
    with store.transaction() as session:
        return {str(getattr(state, "value", state)): int(n) for state, n in session.execute(
            select(Action.state, func.count()).group_by(Action.state))}
