"""`relance audit export` and `relance audit check`: a debtor's or a period's audit trail
as a signed JSON Lines file, and the check of such a file.

The file is one JSON document per line: a header (what was exported, when, by whom, the
head of the whole chain at that moment), one line per event exactly as the log holds it
(with its `prev_hash` and `hash`), and a last line carrying an HMAC-SHA256 of every byte
before it, made with the workspace's signing key. The signature shows that the file left
this workspace as it is; each event's own hash, recomputed from its fields
(`relance.store.audit.entry_hash`), shows that the event is the one the chain holds, and
the header's chain head lets `relance audit verify --known-head` prove later that the log
was not cut short since.

The key is 32 random bytes written in hex to a file readable by its owner only, created
on the first export. Whoever holds it can sign, so it stays in the workspace and out of
the exported files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from relance.kernel.errors import ConfigError, UsageError
from relance.kernel.i18n import _
from relance.store.audit import GENESIS_HASH, entry_hash
from relance.store.models import Creditor, Debtor, Event

FORMAT = "relance-audit-export"
FORMAT_VERSION = 1
ALGORITHM = "HMAC-SHA256"
STREAM_BATCH = 5_000


# --------------------------------------------------------------------------- the key


def key_id(key: bytes) -> str:
    """A short public name of a key, written in the signature line: it says which key
    signed without giving the key away."""
    return hashlib.sha256(b"relance audit key id\0" + key).hexdigest()[:16]


def read_key(path: Path) -> bytes:
    """The signing key in `path`; a missing or damaged file is refused by name."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise UsageError(_("{path}: no signing key here: this workspace never exported an "
                           "audit trail (relance audit export creates the key)").format(
            path=path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(_("{path}: the signing key cannot be read ({error})").format(
            path=path, error=exc)) from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise ConfigError(_("{path}: not a signing key (expected at least 32 hexadecimal "
                            "digits on one line)").format(path=path))
    return key


def key_for_signing(path: Path) -> bytes:
    """The signing key in `path`, created (owner-only) when there is none yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another export created it meanwhile: use that one
            return read_key(path)
        with os.fdopen(handle, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32) + "\n")
        # A workspace is often a git repository (its rules are): never commit the key.
        ignore = path.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text(path.name + "\n", encoding="ascii")
    return read_key(path)


# --------------------------------------------------------------------------- exporting


@dataclass(frozen=True)
class Selection:
    """Which events an export holds. Ids are the database's; the codes and the period
    are written in the header as the person asked."""

    debtor_id: int | None = None
    debtor_ref: str | None = None
    creditor_id: int | None = None
    creditor_code: str | None = None
    first: dt.date | None = None
    last: dt.date | None = None
    timezone: dt.tzinfo = dt.UTC
    # The creditors the exporting user may see; None: every creditor, and the events
    # of no creditor (runs, the workspace's own work) with them.
    visible: list[int] | None = None

    def statement(self) -> Select[Any]:
        query = select(Event).order_by(Event.id)
        if self.debtor_id is not None:
            query = query.where(Event.debtor_id == self.debtor_id)
        if self.creditor_id is not None:
            query = query.where(Event.creditor_id == self.creditor_id)
        if self.first is not None:
            query = query.where(Event.at >= self._moment(self.first))
        if self.last is not None:
            query = query.where(Event.at < self._moment(self.last + dt.timedelta(days=1)))
        if self.visible is not None:
            query = query.where(Event.creditor_id.in_(self.visible))
        return query

    def _moment(self, day: dt.date) -> dt.datetime:
        """The start of `day` in the selection's time zone, in UTC as the log stores
        its moments (SQLite compares the stored text, written in UTC)."""
        return dt.datetime.combine(day, dt.time(), self.timezone).astimezone(dt.UTC)

    def to_json(self) -> dict[str, Any]:
        return {"debtor": self.debtor_ref, "creditor": self.creditor_code,
                "from": self.first.isoformat() if self.first else None,
                "until": self.last.isoformat() if self.last else None,
                "timezone": str(self.timezone),
                "limited_to_creditors": self.visible is not None}


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    events: int
    head_hash: str
    key_id: str


def _line(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _stored_moment(at: dt.datetime) -> str:
    """The moment as `entry_hash` hashed it."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC).isoformat()


class _Names:
    """Creditor codes and debtor references by id, each read once."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.creditors: dict[int, str] = {}
        self.debtors: dict[int, str] = {}

    def creditor(self, creditor_id: int | None) -> str | None:
        if creditor_id is None:
            return None
        if creditor_id not in self.creditors:
            found = self.session.get(Creditor, creditor_id)
            self.creditors[creditor_id] = found.code if found else str(creditor_id)
        return self.creditors[creditor_id]

    def debtor(self, debtor_id: int | None) -> str | None:
        if debtor_id is None:
            return None
        if debtor_id not in self.debtors:
            found = self.session.get(Debtor, debtor_id)
            self.debtors[debtor_id] = found.ref if found else str(debtor_id)
        return self.debtors[debtor_id]


def event_document(event: Event, names: _Names) -> dict[str, Any]:
    return {"id": event.id, "at": _stored_moment(event.at), "actor": event.actor,
            "kind": event.kind, "creditor": names.creditor(event.creditor_id),
            "debtor": names.debtor(event.debtor_id),
            "subject": {"type": event.subject_type, "id": event.subject_id},
            "data": event.data, "prev_hash": event.prev_hash, "hash": event.hash}


def _write_signed(out: IO[bytes], key: bytes, lines: Iterator[bytes]) -> tuple[int, str]:
    """Write `lines` then the signature of their bytes; (events written, signature)."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    count = -1  # the header is not an event
    for line in lines:
        out.write(line)
        mac.update(line)
        count += 1
    signature = mac.hexdigest()
    out.write(_line({"signature": {"algorithm": ALGORITHM, "key_id": key_id(key),
                                   "events": count, "value": signature}}))
    return count, signature


def export_trail(session: Session, selection: Selection, path: Path, key: bytes, *,
                 exported_by: str, now: dt.datetime | None = None) -> ExportSummary:
    """Write the selected events to `path` (replaced whole, never left half-written)."""
    head = session.execute(select(Event.id, Event.hash).order_by(Event.id.desc())
                           .limit(1)).first()
    head_hash = head.hash if head else GENESIS_HASH
    header: dict[str, Any] = {"format": FORMAT, "version": FORMAT_VERSION,
              "exported_at": (now or dt.datetime.now(dt.UTC)).isoformat(),
              "exported_by": exported_by, "selection": selection.to_json(),
              "chain_head": {"event_id": head.id if head else None,
                             "hash": head_hash}}
    names = _Names(session)

    def lines() -> Iterator[bytes]:
        yield _line(header)
        events = session.scalars(selection.statement()
                                 .execution_options(yield_per=STREAM_BATCH))
        for event in events:
            yield _line(event_document(event, names))

    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as out:
            count, _signature = _write_signed(out, key, lines())
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise UsageError(_("{path}: cannot write the export ({error})").format(
            path=path, error=exc.strerror or exc)) from None
    return ExportSummary(path, count, head_hash, key_id(key))


# --------------------------------------------------------------------------- checking


@dataclass
class CheckReport:
    """What `check_export` found: the header, the events read, the problems by line."""

    path: Path
    header: dict[str, Any]
    events: int = 0
    signed_by: str = ""
    problems: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"file": str(self.path), "ok": self.ok, "events": self.events,
                "key_id": self.signed_by, "header": self.header,
                "problems": [{"line": line, "problem": text} for line, text in self.problems]}


