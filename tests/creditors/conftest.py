"""The desk's fixtures (a small book, the app under Textual's pilot, `async def` tests)
for the Creditors screen's tests."""

from tests.tui.conftest import (  # noqa: F401  (fixtures and the hook, found by name)
    desk_db,
    desk_store,
    make_app,
    pytest_pyfunc_call,
)
