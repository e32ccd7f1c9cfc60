"""`relance --help` answers without loading the heavy layers, and the command index that
makes it possible says exactly what the modules register; a command's `--help`, and a
command over an up-to-date store, load only what they use (issue 17: the times are in
bench/startup_bench.py, these are what make them, whatever the machine's speed)."""

from __future__ import annotations

import gettext
import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import lark.lark
import pytest
import typer
from alembic import command
from lark import Lark
from sqlalchemy import text

import relance.rules
from relance.command_index import COMMANDS, modules
from relance.dsl import parser as dsl_parser
from relance.dsl import parser_cache
from relance.dsl.parser import _keep_comment as _keep
from relance.dsl.parser import grammar_text
from relance.kernel import catalogs as i18n_catalogs
from relance.kernel import i18n, user_cache
from relance.store.db import make_engine, open_store
from relance.store.migrate import alembic_config, code_head, current_revision, head_revision

HEAVY = ("sqlalchemy", "textual", "weasyprint", "relance.store.models", "relance.engine",
         "relance.tui", "relance.channels")
# What no command's `--help` needs: the database layer, the desk, the renderers.
NOT_FOR_HELP = ("sqlalchemy", "alembic", "relance.store.models", "textual", "weasyprint",
                "openpyxl", "pydantic")
# Alembic's machinery: reading and running the migration scripts.
MIGRATING = ("alembic.script", "alembic.runtime", "alembic.command", "alembic.operations")


def _modules_after(*argv: str, cwd: Path | None = None) -> list[str]:
    """The modules a fresh interpreter holds after `relance ARGV`."""
    script = ("import json, sys\nfrom relance.cli import main\ntry:\n    main(sys.argv[1:])\n"
              "except SystemExit:\n    pass\nprint(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True,
                          text=True, check=True, timeout=120, cwd=cwd)
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def _among(loaded: list[str], packages: tuple[str, ...]) -> list[str]:
    return [name for name in loaded if any(name == p or name.startswith(p + ".")
                                           for p in packages)]


def _heavy(loaded: list[str]) -> list[str]:
    return _among(loaded, HEAVY)


def test_help_loads_no_database_desk_or_renderer() -> None:
    assert _heavy(_modules_after("--help")) == []


def test_a_mistyped_command_loads_nothing_heavy_either() -> None:
    assert _heavy(_modules_after("rnu")) == []


def test_a_command_loads_its_own_module_only_when_it_runs() -> None:
    loaded = _modules_after("check", "--help")
    assert "relance.commands.lang_cmd" in loaded
    assert "relance.commands.tui_cmd" not in loaded


def test_the_index_names_each_registered_command_with_its_module() -> None:
    """A command registered by a module must be in the index under that module (else
    `relance --help` would not list it and `relance NAME` would not find it), and the
    index names nothing that no module registers."""
    registered: dict[str, str] = {}
    for module_name in modules():
        holder = typer.Typer()
        importlib.import_module(f"relance.commands.{module_name}").register(holder)
        names = [c.name or (c.callback.__name__ if c.callback else "")
                 for c in holder.registered_commands]
        names += [g.name or "" for g in holder.registered_groups]
        for name in names:
            registered[name.replace("_", "-")] = module_name
    assert registered == {name: entry.module for name, entry in COMMANDS.items()}


def _shell(*argv: str, lang: str = "en_US.UTF-8", columns: int = 100
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "relance", *argv], capture_output=True,
                          text=True, check=False, timeout=120,
                          env={"LANG": lang, "COLUMNS": str(columns), "PATH": "/usr/bin"})


def test_help_lists_every_command_of_the_index() -> None:
    done = _shell("--help", columns=200)
    assert done.returncode == 0
    commands = done.stdout.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    # A command's name opens its line; its summary's further lines are indented more.
    listed = [line.split()[0] for line in commands.splitlines() if line[2:3].strip()]
    assert listed == list(COMMANDS)


@pytest.mark.parametrize("argv", [["--help"], ["rnu"], [], ["--version"]])
def test_the_top_level_help_and_a_mistyped_command_load_neither_typer_nor_rich(
        argv: list[str]) -> None:
    """They are answered before the Typer app is built (`relance.root_help`)."""
    assert _among(_modules_after(*argv), ("typer", "rich", "click")) == []


