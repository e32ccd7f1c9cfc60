"""A creditor's waiver of the L441-10 penalties and the 40 EUR indemnity: for all its
debtors, or for those of some segments; its letters then claim neither, and its legal
mentions lose their sentences about them (without a warning), while other debtors'
letters keep them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from relance.store.db import Store
from relance.store.models import Stage
from tests.agency_letters.firm import (
    everything_read,
    firm_book,
    firm_workspace,
    mark_first_letter_sent,
    prepare,
    queue,
)
from tests.channels.factory import TODAY

PENALTY_CLAUSE = ("Pénalités de retard au taux BCE majoré de 10 points. Indemnité "
                  "forfaitaire de 40 € pour frais de recouvrement.")
IDENTITY = "SAS au capital de 150 000 € – RCS Lyon 552 100 554"


def _letter(store: Store, tmp_path: Path, *, creditor: dict[str, Any],
            segment: str = "smb", ref: str = "F-0001", stage: Stage = Stage.REMINDER,
            template: str = "relance_2") -> tuple[str, dict[str, Any]]:
    workspace = firm_workspace(tmp_path / "ws")
    with store.transaction() as session:
        book = firm_book(session, stage=stage, mandate=stage != Stage.REMINDER, ref=ref,
                         creditor=creditor, debtor={"segment": segment})
        if template != "agency_first" and stage != Stage.REMINDER:
            mark_first_letter_sent(session, book, on=TODAY)
        action_id = queue(session, book, channel="letter", template=template).id
    prepared = prepare(store, workspace, action_id)
    assert prepared.error is None, prepared.error
    return everything_read(prepared), prepared.data.context


def test_a_creditor_that_waives_for_everyone_claims_only_the_principal(
        sqlite_store: Store, tmp_path: Path) -> None:
    text, context = _letter(sqlite_store, tmp_path, creditor={"waive_penalties": True})
    assert context["penalties"]["waived"] is True
    assert context["penalties"]["applies"] is False
    assert "Total à régler (EUR) 17 000,00 €" in text
    for claimed in ("Pénalités", "Indemnité", "L441-10", "227,67", "80,00 €"):
        assert claimed not in text, claimed


def test_a_waived_segment_claims_nothing_and_another_segment_keeps_its_penalties(
        sqlite_store: Store, tmp_path: Path) -> None:
    creditor = {"waive_segments": ["franchisee"]}
    waived, _ = _letter(sqlite_store, tmp_path, creditor=creditor, segment=" Franchisee ",
                        ref="FR-1")
    kept, context = _letter(sqlite_store, tmp_path, creditor=creditor, segment="smb",
                            ref="SMB-1")
    assert "Pénalités de retard (EUR) 227,67 €" not in waived
    assert "Total à régler (EUR) 17 000,00 €" in waived
    assert context["penalties"]["waived"] is False
    assert "Pénalités de retard (EUR) 227,67 €" in kept
    assert "Indemnités forfaitaires (2 × 40,00 €) 80,00 €" in kept
    assert "Total à régler (EUR) 17 307,67 €" in kept


def test_the_penalty_clause_of_the_mentions_is_left_out_for_a_waived_debtor_only(
        sqlite_store: Store, tmp_path: Path) -> None:
    creditor = {"waive_segments": ["franchisee"], "legal_mentions": IDENTITY,
                "settings": {"legal_mentions_b2b": PENALTY_CLAUSE}}
    waived, context = _letter(sqlite_store, tmp_path, creditor=creditor,
                              segment="franchisee", ref="FR-1")
    kept, _ = _letter(sqlite_store, tmp_path, creditor=creditor, segment="smb",
                      ref="SMB-1")
    assert IDENTITY in waived and IDENTITY in kept
    assert "taux BCE" not in waived and "Indemnité forfaitaire de 40 €" not in waived
    assert "taux BCE" in kept and "Indemnité forfaitaire de 40 €" in kept
    # The creditor chose it: nothing to warn about.
    assert context["penalties"]["warnings"] == []


def test_the_firms_first_letter_for_a_waived_debtor_shows_nil_interest_and_accessories(
        sqlite_store: Store, tmp_path: Path) -> None:
    text, _ = _letter(sqlite_store, tmp_path, creditor={"waive_penalties": True},
                      stage=Stage.AMICABLE, template="agency_first")
    assert "Principal (EUR) 17 000,00 €" in text
    assert "Intérêts (EUR) 0,00 €" in text and "Autres accessoires (EUR) 0,00 €" in text
    assert "Total dû (EUR) 17 000,00 €" in text
