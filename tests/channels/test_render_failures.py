"""A template that crashes rendering fails its own action, with the reason, before anything
is started; the other actions go out and nothing is left in doubt."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from relance.channels.dispatch import dispatch
from relance.store.db import Store, open_store
from relance.store.models import Action, ActionState, Event
from tests.channels.factory import (
    TODAY,
    add_action,
    add_creditor,
    add_debtor,
    add_invoice,
    make_workspace,
)
from tests.channels.test_cli import relance

SELF_RECURSIVE = "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}"


def crashing_book(store: Store, root: Path) -> dict[str, int]:
    """Two good letters, a letter and an e-mail whose templates call themselves forever,
    and a good e-mail."""
    for name, file in (("boucle", "letter.fr.html"), ("boucle_mail", "email.fr.txt")):
        (root / "templates" / name).mkdir(parents=True, exist_ok=True)
        (root / "templates" / name / file).write_text(SELF_RECURSIVE)
    ids: dict[str, int] = {}
    with store.transaction() as s:
        creditor = add_creditor(s)
        for key, channel, template in (("good_1", "letter", "relance_1"),
                                       ("loop", "letter", "boucle"),
                                       ("good_2", "letter", "relance_1"),
                                       ("loop_mail", "email", "boucle_mail"),
                                       ("good_mail", "email", "rappel")):
            debtor = add_debtor(s, creditor, f"R-{key}")
            invoice = add_invoice(s, debtor, f"FR-{key}", 40_000, TODAY - dt.timedelta(days=20))
            ids[key] = add_action(s, debtor, [invoice], channel=channel, template=template).id
    return ids


def test_a_self_recursive_template_fails_its_action_and_the_rest_go_out(
        store: Store, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    workspace = make_workspace(root)
    ids = crashing_book(store, root)
    report = dispatch(store, workspace, today=TODAY)
    assert (report.sent, report.failed, report.uncertain) == (3, 2, 0), report.errors
    with store.transaction() as s:
        actions = {key: s.get(Action, i) for key, i in ids.items()}
        states = {key: str(a.state) for key, a in actions.items() if a is not None}
        assert states == {"good_1": "sent", "loop": "failed", "good_2": "sent",
                          "loop_mail": "failed", "good_mail": "sent"}
        for key, template in (("loop", "boucle"), ("loop_mail", "boucle_mail")):
            action = actions[key]
            assert action is not None and action.last_error is not None
            assert "RecursionError" in action.last_error and template in action.last_error
            # Nothing left the process: the attempt never started.
            assert "started_attempt" not in (action.output or {})
            kinds = [e.kind for e in s.scalars(select(Event).where(
                Event.subject_id == str(action.id)).order_by(Event.id))]
            assert kinds == ["action.in_flight", "action.failed"]
    # A template error is not retried, and the next dispatch leaves nothing uncertain.
    again = dispatch(store, workspace, today=TODAY)
    assert (again.sent, again.failed, again.recovered_uncertain) == (0, 0, 0)
    with store.transaction() as s:
        assert Counter(str(a.state) for a in s.scalars(select(Action))) == {
            "sent": 3, "failed": 2}


@pytest.mark.slow
def test_relance_dispatch_reports_a_crashing_template_without_a_traceback(
        tmp_path: Path) -> None:
    root = tmp_path / "ws"
    make_workspace(root)
    (root / "relance.toml").write_text("[workspace]\n")
    store = open_store(f"sqlite:///{root / 'relance.sqlite'}")
    ids = crashing_book(store, root)
    store.dispose()
    result = relance(root, "dispatch", "--on", "2026-11-22")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "3 actions sent" in result.stdout
    assert "2 failed" in result.stdout
    assert f"action {ids['loop']}" in result.stdout and "RecursionError" in result.stdout
    store = open_store(f"sqlite:///{root / 'relance.sqlite'}")
    with store.transaction() as s:
        loop = s.get(Action, ids["loop"])
        assert loop is not None and loop.state == ActionState.FAILED
    store.dispose()
    again = relance(root, "dispatch", "--on", "2026-11-22")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "uncertain" not in again.stdout.replace("0 uncertain", "")


def test_an_unexpected_stop_puts_what_was_not_started_back_in_the_queue(
        sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past rendering, an error nobody expected (a database gone, a full disk) stops the
    dispatch; the actions it claimed and never started are back in the queue at once,
    neither left in flight nor made uncertain by the next dispatch."""
    from relance.channels import dispatch as dispatch_module

    root = tmp_path / "ws"
    workspace = make_workspace(root)
    ids = crashing_book(sqlite_store, root)

    def broken(self: object, items: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dispatch_module._Dispatcher, "_letters", broken)
    with pytest.raises(OSError, match="No space left"):
        dispatch(sqlite_store, workspace, today=TODAY, channels={"letter"})
    monkeypatch.undo()
    with sqlite_store.transaction() as s:
        states = {key: str(s.get(Action, i).state) for key, i in ids.items()}  # type: ignore[union-attr]
    assert states["good_1"] == states["good_2"] == "approved"
    assert states["loop"] == "failed"  # rendered (and failed) before the stop
    again = dispatch(sqlite_store, workspace, today=TODAY, channels={"letter"})
    assert (again.sent, again.recovered_uncertain) == (2, 0)
