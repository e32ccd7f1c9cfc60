"""Structured logs: one JSON object per line, one line per job start and end.

A line reads `{"ts": ..., "level": "info", "event": "job.end", "job": "daily_run",
"day": "2026-03-10", "status": "done", "duration_ms": 812, "counts": {...}}`; log
collectors (journald, Loki, CloudWatch) index the fields without parsing prose.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
from pathlib import Path
from typing import Any, TextIO


class JsonLog:
    """Writes JSON lines to a stream (stderr by default) or appends them to a file."""

    def __init__(self, stream: TextIO | None = None, path: Path | None = None,
                 base: dict[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._owned: TextIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._owned = path.open("a", encoding="utf-8", buffering=1)
        self.stream: TextIO = self._owned or stream or sys.stderr
        self.base = dict(base or {})
        self.lines: list[dict[str, Any]] = []  # kept for `--once` and tests
        self.keep = False

    def emit(self, event: str, *, level: str = "info", **fields: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "level": level,
            "event": event,
            **self.base,
            **fields,
        }
        line = json.dumps(entry, ensure_ascii=False, default=str, sort_keys=False)
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()
            if self.keep:
                self.lines.append(entry)
        return entry

    def info(self, event: str, **fields: Any) -> dict[str, Any]:
        return self.emit(event, level="info", **fields)

    def warning(self, event: str, **fields: Any) -> dict[str, Any]:
        return self.emit(event, level="warning", **fields)

    def error(self, event: str, **fields: Any) -> dict[str, Any]:
        return self.emit(event, level="error", **fields)

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()
            self._owned = None
