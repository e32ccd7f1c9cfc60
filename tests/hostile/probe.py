"""A hostile probe: one attack, the family it belongs to, and what must come of it.

`refused`: the command exits 2 naming the file, the line or row and the field, and stores
nothing. `neutralised`: the input is accepted, and its dangerous part is inert in what
relance writes (escaped, quoted, not fetched, not executed). A probe that finds a hole
carries `hole`, the reason it is expected to fail until the product is mended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.hostile.bench import Bench


class Expect(StrEnum):
    REFUSED = "refused"
    NEUTRALISED = "neutralised"


@dataclass(frozen=True)
class Probe:
    family: str
    name: str
    expect: Expect
    check: Callable[[Bench], None]
    hole: str | None = None  # a known hole: the probe is an xfail(strict) until mended
    both_databases: bool = False  # also run on PostgreSQL (the stores differ)

    @property
    def id(self) -> str:
        return f"{self.family}/{self.name}"