def test_the_shell_still_completes_through_typer() -> None:
    """The completion script calls a bare `relance`, which is not the help then."""
    done = subprocess.run([sys.executable, "-m", "relance"], capture_output=True, text=True,
                          check=False, timeout=120,
                          env={"PATH": "/usr/bin", "_RELANCE_COMPLETE": "complete_bash",
                               "COMP_WORDS": "relance qu", "COMP_CWORD": "1"})
    assert (done.returncode, done.stdout.split()) == (0, ["queue"])


def test_the_help_lists_the_options_typer_defines() -> None:
    """The plain help's options are the root command's, none missing, none extra."""
    from relance.root_command import app
    from relance.root_help import GLOBAL_OPTIONS

    root = typer.main.get_command(app)
    helper = root.get_help_option(root.make_context("relance", ["--json"]))
    assert helper is not None
    defined = {frozenset(param.opts) for param in [*root.params, helper]}
    assert {frozenset(option.names) for option in GLOBAL_OPTIONS} == defined


@pytest.mark.parametrize("lang", ["en_US.UTF-8", "fr_FR.UTF-8"])
def test_the_help_typer_draws_after_an_option_is_the_same_screen(lang: str) -> None:
    plain, through_typer = _shell("--help", lang=lang), _shell("--json", "--help", lang=lang)
    assert through_typer.returncode == plain.returncode == 0
    assert through_typer.stdout == plain.stdout
    assert "--workspace" in plain.stdout and "credit-note" in plain.stdout


def test_a_bare_relance_shows_the_help_as_a_usage_error() -> None:
    done = _shell()
    assert done.returncode == 2 and done.stdout == _shell("--help").stdout


@pytest.mark.parametrize("lang", ["en_US.UTF-8", "fr_FR.UTF-8"])
@pytest.mark.parametrize("word", ["rnu", "zzz", "credit_note"])
def test_a_mistyped_command_is_told_as_typer_tells_it(lang: str, word: str) -> None:
    """Word for word what Typer prints for the same mistake after an option (`--json`
    makes Typer answer), suggestions included."""
    plain, through_typer = _shell(word, lang=lang), _shell("--json", word, lang=lang)
    assert plain.returncode == through_typer.returncode == 2
    assert plain.stdout == "" and plain.stderr == through_typer.stderr
    assert word in plain.stderr


@pytest.mark.parametrize("module_name", modules())
def test_a_command_help_loads_no_database_desk_or_renderer(module_name: str) -> None:
    """Options typed with the book's states take them from `relance.store.states`."""
    first = next(name for name, entry in COMMANDS.items() if entry.module == module_name)
    loaded = _modules_after(first, "--help")
    assert f"relance.commands.{module_name}" in loaded
    assert _among(loaded, NOT_FOR_HELP) == []


@pytest.mark.parametrize("argv", [["report", "aged", "--help"], ["request", "accept", "--help"],
                                  ["diff", "--help"], ["queue", "--help"]])
def test_a_subcommand_help_typed_with_the_core_loads_no_database(argv: list[str]) -> None:
    assert _among(_modules_after(*argv), NOT_FOR_HELP) == []


def test_the_defaults_named_again_for_help_are_the_cores() -> None:
    """What a command names again, so that its `--help` does without the core."""
    from relance.commands import demo_cmd, report_cmd
    from relance.demo import DEFAULT_DIRECTORY
    from relance.engine.aging import GROUPINGS
    from relance.engine.statement import DEFAULT_DAYS

    assert tuple(GROUPINGS) == report_cmd.GROUPINGS
    assert report_cmd.DEFAULT_DAYS == DEFAULT_DAYS
    assert demo_cmd.DEFAULT_DIRECTORY == DEFAULT_DIRECTORY


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    subprocess.run([sys.executable, "-m", "relance", "init", str(folder)], check=True,
                   capture_output=True, timeout=120)
    subprocess.run([sys.executable, "-m", "relance", "db", "upgrade"], cwd=folder,
                   check=True, capture_output=True, timeout=120)
    return folder


