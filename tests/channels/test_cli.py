"""`relance dispatch`, `relance preview`, `relance outcome` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.channels.factory import standard_workspace


def relance(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RELANCE_USER": "alice"}
    env.pop("RELANCE_DATABASE_URL", None)
    executable = str(Path(sys.executable).parent / "relance")
    return subprocess.run([executable, "-w", str(workspace), *args],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


@pytest.mark.slow
def test_preview_then_dispatch_then_nothing_left(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    ids = standard_workspace(root)

    preview = relance(root, "--json", "preview", str(ids["action"]), "--on", "2026-11-22")
    assert preview.returncode == 0, preview.stderr
    shown = json.loads(preview.stdout)
    assert shown["pdf"].endswith(".pdf") and "FA-2026-0001" in shown["text"]

    dry = relance(root, "--json", "dispatch", "--dry-run", "--on", "2026-11-22")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["rendered"] == 1

    sent = relance(root, "dispatch", "--on", "2026-11-22", "--channel", "letter")
    assert sent.returncode == 0, sent.stderr
    assert "1 action sent" in sent.stdout and "Print batch for the mail house" in sent.stdout

    again = relance(root, "--json", "dispatch", "--on", "2026-11-22")
    assert json.loads(again.stdout)["sent"] == 0

    bad = relance(root, "dispatch", "--channel", "call")
    assert bad.returncode == 2 and "calls and escalations are operator tasks" in bad.stderr
    wrong = relance(root, "outcome", str(ids["action"]), "sent")
    assert wrong.returncode == 2 and "is sent, not uncertain" in wrong.stderr
