"""The campaign's judge: pure functions over what the store says and what was received.

An action is identified on the receiving side by a token of its own (an e-mail's
Message-ID, an SMS's phone number, a letter's debtor reference printed in a batch).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# States a dispatch may leave an action in at the end of a campaign; anything else
# (approved, retry_wait, in_flight) is work a clean dispatch should have finished.
SETTLED = frozenset({"sent", "uncertain", "failed"})


@dataclass(frozen=True)
class Verdict:
    """One channel on one database. `lost`: the store says sent (or left it unsettled,
    or says refused) and nothing of it arrived, or says failed although it arrived;
    `duplicated`: deliveries beyond the first; `in_doubt`: actions left uncertain, of
    which `in_doubt_delivered` did arrive; `listed`: every uncertain action is in the
    operator's list and nothing else is."""

    actions: int
    exactly_once: int
    lost: int
    duplicated: int
    in_doubt: int
    in_doubt_delivered: int
    refused: int
    listed: bool
    strangers: int = 0  # deliveries no action of the book accounts for

    @property
    def clean(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.listed and not self.strangers

    def __add__(self, other: Verdict) -> Verdict:
        return Verdict(self.actions + other.actions, self.exactly_once + other.exactly_once,
                       self.lost + other.lost, self.duplicated + other.duplicated,
                       self.in_doubt + other.in_doubt,
                       self.in_doubt_delivered + other.in_doubt_delivered,
                       self.refused + other.refused, self.listed and other.listed,
                       self.strangers + other.strangers)


EMPTY = Verdict(0, 0, 0, 0, 0, 0, 0, True)


def judge(states: Mapping[int, str], tokens: Mapping[int, str], received: Counter[str],
          listed_uncertain: Iterable[int]) -> Verdict:
    """Compare the final `states` of actions (id -> state) with `received` (token ->
    deliveries) through each action's token, and the uncertain actions with the ids
    `relance uncertain` lists."""
    exactly_once = lost = duplicated = in_doubt = in_doubt_delivered = refused = 0
    for action_id, state in states.items():
        got = received.get(tokens[action_id], 0)
        duplicated += max(got - 1, 0)
        exactly_once += got == 1
        if state == "uncertain":
            in_doubt += 1
            in_doubt_delivered += got > 0
        elif state == "failed":
            refused += 1
            lost += got > 0  # delivered, yet shown as refused: a resend would duplicate it
        elif state != "sent" or got == 0:
            lost += 1
    uncertain = {a for a, s in states.items() if s == "uncertain"}
    known = set(tokens.values())
    strangers = sum(n for token, n in received.items() if token not in known)
    return Verdict(len(states), exactly_once, lost, duplicated, in_doubt, in_doubt_delivered,
                   refused, set(listed_uncertain) & set(states) == uncertain, strangers)


# "unaccounted": deliveries of no action of the round (a fault too, told apart from a
# second delivery of a known action because its cause is elsewhere).
HEADER = ("database", "scenario", "channel", "actions", "once", "lost", "duplicated",
          "unaccounted", "in doubt", "refused", "all listed")


def table(rows: Iterable[tuple[str, str, str, Verdict]]) -> str:
    """A plain-text table, one line per (database, scenario, channel)."""
    lines = [HEADER]
    for database, scenario, channel, v in rows:
        doubt = f"{v.in_doubt} ({v.in_doubt_delivered} arrived)"
        lines.append((database, scenario, channel, str(v.actions), str(v.exactly_once),
                      str(v.lost), str(v.duplicated), str(v.strangers), doubt, str(v.refused),
                      "yes" if v.listed else "NO"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
           for line in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)
