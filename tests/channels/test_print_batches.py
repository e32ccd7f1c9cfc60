"""Print batches for the mail house: a letter counts as delivered only once it is in a
durable batch, whatever moment a dispatcher is killed at; `relance batches` shows them."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from relance.channels.claims import DispatchReport, claim, mark_batched
from relance.channels.dispatch import dispatch
from relance.channels.recovery import recover_in_flight
from relance.store.db import Store, open_store
from relance.store.models import Action, ActionState, Channel
from tests.channels.factory import (
    TODAY,
    add_action,
    add_creditor,
    add_debtor,
    add_invoice,
    make_workspace,
)
from tests.channels.test_cli import relance

ROOT = Path(__file__).resolve().parents[2]
LETTERS = 6


def letter_book(store: Store, n: int = LETTERS) -> dict[int, str]:
    """`n` one-invoice letters; action id -> the invoice number its letter prints."""
    numbers: dict[int, str] = {}
    with store.transaction() as s:
        creditor = add_creditor(s)
        for k in range(n):
            debtor = add_debtor(s, creditor, f"L-{k:03d}")
            invoice = add_invoice(s, debtor, f"FL-{k:04d}", 50_000 + k,
                                  TODAY - dt.timedelta(days=20))
            numbers[add_action(s, debtor, [invoice], template="relance_1").id] = invoice.number
    return numbers


def page_texts(path: Path | str) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(str(path)).pages]


def assert_each_letter_in_exactly_one_batch(store: Store, outbox: Path,
                                            numbers: dict[int, str]) -> None:
    with store.transaction() as s:
        letters = {a.id: (str(a.state), dict(a.output or {})) for a in s.scalars(
            select(Action).where(Action.channel == Channel.LETTER))}
    assert {state for state, _ in letters.values()} == {"sent"}, letters
    batches = {path: page_texts(path)
               for path in sorted((outbox / "letters").rglob("batch-*.pdf"))}
    for action_id, number in numbers.items():
        _, output = letters[action_id]
        holding = {path for path, pages in batches.items() if any(number in t for t in pages)}
        assert output.get("batch") is not None, f"letter {action_id} is sent in no batch"
        assert holding == {Path(output["batch"])}, \
            f"letter {action_id} ({number}) is in {sorted(map(str, holding))}"
        own = sum(number in t for t in page_texts(output["pdf"]))
        assert sum(number in t for t in batches[Path(output["batch"])]) == own, \
            f"letter {action_id} is in its batch more than once"


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(url, schema) of an empty database, and the URL the command line is given."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'relance.sqlite'}"
        yield url, ""
        return
    from tests.conftest import PG_URL

    schemas = request.getfixturevalue("pg_schemas")
    schema = schemas.create()
    try:
        yield PG_URL, schema
    finally:
        schemas.drop(schema)


def cli_url(url: str, schema: str) -> str:
    return f"{url}?options=-csearch_path%3D{schema}" if schema else url


def start_worker(url: str, schema: str, root: Path, point: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.channels.letter_kill_worker", url, str(root), point,
         schema], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert proc.poll() is None, "the dispatcher ended before the kill point"
        assert time.monotonic() < deadline, "the kill point never came"
        time.sleep(0.01)


def sent_letters(store: Store) -> int:
    with store.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(Action).where(
            Action.channel == Channel.LETTER, Action.state == ActionState.SENT)) or 0)


# Where the kill lands is what varies; the database only for the plain kill (recovery
# reads the same committed state on both).
@pytest.mark.slow
@pytest.mark.parametrize(("database", "point"), [
    ("sqlite", "none"), ("postgresql", "none"), ("sqlite", "before-batch"),
    ("sqlite", "after-batch")], indirect=["database"])
def test_a_dispatcher_killed_mid_letters_loses_none_and_batches_each_once(
        database: tuple[str, str], tmp_path: Path, point: str) -> None:
    """SIGKILL once letters are committed `sent` (`none`: the test watches the database),
    just before a batch is written, or just after it is written; the next dispatch then
    leaves every letter sent and in exactly one print batch, and `relance batches` says
    so."""
    url, schema = database
    root = tmp_path / "ws"
    make_workspace(root)
    (root / "relance.toml").write_text("[dispatch]\nbatch_size = 2\n")
    store = open_store(url, schema=schema or None)
    try:
        numbers = letter_book(store)
        proc = start_worker(url, schema, root, point)
        if point == "none":
            wait_for(lambda: sent_letters(store) >= 2, proc)
        else:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "killpoint"
        kill(proc)
        assert sent_letters(store) < LETTERS, "the kill must land while letters are left"

        again = relance(root, "--db", cli_url(url, schema), "dispatch", "--on", "2026-11-22")
        assert again.returncode == 0, again.stdout + again.stderr
        assert_each_letter_in_exactly_one_batch(store, root / "outbox", numbers)

        shown = relance(root, "--db", cli_url(url, schema), "--json", "batches")
        assert shown.returncode == 0, shown.stderr
        listing = json.loads(shown.stdout)
        assert listing["unbatched"] == []
        listed = sorted(a for b in listing["batches"] for a in b["letters"])
        assert listed == sorted(numbers)
        for batch in listing["batches"]:
            assert Path(batch["file"]).is_file() and batch["date"] == "2026-11-22"
            assert batch["pages"] == len(PdfReader(batch["file"]).pages)
    finally:
        store.dispose()


def test_batches_lists_letters_sent_outside_a_batch(sqlite_store: Store,
                                                    tmp_path: Path) -> None:
    """A letter committed `sent` with no batch (an operator's confirmation, or a version
    of relance that batched only at the end of a dispatch) is listed, with its PDF."""
    root = tmp_path / "ws"
    make_workspace(root)
    (root / "relance.toml").write_text("[workspace]\n")
    numbers = letter_book(sqlite_store, 2)
    report = dispatch(sqlite_store, make_workspace(root), today=TODAY)
    assert report.sent == 2 and len(report.batches) == 1
    loose = min(numbers)
    with sqlite_store.transaction() as s:
        action = s.get(Action, loose)
        assert action is not None
        action.output = {k: v for k, v in action.output.items() if k != "batch"}
    url = str(sqlite_store.engine.url)
    shown = relance(root, "--db", url, "--json", "batches")
    assert shown.returncode == 0, shown.stderr
    listing = json.loads(shown.stdout)
    assert [u["action"] for u in listing["unbatched"]] == [loose]
    assert listing["unbatched"][0]["pdf"].endswith(".pdf")
    assert [b["letters"] for b in listing["batches"]] == [[max(numbers)]]
    text = relance(root, "--db", url, "batches")
    assert text.returncode == 0, text.stderr
    assert "1 letter sent in no print batch" in text.stdout
    assert str(loose) in text.stdout and "L-000" in text.stdout


def test_recovery_settles_letters_from_their_batch_file(store: Store, tmp_path: Path) -> None:
    """Letters left in flight by a dispatcher on another machine, past the lease: in a
    batch on disk → sent; in a batch not on this disk → uncertain, naming it; never put
    in a batch → back to the queue."""
    numbers = letter_book(store, 3)
    written, elsewhere, unstarted = sorted(numbers)
    worker = "elsewhere:1:y"
    assert claim(store, channels={"letter"}, worker=worker, today=TODAY, limit=3,
                 report=DispatchReport()) == [written, elsewhere, unstarted]
    batch = tmp_path / "batch-120000-y-001.pdf"
    batch.write_bytes(b"%PDF-1.7 (a batch as the dead dispatcher left it)")
    assert mark_batched(store, {written: {"batch": str(batch), "pdf": "w.pdf", "pages": 1},
                                elsewhere: {"batch": str(tmp_path / "gone.pdf")}},
                        worker) == [written, elsewhere]
    report = DispatchReport()
    assert recover_in_flight(store, lease_seconds=0, actor="t", report=report) == 1
    assert report.recovered_sent == 1
    with store.transaction() as s:
        actions = {a.id: a for a in s.scalars(select(Action))}
    assert actions[written].state == ActionState.SENT
    assert actions[written].output["batch"] == str(batch)
    assert actions[elsewhere].state == ActionState.UNCERTAIN
    assert "gone.pdf is not on this machine" in (actions[elsewhere].last_error or "")
    assert actions[unstarted].state == ActionState.APPROVED
    assert actions[unstarted].attempts == 0
    [entry] = report.problems
    assert (entry["action"], entry["state"], entry["debtor"]) == (elsewhere, "uncertain",
                                                                   "L-001")