def test_a_command_over_an_up_to_date_store_runs_no_migration_machinery(
        workspace: Path) -> None:
    """`relance queue` opens the store: at the newest revision, one query says so, and
    options left out build no Pydantic adapter."""
    loaded = _modules_after("queue", cwd=workspace)
    assert "relance.store.db" in loaded
    assert _among(loaded, MIGRATING) == []
    assert _among(loaded, ("pydantic",)) == []
    assert _among(loaded, ("alembic", "relance.store.migrate", "sqlalchemy")) != []
    # Nor PostgreSQL's dialect and driver, on SQLite: the partial indexes' conditions no
    # longer make the models import it (`OpenOnlyIndex`).
    assert _among(loaded, ("sqlalchemy.dialects.postgresql", "psycopg")) == []


def test_db_current_on_an_up_to_date_store_reads_no_migration_script(workspace: Path) -> None:
    """Nor the ORM and the models: it reads one table through an engine."""
    loaded = _modules_after("db", "current", cwd=workspace)
    assert _among(loaded, MIGRATING) == []
    assert _among(loaded, ("sqlalchemy.orm", "relance.store.models")) == []


def test_the_head_read_from_the_scripts_is_alembics() -> None:
    assert code_head() == head_revision(make_engine("sqlite://"))


def _opened_in_a_fresh_process(db_url: tuple[str, str | None]) -> list[str]:
    script = ("import json, sys\nfrom relance.store.db import open_store\n"
              "open_store(sys.argv[1], schema=sys.argv[2] or None).dispose()\n"
              "print(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", script, db_url[0], db_url[1] or ""],
                          capture_output=True, text=True, check=True, timeout=120)
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_opening_an_up_to_date_store_imports_no_migration_machinery(
        db_url: tuple[str, str | None]) -> None:
    open_store(db_url[0], schema=db_url[1]).dispose()
    assert _among(_opened_in_a_fresh_process(db_url), MIGRATING) == []


def test_a_store_one_revision_behind_is_still_migrated_on_opening(
        db_url: tuple[str, str | None]) -> None:
    engine = make_engine(db_url[0], schema=db_url[1])
    try:
        head = head_revision(engine)
        command.upgrade(alembic_config(engine), "head")
        previous = f"{int(head) - 1:04d}"  # the revisions are numbered 0001, 0002, ...
        command.downgrade(alembic_config(engine), previous)
        assert current_revision(engine) == previous
        loaded = _opened_in_a_fresh_process(db_url)
        assert "alembic.command" in loaded
        assert current_revision(engine) == head
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        engine.dispose()


# ---------------------------------------------------------------- the rule parser's cache

_GRAMMAR_OPTIONS = {"parser": "lalr", "lexer": "contextual", "propagate_positions": True,
                    "maybe_placeholders": True}


def _parse_with(parser: Lark) -> tuple[str, list[str]]:
    """The tree of the standard rules and the comments the lexer's callback kept."""
    text = (Path(relance.rules.__file__).parent / "standard.rules").read_text("utf-8")
    dsl_parser._SINK.comments = []
    tree = parser.parse(text).pretty()
    return tree, [token.value for token in dsl_parser._SINK.comments]


def test_the_rule_parser_is_built_once_then_loaded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next process loads the parser the first one built, and it reads the same
    trees and keeps the same comments as a parser built from the grammar."""
    monkeypatch.setenv(user_cache.ENV_CACHE_FOLDER, str(tmp_path / "cache"))
    grammar = grammar_text()
    built = parser_cache.cached_parser(grammar, _GRAMMAR_OPTIONS, {"COMMENT": _keep})
    assert [path.name for path in (tmp_path / "cache").iterdir()] == [
        parser_cache.parser_file(grammar, _GRAMMAR_OPTIONS, tmp_path / "cache").name]

    def analysed_again(*args: object, **kwargs: object) -> None:
        raise AssertionError("the grammar was analysed again")

    monkeypatch.setattr(lark.lark, "load_grammar", analysed_again)
    loaded = parser_cache.cached_parser(grammar, _GRAMMAR_OPTIONS, {"COMMENT": _keep})
    tree, comments = _parse_with(loaded)
    assert (tree, comments) == _parse_with(built)
    assert comments and all(comment.startswith("#") for comment in comments)


def test_a_damaged_parser_file_is_built_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(user_cache.ENV_CACHE_FOLDER, str(tmp_path))
    grammar = grammar_text()
    saved = parser_cache.parser_file(grammar, _GRAMMAR_OPTIONS, tmp_path)
    saved.write_bytes(b"\x80\x04not a parser")
    parser = parser_cache.cached_parser(grammar, _GRAMMAR_OPTIONS, {"COMMENT": _keep})
    assert _parse_with(parser)[1]
    assert saved.stat().st_size > 1000  # replaced by the parser built


def test_a_cache_folder_others_can_write_is_not_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file is unpickled: a parser another user could have written is never read."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv(user_cache.ENV_CACHE_FOLDER, str(shared))
    assert user_cache.cache_folder() is None
    parser_cache.cached_parser(grammar_text(), _GRAMMAR_OPTIONS, {"COMMENT": _keep})
    assert list(shared.iterdir()) == []


# ------------------------------------------------------------ the translations, merged

def _chained(po_files: list[Path]) -> gettext.NullTranslations:
    """The domains one after the other, as `translations` chains them without a cache."""
    first = i18n._load_domain(po_files[0])
    for po_file in po_files[1:]:
        first.add_fallback(i18n._load_domain(po_file))
    return first


@pytest.fixture
def locale_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The French catalogs copied (`.po` and `.mo`, times kept), and a cache folder."""
    copy = tmp_path / "locale"
    shutil.copytree(i18n.LOCALE_DIR, copy)
    monkeypatch.setattr(i18n, "LOCALE_DIR", copy)
    monkeypatch.setenv(user_cache.ENV_CACHE_FOLDER, str(tmp_path / "cache"))
    return copy


