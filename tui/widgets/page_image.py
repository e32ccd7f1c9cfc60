"""A letter's pages as the debtor will see them: each PDF page drawn as an image where
the terminal can draw one (Sixel or the Kitty graphics protocol), else the page as
laid-out text (`relance.channels.preview.pdf_layout`), its columns kept.

Whether the terminal draws images is asked once, when this module is imported, before
the desk starts (textual-image cannot ask once Textual reads the terminal).
`RELANCE_PAGE_IMAGES` overrides the answer: `sixel` or `tgp` to draw with that
protocol (a terminal that answers wrongly behind tmux or ssh), `text` for the text."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from PIL import Image as PILImage
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static
from textual_image.renderable import Image as TerminalRenderable
from textual_image.renderable.sixel import Image as SixelRenderable
from textual_image.renderable.tgp import Image as TgpRenderable
from textual_image.widget import Image as AutoImage
from textual_image.widget import SixelImage, TGPImage
from textual_image.widget._base import Image as BaseImage

from relance.channels.preview import pdf_layout
from relance.kernel.i18n import _

ENVIRONMENT = "RELANCE_PAGE_IMAGES"
# Pixels per PDF point: 2 draws a page sharp at a terminal's usual cell size.
SCALE = 2.0

ImageWidget = type[BaseImage]  # Sixel's widget too is one


def image_widget() -> ImageWidget | None:
    """The widget that draws an image in this terminal, or None where only text is
    readable (the coloured half-cell fallback is too coarse for a letter)."""
    wanted = os.environ.get(ENVIRONMENT, "").strip().lower()
    if wanted == "sixel":
        return SixelImage
    if wanted == "tgp":
        return TGPImage
    if wanted == "text":
        return None
    if TerminalRenderable in (SixelRenderable, TgpRenderable):
        return AutoImage
    return None


def page_images(source: Path | bytes) -> Iterator[PILImage.Image]:
    """Each page of a PDF as a PIL image."""
    import pypdfium2

    document = pypdfium2.PdfDocument(source)
    try:
        for index in range(len(document)):
            yield document[index].render(scale=SCALE).to_pil()
    finally:
        document.close()


class PdfPages(Vertical):
    """The pages of one PDF, one under the other, as images or as laid-out text."""

    DEFAULT_CSS = """
    PdfPages { height: auto; }
    PdfPages .page-image { width: 100%; height: auto; margin-bottom: 1; }
    PdfPages .page-text { width: auto; height: auto; margin-bottom: 1; }
    PdfPages .page-rule { color: $text-muted; }
    """

    def __init__(self, source: Path | bytes, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.source = source

    def compose(self) -> ComposeResult:
        widget = image_widget()
        if widget is not None:
            for number, image in enumerate(page_images(self.source), start=1):
                yield Static(_("Page {number}").format(number=number), classes="page-rule")
                yield widget(image, classes="page-image")
            return
        for number, page in enumerate(pdf_layout(self.source), start=1):
            yield Static(_("Page {number}").format(number=number), classes="page-rule")
            # Never wrapped: a wrapped line would break the columns the layout keeps.
            yield Static(Text(page, no_wrap=True, overflow="ignore"), classes="page-text")


def is_image(widget: Widget) -> bool:
    """Whether `widget` draws a page as an image (for the desk's tests and checks)."""
    return isinstance(widget, BaseImage)
