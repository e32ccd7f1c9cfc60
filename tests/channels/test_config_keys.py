"""A misspelt key in `[smtp]`, `[sms]`, `[dispatch]` or `[approval]` is refused with the
file, the table, the key and the likely intended one, before anything is sent: ignored,
it would leave the channel on its default (no SMTP host: every e-mail to outbox/; no
four-eyes threshold: one approval for every escalation)."""

from __future__ import annotations

from pathlib import Path

import pytest

from relance.channels.config import dispatch_config, sms_config, smtp_config
from relance.kernel.errors import ConfigError
from relance.kernel.workspace import Workspace, find_workspace
from tests.channels.factory import make_workspace
from tests.cli import run_cli


def _workspace(root: Path, toml: str) -> Workspace:
    make_workspace(root)
    (root / "relance.toml").write_text(toml, encoding="utf-8")
    return find_workspace(root)


@pytest.mark.parametrize(("toml", "read", "message"), [
    ('[smtp]\nhots = "smtp.example.test"\n', smtp_config,
     "relance.toml: [smtp] hots is not a setting of the e-mail server: did you mean host?"),
    ('[sms]\nurl = "https://sms.example.test"\ntokn_file = "sms.token"\n', sms_config,
     "relance.toml: [sms] tokn_file is not a setting of the SMS gateway: "
     "did you mean token_file?"),
    ("[dispatch]\nmax_attemps = 3\n", dispatch_config,
     "relance.toml: [dispatch] max_attemps is not a setting of the dispatch: "
     "did you mean max_attempts?"),
])
def test_a_misspelt_channel_key_is_named_with_its_likely_meaning(
    tmp_path: Path, toml: str, read: object, message: str
) -> None:
    workspace = _workspace(tmp_path / "ws", toml)
    with pytest.raises(ConfigError) as caught:
        read(workspace)  # type: ignore[operator]
    assert message in str(caught.value)


def test_every_key_the_documentation_names_is_still_accepted(tmp_path: Path) -> None:
    (tmp_path / "sms.token").write_text("secret", encoding="utf-8")
    (tmp_path / "sms.token").chmod(0o600)
    workspace = _workspace(tmp_path, (
        '[smtp]\nhost = "smtp.example.test"\nport = 2525\nsecurity = "none"\n'
        'from = "relances@acme.test"\nmax_connections = 2\ntimeout = 5\n'
        'messages_per_connection = 10\n'
        '[sms]\nurl = "https://sms.example.test/send"\nauth_header = "Authorization"\n'
        'token_file = "sms.token"\nsender = "ACME"\ntimeout = 3\nid_field = "id"\n'
        'default_region = "FR"\n[sms.body]\nto = "{to}"\ntext = "{text}"\n'
        "[dispatch]\nretry_base_seconds = 30\nretry_max_seconds = 600\nmax_attempts = 3\n"
        "lease_seconds = 60\ndeadline_days = 15\nletter_processes = 2\nbatch_size = 10\n"))
    smtp = smtp_config(workspace)
    sms = sms_config(workspace)
    dispatch = dispatch_config(workspace)
    assert smtp is not None and smtp.port == 2525 and smtp.sender == "relances@acme.test"
    assert sms is not None and sms.token == "secret" and sms.body == {"to": "{to}",
                                                                      "text": "{text}"}
    assert (dispatch.max_attempts, dispatch.deadline_days, dispatch.batch_size) == (3, 15, 10)


def test_a_secret_in_the_file_keeps_its_own_message(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path, '[smtp]\nhost = "h"\npassword = "hunter2"\n')
    with pytest.raises(ConfigError, match=r"\[smtp\] password: secrets do not belong"):
        smtp_config(workspace)


def test_dispatch_refuses_a_misspelt_key_with_exit_2_and_sends_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "ws"
    _workspace(root, "[dispatch]\nbatch_sise = 2\n")
    code, out, err = run_cli(capsys, "-w", str(root), "dispatch", "--on", "2026-11-22")
    assert code == 2
    assert "[dispatch] batch_sise is not a setting of the dispatch: did you mean batch_size?" \
        in err
    assert "Traceback" not in err and out == ""


def test_a_misspelt_approval_threshold_is_refused_by_the_commands_that_decide(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "ws"
    _workspace(root, '[users]\nalice = "credit_manager"\n'
                     '[approval]\nfour_eyes_abve = "5000 EUR"\n')
    code, _, err = run_cli(capsys, "-w", str(root), "--user", "alice", "pay", "FA-1", "10")
    assert code == 2, err
    assert ("relance.toml: [approval] four_eyes_abve is not a setting of the approvals: "
            "did you mean four_eyes_above?") in err
