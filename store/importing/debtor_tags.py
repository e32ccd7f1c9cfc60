"""The debtors' tags at the end of an import: as the file's last values give them."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, delete, select

from relance.store.importing.bulk import chunks, insert_columns, one_of
from relance.store.importing.debtors import DebtorDraft
from relance.store.models import DebtorTag

tag_t = cast(Table, DebtorTag.__table__)


def write_tags(conn: Connection, drafts: dict[tuple[str, str], DebtorDraft],
               debtor_ids: dict[tuple[str, str], int],
               new_debtors: set[tuple[str, str]]) -> set[int]:
    """A new debtor's tags inserted, a known one's compared with what is stored and
    changed; returns the known debtors whose tags changed (a change of the debtor: new
    debtors are counted as created)."""
    added_ids: list[int] = []
    added_tags: list[str] = []
    wanted: dict[int, set[str]] = {}
    for key, draft in drafts.items():
        debtor_id = debtor_ids.get(key)
        if debtor_id is None:
            continue
        tags = draft.get("tags")
        if key not in new_debtors:
            wanted[debtor_id] = set(tags or ())
        elif tags:
            for tag in sorted(set(tags)):
                added_ids.append(debtor_id)
                added_tags.append(tag)
    held: dict[int, set[str]] = {debtor_id: set() for debtor_id in wanted}
    for chunk in chunks(list(wanted)):
        for debtor_id, tag in conn.execute(
                select(tag_t.c.debtor_id, tag_t.c.tag).where(
                    one_of(conn, tag_t.c.debtor_id, chunk))):
            held[debtor_id].add(tag)
    removed: list[dict[str, Any]] = [{"b_debtor": d, "b_tag": t}
                                     for d, tags in wanted.items()
                                     for t in sorted(held[d] - tags)]
    touched: set[int] = set()
    for debtor_id, tags in wanted.items():
        for tag in sorted(tags - held[debtor_id]):
            added_ids.append(debtor_id)
            added_tags.append(tag)
            touched.add(debtor_id)
    if removed:
        conn.execute(delete(tag_t).where(tag_t.c.debtor_id == bindparam("b_debtor"),
                                         tag_t.c.tag == bindparam("b_tag")), removed)
    insert_columns(conn, tag_t, {"debtor_id": added_ids, "tag": added_tags})
    return touched | {int(item["b_debtor"]) for item in removed}
