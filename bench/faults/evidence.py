"""What a faulty round leaves behind for the person who must explain it: the actions
whose deliveries the checker could not account for, with their rows and their events,
and what the loopback servers received for them. Written as JSON beside the campaign,
because the round's database is thrown away with the round."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, select

from relance.store.db import Store
from relance.store.models import Action, Event

KEEP_DIR_ENV = "RELANCE_FAULTS_KEEP"


def suspects(tokens: Mapping[int, str], states: Mapping[int, str],
             received: Counter[str]) -> list[int]:
    """The actions delivered more than once, or `sent` and never delivered."""
    return sorted(action for action, token in tokens.items()
                  if received[token] > 1 or (states[action] == "sent" and not received[token]))


def _row(action: Action) -> dict[str, Any]:
    return {column.key: getattr(action, column.key)
            for column in inspect(Action).mapper.column_attrs}


def keep(store: Store, round_number: int, channel: str, actions: list[int],
         tokens: Mapping[int, str], received: Counter[str]) -> Path:
    """Write the evidence of one channel of one round; its path."""
    folder = Path(os.environ.get(KEEP_DIR_ENV, "faults-kept"))
    folder.mkdir(parents=True, exist_ok=True)
    with store.transaction() as session:
        found = []
        for action_id in actions:
            action = session.get(Action, action_id)
            events = session.scalars(
                select(Event).where(Event.subject_type == "action",
                                    Event.subject_id == str(action_id)).order_by(Event.id))
            found.append({
                "action": _row(action) if action is not None else None,
                "received": received[tokens[action_id]],
                "events": [{"at": event.at, "actor": event.actor, "kind": event.kind,
                            "data": event.data} for event in events],
            })
    path = folder / f"round-{round_number}-{channel}.json"
    path.write_text(json.dumps(found, indent=2, default=str), encoding="utf-8")
    return path
