"""A workspace with intake folders, two creditors, and the files they drop."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from relance.kernel.workspace import Workspace, find_workspace
from relance.scheduler.core import engine_run_day
from relance.scheduler.intake import intake_pass
from relance.store.db import Store
from relance.store.models import Action, Creditor, Debtor, Event, IntakeFile, Invoice
from tests.scheduler.book import CONFIG, make_workspace

PARIS = ZoneInfo("Europe/Paris")
# A Tuesday, after the scheduled run (07:00): an import is followed by a run at once.
TUESDAY_10H = dt.datetime(2026, 3, 10, 10, 0, tzinfo=PARIS)
INTAKE = '\n[intake]\ndir = "intake"\nevery_seconds = 5\n'

GOOD = """\
debtor_ref;debtor_name;segment;email;invoice_number;issue_date;due_date;amount;currency
C001;Boulangerie Martin;franchisee;martin@example.test;F-1001;2026-01-05;2026-02-04;1250.00;EUR
C001;Boulangerie Martin;franchisee;martin@example.test;F-1002;2026-01-12;2026-02-11;310.50;EUR
C002;Garage Petit;franchisee;petit@example.test;F-1003;2026-01-20;2026-02-19;88.00;EUR
"""

BAD = """\
debtor_ref;debtor_name;segment;invoice_number;issue_date;due_date;amount;currency
C001;Boulangerie Martin;franchisee;F-2001;2026-01-05;2026-02-04;1250.00;EUR
C002;Garage Petit;franchisee;F-2002;2026-01-05;2026-02-31;300.00;EUR
C003;Fleurs Durand;franchisee;F-2003;2026-01-05;2026-02-04;douze;EUR
"""

# Well formed in every cell: only the second row's creditor is wrong for ACME's folder.
ONLY_ANOTHER_CREDITOR = """\
creditor;debtor_ref;debtor_name;segment;invoice_number;issue_date;due_date;amount;currency
ACME;C001;Boulangerie Martin;franchisee;F-3101;2026-01-05;2026-02-04;1250.00;EUR
BETA;B001;Beta client;franchisee;F-3102;2026-01-05;2026-02-04;640.00;EUR
"""

ANOTHER_CREDITOR = """\
creditor;debtor_ref;debtor_name;segment;invoice_number;issue_date;due_date;amount;currency
ACME;C001;Boulangerie Martin;franchisee;F-3001;2026-01-05;2026-02-04;1250.00;EUR
BETA;B001;Beta client;franchisee;F-3002;2026-01-05;2026-02-04;640.00;EUR
;C002;Garage Petit;franchisee;F-3003;2026-01-05;2026-02-04;-5;EUR
"""


def setup_workspace(root: Path, store: Store, extra: str = "") -> Workspace:
    """Rules that e-mail every overdue franchisee, an intake folder per creditor, and
    the creditors ACME (speaks French) and BETA (speaks English)."""
    make_workspace(root, CONFIG + INTAKE + extra)
    for code in ("ACME", "BETA"):
        (root / "intake" / code).mkdir(parents=True)
    with store.transaction() as session:
        session.add(Creditor(code="ACME", name="Acme SAS", country="FR",
                             contact_email="compta@acme.test", languages=["fr"]))
        session.add(Creditor(code="BETA", name="Beta Ltd", country="FR",
                             contact_email="accounts@beta.test", languages=["en", "fr"]))
    return find_workspace(root)


def drop(workspace: Workspace, code: str, name: str, text: str, *, age: float = 120) -> Path:
    """A file as an SFTP upload leaves it, last written `age` seconds ago."""
    path = workspace.root / "intake" / code / name
    path.write_text(text, encoding="utf-8")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def scan(store: Store, workspace: Workspace, now: dt.datetime = TUESDAY_10H,
         **options: Any) -> dict[str, Any]:
    return intake_pass(store, workspace, now=now, actor="ops",
                       run_day=engine_run_day(store, workspace, actor="scheduler"),
                       **options)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def count(store: Store, model: Any, *where: Any) -> int:
    with store.transaction() as session:
        return int(session.execute(select(func.count()).select_from(model).where(*where))
                   .scalar_one())


def invoices_of(store: Store, code: str) -> list[str]:
    with store.transaction() as session:
        return sorted(session.execute(
            select(Invoice.number).join(Creditor, Creditor.id == Invoice.creditor_id)
            .where(Creditor.code == code)).scalars())


def intake_rows(store: Store) -> list[IntakeFile]:
    with store.transaction() as session:
        rows = list(session.execute(select(IntakeFile).order_by(IntakeFile.id)).scalars())
        session.expunge_all()
        return rows


__all__ = ["Action", "Debtor", "Event", "IntakeFile", "Invoice"]
