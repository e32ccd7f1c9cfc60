"""Alembic environment: the engine comes from `relance.store.migrate`, never from an ini file."""

from __future__ import annotations

from alembic import context

from relance.store.migrate import include_object
from relance.store.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object(connection.dialect.name),
    )
    context.run_migrations()
