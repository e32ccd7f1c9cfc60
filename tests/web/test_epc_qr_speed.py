"""The fast QR drawing gives exactly the code the `qrcode` library gives, mask included."""

from __future__ import annotations

import random
import string

import pytest
import qrcode  # type: ignore[import-untyped]
from qrcode.constants import ERROR_CORRECT_M  # type: ignore[import-untyped]

from relance.web.epc_qr import NAME_MAX, QUIET_ZONE, REMITTANCE_MAX, epc_payload, qr_matrix
from relance.web.qr_masks import qr_modules

_TEXT = string.ascii_letters + string.digits + " -'.,/éèàçÉôü&"


def _reference(data: bytes) -> tuple[list[list[bool]], int]:
    """The old way: qrcode tries the eight masks itself (its make(fit=True), step by
    step so the chosen mask can be read)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE)
    code.add_data(data)
    code.best_fit()
    mask = int(code.best_mask_pattern())
    code.makeImpl(False, mask)
    return [[bool(module) for module in row] for row in code.get_matrix()], mask


def _words(rng: random.Random, limit: int) -> str:
    return "".join(rng.choice(_TEXT) for _ in range(rng.randint(0, limit)))


def _epc_payloads(rng: random.Random, count: int) -> list[str]:
    payloads = []
    for _ in range(count):
        country = rng.choice(["FR", "DE", "BE", "MC", "ES"])
        iban = country + "".join(rng.choice(string.digits) for _ in range(rng.randint(14, 30)))
        bic = rng.choice(["", "BNPAFRPP", "AGRIFRPP882", "CEPAFRPP751"])
        amount = rng.choice([None, rng.randint(1, 999_999_999_99), rng.randint(1, 99_999)])
        payloads.append(epc_payload(
            name=_words(rng, NAME_MAX + 10) or "X", iban=iban, bic=bic,
            amount_minor=amount, reference=_words(rng, REMITTANCE_MAX + 10)))
    return payloads


@pytest.mark.parametrize("seed", range(8))
def test_epc_payloads_draw_the_same_code_as_qrcode(seed: int) -> None:
    rng = random.Random(20261206 + seed)
    versions = set()
    for payload in _epc_payloads(rng, 190):  # 8 x 190: ~1,500 payloads
        matrix, mask = _reference(payload.encode())
        assert qr_matrix(payload) == matrix, payload
        chosen, _ = qr_modules(payload.encode(), ERROR_CORRECT_M)
        assert chosen == mask, payload
        versions.add(len(matrix))
    assert len(versions) >= 5  # short and long payloads: several QR versions


def test_arbitrary_bytes_draw_the_same_code_as_qrcode() -> None:
    rng = random.Random(331)
    lengths = [1, 2, 17, 300, *(rng.randint(1, 300) for _ in range(96))]
    for length in lengths:
        data = bytes(rng.randrange(256) for _ in range(length))
        matrix, mask = _reference(data)
        chosen, modules = qr_modules(data, ERROR_CORRECT_M)
        assert chosen == mask, data
        assert [row[QUIET_ZONE:-QUIET_ZONE] for row in matrix[QUIET_ZONE:-QUIET_ZONE]] \
            == modules, data


def test_large_codes_match_qrcode_too() -> None:
    # Beyond what an EPC payload needs, so the version-dependent tables (alignment
    # patterns, version information, block layouts) are exercised up to version 40.
    rng = random.Random(2331)
    for length in (400, 650, 900, 1250, 1700, 2331):
        data = bytes(rng.randrange(256) for _ in range(length))
        matrix, mask = _reference(data)
        chosen, modules = qr_modules(data, ERROR_CORRECT_M)
        assert chosen == mask, length
        assert [row[QUIET_ZONE:-QUIET_ZONE] for row in matrix[QUIET_ZONE:-QUIET_ZONE]] \
            == modules, length
