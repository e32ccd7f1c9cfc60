"""`relance run --json` and `simulate --json / --format csv` list every communication with
its items, and docs/schema/ describes the documents: on the worked example's book, on
SQLite and PostgreSQL, through the real command line."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import select

from relance.commands.simulate_view import CSV_COLUMNS
from relance.store.db import Store, open_store
from relance.store.models import Action, ActionState, Channel, Stage
from tests.cli import run_cli

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schema"
DAY = "2026-11-22"
RULES = "rules/franchise.rules"
# A third invoice of F-0001, overdue enough for the letter and the call of the run's day.
LATE_INVOICE = ("JCDA,F-0001,Body Salon Lyon Bellecour,franchisee,gerance.lyon@example.fr,"
                "+33478000001,FR,fr,transfer,alice,FA-2026-0999,2026-09-01,2026-10-01,"
                "500.00,EUR,0,ARA")


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    return loaded


def valid(name: str, document: Any) -> Any:
    """The document, once the schema `name` accepts it (the schema itself checked)."""
    jsonschema.Draft202012Validator.check_schema(schema(name))
    jsonschema.Draft202012Validator(schema(name)).validate(document)
    return document


@dataclass
class Book:
    root: Path
    url: str
    store: Store
    capsys: pytest.CaptureFixture[str]

    def run(self, *args: str) -> tuple[int, str, str]:
        return run_cli(self.capsys, "-w", str(self.root), "--db", self.url, *args)

    def json(self, *args: str) -> Any:
        code, out, err = self.run(*args, "--json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def book(db_url: tuple[str, str | None], tmp_path: Path, examples_dir: Path,
         capsys: pytest.CaptureFixture[str]) -> Iterator[Book]:
    """The worked example: its invoices and its franchise rules only."""
    url, schema_name = db_url
    store = open_store(url, schema=schema_name)  # creates and migrates the database
    cli_url = url if schema_name is None else f"{url}?options=-csearch_path%3D{schema_name}"
    root = tmp_path / "ws"
    try:
        assert run_cli(capsys, "init", str(root))[0] == 0
        for path in (root / "rules").iterdir():
            if not path.name.startswith("franchise.rules"):
                path.unlink()
        opened = Book(root, cli_url, store, capsys)
        code, _, err = opened.run("import", "invoices", str(examples_dir / "invoices.csv"))
        assert code == 0, err
        yield opened
    finally:
        store.dispose()


def stored_keys(book: Book) -> dict[int, str]:
    """Every action in the database: id -> idempotency key."""
    with book.store.session() as session:
        return {a.id: a.idempotency_key for a in session.scalars(select(Action))}


def by_debtor(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["debtor"], c["channel"]): c for c in document["communications"]}


def flattened(communications: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The flat list of actions as docs/json-output.md says to derive it."""
    return [{"date": c["date"], "policy": i["policy"], "rule": i["rule"],
             "creditor": c["creditor"], "debtor": c["debtor"], "invoice": i["invoice"],
             "channel": c["channel"], "template": c["template"], "tone": c["tone"],
             "target_stage": c["target_stage"], "needs_approval": c["needs_approval"],
             "communication_id": c["id"], "communication_key": c["key"]}
            for c in communications for i in c["items"]]


# --------------------------------------------------------------------------- run


