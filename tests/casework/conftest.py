from __future__ import annotations

import pytest

from relance.store.db import Store
from tests.casework.factory import Book, build_book


@pytest.fixture
def book(store: Store) -> Book:
    with store.transaction() as session:
        return build_book(session)
