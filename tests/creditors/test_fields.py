"""Each field of a creditor's identity: a good value is kept as the store keeps it, a bad
one is refused naming its option and saying what is wrong."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from relance.engine.creditor_fields import (
    LOGO_MAX_BYTES,
    FieldRefused,
    check_fields,
    logo_kind,
    missing_fields,
)
from relance.engine.creditors import missing_identity
from relance.kernel.i18n import using_language

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
       b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00"
       b"\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="1"/>'
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"

GOOD: list[tuple[str, Any, Any]] = [
    ("name", "  Acme SAS ", "Acme SAS"),
    ("siren", "552 100 554", "552100554"),
    ("vat", "fr 73 832917454", "FR73832917454"),
    ("address", "12 rue des Tanneurs\\n69002 Lyon", "12 rue des Tanneurs\n69002 Lyon"),
    ("address", ["12 rue des Tanneurs", " ", "69002 Lyon"], "12 rue des Tanneurs\n69002 Lyon"),
    ("address", "", ""),
    ("country", "be", "BE"),
    ("iban", "FR76 3000 6000 0112 3456 7890 189", "FR7630006000011234567890189"),
    ("bic", "agrifrppxxx", "AGRIFRPPXXX"),
    ("email", " relances@acme.example ", "relances@acme.example"),
    ("reply_to", "", None),
    ("contact_email", "dg@acme.example", "dg@acme.example"),
    ("phone", "04 72 00 00 00", "+33 4 72 00 00 00"),
    ("phone", "+32 2 555 12 12", "+32 2 555 12 12"),
    ("signature", "Le service clients\\nAcme", "Le service clients\nAcme"),
    ("legal_footer", "SAS au capital de 150 000 €", "SAS au capital de 150 000 €"),
    ("languages", ["FR", "en", "fr"], ["fr", "en"]),
    ("languages", "fr, en", ["fr", "en"]),
    ("calendar_region", "57", "57"),
    ("calendar_region", "zone a", "Zone A"),
    ("late_penalties", "oui", True),
    ("late_penalties", False, False),
    ("penalty_rate", "12,5 %", "12.5"),
    ("penalty_rate", "15", "15"),
    ("penalty_rate", "", None),
    ("waive_penalties", "yes", True),
    ("waive_segments", ["consumer", "consumer", "public"], ["consumer", "public"]),
]


@pytest.mark.parametrize(("key", "typed", "stored"), GOOD)
def test_a_good_value_is_kept_in_its_stored_form(key: str, typed: Any, stored: Any) -> None:
    column = {"vat": "vat_number", "legal_footer": "legal_mentions"}.get(key, key)
    assert check_fields({key: typed}) == {column: stored}


BAD: list[tuple[str, Any, str]] = [
    ("name", "   ", "--name: it cannot be empty"),
    ("name", "x" * 201, "--name: it holds 201 characters, more than the 200 kept"),
    ("siren", "123", "--siren: '123' is not a SIREN: it has the wrong number of characters"),
    ("siren", "552100555", "--siren: '552100555' is not a SIREN: its check digits are wrong"),
    ("siret", "55210055400014",
     "--siret: '55210055400014' is not a SIRET: its check digits are wrong"),
    ("vat", "FR00", "--vat: 'FR00' is not a VAT number"),
    ("iban", "FR76 3000 6000 0112 3456 7890 188",
     "--iban: 'FR76 3000 6000 0112 3456 7890 188' is not an IBAN: its check digits are "
     "wrong"),
    ("bic", "AGRI", "--bic: 'AGRI' is not a BIC"),
    ("email", "relances.acme.example", "--email: 'relances.acme.example' is not an e-mail"),
    ("reply_to", "a@b", "--reply-to: 'a@b' is not an e-mail address"),
    ("contact_email", "x y@acme.example", "--contact-email: 'x y@acme.example' is not"),
    ("phone", "12", "--phone: '12' is not a telephone number"),
    ("country", "France", "--country: 'France' is not a country code"),
    ("country", "ZZ", "--country: 'ZZ' is not a country code"),
    ("languages", ["de"], "--language: 'de' is not a language relance writes in"),
    ("languages", [], "--language: give at least one language (fr, en)"),
    ("calendar_region", "99", "--calendar-region: '99' is not a region of the French "
                              "calendar (known: 57,"),
    ("penalty_rate", "0", "--penalty-rate: '0' is not an annual rate in percent"),
    ("penalty_rate", "douze", "--penalty-rate: 'douze' is not an annual rate in percent"),
    ("late_penalties", "maybe", "--penalties: 'maybe' is neither yes nor no"),
    ("address", 12, "--address: write a text"),
]


@pytest.mark.parametrize(("key", "typed", "said"), BAD)
def test_a_bad_value_is_refused_naming_its_option(key: str, typed: Any, said: str) -> None:
    with pytest.raises(FieldRefused) as refused:
        check_fields({key: typed})
    assert refused.value.message.startswith(said)
    assert refused.value.exit_code == 2


def test_a_siret_must_start_with_the_siren_given_with_it_or_stored() -> None:
    assert check_fields({"siren": "552100554", "siret": "55210055400013"})["siret"] == (
        "55210055400013")
    with pytest.raises(FieldRefused) as refused:
        check_fields({"siren": "832917454", "siret": "55210055400013"})
    assert refused.value.message == (
        "--siret: SIRET 55210055400013 does not start with the SIREN 832917454")
    with pytest.raises(FieldRefused):
        check_fields({"siret": "55210055400013"}, siren="832917454")


def test_a_telephone_is_read_in_the_creditors_country() -> None:
    assert check_fields({"phone": "02 555 12 12"}, country="BE") == {"phone": "+32 2 555 12 12"}
    assert check_fields({"country": "BE", "phone": "02 555 12 12"})["phone"] == (
        "+32 2 555 12 12")


def test_an_unknown_key_is_refused_with_the_closest_field() -> None:
    with pytest.raises(Exception) as refused:
        check_fields({"adress": "1 rue X"})
    assert "adress is not a field of a creditor: did you mean address?" in str(refused.value)


def test_a_refusal_reads_in_french() -> None:
    with using_language("fr"), pytest.raises(FieldRefused) as refused:
        check_fields({"iban": "FR76"})
    assert refused.value.message == "--iban : 'FR76' n’est pas un IBAN : il n’est pas écrit " \
                                    "comme attendu"


# ---------------------------------------------------------------- the logo


def test_a_logo_is_checked_by_its_bytes_not_its_name(tmp_path: Path) -> None:
    assets = tmp_path / "assets"
    assets.mkdir()
    for name, content in (("logo.png", PNG), ("logo.svg", SVG), ("logo.jpg", JPEG)):
        (assets / name).write_bytes(content)
        assert check_fields({"logo": f"assets/{name}"}, root=tmp_path) == {
            "logo_path": f"assets/{name}"}
    # An absolute path inside the workspace is kept relative to it.
    assert check_fields({"logo": str(assets / "logo.png")}, root=tmp_path) == {
        "logo_path": "assets/logo.png"}
    (assets / "fake.png").write_bytes(b"GIF89a not a png at all")
    with pytest.raises(FieldRefused) as refused:
        check_fields({"logo": "assets/fake.png"}, root=tmp_path)
    assert refused.value.message == "--logo: assets/fake.png is not a PNG, JPEG or SVG image"
    assert logo_kind(b"<html><svg>") is None


def test_a_logo_outside_the_workspace_missing_or_too_big_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (tmp_path / "outside.png").write_bytes(PNG)
    (root / "big.png").write_bytes(PNG + b"\0" * LOGO_MAX_BYTES)
    (root / "link.png").symlink_to(tmp_path / "outside.png")
    cases = {
        "../outside.png": "is outside the workspace",
        "link.png": "is outside the workspace",
        "nowhere.png": "--logo: no file nowhere.png in the workspace",
        "big.png": "--logo: big.png holds 513 KiB, more than the 512 KiB a logo may hold",
    }
    for typed, said in cases.items():
        with pytest.raises(FieldRefused) as refused:
            check_fields({"logo": typed}, root=root)
        assert said in refused.value.message


# ---------------------------------------------------------------- what each channel needs


def _creditor(**values: Any) -> Any:
    fields = {"name": "Acme SAS", "address": "", "siren": None, "iban": None, "email": None}
    return SimpleNamespace(**(fields | values))


def test_each_channel_names_what_it_lacks() -> None:
    imported = _creditor(name="ACME")  # an import names a creditor by its code
    assert missing_identity(imported, "letter") == ["address", "SIREN", "IBAN"]
    assert missing_identity(imported, "email") == ["sender e-mail", "address", "SIREN"]
    assert missing_identity(imported, "sms") == []
    assert missing_identity(imported, "notify") == []
    # `[smtp] from` stands in for the creditor's own sender address.
    assert missing_identity(imported, "email", default_sender="relance@firm.example") == [
        "address", "SIREN"]
    complete = _creditor(address="1 rue X\n69002 Lyon", siren="552100554",
                         iban="FR7630006000011234567890189", email="a@acme.example")
    assert [missing_fields(complete, c) for c in ("letter", "email", "sms")] == [[], [], []]
    assert missing_identity(_creditor(name=" ", address="  "), "sms") == ["legal name"]
    with using_language("fr"):
        assert missing_identity(imported, "email") == [
            "adresse d’expédition", "adresse", "SIREN"]
