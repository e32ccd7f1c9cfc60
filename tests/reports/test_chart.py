"""The aged balance's chart: bars stacked by group, credits below the zero line."""

from __future__ import annotations

from xml.etree import ElementTree

from relance.channels.reports.chart import Series, nice_step, stacked_bars

SVG = "{http://www.w3.org/2000/svg}"


def _bars(svg: str) -> list[tuple[float, float, str]]:
    root = ElementTree.fromstring(svg)
    # Legend squares are 10 x 10 at the right; bars are the other rectangles.
    return [(float(rect.get("y", 0)), float(rect.get("height", 0)), rect.get("fill", ""))
            for rect in root.iter(f"{SVG}rect") if rect.get("width") != "10"]


def test_groups_stack_in_one_bar_and_a_credit_hangs_below_zero() -> None:
    svg = stacked_bars(["not due", "late"],
                       [Series("shops", (30_000, 10_000)), Series("<b>&co</b>", (10_000, -5_000))],
                       tick_label=str, width=400, height=200)
    (shops_y, shops_h, shops_fill), (co_y, co_h, co_fill), *late = _bars(svg)
    assert shops_fill != co_fill
    assert abs(co_y + co_h - shops_y) < 0.2  # the second group sits on the first
    assert abs(shops_h - 3 * co_h) < 0.5  # heights in proportion: 300 to 100
    (late_y, late_h, _), (credit_y, credit_h, _) = late
    assert credit_y >= late_y + late_h - 0.2  # the credit starts at zero, going down
    assert abs(late_h - 2 * credit_h) < 0.5
    assert "&lt;b&gt;&amp;co&lt;/b&gt;" in svg  # names are text, never markup


def test_round_steps() -> None:
    assert [nice_step(span) for span in (9, 100, 4_000, 123_456)] == [2, 20, 1000, 50_000]
