"""The desk's tests here run under Textual's pilot, as those of tests/tui do."""

from tests.tui.conftest import pytest_pyfunc_call as pytest_pyfunc_call
