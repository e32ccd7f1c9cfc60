"""What every screen of the terminal UI works with: the store, who is acting, and today."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from relance.engine.portfolios import portfolio_size
from relance.engine.roles import Actor, Policy, workspace_policy
from relance.engine.scope import creditor_ids
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
        policy = workspace_policy(workspace)
        return cls(store, workspace, policy.actor(user), policy, clock or utcnow)

    @property
    def now(self) -> dt.datetime:
        return self.clock()

    @property
    def creditor_ids(self) -> tuple[int, ...] | None:
        """The creditors the user may see (engine/scope.py); None: all of them. Read at
        each use (one indexed query, for a limited user only): a creditor added while
        the desk is open is seen as soon as it exists."""
        if self.actor.creditors is None:
            return None
        with self.reading() as session:
            return tuple(creditor_ids(session, self.actor) or ())

    def portfolio_size(self) -> int:
        """How many debtors the user's portfolio holds (0: none, they work all they see)."""
        with self.reading() as session:
            return portfolio_size(session, self.actor.name, self.actor)

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