def test_a_dry_run_lists_what_it_would_queue_and_the_run_queues_it(book: Book) -> None:
    dry = valid("run", book.json("run", "--on", DAY, "--dry-run"))
    assert dry["dry_run"] is True and dry["run_id"] is None
    assert stored_keys(book) == {}  # the dry run kept nothing
    found = by_debtor(dry)
    assert sorted(found) == [("F-0001", "call"), ("F-0001", "letter"), ("F-0003", "call"),
                             ("F-0003", "letter"), ("F-0004", "email"), ("F-0005", "letter")]
    letter = found[("F-0001", "letter")]
    assert (letter["id"], letter["creditor"], letter["template"], letter["tone"]) == (
        None, "JCDA", "amiable_2", "soft")
    assert (letter["state"], letter["needs_approval"], letter["extended"]) == (
        "approved", False, False)
    # The unnamed rule is named by its action; its line in the file is where it is written.
    assert [(i["invoice"], i["policy"], i["rule"], i["rule_file"], i["rule_line"],
             i["balance_minor"], i["balance"], i["currency"]) for i in letter["items"]] == [
        ("FA-2026-0001", "franchise", "letter amiable_2", RULES, 12, 125000, "1250.00", "EUR"),
        ("FA-2026-0114", "franchise", "letter amiable_2", RULES, 12, 98040, "980.40", "EUR")]
    call = found[("F-0001", "call")]
    assert call["priority"] == "high"
    assert {(i["invoice"], i["policy"], i["rule"]) for i in call["items"]} == {
        ("FA-2026-0001", "calls", "call_big"), ("FA-2026-0114", "calls", "call_big")}
    chf = found[("F-0005", "letter")]["items"]
    assert [(i["balance_minor"], i["balance"], i["currency"]) for i in chf] == [
        (150000, "1500.00", "CHF")]
    # The flat list is the items with their communication's fields, in the same order.
    assert dry["actions"] == flattened(dry["communications"])
    assert len(dry["actions"]) == dry["items_created"] == 8

    done = valid("run", book.json("run", "--on", DAY))
    stored = stored_keys(book)
    assert {c["id"]: c["key"] for c in done["communications"]} == stored
    # The run queued what the dry run listed: same keys, same items; now with ids.
    assert ([(c["key"], c["items"]) for c in done["communications"]]
            == [(c["key"], c["items"]) for c in dry["communications"]])
    assert {a["communication_id"] for a in done["actions"]} == set(stored)
    # The counts of the document before this change are still there.
    assert (done["actions_created"], done["by_channel"]) == (
        6, {"call": 2, "email": 1, "letter": 3})

    again = valid("run", book.json("run", "--on", DAY))
    assert (again["communications"], again["actions"]) == ([], [])


def test_a_run_that_adds_to_the_days_letter_lists_it_extended(book: Book,
                                                              tmp_path: Path) -> None:
    first = book.json("run", "--on", DAY)
    letter_id = by_debtor(first)[("F-0001", "letter")]["id"]
    late = tmp_path / "late.csv"
    late.write_text("creditor,debtor_ref,debtor_name,segment,email,phone,country,language,"
                    "payment_method,sales_rep,invoice_number,issue_date,due_date,amount,"
                    "currency,paid_amount,region\n" + LATE_INVOICE + "\n", encoding="utf-8")
    assert book.run("import", "invoices", str(late))[0] == 0

    dry = valid("run", book.json("run", "--on", DAY, "--dry-run"))
    assert [(c["debtor"], c["channel"], c["extended"], c["id"])
            for c in dry["communications"]] == [
        ("F-0001", "letter", True, letter_id), ("F-0001", "call", True, letter_id + 1)]

    second = valid("run", book.json("run", "--on", DAY))
    letter = by_debtor(second)[("F-0001", "letter")]
    assert (letter["id"], letter["extended"]) == (letter_id, True)
    # An extended letter lists everything it now holds, the earlier invoices too.
    assert [i["invoice"] for i in letter["items"]] == [
        "FA-2026-0001", "FA-2026-0114", "FA-2026-0999"]
    assert second["actions_extended"] == 2 and second["actions_created"] == 0


# --------------------------------------------------------------------------- simulate


