"""User data that looks like rich markup, emoji codes or terminal controls is printed as
typed by every command that shows it (issue 19): `Salon [/bold] [red]Lyon` used to crash
`relance queue` (a `MarkupError` traceback) or lose its brackets, `:thumbs_up:` became 👍.

The commands run as a user types them, on a workspace whose book holds such names; each
must exit as it would for tame names, print no traceback and show the names literally.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from relance.store.db import Store, open_store
from relance.store.models import Creditor
from tests.casework.factory import add_debtor, add_invoice
from tests.cli import run_cli
from tests.importing.conftest import row, write_csv

NAME = "Salon [/bold] [red]Lyon"
NUMBER = "FA-[/x]-1"
EMOJI_NAME = "Institut :thumbs_up: [link=http://evil.test]Nantes[/link]"
NOTE = "[red]rappeler[/red] [/] lundi :warning: \\[ok]"
DUE = dt.date.today() - dt.timedelta(days=40)


@dataclass
class Shell:
    root: Path
    store: Store
    capsys: pytest.CaptureFixture[str]

    def run(self, *args: str, code: int = 0) -> tuple[str, str]:
        """`relance ARGS`; its exit code must be `code`, and nothing may have
        crashed (no traceback, no rich error)."""
        got, out, err = run_cli(self.capsys, "-w", str(self.root), *args)
        for stream in (out, err):
            assert "Traceback" not in stream and "MarkupError" not in stream, stream
            assert "\x1b" not in stream  # no terminal control reaches the screen
        assert got == code, (out, err)
        return out, err


@pytest.fixture
def shell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Shell]:
    root = tmp_path / "ws"
    code, _, err = run_cli(capsys, "init", str(root))
    assert code == 0, err  # no [users]: everyone is a credit manager
    store = open_store(f"sqlite:///{root / 'relance.sqlite'}")
    with store.transaction() as session:
        creditor = Creditor(code="JCDA", name="Jean [bold]Coutu[/bold] Diffusion",
                            address="1 rue de la Paix")
        session.add(creditor)
        session.flush()
        lyon = add_debtor(session, creditor, "F-0001", NAME)
        nantes = add_debtor(session, creditor, "F-0002", EMOJI_NAME)
        add_invoice(session, lyon, NUMBER, 125_000, DUE)
        add_invoice(session, nantes, "FA-[bold]-2", 98_040, DUE)
    try:
        yield Shell(root, store, capsys)
    finally:
        store.dispose()


def test_queue_shows_hostile_names_and_numbers_literally(shell: Shell) -> None:
    out, _ = shell.run("run")
    out, _ = shell.run("queue", "--state", "proposed", "--state", "approved")
    assert NAME in out and NUMBER in out
    assert "F-0002 Institut :thumbs_up: [link=" in out  # the table clips long names


def test_history_of_a_hostile_debtor_with_a_hostile_note(shell: Shell) -> None:
    out, _ = shell.run("note", "F-0001", NOTE)
    assert f"added to {NAME} (F-0001)." in out
    out, _ = shell.run("history", "F-0001")
    assert f"History of {NAME} (F-0001)" in out
    assert NOTE in out.replace("\n", "")


def test_a_terminal_control_in_a_note_is_shown_not_obeyed(shell: Shell) -> None:
    shell.run("note", "F-0001", "clear\x1b[2J screen")
    out, _ = shell.run("history", "F-0001")
    assert "clear\\x1b[2J screen" in out


def test_pay_with_a_bad_amount_and_then_a_good_one(shell: Shell) -> None:
    _, err = shell.run("pay", NUMBER, "[/abc]", code=2)
    assert "[/abc]" in err
    out, _ = shell.run("pay", NUMBER, "2000", "--reference", "VIR [/ref] :moon:")
    assert f"on {NUMBER}" in out and f"account of {NAME} (F-0001)" in out
    out, _ = shell.run("payments")
    assert "VIR [/ref] :moon:" in out and NAME in out


def test_an_unknown_hostile_invoice_number_is_named_literally(shell: Shell) -> None:
    _, err = shell.run("pay", "NOPE-[/x]", "10", code=2)
    assert "NOPE-[/x]" in err
    _, err = shell.run("history", "[/nobody]", code=2)
    assert "[/nobody]" in err
    # Click's own usage errors (typer draws them in a rich panel) quote the value too.
    _, err = shell.run("queue", "--state", "[/x] :fire:", code=2)
    assert "'[/x] :fire:' is not one of" in err


def test_explain_a_hostile_invoice_number(shell: Shell) -> None:
    out, _ = shell.run("explain", NUMBER)
    assert NUMBER in out
    _, err = shell.run("explain", "FA-[/y]-9", code=2)
    assert "FA-[/y]-9" in err


def test_aged_report_by_debtor_and_by_creditor(shell: Shell) -> None:
    with shell.store.transaction() as session:
        lyon = session.query(Creditor).one()
        lyon_debtor = add_debtor(session, lyon, "[/ref]", "Spa :fire: [i]Rennes")
        add_invoice(session, lyon_debtor, "FA-3", 5_000, DUE)
    out, _ = shell.run("report", "aged", "--by", "debtor")
    assert "[/ref]" in out and "F-0001" in out
    out, _ = shell.run("report", "aged", "--by", "segment")
    assert "franchisee" in out
    out, _ = shell.run("report", "aged", "--by", "debtor", "--format", "csv",
                       "--output", str(shell.root / "aged [bold]x[red].csv"))
    assert "aged [bold]x[red].csv" in out


def test_import_with_hostile_names_warnings_and_a_refused_row(shell: Shell) -> None:
    good = write_csv(shell.root / "in [bold]x[red].csv", [
        row("FA-[/i]-10", ref="F-[/r]", name="Café [/bold] :coffee: [red]Lyon"),
        row("FA-[/i]-11", ref="F-[/r]", name="Café [/bold] :coffee: [red]Lyon"),
    ])
    out, _ = shell.run("import", "invoices", str(good))
    assert "in [bold]x[red].csv" in out and "2 rows" in out
    out, _ = shell.run("queue", "--state", "proposed")  # nothing queued yet: a sentence
    out, _ = shell.run("report", "aged", "--by", "debtor")
    assert "F-[/r] Café [/bold] :coffee: [red]Lyon" in out
    refused = write_csv(shell.root / "bad [bold]x[red].csv", [
        row("FA-[/i]-12", ref="F-[/r]", name="[/bold]"),
        row("FA-[/i]-13", ref="F-[/r]", name="[/bold]", due="[/date]"),
    ])
    out, err = shell.run("import", "invoices", str(refused), code=2)
    assert out == ""
    assert "bad [bold]x[red].csv: refused" in err and "[/date]" in err
    _, err = shell.run("import", "invoices", str(shell.root / "missing [bold]x[red].csv"), code=2)
    assert "missing [bold]x[red].csv" in err
    # --json is untouched: one document, the names as stored.
    code, out, _ = run_cli(shell.capsys, "-w", str(shell.root), "--json", "queue")
    assert code == 0 and isinstance(json.loads(out), list)


def test_init_in_a_hostile_folder_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    code, out, err = run_cli(capsys, "init", str(tmp_path / "ws [/bold] :x:"))
    assert code == 0, err
    assert "ws [/bold] :x:" in out and "Traceback" not in err
