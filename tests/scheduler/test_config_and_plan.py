"""The `[schedule]` table and the pure timing rules: business days, catch-up, windows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from relance.kernel.errors import ConfigError
from relance.kernel.schedule import ScheduleConfig, parse_schedule
from relance.kernel.workspace import Workspace, load_config
from relance.scheduler import plan
from relance.scheduler.config import load_schedule

PARIS = ZoneInfo("Europe/Paris")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=PARIS)


def test_defaults_are_the_documented_ones() -> None:
    config = parse_schedule({})
    assert (config.run_at, config.timezone, config.dispatch_every_minutes) == (
        dt.time(7, 0), "Europe/Paris", 5)
    assert config.sending_hours == "08:00-19:00"
    assert config.sending_days == frozenset(range(6))  # Monday to Saturday
    assert (config.letters_at, config.summary_at, config.max_catch_up_days) == (
        dt.time(9, 0), dt.time(8, 0), 7)


def test_a_full_table_is_read(tmp_path: Path) -> None:
    (tmp_path / "relance.toml").write_text(
        '[run]\ntimezone = "Europe/Brussels"\n'
        '[schedule]\nrun_at = "06:30"\ncountry = "be"\ndispatch_every_minutes = 10\n'
        'sending_hours = "09:00-18:00"\nsending_days = ["mon", "tue", "wed", "thu", "fri"]\n'
        'letters_at = 10:00:00\nsummary_at = "07:45"\nmax_catch_up_days = 3\n'
        'log_file = "logs/serve.jsonl"\nsummary_to = ["boss@example.test"]\n')
    workspace = Workspace(tmp_path, load_config(tmp_path / "relance.toml"),
                          tmp_path / "relance.toml")
    config = load_schedule(workspace)
    assert config.timezone == "Europe/Brussels"  # from [run]
    assert config.country == "BE"
    assert config.letters_at == dt.time(10, 0)
    assert config.sending_days == frozenset(range(5))
    assert config.log_file == tmp_path / "logs" / "serve.jsonl"
    assert config.summary_to == ("boss@example.test",)


@pytest.mark.parametrize(("table", "message"), [
    ({"run_at": "7h"}, 'run_at must be a time "HH:MM"'),
    ({"run_at": "25:00"}, 'run_at must be a time "HH:MM"'),
    ({"timezone": "Europe/Pariss"}, "timezone is not a known time zone: 'Europe/Pariss'"),
    ({"country": "XX"}, "country is not a country the holidays calendar knows"),
    ({"sending_hours": "19:00-08:00"}, "sending_hours must start before it ends"),
    ({"sending_hours": "8-19"}, 'sending_hours must read "HH:MM-HH:MM"'),
    ({"sending_days": ["monday", "funday"]}, "sending_days holds 'funday'"),
    ({"dispatch_every_minutes": 0}, "dispatch_every_minutes must be between 1 and 1440"),
    ({"dispatch_every_minutes": "5"}, "dispatch_every_minutes must be a whole number"),
    ({"max_catch_up_days": -1}, "max_catch_up_days must be between 0 and 366"),
    ({"letters_at": "06:00"}, "letters_at (06:00) must not be before run_at (07:00)"),
    ({"summary_at": "06:59"}, "summary_at (06:59) must not be before run_at (07:00)"),
    ({"send_on_holidays": "yes"}, "send_on_holidays must be true or false"),
    ({"run_time": "07:00"}, "run_time is not a setting of the scheduler"),
    ({"subdivision": "57"}, "subdivision needs [schedule] country"),
    ({"country": "FR", "subdivision": "99"}, "subdivision is not a subdivision of FR: '99'"),
])
def test_mistakes_name_the_file_and_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_schedule(table, label="/srv/acme/relance.toml")
    assert caught.value.message.startswith("/srv/acme/relance.toml: [schedule] ")
    assert message in caught.value.message


def test_the_cli_refuses_a_bad_schedule(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    from relance.cli import main

    (tmp_path / "relance.toml").write_text('[schedule]\nrun_at = "7h"\n')
    with pytest.raises(SystemExit) as exited:
        main(["--workspace", str(tmp_path), "serve", "--status"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "relance.toml: [schedule] run_at must be a time" in err
    assert "Traceback" not in err


CONFIG = ScheduleConfig(country="FR")


def test_the_latest_due_day_skips_weekends_and_holidays() -> None:
    # Monday 4 May 2026 at 06:00: Friday 1 May is Labour Day, so Thursday 30 April.
    assert plan.latest_due_day(CONFIG, plan.DAILY_RUN, at("2026-05-04T06:00")) == dt.date(
        2026, 4, 30)
    assert plan.latest_due_day(CONFIG, plan.DAILY_RUN, at("2026-05-04T07:00")) == dt.date(
        2026, 5, 4)


def test_missed_days_are_coalesced_into_the_latest() -> None:
    # Last run Monday 2 March; back on Thursday 5 March at 06:00 (before 07:00).
    slot = plan.due_slot(CONFIG, plan.DAILY_RUN, at("2026-03-05T06:00"), dt.date(2026, 3, 2))
    assert slot == plan.DueSlot(dt.date(2026, 3, 4), (dt.date(2026, 3, 3),))
    assert plan.due_slot(CONFIG, plan.DAILY_RUN, at("2026-03-05T06:59"),
                         dt.date(2026, 3, 4)) is None


def test_catch_up_is_bounded() -> None:
    config = ScheduleConfig(country="FR", max_catch_up_days=2)
    # A run last done 10 days ago: only the window's business days count as missed.
    slot = plan.due_slot(config, plan.DAILY_RUN, at("2026-03-13T08:00"), dt.date(2026, 3, 3))
    assert slot == plan.DueSlot(dt.date(2026, 3, 13), (dt.date(2026, 3, 11),
                                                       dt.date(2026, 3, 12)))
    # Christmas to New Year with no catch-up allowed: nothing from before today.
    none_back = ScheduleConfig(country="FR", max_catch_up_days=0)
    assert plan.latest_due_day(none_back, plan.DAILY_RUN, at("2026-12-26T10:00")) is None


@pytest.mark.parametrize(("when", "open_"), [
    ("2026-03-10T07:59", False),  # Tuesday, before 08:00
    ("2026-03-10T08:00", True),
    ("2026-03-10T18:59", True),
    ("2026-03-10T19:00", False),
    ("2026-03-14T10:00", True),   # Saturday
    ("2026-03-15T10:00", False),  # Sunday
    ("2026-05-01T10:00", False),  # Labour Day
    ("2026-12-25T10:00", False),  # Christmas
])
def test_the_sending_window(when: str, open_: bool) -> None:
    assert plan.in_sending_window(CONFIG, at(when)) is open_


def test_holidays_may_be_allowed_for_sending() -> None:
    config = ScheduleConfig(country="FR", send_on_holidays=True)
    assert plan.in_sending_window(config, at("2026-05-01T10:00"))


def test_next_slots_for_status() -> None:
    # Friday evening: next run Monday 07:00; next dispatch Saturday 08:00.
    friday = at("2026-03-13T20:00")
    assert plan.next_slot(CONFIG, plan.DAILY_RUN, friday) == at("2026-03-16T07:00")
    assert plan.next_dispatch(CONFIG, friday) == at("2026-03-14T08:00")
    # Already done today: tomorrow.
    assert plan.next_slot(CONFIG, plan.DAILY_RUN, at("2026-03-10T06:00"),
                          done_today=True) == at("2026-03-11T07:00")


def test_a_run_time_lost_to_daylight_saving_falls_after_the_gap() -> None:
    config = ScheduleConfig(country="FR", run_at=dt.time(2, 30))
    # 29 March 2026: clocks go from 02:00 to 03:00 in Paris.
    instant = plan.slot_instant(config, dt.date(2026, 3, 29), dt.time(2, 30))
    assert instant.astimezone(dt.UTC) == dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)


DOCS = Path(__file__).resolve().parents[2] / "docs" / "scheduler.md"


def test_the_documented_configuration_is_the_default() -> None:
    import tomllib

    text = DOCS.read_text(encoding="utf-8")
    block = text.split("```toml\n", 1)[1].split("```", 1)[0]
    documented = tomllib.loads(block)["schedule"]
    assert parse_schedule(documented) == parse_schedule({})


@pytest.mark.parametrize(("table", "shown"), [
    ({"letters_at": "06:00"}, "letters_at (06:00)"),
    ({"timezone": "Europe/Pariss"}, "timezone is not"),
])
def test_the_documented_errors_are_the_real_ones(table: dict[str, object], shown: str) -> None:
    line = next(line for line in DOCS.read_text(encoding="utf-8").splitlines()
                if line.startswith("relance: ") and shown in line)
    with pytest.raises(ConfigError) as caught:
        parse_schedule(table, label="/srv/acme/relance.toml")
    assert line == f"relance: {caught.value.message}"


@pytest.mark.parametrize(("now", "day"), [
    ("2027-01-01T10:00", dt.date(2026, 12, 31)),  # New Year's Day
    ("2027-01-04T06:00", dt.date(2026, 12, 31)),  # Monday before the run: still Thursday
    ("2028-02-29T07:00", dt.date(2028, 2, 29)),   # a leap day is an ordinary Tuesday
    ("2026-05-25T10:00", dt.date(2026, 5, 22)),   # Whit Monday
    ("2026-07-14T10:00", dt.date(2026, 7, 13)),   # Bastille Day
])
def test_french_holidays_and_odd_days(now: str, day: dt.date) -> None:
    assert plan.latest_due_day(CONFIG, plan.DAILY_RUN, at(now)) == day


def test_a_region_with_holidays_of_its_own() -> None:
    alsace = ScheduleConfig(country="FR", subdivision="57")
    good_friday = at("2026-04-03T10:00")
    assert plan.latest_due_day(CONFIG, plan.DAILY_RUN, good_friday) == dt.date(2026, 4, 3)
    assert plan.latest_due_day(alsace, plan.DAILY_RUN, good_friday) == dt.date(2026, 4, 2)
