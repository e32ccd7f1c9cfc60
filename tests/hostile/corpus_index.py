"""The whole corpus, family by family, in the order the report prints it."""

from __future__ import annotations

from tests.hostile import family_controls, family_files, family_output
from tests.hostile.probe import Probe

FAMILIES = [
    family_controls,
    family_files,
    family_output,
]

PROBES: list[Probe] = [probe for family in FAMILIES for probe in family.PROBES]
