"""The command line in French, as an operator's shell runs it: the help, Click's and
Typer's own words, errors and results; and English left as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RELANCE = str(Path(sys.executable).parent / "relance")


def shell(*args: str, lang: str = "fr_FR.UTF-8", cwd: Path | None = None
          ) -> subprocess.CompletedProcess[str]:
    """`relance ARGS` in a fresh process, with `LANG` and a wide terminal (no wrapping
    inside the sentences looked for)."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    env.update(LANG=lang, COLUMNS="200", TERMINAL_WIDTH="200")
    return subprocess.run([RELANCE, *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)


def test_the_help_speaks_french_under_a_french_locale(tmp_path: Path) -> None:
    result = shell("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Utilisation : relance [OPTIONS] COMMANDE [ARGUMENTS]..." in out
    assert "Commandes" in out and "Options" in out
    assert "Afficher ce message et quitter." in out
    assert "Enregistrer un paiement sur une facture" in out
    assert "Installer la complétion des commandes de relance" in out
    assert "Usage" not in out and "Show this message" not in out
    # No command falls back to its English docstring.
    assert "Check rule files" not in out and "Vérifier des fichiers de règles" in out


def test_a_command_help_and_a_usage_error_in_french(tmp_path: Path) -> None:
    helped = shell("pay", "--help", cwd=tmp_path)
    assert "Montant reçu : 1234.56, 1234,56, 1 234,56." in helped.stdout
    assert "[obligatoire]" in helped.stdout and "Arguments" in helped.stdout

    missing = shell("pay", cwd=tmp_path)
    assert missing.returncode == 2 and missing.stdout == ""
    assert "Utilisation : relance pay" in missing.stderr
    assert "Essayez 'relance pay --help' pour l’aide." in missing.stderr
    assert "Erreur" in missing.stderr and "Argument 'invoice' manquant." in missing.stderr

    unknown = shell("queue", "--etat", "proposed", cwd=tmp_path)
    assert unknown.returncode == 2 and "Option inconnue : --etat" in unknown.stderr
    typo = shell("queu", cwd=tmp_path)
    assert "Commande 'queu' inconnue. Vouliez-vous dire 'queue' ?" in typo.stderr
    bad = shell("history", "F-0001", "--limit", "zéro", cwd=tmp_path)
    assert ("Valeur invalide pour '--limit' : un nombre entier est attendu"
            in bad.stderr)


def test_relance_toml_asks_for_french_whatever_the_locale(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    assert shell("init", str(workspace), lang="en_GB.UTF-8").returncode == 0
    config = workspace / "relance.toml"
    config.write_text(config.read_text(encoding="utf-8") + '\n[ui]\nlanguage = "fr"\n',
                      encoding="utf-8")
    helped = shell("-w", str(workspace), "queue", "--help", lang="en_GB.UTF-8")
    assert "Les actions en file d’attente avec leurs factures" in helped.stdout
    listed = shell("-w", str(workspace), "queue", lang="en_GB.UTF-8")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == "Aucune action en file d’attente ne correspond.\n"
    # Found from the current folder up, as without --workspace.
    refused = shell("explain", "FA-404", lang="en_GB.UTF-8", cwd=workspace)
    assert refused.returncode == 2 and "relance: " in refused.stderr
    assert "FA-404" in refused.stderr and "no invoice" not in refused.stderr


def test_english_is_unchanged_under_an_english_locale(tmp_path: Path) -> None:
    result = shell("--help", lang="en_GB.UTF-8", cwd=tmp_path)
    assert "Usage: relance [OPTIONS] COMMAND [ARGS]..." in result.stdout
    assert "Show this message and exit." in result.stdout
    assert "Record a payment on one invoice" in result.stdout
    missing = shell("pay", lang="en_GB.UTF-8", cwd=tmp_path)
    assert "Missing argument 'invoice'." in missing.stderr
    assert "Try 'relance pay --help' for help." in missing.stderr

