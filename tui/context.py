"""What every screen of the terminal UI works with: the store, who is acting, and today."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from relance.engine.roles import Actor, Policy, load_policy
from relance.kernel.workspace import Workspace
from relance.store.db import Store
from relance.store.models import utcnow


@dataclass
class TuiContext:
    store: Store
    workspace: Workspace
    actor: Actor
    policy: Policy
    # Fixed in tests and screenshots so that ages and buckets do not drift.
    clock: Callable[[], dt.datetime] = field(default=utcnow)

    @classmethod
    def open(cls, store: Store, workspace: Workspace, user: str,
             clock: Callable[[], dt.datetime] | None = None) -> TuiContext:
        """Check `user` against the workspace's `[users]` and build the context."""
        policy = load_policy(workspace.section("users"), workspace.section("approval"),
                             label=workspace.config_label)
        return cls(store, workspace, policy.actor(user), policy, clock or utcnow)

    @property
    def now(self) -> dt.datetime:
        return self.clock()

    @property
    def today(self) -> dt.date:
        return self.clock().date()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self.store.session() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """One change and its event, committed together (the write lock taken first)."""
        with self.store.write_transaction() as session:
            yield session
