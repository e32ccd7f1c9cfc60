"""An import looks its keys (invoice numbers, debtor references, ids) up among what is
stored with `bulk.one_of`: on PostgreSQL one array parameter, unnested, whatever the
number of keys, so that the planner does not choose from statistics a book loaded a
moment before lacks; the same rows either way, whatever the keys hold."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from relance.store.db import Store
from relance.store.importing import import_invoices
from relance.store.importing.bulk import one_of
from relance.store.models import Invoice
from tests.importing.conftest import invoices, row, write_csv

# What an array's text form gives a meaning to, and what SQL quotes: each must be found
# as it is.
ODD_KEYS = ["A{1}", 'B"2"', "C,3", "D\\4", "E'5", "NULL", "Été 6", "F 7}", "{}"]


def test_a_reimport_finds_every_stored_key_whatever_it_holds(
        store: Store, tmp_path: Path) -> None:
    rows = [row(number, ref=f"R-{number}", name=f"Debtor {index}")
            for index, number in enumerate(ODD_KEYS)]
    path = write_csv(tmp_path / "odd.csv", rows)
    first = import_invoices(store, path)
    assert first.created == len(ODD_KEYS)
    again = import_invoices(store, path)
    assert (again.created, again.unchanged, again.debtors_created) == (0, len(ODD_KEYS), 0)
    assert set(invoices(store)) == set(ODD_KEYS)
    # A changed amount on one odd key is that invoice's, found by its number.
    rows[3] = row(ODD_KEYS[3], ref=f"R-{ODD_KEYS[3]}", name="Debtor 3", amount="250.00")
    changed = import_invoices(store, write_csv(tmp_path / "odd2.csv", rows))
    assert (changed.created, changed.updated) == (0, 1)
    assert invoices(store)[ODD_KEYS[3]]["amount_minor"] == 25_000


def test_one_of_selects_what_in_selects_with_one_parameter_on_postgresql(
        store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "many.csv",
                     [row(f"N-{k}", ref=f"R-{k % 7}") for k in range(40)] +
                     [row(key, ref="R-odd") for key in ODD_KEYS])
    import_invoices(store, path)
    wanted = [f"N-{k}" for k in range(0, 60, 3)] + ODD_KEYS[::2] + ["absent", "A{1"]
    with store.engine.connect() as conn:
        condition = one_of(conn, Invoice.__table__.c.number, wanted)
        found = set(conn.scalars(select(Invoice.number).where(condition)))
        assert found == set(wanted) & {f"N-{k}" for k in range(40)} | set(ODD_KEYS[::2])
        assert not list(conn.scalars(select(Invoice.number).where(
            one_of(conn, Invoice.__table__.c.number, []))))
        parameters = condition.compile(
            dialect=conn.dialect, compile_kwargs={"render_postcompile": True}).params
    assert len(parameters) == (1 if store.dialect == "postgresql" else len(wanted))