def test_simulate_links_each_item_to_its_communication_in_json_and_csv(book: Book) -> None:
    span = ("--from", DAY, "--until", "2026-12-22")
    found = valid("simulate", book.json("simulate", *span))
    assert stored_keys(book) == {}  # a simulation keeps nothing
    keys = [c["key"] for c in found]
    assert len(keys) == len(set(keys)) and all(c["id"] is None for c in found)
    formal = [c for c in found if c["template"] == "mise_en_demeure"
              and c["debtor"] == "F-0001"]
    assert [(c["date"], c["state"], c["needs_approval"]) for c in formal] == [
        ("2026-12-07", "proposed", True)]
    assert [(i["invoice"], i["rule"], i["rule_line"]) for i in formal[0]["items"]] == [
        ("FA-2026-0001", "mise_en_demeure", 14), ("FA-2026-0114", "mise_en_demeure", 14)]
    escalations = [c for c in found if c["channel"] == "escalate"]
    assert {(c["date"], c["debtor"], c["target_stage"]) for c in escalations} >= {
        ("2026-12-22", "F-0001", "amicable")}
    # The summary keys of before are the items' own, gathered.
    for communication in found:
        assert communication["invoices"] == sorted({i["invoice"]
                                                    for i in communication["items"]})
        assert communication["rules"] == sorted({f"{i['policy']}/{i['rule']}"
                                                 for i in communication["items"]})

    code, out, err = book.run("simulate", *span, "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["communication_key"], r["invoice"], r["policy"], r["rule"], r["rule_line"],
             r["balance_minor"], r["balance"], r["needs_approval"]) for r in rows] == [
        (c["key"], i["invoice"], i["policy"], i["rule"], str(i["rule_line"]),
         str(i["balance_minor"]), i["balance"], str(c["needs_approval"]).lower())
        for c in found for i in c["items"]]


# --------------------------------------------------------------------------- the schemas


def test_the_schemas_refuse_a_broken_document(book: Book) -> None:
    document = valid("run", book.json("run", "--on", DAY, "--dry-run"))
    breakages: dict[str, Callable[[dict[str, Any]], object]] = {
        "an item without its rule": lambda d: d["communications"][0]["items"][0].pop("rule"),
        "an amount as a float": lambda d: d["communications"][0]["items"][0].update(
            balance_minor=1250.5),
        "an amount with a comma": lambda d: d["communications"][0]["items"][0].update(
            balance="1 250,00"),
        "an unknown channel": lambda d: d["actions"][0].update(channel="fax"),
        "a communication with no items": lambda d: d["communications"][0].update(items=[]),
        "a key nobody documented": lambda d: d["communications"][0].update(colour="red"),
        "no flat list": lambda d: d.pop("actions"),
    }
    for what, breaking in breakages.items():
        broken = copy.deepcopy(document)
        breaking(broken)
        with pytest.raises(jsonschema.ValidationError):
            valid("run", broken)
            pytest.fail(f"the run schema accepted {what}")
    simulated = valid("simulate", book.json("simulate", "--from", DAY, "--until", DAY))
    simulated[0]["id"] = 7  # a simulation keeps no action: no id
    with pytest.raises(jsonschema.ValidationError):
        valid("simulate", simulated)


def test_both_schemas_describe_a_communication_alike_and_as_the_book_stores_it() -> None:
    run, simulate = schema("run"), schema("simulate")
    assert run["$defs"]["communication"] == simulate["$defs"]["communication"]
    assert run["$defs"]["item"] == simulate["$defs"]["item"]
    properties = run["$defs"]["communication"]["properties"]
    assert properties["channel"]["enum"] == [c.value for c in Channel]
    assert set(properties["state"]["enum"]) == {s.value for s in ActionState}
    assert properties["target_stage"]["enum"] == [*(s.value for s in Stage), None]


def test_the_examples_of_the_page_are_documents_the_schemas_accept() -> None:
    page = (SCHEMAS.parent / "json-output.md").read_text(encoding="utf-8")
    examples = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", page, re.S)]
    assert [type(example) for example in examples] == [dict, list]
    valid("run", examples[0])
    valid("simulate", examples[1])
    columns = page[page.index("## `relance simulate --format csv`"):].split("```")[1]
    assert [name.strip() for name in columns.split(",")] == list(CSV_COLUMNS)
