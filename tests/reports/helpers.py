"""Reading back what the reports wrote, as the people who open them would."""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

SPACES = re.compile(r"[\u00a0\u202f]")


def read_csv(path: Path, delimiter: str = ";") -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


def french(text: str) -> Decimal:
    """`1680,00` as Excel in French reads it."""
    return Decimal(text.replace(",", ".")) if text else Decimal(0)


def pdf_text(path: Path) -> str:
    """The PDF's text, its narrow and non-breaking spaces as plain ones."""
    from pypdf import PdfReader

    text = "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)
    return SPACES.sub(" ", text)


def page_png(pdf: Path, png: Path, page: int = 0) -> Any:
    """Render one page (pypdfium2), save it as PNG for a look, return the image."""
    import pypdfium2

    document = pypdfium2.PdfDocument(str(pdf))
    try:
        image = document[page].render(scale=1.5).to_pil().convert("RGB")
    finally:
        document.close()
    image.save(png)
    return image


def has_colour(image: Any, rgb: tuple[int, int, int], tolerance: int = 12,
               at_least: int = 40) -> bool:
    """Whether the image has a patch (`at_least` pixels) of about this colour."""
    colours = image.getcolors(maxcolors=image.width * image.height)
    count = sum(number for number, pixel in colours
                if all(abs(a - b) <= tolerance for a, b in zip(pixel, rgb, strict=True)))
    return bool(count >= at_least)


def sum_formula_total(sheet: Any, formula: str) -> Decimal:
    """The value of `=SUM(I3:I4)` or `=SUM(I2,I5:I6)` over the sheet's cells."""
    inside = re.fullmatch(r"=SUM\((.*)\)", formula)
    assert inside, formula
    total = Decimal(0)
    for part in inside.group(1).split(","):
        cells = sheet[part]
        rows = cells if isinstance(cells, tuple) else ((cells,),)
        for row in rows:
            for cell in row if isinstance(row, tuple) else (row,):
                total += Decimal(str(cell.value or 0))
    return total
