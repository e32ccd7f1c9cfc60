"""`relance db current` / `db upgrade`, and a database migrated by a newer relance: one
sentence and exit code 2, on SQLite and PostgreSQL."""

from __future__ import annotations

import urllib.parse

import pytest
from alembic import command
from sqlalchemy import text

from relance.store.db import make_engine, open_store
from relance.store.migrate import SchemaTooNew, alembic_config, head_revision
from tests.cli import run_cli


def _cli_url(db_url: tuple[str, str | None]) -> str:
    """The URL a user would pass to --db; a PostgreSQL schema goes in its options."""
    url, schema = db_url
    if schema is None:
        return url
    return f"{url}?options={urllib.parse.quote(f'-csearch_path={schema}')}"


def _stamp(db_url: tuple[str, str | None], revision: str) -> None:
    """Write `revision` into alembic_version, as another relance's migration would."""
    engine = make_engine(db_url[0], schema=db_url[1])
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    finally:
        engine.dispose()


def test_upgrade_then_current_on_a_database_some_migrations_behind(
    db_url: tuple[str, str | None], capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(db_url[0], schema=db_url[1])
    head = head_revision(engine)
    command.upgrade(alembic_config(engine), "0003")
    engine.dispose()
    url = _cli_url(db_url)

    code, out, _ = run_cli(capsys, "--db", url, "db", "current")
    assert code == 0
    assert f"schema revision 0003; this relance: {head}" in out
    behind = int(head) - 3  # the revisions are numbered 0001, 0002, ...
    assert f"Behind by {behind} migrations" in out

    code, out, _ = run_cli(capsys, "--db", url, "db", "upgrade")
    assert code == 0
    assert f"upgraded from revision 0003 to revision {head}, {behind} migrations:" in out
    assert "  0004  " in out and f"  {head}  " in out and "0003  " not in out

    code, out, _ = run_cli(capsys, "--db", url, "--json", "db", "current")
    assert code == 0 and '"up_to_date": true' in out

    code, out, _ = run_cli(capsys, "--db", url, "db", "upgrade")
    assert code == 0 and "nothing to do" in out


def test_a_database_migrated_by_a_newer_relance_is_refused_in_one_sentence(
    db_url: tuple[str, str | None], capsys: pytest.CaptureFixture[str]
) -> None:
    open_store(db_url[0], schema=db_url[1]).dispose()
    _stamp(db_url, "0099")
    head = head_revision(make_engine("sqlite://"))
    where = "relance.sqlite" if db_url[1] is None else "PostgreSQL database test"
    sentence = (f"relance: {where} is at schema revision 0099, newer than this relance "
                f"({head}): upgrade relance to use it\n")

    for command_line in (["db", "current"], ["db", "upgrade"], ["queue"]):
        code, out, err = run_cli(capsys, "--db", _cli_url(db_url), *command_line)
        assert (code, err) == (2, sentence), command_line
        assert out == ""

    with pytest.raises(SchemaTooNew):
        open_store(db_url[0], schema=db_url[1])
