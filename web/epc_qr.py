"""The SEPA credit transfer QR code French banking apps scan (EPC069-12, "GiroCode").

The payload is twelve lines joined by a line feed: `BCD`, version `002`, character set
`1` (UTF-8), `SCT`, the BIC, the beneficiary's name (70 characters at most), the IBAN,
the amount (`EUR` and the euros with a point, from 0.01 to 999 999 999.99), the purpose
code (empty), the structured creditor reference (empty: relance's references are not
ISO 11649), the remittance text (140 characters at most), the note to the payer (empty);
trailing empty lines are left out, as the standard allows. The code is drawn server-side
as an SVG path: the page asks nothing of another site.
"""

from __future__ import annotations

from qrcode.constants import ERROR_CORRECT_M  # type: ignore[import-untyped]

from relance.web.qr_masks import qr_modules

EPC_CURRENCY = "EUR"
MAX_AMOUNT_MINOR = 999_999_999_99
NAME_MAX = 70
REMITTANCE_MAX = 140
PAYLOAD_MAX_BYTES = 331
QUIET_ZONE = 4  # modules of white around the code, as ISO 18004 asks


def _clean(text: str, limit: int) -> str:
    # A line feed inside a field would shift every field after it.
    return " ".join(text.split())[:limit]


def epc_payload(*, name: str, iban: str, bic: str, amount_minor: int | None,
                reference: str) -> str:
    """The EPC069-12 version 002 payload of a transfer of `amount_minor` euro cents
    (None: the payer types the amount) to `name`'s `iban`, quoting `reference`."""
    compact_iban = "".join(iban.split()).upper()
    if not compact_iban:
        raise ValueError("an EPC QR code needs the beneficiary's IBAN")
    amount = ""
    if amount_minor is not None:
        if not 1 <= amount_minor <= MAX_AMOUNT_MINOR:
            raise ValueError(f"an EPC QR code cannot carry {amount_minor} cents")
        euros, cents = divmod(amount_minor, 100)
        amount = f"{EPC_CURRENCY}{euros}.{cents:02d}"
    lines = ["BCD", "002", "1", "SCT", "".join(bic.split()).upper(), _clean(name, NAME_MAX),
             compact_iban, amount, "", "", _clean(reference, REMITTANCE_MAX), ""]
    while lines and not lines[-1]:
        lines.pop()
    payload = "\n".join(lines)
    if len(payload.encode()) > PAYLOAD_MAX_BYTES:
        raise ValueError("the EPC payload exceeds 331 bytes")
    return payload


def qr_matrix(payload: str) -> list[list[bool]]:
    """The modules of the QR code of `payload` (error correction M, as EPC asks), with
    its quiet zone."""
    # Same modules and mask as qrcode's make(fit=True), in a tenth of the time.
    _, modules = qr_modules(payload.encode(), ERROR_CORRECT_M)
    width = len(modules) + 2 * QUIET_ZONE
    margin = [False] * QUIET_ZONE
    return ([[False] * width for _ in range(QUIET_ZONE)]
            + [margin + row + margin for row in modules]
            + [[False] * width for _ in range(QUIET_ZONE)])


def qr_svg(payload: str, *, title: str) -> str:
    """The QR code of `payload` as an inline SVG (one path, no style attribute, so the
    page's Content-Security-Policy needs no exception). `title` is read by screen
    readers; it is escaped here."""
    matrix = qr_matrix(payload)
    size = len(matrix)
    runs: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if row[x]:
                start = x
                while x < size and row[x]:
                    x += 1
                runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    safe_title = (title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
            f'class="qr" role="img" shape-rendering="crispEdges">'
            f"<title>{safe_title}</title>"
            f'<rect width="{size}" height="{size}" fill="#fff"/>'
            f'<path fill="#000" d="{"".join(runs)}"/></svg>')
