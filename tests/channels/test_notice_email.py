"""A formal notice e-mail says it was also sent by registered letter only when it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from relance.channels.preview import render_preview
from relance.store.db import Store
from relance.store.models import Action, ActionState, Debtor, Invoice
from tests.channels.factory import TODAY, add_action, make_workspace, standard_book

FR_CLAIM = "également adressée par lettre recommandée"


def _notice_email_text(store: Store, root: Path, letter: ActionState) -> str:
    """The preview of a formal-notice e-mail on the standard book's two invoices, beside
    the book's formal-notice letter on the same invoices, left in state `letter`."""
    ids = standard_book(store)
    with store.transaction() as session:
        notice_letter = session.get(Action, ids["action"])
        debtor = session.get(Debtor, ids["debtor"])
        invoices = [session.get(Invoice, ids["a"]), session.get(Invoice, ids["b"])]
        assert notice_letter is not None and debtor is not None
        notice_letter.state = letter
        email = add_action(session, debtor, [i for i in invoices if i is not None],
                           channel="email", template="mise_en_demeure")
        email_id = email.id
    preview = render_preview(store, make_workspace(root), email_id, TODAY)
    assert preview.error is None, preview.error
    return " ".join(preview.text.split())


@pytest.mark.parametrize("state", [ActionState.APPROVED, ActionState.SENT])
def test_the_email_mentions_the_registered_letter_going_with_it(
        store: Store, tmp_path: Path, state: ActionState) -> None:
    assert FR_CLAIM in _notice_email_text(store, tmp_path, state)


@pytest.mark.parametrize("state", [ActionState.REJECTED, ActionState.CANCELLED])
def test_without_a_letter_going_the_email_does_not_claim_one(
        store: Store, tmp_path: Path, state: ActionState) -> None:
    text = _notice_email_text(store, tmp_path, state)
    assert "mise en demeure de payer" in text
    assert "recommandée" not in text
