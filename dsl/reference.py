"""Pieces of the language reference generated from the code, so `docs/language.md`
cannot drift from it (a test compares them)."""

from __future__ import annotations

from relance.dsl.fields import FIELDS, FieldType

_TYPE_NAMES = {
    FieldType.DURATION: "duration",
    FieldType.MONEY: "money",
    FieldType.NUMBER: "number",
    FieldType.DATE: "date",
    FieldType.TEXT: "text",
    FieldType.ENUM: "word",
    FieldType.FLAG: "yes/no",
    FieldType.TAGS: "set of words",
}


def fields_table() -> str:
    """The Markdown table of every field: name, type, what it is about, meaning."""
    lines = ["| field | type | of | meaning |", "| --- | --- | --- | --- |"]
    for spec in FIELDS.values():
        meaning = spec.doc
        if spec.values:
            meaning += " — one of " + ", ".join(f"`{value}`" for value in spec.values)
        lines.append(f"| `{spec.name}` | {_TYPE_NAMES[spec.type]} | {spec.entity} | "
                     f"{meaning} |")
    lines.append("| `attr.NAME` | text | invoice | a custom column from the import "
                 "(`=`, `!=`, `in`) |")
    return "\n".join(lines)
