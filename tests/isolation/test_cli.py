"""An operator of creditor ACME can neither see nor change a case of creditor BELLE
through any command of the command line.

The commands are read from the Typer app itself: a command this file does not place
(it targets BELLE's rows, lists, or is exempt with a reason) fails the test, so that a
new command is checked before it lands.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer

from relance.cli import app, load_all_commands
from relance.store.db import Store, open_store
from tests.cli import run_cli
from tests.isolation.workspace import SECRETS, Agency, build_agency, dump_creditor, write_config

# Commands that name one of BELLE's things: anna is told it does not exist (exit 2, or
# 1 saying "no ..."), and nothing of BELLE's changes. `{name}` are ids of `Agency.ids`.
TARGETED: dict[str, list[str]] = {
    "pay": ["pay", "ZQ-901", "10"],
    "queue": ["queue", "--debtor", "B-777"],
    "approve": ["approve", "{letter}"],
    "reject": ["reject", "{email}", "--reason", "no"],
    "pause": ["pause", "B-777", "--until", "2026-12-31", "--reason", "x"],
    "resume": ["resume", "B-777", "--reason", "x"],
    "dispute": ["dispute", "ZQ-901", "--reason", "quality"],
    "promise": ["promise", "B-777", "--on", "2026-12-31"],
    "note": ["note", "B-777", "hello"],
    "history": ["history", "B-777"],
    "undo": ["undo", "{event}", "--reason", "x"],
    "credit-note": ["credit-note", "ZQ-901", "10", "--number", "AV-1"],
    "reverse": ["reverse", "{payment}", "--reason", "bounced"],
    "allocate": ["allocate", "{payment}"],
    "payments": ["payments", "--debtor", "B-777"],
    "preview": ["preview", "{letter}"],
    "outcome": ["outcome", "{uncertain}", "sent"],
    "confirm": ["confirm", "{uncertain}"],
    "resend": ["resend", "{uncertain}"],
    "explain": ["explain", "ZQ-901"],
    "audit show": ["audit", "{letter}"],
    "audit export": ["audit", "export", "--debtor", "B-777", "-o", "{file}.jsonl"],
    "plan add": ["plan", "add", "ZQ-901", "--instalments", "2", "--first", "2026-12-15"],
    "plan list": ["plan", "list", "--debtor", "B-777"],
    "plan cancel": ["plan", "cancel", "{plan}", "--reason", "x"],
    "request list": ["request", "list", "--debtor", "B-777"],
    "request accept": ["request", "accept", "{request}"],
    "request refuse": ["request", "refuse", "{request}", "--reason", "x"],
    "report statement": ["report", "statement", "B-777", "--format", "csv"],
    "report ledger": ["report", "ledger", "--creditor", "BELLE"],
    "remit": ["remit", "--creditor", "BELLE", "--until", "2026-11-20"],
    "funds": ["funds", "--creditor", "BELLE"],
    "creditor edit": ["creditor", "edit", "BELLE", "--name", "Taken"],
    "creditor show": ["creditor", "show", "BELLE"],
    "mandate add": ["mandate", "add", "--creditor", "BELLE", "--reference", "MB-2",
                    "--signed", "2026-11-01", "--scope", "amicable", "--starts",
                    "2026-11-01", "--fee-percent", "10"],
    "mandate list": ["mandate", "list", "--creditor", "BELLE"],
    "mandate show": ["mandate", "show", "MB-1"],
    "mandate end": ["mandate", "end", "MB-1"],
    "portfolio assign": ["portfolio", "assign", "--user", "anna", "--debtor", "B-777"],
    "intake list": ["intake", "list", "--creditor", "BELLE"],
    "web link": ["web", "link", "B-777"],
    "web revoke": ["web", "revoke", "--debtor", "B-777"],
    # Whole-book commands a user limited to some creditors is refused.
    "simulate": ["simulate", "--until", "2026-11-25"],
    "diff": ["diff", "--until", "2026-11-25"],
    "audit verify": ["audit", "verify"],
    "import invoices": ["import", "invoices", "{file}"],
    "import payments": ["import", "payments", "{file}"],
}

# Commands that list: anna's output never names anything of BELLE's.
LISTING: dict[str, list[str]] = {
    "queue": ["queue", "--json"],
    "payments": ["payments", "--json"],
    "uncertain": ["uncertain", "--json"],
    "batches": ["batches", "--json"],
    "plan list": ["plan", "list", "--json"],
    "request list": ["request", "list", "--all", "--json"],
    "report aged": ["report", "aged", "--by", "debtor", "--format", "json"],
    "report ledger": ["report", "ledger", "--format", "csv"],
    "creditor list": ["creditor", "list"],
    "mandate list": ["mandate", "list"],
    "intake list": ["intake", "list"],
    "portfolio show": ["portfolio", "show", "--all"],
    # The workspace's own work (unscoped), told to anna about her creditors only.
    "run": ["run", "--dry-run"],
    "dispatch": ["dispatch", "--dry-run"],
}

# Commands that read or change no creditor's cases, with why.
EXEMPT: dict[str, str] = {
    "init": "creates a workspace",
    "demo": "builds its own workspace",
    "serve": "the scheduler: the workspace's own work",
    "check": "reads rule files",
    "fmt": "formats rule files",
    "test": "runs rule tests on their own fixtures",
    "db current": "the schema's version",
    "db upgrade": "migrates the schema",
    "tui": "the desk: tests/isolation/test_desk.py",
    "agency show": "the firm's own settings",
    "creditor add": "creates a creditor of its own code",
    "creditor load": "loads creditors.toml: checked in tests/creditors",
    "intake scan": "the workspace's own work (the intake folders)",
    "audit check": "checks an exported file with the workspace's key; reads no case",
    "portal-link": "credit managers only, for people of their creditors: "
                   "tests/web/test_portal_sign_in.py",
    "server start": "the command server reads no case; each command it runs is its "
                    "caller's, with the caller's user (tests/server)",
    "server status": "the command server's own state",
    "server stop": "the command server's own state",
}


def commands() -> list[str]:
    """Every command of the app, as `group command`."""
    found: list[str] = []

    def walk(command: object, prefix: list[str]) -> None:
        sub = getattr(command, "commands", None)
        if sub is None:
            found.append(" ".join(prefix))
            return
        for name, child in sub.items():
            walk(child, [*prefix, name])

    load_all_commands()
    walk(typer.main.get_command(app), [])
    return found


def test_every_command_is_placed() -> None:
    placed = set(TARGETED) | set(LISTING) | set(EXEMPT)
    missing = [name for name in commands() if name not in placed]
    assert not missing, f"commands not checked for isolation: {missing}"


@dataclass
class Desk:
    folder: Path
    url: str
    store: Store
    agency: Agency
    capsys: pytest.CaptureFixture[str]

    def run(self, *args: str) -> tuple[int, str]:
        code, out, err = run_cli(self.capsys, "-w", str(self.folder), "--db", self.url,
                                 "--user", "anna", *args)
        return code, out + err


@pytest.fixture
def desk(db_url: tuple[str, str | None], tmp_path: Path,
         capsys: pytest.CaptureFixture[str]) -> Iterator[Desk]:
    url, schema = db_url
    store = open_store(url, schema=schema)
    with store.transaction() as session:
        agency = build_agency(session)
    write_config(tmp_path)
    (tmp_path / "rules").mkdir()
    # A file naming BELLE's invoices, for the imports anna is refused.
    (tmp_path / "belle.csv").write_text(
        "creditor,debtor_ref,debtor_name,invoice_number,issue_date,due_date,amount,currency\n"
        "BELLE,B-777,Zephyrine Secret Spa,ZQ-999,2026-10-01,2026-10-31,10.00,EUR\n",
        encoding="utf-8")
    cli_url = url if schema is None else (
        f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}")
    try:
        yield Desk(tmp_path, cli_url, store, agency, capsys)
    finally:
        store.dispose()


def _args(desk: Desk, template: list[str]) -> list[str]:
    values = {**{k: str(v) for k, v in desk.agency.ids.items()},
              "file": str(desk.folder / "belle.csv")}
    return [part.format(**values) for part in template]


def test_anna_can_neither_see_nor_change_belles_cases(desk: Desk) -> None:
    before = dump_creditor(desk.store, desk.agency.belle)
    present = set(commands())
    problems: list[str] = []
    for name, template in TARGETED.items():
        if name not in present:
            continue  # a command of another part not landed yet
        code, said = desk.run(*_args(desk, template))
        refused = code == 2 or (code == 1 and "no " in said.lower())
        if not refused:
            problems.append(f"{name}: exit {code}: {said.strip()[:200]}")
        leaked = [secret for secret in ("Zephyrine", "Bellerose") if secret in said]
        if leaked:
            problems.append(f"{name}: names {leaked}: {said.strip()[:200]}")
    for name, template in LISTING.items():
        if name not in present:
            continue
        code, said = desk.run(*template)
        leaked = [secret for secret in SECRETS if secret in said]
        if leaked or "Traceback" in said:
            problems.append(f"{name}: exit {code}, shows {leaked}: {said.strip()[:300]}")
    assert not problems, "\n".join(problems)
    assert dump_creditor(desk.store, desk.agency.belle) == before


def test_anna_still_works_her_own_creditor(desk: Desk) -> None:
    """The same commands on ACME's case work: the refusals above are the scope's."""
    code, said = desk.run("queue", "--json")
    assert code == 0 and "A-001" in said
    code, said = desk.run("note", "A-001", "called, will pay")
    assert code == 0, said
    code, said = desk.run("pay", "FA-A1", "10")
    assert code == 0, said
    code, said = desk.run("report", "aged", "--by", "debtor", "--format", "json")
    assert code == 0 and "Alpha Coiffure" in said
