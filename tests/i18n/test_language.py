"""Which language relance speaks, and how it shows money and dates in it."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from relance.kernel.dates import parse_day
from relance.kernel.display import show_date, show_money
from relance.kernel.errors import ConfigError, UsageError
from relance.kernel.i18n import (
    _,
    choose_language,
    current_language,
    language_for_invocation,
    language_from_environment,
    set_language,
    using_language,
)
from relance.kernel.settings import parse_settings


@pytest.mark.parametrize(("environ", "expected"), [
    ({"LANG": "fr_FR.UTF-8"}, "fr"),
    ({"LANG": "en_US.UTF-8"}, "en"),
    ({"LANG": "de_DE.UTF-8"}, "fr"),  # a language relance does not speak: French
    ({"LANG": "C.UTF-8"}, "fr"),
    ({}, "fr"),
    ({"LC_ALL": "en_GB.UTF-8", "LANG": "fr_FR.UTF-8"}, "en"),
    ({"LANGUAGE": "de:en", "LANG": "fr_FR.UTF-8"}, "en"),
])
def test_the_environment_decides_when_the_workspace_does_not(
        environ: dict[str, str], expected: str) -> None:
    assert choose_language(None, environ) == expected


def test_the_workspace_setting_comes_before_the_environment() -> None:
    assert choose_language("en", {"LANG": "fr_FR.UTF-8"}) == "en"
    assert choose_language("fr", {"LANG": "en_GB.UTF-8"}) == "fr"
    assert language_from_environment({"LANG": "POSIX"}) is None


def test_a_command_speaks_the_language_of_the_workspace_it_names(tmp_path: Path) -> None:
    (tmp_path / "relance.toml").write_text('[ui]\nlanguage = "en"\n', encoding="utf-8")
    inner = tmp_path / "rules"
    inner.mkdir()
    french = {"LANG": "fr_FR.UTF-8"}
    assert language_for_invocation(["--workspace", str(tmp_path), "run"], french) == "en"
    assert language_for_invocation([f"--workspace={inner}", "run"], french) == "fr"


def test_an_unknown_language_in_relance_toml_is_refused_with_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"\[ui\] language must be one of fr, en, not 'de'"):
        parse_settings({"ui": {"language": "de"}})
    assert parse_settings({"ui": {"language": "fr_FR"}}).ui.language == "fr"


def test_an_error_is_written_in_the_language_being_spoken() -> None:
    with using_language("fr"), pytest.raises(UsageError) as refused:
        parse_day("31/02/2026", what="--on")
    assert refused.value.message == "--on: '31/02/2026' n’est pas un jour du calendrier"
    assert current_language() == "en"
    with pytest.raises(UsageError, match="is not a day of the calendar"):
        parse_day("31/02/2026", what="--on")


@pytest.mark.parametrize(("language", "minor", "currency", "shown"), [
    ("fr", 4505521, "EUR", "45\u202f055,21\u00a0€"),
    ("en", 4505521, "EUR", "€45,055.21"),
    ("fr", 100000, "CHF", "1\u202f000,00\u00a0CHF"),
    ("fr", -123456, "EUR", "-1\u202f234,56\u00a0€"),
    ("fr", 1500, "JPY", "1\u202f500\u00a0JPY"),
    ("en", 1234567, "TND", "TND1,234.567"),
])
def test_money_is_shown_in_the_language_with_its_currency(
        language: str, minor: int, currency: str, shown: str) -> None:
    assert show_money(minor, currency, language) == shown
    with using_language(language):
        assert show_money(minor, currency) == shown


def test_dates_are_shown_in_the_short_form_of_the_language() -> None:
    assert show_date(dt.date(2026, 3, 4), "fr") == "04/03/2026"
    assert show_date(dt.date(2026, 3, 4), "en") == "04/03/2026"
    assert show_date(None, "fr") == ""


def test_counted_channels_agree_with_their_number() -> None:
    from relance.engine.words import channel_count

    tally = [("call", 118), ("email", 1), ("escalate", 94), ("notify", 1)]
    with using_language("fr"):
        assert [channel_count(c, n, str(n)) for c, n in tally] == [
            "118 appels", "1 e-mail", "94 escalades", "1 alerte"]
    assert [channel_count(c, n, str(n)) for c, n in tally] == [
        "118 calls", "1 e-mail", "94 escalations", "1 alert"]



def test_a_language_used_in_one_thread_is_not_spoken_by_another() -> None:
    """The web answers two debtors at once: the one's English must not reach the other's
    page, nor the rest of the process, which keeps its own language."""
    inside, release = threading.Event(), threading.Event()
    heard: dict[str, str] = {}

    def english_debtor() -> None:
        with using_language("en"):
            heard["en-thread"] = _("Aborted.")
            inside.set()
            release.wait(10)
            heard["en-thread-after"] = current_language()

    def french_debtor() -> None:
        heard["fr-thread"] = _("Aborted.")

    with _process_speaking("fr"):
        first = threading.Thread(target=english_debtor)
        first.start()
        assert inside.wait(10)
        second = threading.Thread(target=french_debtor)
        second.start()
        second.join(10)
        heard["process"] = current_language()
        release.set()
        first.join(10)
    assert heard == {"en-thread": "Aborted.", "fr-thread": "Abandon.",
                     "process": "fr", "en-thread-after": "en"}


def test_a_language_set_inside_a_block_ends_with_the_block() -> None:
    with _process_speaking("fr"):
        with using_language("en"):
            set_language("fr")  # a workspace read inside the block speaks French...
            assert current_language() == "fr"
        assert current_language() == "fr"
        with using_language("fr"):
            set_language("en")
        assert current_language() == "fr"  # ...only until the block ends, as before


@contextmanager
def _process_speaking(language: str) -> Iterator[None]:
    before = current_language()
    set_language(language)
    try:
        yield
    finally:
        set_language(before)