def test_the_merged_catalog_answers_as_the_chain_of_domains(locale_copy: Path) -> None:
    files = i18n.domains("fr")
    merged, chain = i18n._kept_catalog("fr", files), _chained(files)
    assert merged is not None
    checked = 0
    for po_file in files:
        for message in i18n_catalogs.read_catalog(po_file):
            if not message.id:
                continue
            if isinstance(message.id, str):
                assert merged.gettext(message.id) == chain.gettext(message.id)
            else:
                one, many = message.id[0], message.id[1]
                for count in (0, 1, 2, 5):
                    assert merged.ngettext(one, many, count) == chain.ngettext(one, many,
                                                                               count)
            checked += 1
    assert checked > 1000
    assert merged.gettext("not a sentence of relance") == "not a sentence of relance"
    assert merged.ngettext("{n} thing", "{n} things", 2) == "{n} things"


def test_the_merged_catalog_is_read_back_until_a_catalog_changes(
        locale_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = i18n.domains("fr")
    assert i18n._kept_catalog("fr", files) is not None

    def not_read(po_file: Path) -> gettext.GNUTranslations:
        raise AssertionError(f"{po_file.name} was read again")

    monkeypatch.setattr(i18n, "_load_domain", not_read)
    kept = i18n._kept_catalog("fr", files)
    assert kept is not None and kept.gettext("Options:") == "Options :"
    # A catalog compiled since: the domains are merged again.
    mo_file = i18n.compiled_path(files[0])
    os.utime(mo_file, ns=(mo_file.stat().st_atime_ns, mo_file.stat().st_mtime_ns + 10**9))
    with pytest.raises(AssertionError, match="read again"):
        i18n._kept_catalog("fr", files)


def test_a_catalog_older_than_its_sentences_is_not_merged(locale_copy: Path) -> None:
    """A `.po` edited since its `.mo` was compiled: the chain compiles it in memory."""
    files = i18n.domains("fr")
    po_file = files[-1]
    mo_time = i18n.compiled_path(po_file).stat().st_mtime_ns
    os.utime(po_file, ns=(mo_time + 10**9, mo_time + 10**9))
    assert i18n._kept_catalog("fr", files) is None


def test_a_damaged_compiled_catalog_is_compiled_again_from_its_sentences(
        locale_copy: Path) -> None:
    """A `.mo` cut short (a copy interrupted, a disk full): the program still starts and
    speaks French, from the `.po` beside it, rather than failing with a traceback."""
    po_file = next(p for p in i18n.domains("fr") if p.name == "cli.po")
    mo_file = i18n.compiled_path(po_file)
    mo_file.write_bytes(mo_file.read_bytes()[:2])
    assert i18n._load_domain(po_file).gettext("Usage: ") == "Utilisation : "
    mo_file.write_bytes(b"not a catalog at all")
    merged = i18n._kept_catalog("fr", i18n.domains("fr"))
    assert merged is not None and merged.gettext("Usage: ") == "Utilisation : "
