"""Report pages in the creditor's branding, rendered like the letters are.

The templates live in `templates/_reports/` (a workspace or a creditor may override
them in its own `templates/`, searched first, as for letters) and render in the same
sandbox; the PDF is made by the letters' renderer, whose URL fetcher serves only the
templates, the fonts and the creditor's logo. The creditor's block (logo, name,
address, numbers, legal mentions) is the one letters print.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from relance.channels.context import lines, logo_url
from relance.channels.legal import creditor_mentions
from relance.channels.letter import render_pdf_bytes
from relance.channels.render import BoundedSandbox
from relance.channels.templates import default_templates_dir, search_folders
from relance.kernel.display import show_datetime
from relance.kernel.i18n import _
from relance.store.models import Creditor

REPORTS_DIR = "_reports"


def branding(creditor: Creditor | None, workspace_root: Path | None) -> dict[str, Any] | None:
    """The creditor's block of a page, as the letters show it (None: no creditor)."""
    if creditor is None:
        return None
    return {
        "code": creditor.code,
        "name": creditor.name,
        "address_lines": lines(creditor.address),
        "siren": creditor.siren,
        "vat_number": creditor.vat_number,
        "email": creditor.email,
        "phone": creditor.phone,
        "logo_url": logo_url(creditor, workspace_root),
        "legal_mentions": list(creditor_mentions(creditor, consumer=False).lines),
    }


def common_labels() -> dict[str, str]:
    """Words every report page prints, in the language spoken."""
    return {"vat": _("VAT"), "phone": _("Tel."), "page": _("Page"),
            "made": _("Made on {moment}").format(moment=show_datetime(
                dt.datetime.now().replace(second=0, microsecond=0)))}


def _roots(creditor: Creditor | None, workspace_root: Path | None,
           templates_dir: Path | None) -> list[Path]:
    roots = [default_templates_dir().resolve()]
    if templates_dir is not None:
        roots.append(templates_dir.resolve())
    if creditor is not None and creditor.logo_path and workspace_root is not None:
        root = workspace_root.resolve()
        logo = Path(creditor.logo_path)
        logo = (logo if logo.is_absolute() else root / logo).resolve()
        if logo.is_relative_to(root):
            roots.append(logo)
    return roots


def render_report(name: str, context: Mapping[str, Any], *, creditor: Creditor | None,
                  workspace_root: Path | None, templates_dir: Path | None) -> bytes:
    """`templates/_reports/<name>` rendered with `context` into PDF bytes."""
    folders = search_folders(templates_dir.resolve() if templates_dir else None,
                             creditor.code if creditor is not None else None)
    environment = BoundedSandbox(folders)
    template = environment.get_template(f"{REPORTS_DIR}/{name}")
    fonts = (default_templates_dir() / "_base" / "fonts").resolve().as_uri()
    html = template.render({**context, "assets": {"fonts_url": fonts},
                            "common": common_labels()})
    pdf, _pages, _refused = render_pdf_bytes(
        html, base_dir=default_templates_dir(),
        roots=_roots(creditor, workspace_root, templates_dir))
    return pdf
