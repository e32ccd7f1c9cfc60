"""`creditors.toml`: the creditors' identities kept in git beside the rules.

The file lives in the folder that holds `rules/` (the workspace's root unless
`[workspace] rules` points elsewhere), one table per creditor code:

```toml
[creditors.ACME]
name = "Acme Distribution SAS"
siren = "552100554"
address = ["12 rue des Tanneurs", "69002 Lyon"]
iban = "FR76 3000 6000 0112 3456 7890 189"
email = "recouvrement@acme.example"
languages = ["fr", "en"]
```

The keys are the fields of `creditor_fields.FIELDS`. Loading adds every creditor not
yet stored and, for those that are, sets the fields the file lists (a field the file
leaves out keeps its stored value). All or nothing: the first refused value refuses the
whole file, naming the file, the creditor and the field, and the caller's transaction
stores none of it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.engine.creditor_fields import BY_KEY, FieldRefused, unknown_field_message
from relance.engine.creditors import add_creditor, edit_creditor
from relance.engine.roles import Actor, require_credit_manager
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _
from relance.kernel.workspace import Workspace
from relance.store.models import Creditor

CREDITORS_FILE = "creditors.toml"  # not for people: a file name


def creditors_file(workspace: Workspace) -> Path:
    """Where `creditors.toml` is: beside the rules folder."""
    return workspace.rules_dir.parent / CREDITORS_FILE


@dataclass
class LoadReport:
    """What loading a file did: creditors added, changed (with their fields), unchanged."""

    path: Path
    added: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"file": str(self.path), "added": self.added, "updated": self.updated,
                "unchanged": self.unchanged}


def read_creditors_file(path: Path) -> dict[str, dict[str, Any]]:
    """The creditors of the file, by code, each a table of fields; a file that is not
    TOML or not shaped as `[creditors.CODE]` tables is refused, naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(_("{file}: no such file (write one [creditors.CODE] table per "
                           "creditor)").format(file=path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(_("{file}: cannot be read: {problem}").format(
            file=path, problem=exc)) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(_("{file}: not valid TOML: {problem}").format(
            file=path, problem=exc)) from None
    extra = sorted(set(document) - {"creditors"})
    if extra:
        raise UsageError(_("{file}: {key} is not known here: the file holds "
                           "[creditors.CODE] tables only").format(file=path, key=extra[0]))
    creditors: dict[str, dict[str, Any]] = document.get("creditors", {})
    if not isinstance(creditors, dict):
        raise UsageError(_("{file}: creditors must hold [creditors.CODE] tables").format(
            file=path))
    for code, table in creditors.items():
        if not isinstance(table, dict):
            raise UsageError(_("{file}: creditors.{code} must be a table "
                               "([creditors.{code}])").format(file=path, code=code))
        for key in table:
            if key not in BY_KEY:
                raise UsageError(_("{file}: [creditors.{code}] {problem}").format(
                    file=path, code=code, problem=unknown_field_message(key)))
    return creditors


def load_creditors_file(session: Session, actor: Actor, path: Path, *,
                        root: Path | None = None) -> LoadReport:
    """Add or update every creditor of the file, in the caller's transaction (see the
    module's docstring); `root` is the workspace, where logos must be."""
    require_credit_manager(actor, _("load creditors"))
    creditors = read_creditors_file(path)
    report = LoadReport(path)
    source = path.name
    known = set(session.scalars(select(Creditor.code).where(
        Creditor.code.in_(sorted(creditors)))))
    for code, table in creditors.items():
        try:
            if code in known:
                edited = edit_creditor(session, actor, code, table, root=root,
                                       source=source)
                if edited.changed:
                    report.updated[code] = edited.changed
                else:
                    report.unchanged.append(code)
            else:
                add_creditor(session, actor, {"code": code, **table}, root=root,
                             source=source)
                report.added.append(code)
        except FieldRefused as exc:
            raise UsageError(_("{file}: [creditors.{code}] {key}: {problem}").format(
                file=path, code=code, key=exc.field.key, problem=exc.problem)) from None
        except UsageError as exc:
            raise UsageError(_("{file}: [creditors.{code}] {problem}").format(
                file=path, code=code, problem=exc.message)) from None
    return report


__all__ = ["CREDITORS_FILE", "LoadReport", "creditors_file", "load_creditors_file",
           "read_creditors_file"]
