"""A QR code's modules, its mask chosen the way the `qrcode` library chooses it, but
scored with whole-matrix integer bit operations instead of module by module.

`qrcode` builds the full matrix and walks it in Python once per mask (eight times), which
is most of the ~11 ms a code costs. Here the data bits are placed once, as a big integer
whose bit `r * STRIDE + c` is the module at row r, column c (a light guard column sits at
`c == size`, so no run or pattern can wrap from one row into the next), and a transposed
copy serves the columns. Each mask is then an XOR with a precomputed integer, and the four
penalty rules are a few shifts, ANDs and popcounts.

The scoring matrix is the one `qrcode` scores: format and version areas and the dark
module left light ("test" mode), no quiet zone; the lowest penalty wins, the first mask on
a tie. `tests/web/test_epc_qr_speed.py` checks the result against `qrcode` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter

from qrcode import util as qr_util  # type: ignore[import-untyped]

from relance.web.qr_codewords import codewords

_MASKS: tuple[Callable[[int, int], bool], ...] = (
    lambda i, j: (i + j) % 2 == 0,
    lambda i, j: i % 2 == 0,
    lambda i, j: j % 3 == 0,
    lambda i, j: (i + j) % 3 == 0,
    lambda i, j: (i // 2 + j // 3) % 2 == 0,
    lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    lambda i, j: ((i * j) % 3 + (i + j) % 2) % 2 == 0,
)


@dataclass(frozen=True)
class _Layout:
    """Everything about one (version, error correction) that does not depend on data."""

    size: int
    stride: int
    base: int  # function patterns, format/version areas light (row-major)
    base_t: int  # the same, transposed
    finals: tuple[int, ...]  # per mask: format bits, version bits, dark module
    masks: tuple[int, ...]  # per mask: mask bits on data modules only (row-major)
    masks_t: tuple[int, ...]
    place: Callable[[str], tuple[str, ...]]  # data bit string -> row-major bit chars
    place_t: Callable[[str], tuple[str, ...]]
    data_modules: int
    cells: int  # bits in the packed integers (size * stride)
    all_modules: int  # 1 on every real module position
    block_starts: int  # positions where a 2x2 block can start


def _function_modules(version: int, size: int) -> list[list[bool | None]]:
    # The same fixed patterns, in the same order, as qrcode's makeImpl.
    grid: list[list[bool | None]] = [[None] * size for _ in range(size)]
    for top, left in ((0, 0), (size - 7, 0), (0, size - 7)):
        for r in range(-1, 8):
            for c in range(-1, 8):
                if 0 <= top + r < size and 0 <= left + c < size:
                    grid[top + r][left + c] = (
                        (0 <= r <= 6 and c in (0, 6)) or (0 <= c <= 6 and r in (0, 6))
                        or (2 <= r <= 4 and 2 <= c <= 4))
    centres = qr_util.pattern_position(version)
    for row in centres:
        for col in centres:
            if grid[row][col] is not None:
                continue
            for r in range(-2, 3):
                for c in range(-2, 3):
                    grid[row + r][col + c] = abs(r) == 2 or abs(c) == 2 or r == c == 0
    for i in range(8, size - 8):
        if grid[i][6] is None:
            grid[i][6] = i % 2 == 0
        if grid[6][i] is None:
            grid[6][i] = i % 2 == 0
    return grid


def _format_positions(size: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    # Where bit i of the 15 format bits goes, twice (qrcode's setup_type_info).
    spots = []
    for i in range(15):
        vertical = (i, 8) if i < 6 else (i + 1, 8) if i < 8 else (size - 15 + i, 8)
        horizontal = ((8, size - i - 1) if i < 8 else (8, 15 - i) if i < 9
                      else (8, 15 - i - 1))
        spots.append((vertical, horizontal))
    return spots


def _pack(cells: set[tuple[int, int]], stride: int, transposed: bool = False) -> int:
    value = 0
    for r, c in cells:
        value |= 1 << ((c * stride + r) if transposed else (r * stride + c))
    return value


@lru_cache(maxsize=64)
def _layout(version: int, error_correction: int) -> _Layout:
    size = version * 4 + 17
    stride = size + 1
    grid = _function_modules(version, size)
    fixed_dark = {(r, c) for r in range(size) for c in range(size) if grid[r][c]}
    reserved = {(r, c) for r in range(size) for c in range(size) if grid[r][c] is not None}
    formats = _format_positions(size)
    reserved.update(spot for pair in formats for spot in pair)
    dark_module = (size - 8, 8)
    reserved.add(dark_module)
    version_dark: set[tuple[int, int]] = set()
    if version >= 7:
        version_bits = qr_util.BCH_type_number(version)
        for i in range(18):
            spots = ((i // 3, i % 3 + size - 11), (i % 3 + size - 11, i // 3))
            reserved.update(spots)
            if (version_bits >> i) & 1:
                version_dark.update(spots)
    finals = []
    for mask in range(8):
        bits = qr_util.BCH_type_info((error_correction << 3) | mask)
        dark = {spot for i, pair in enumerate(formats) if (bits >> i) & 1 for spot in pair}
        finals.append(_pack(dark | version_dark | {dark_module}, stride))

    # Data modules in placement order: two-column strips from the right, zigzagging.
    order: list[tuple[int, int]] = []
    upward = True
    col = size - 1
    while col > 0:
        if col == 6:
            col -= 1
        rows = range(size - 1, -1, -1) if upward else range(size)
        order.extend((r, c) for r in rows for c in (col, col - 1) if (r, c) not in reserved)
        upward = not upward
        col -= 2
    index = {spot: i for i, spot in enumerate(order)}
    blank = len(order)  # the data string carries one extra '0' for non-data cells
    cells = size * stride

    def getter(transposed: bool) -> Callable[[str], tuple[str, ...]]:
        picks = []
        for bit in range(cells - 1, -1, -1):  # most significant bit first, as int(s, 2)
            major, minor = divmod(bit, stride)
            spot = (minor, major) if transposed else (major, minor)
            picks.append(index.get(spot, blank))
        return itemgetter(*picks)

    mask_cells = [{spot for spot in order if _MASKS[m](*spot)} for m in range(8)]
    all_modules = _pack({(r, c) for r in range(size) for c in range(size)}, stride)
    block_starts = _pack({(r, c) for r in range(size - 1) for c in range(size - 1)}, stride)
    return _Layout(
        size=size, stride=stride,
        base=_pack(fixed_dark, stride), base_t=_pack(fixed_dark, stride, True),
        finals=tuple(finals),
        masks=tuple(_pack(cells_m, stride) for cells_m in mask_cells),
        masks_t=tuple(_pack(cells_m, stride, True) for cells_m in mask_cells),
        place=getter(False), place_t=getter(True), data_modules=len(order),
        cells=cells, all_modules=all_modules, block_starts=block_starts)


def _line_penalty(dark: int, light: int) -> int:
    """Rules 1 and 3 over every row (or every column) at once."""
    points = 0
    for same in (dark, light):
        # Bit i of `five` is set when modules i..i+4 share this colour: a run of
        # length L >= 5 sets L - 4 of them, and costs L - 2 points.
        five = same & (same >> 1) & (same >> 2) & (same >> 3) & (same >> 4)
        points += five.bit_count() + 2 * (five & ~(five << 1)).bit_count()
    # 1:1:3:1:1 finder-like core (dark light dark dark dark light dark) and four lights.
    core = (dark & (light >> 1) & (dark >> 2) & (dark >> 3) & (dark >> 4)
            & (light >> 5) & (dark >> 6))
    four_light = light & (light >> 1) & (light >> 2) & (light >> 3)
    points += 40 * ((core & (four_light >> 7)).bit_count()
                    + (four_light & (core >> 4)).bit_count())
    return points


def _penalty(layout: _Layout, rows: int, columns: int) -> int:
    full = layout.all_modules
    points = _line_penalty(rows, ~rows & full) + _line_penalty(columns, ~columns & full)
    # Rule 2: each 2x2 block of one colour, overlapping blocks counted separately.
    same_below = ~(rows ^ (rows >> layout.stride))
    same_right = ~(rows ^ (rows >> 1))
    points += 3 * (same_below & (same_below >> 1) & same_right
                   & layout.block_starts).bit_count()
    # Rule 4, with qrcode's own float arithmetic so rounding matches.
    percent = float(rows.bit_count()) / (layout.size ** 2)
    return points + int(abs(percent * 100 - 50) / 5) * 10


def qr_modules(data: bytes, error_correction: int) -> tuple[int, list[list[bool]]]:
    """The mask `qrcode` would choose for `data` and the modules (no quiet zone)."""
    version, words = codewords(data, error_correction)
    layout = _layout(version, error_correction)
    text = format(int.from_bytes(words, "big"), f"0{len(words) * 8}b")[:layout.data_modules]
    text = text.ljust(layout.data_modules + 1, "0")
    placed = int("".join(layout.place(text)), 2)
    placed_t = int("".join(layout.place_t(text)), 2)
    best_mask, best_points = 0, 0
    for mask in range(8):
        points = _penalty(layout, layout.base | (placed ^ layout.masks[mask]),
                          layout.base_t | (placed_t ^ layout.masks_t[mask]))
        if mask == 0 or best_points > points:
            best_mask, best_points = mask, points
    final = (layout.base | (placed ^ layout.masks[best_mask])) | layout.finals[best_mask]
    chars = format(final, f"0{layout.cells}b")[::-1]
    size, stride = layout.size, layout.stride
    return best_mask, [[ch == "1" for ch in chars[r * stride:r * stride + size]]
                       for r in range(size)]
