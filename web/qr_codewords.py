"""A QR code's version and codewords, the ones `qrcode` computes, computed faster.

`qrcode` appends bits one at a time to a list of bytes and divides Reed-Solomon
polynomials recursively; together that is most of what is left of a code's cost once the
mask is chosen quickly (web/qr_masks.py). Here the bits accumulate in one integer and the
error correction bytes come from a per-block-size table (one XOR per data byte). The
segmenting (`optimal_data_chunks`), block layout and generator polynomials stay
`qrcode`'s own; tests/web/test_epc_qr_speed.py compares the resulting codes with it.
"""

from __future__ import annotations

from bisect import bisect_left
from functools import lru_cache

from qrcode import LUT, base, exceptions  # type: ignore[import-untyped]
from qrcode import util as qr_util

_PADDING = (0xEC, 0x11)  # the standard's alternating pad codewords


class _Bits:
    """A bit string grown at its end, with the `put` that `QRData.write` calls."""

    def __init__(self) -> None:
        self.value = 0
        self.length = 0

    def put(self, number: int, length: int) -> None:
        self.value = (self.value << length) | number
        self.length += length

    def __len__(self) -> int:
        return self.length


def _segments_bits(segments: list[object], version: int) -> _Bits:
    bits = _Bits()
    sizes = qr_util.mode_sizes_for_version(version)
    for segment in segments:
        mode = segment.mode  # type: ignore[attr-defined]
        bits.put(mode, 4)
        bits.put(len(segment), sizes[mode])  # type: ignore[arg-type]
        segment.write(bits)  # type: ignore[attr-defined]
    return bits


def _version(segments: list[object], error_correction: int, start: int = 1) -> int:
    # qrcode's best_fit: guess the version, then retry if the length fields grew.
    needed = len(_segments_bits(segments, start))
    version = bisect_left(qr_util.BIT_LIMIT_TABLE[error_correction], needed, start)
    if version == 41:
        raise exceptions.DataOverflowError()
    if qr_util.mode_sizes_for_version(start) is not qr_util.mode_sizes_for_version(version):
        return _version(segments, error_correction, version)
    return version


@lru_cache(maxsize=32)
def _remainder_table(ec_count: int) -> tuple[int, ...]:
    """For each leading byte f, the generator polynomial times f, as one integer."""
    generator = LUT.rsPoly_LUT[ec_count][1:]
    table = [0]
    for factor in range(1, 256):
        log = base.LOG_TABLE[factor]
        table.append(int.from_bytes(bytes(
            base.EXP_TABLE[(base.LOG_TABLE[g] + log) % 255] if g else 0
            for g in generator), "big"))
    return tuple(table)


def _error_correction(block: bytes, ec_count: int) -> bytes:
    table = _remainder_table(ec_count)
    top = 8 * (ec_count - 1)
    keep = (1 << top) - 1
    remainder = 0
    for byte in block:
        remainder = ((remainder & keep) << 8) ^ table[(remainder >> top) ^ byte]
    return remainder.to_bytes(ec_count, "big")


def codewords(data: bytes, error_correction: int) -> tuple[int, bytes]:
    """The version `qrcode` fits `data` into and the interleaved codewords it places."""
    segments = list(qr_util.optimal_data_chunks(data, minimum=20))
    version = _version(segments, error_correction)
    bits = _segments_bits(segments, version)
    blocks = base.rs_blocks(version, error_correction)
    limit = 8 * sum(block.data_count for block in blocks)
    if bits.length > limit:
        raise exceptions.DataOverflowError()
    bits.put(0, min(limit - bits.length, 4))  # terminator
    bits.put(0, -bits.length % 8)
    message = bits.value.to_bytes(bits.length // 8, "big")
    message += bytes(_PADDING[i % 2] for i in range(limit // 8 - len(message)))
    data_blocks: list[bytes] = []
    ec_blocks: list[bytes] = []
    offset = 0
    for block in blocks:
        chunk = message[offset:offset + block.data_count]
        offset += block.data_count
        data_blocks.append(chunk)
        ec_blocks.append(_error_correction(chunk, block.total_count - block.data_count))
    out = bytearray()
    for group in (data_blocks, ec_blocks):
        for i in range(max(len(part) for part in group)):
            out.extend(part[i] for part in group if i < len(part))
    return version, bytes(out)