def _event_problem(document: Any) -> str | None:
    """Why this line is not an event whose hash matches its content, or None."""
    try:
        at = dt.datetime.fromisoformat(document["at"])
        subject = document["subject"]
        expected = entry_hash(document["prev_hash"], at, document["actor"], document["kind"],
                              subject["type"], subject["id"], document["data"])
    except (KeyError, TypeError, ValueError):
        return _("not an event of the log (a field is missing or malformed)")
    if expected != document["hash"]:
        return _("event {id}: its content does not match its hash (changed since it was "
                 "written)").format(id=document.get("id"))
    return None


def check_export(path: Path, key: bytes) -> CheckReport:
    """Check the signature of an exported file and each event's hash against its fields."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(_("{path}: cannot read the file ({error})").format(
            path=path, error=exc.strerror or exc)) from None
    lines = raw.splitlines(keepends=True)
    try:
        header = json.loads(lines[0]) if lines else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise UsageError(_("{path}:1: not an audit trail exported by relance (the first line "
                           "is not its header)").format(path=path))
    report = CheckReport(path, header)
    try:
        last = json.loads(lines[-1])
        signature = last["signature"]
        claimed = str(signature["value"])
        report.signed_by = str(signature.get("key_id", ""))
    except (ValueError, KeyError, TypeError):
        report.problems.append((len(lines), _("the last line is not the signature: the file "
                                              "was cut short or added to")))
        return report
    mac = hmac.new(key, b"".join(lines[:-1]), hashlib.sha256).hexdigest()
    if report.signed_by and report.signed_by != key_id(key):
        report.problems.append((len(lines), _("signed with another key ({theirs}) than this "
                                              "workspace's ({ours})").format(
            theirs=report.signed_by, ours=key_id(key))))
    elif not hmac.compare_digest(mac, claimed):
        report.problems.append((len(lines), _("the signature does not match the file's "
                                              "content: it was changed after the export")))
    for number, line in enumerate(lines[1:-1], start=2):
        try:
            document = json.loads(line)
        except ValueError:
            report.problems.append((number, _("not JSON")))
            continue
        problem = _event_problem(document)
        if problem is not None:
            report.problems.append((number, problem))
        report.events += 1
    return report
