"""A pure-Python PNG codec (zlib + struct), for worker masks in the Lambda runtime.

``decode`` reads every colour type (grey, RGB, palette, grey+alpha, RGBA) at
every bit depth the specification allows, all five row filters and Adam7
interlacing, into one buffer of samples: one byte per sample for depths 1–8
(sub-byte samples are unpacked), two big-endian bytes per sample for 16.
Filter-0 rows, what Ground Truth writes, cost a slice per row on top of zlib;
sub-byte unpacking is one table lookup per packed byte, done in C by
``map``/``join``. ``encode_indexed`` writes a palette PNG at the smallest bit
depth that holds the palette (1, 2, 4 or 8), every row with filter 0.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Samples per pixel by colour type.
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
ALLOWED_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
#: Adam7 passes: (x start, y start, x step, y step).
ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
MAX_PIXELS = 64_000_000

Colour = tuple[int, int, int]


class PngError(ValueError):
    """A PNG that cannot be decoded; the message says why."""


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    bit_depth: int
    color_type: int
    #: Palette entries (colour type 3), else empty.
    palette: tuple[Colour, ...]
    #: Samples, row after row: 1 byte each (depth ≤ 8) or 2 big-endian bytes (depth 16).
    samples: bytes

    @property
    def channels(self) -> int:
        return CHANNELS[self.color_type]

    def pixel(self, x: int, y: int) -> tuple[int, ...]:
        """One pixel's samples (for tests and small images)."""
        size = 2 if self.bit_depth == 16 else 1
        start = (y * self.width + x) * self.channels * size
        raw = self.samples[start : start + self.channels * size]
        if size == 2:
            return tuple(int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2))
        return tuple(raw)


def _chunks(data: bytes) -> tuple[bytes, bytes, bytes]:
    """(IHDR, PLTE, concatenated IDAT)."""
    if not data.startswith(SIGNATURE):
        raise PngError("not a PNG: the 8-byte signature is missing")
    header = palette = b""
    idat: list[bytes] = []
    position = len(SIGNATURE)
    end = len(data)
    while position < end:
        if position + 8 > end:
            raise PngError(f"truncated chunk header at byte {position}")
        length, kind = struct.unpack_from(">I4s", data, position)
        body_start = position + 8
        if body_start + length + 4 > end:
            raise PngError(f"chunk {kind!r} at byte {position} is truncated")
        body = data[body_start : body_start + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"PLTE":
            palette = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        position = body_start + length + 4
    if len(header) != 13:
        raise PngError("the IHDR chunk is missing or malformed")
    if not idat:
        raise PngError("no image data (IDAT chunk)")
    return header, palette, b"".join(idat)


def _bytes_per_pixel(channels: int, depth: int) -> int:
    return max(1, channels * depth // 8)


def _unfilter(raw: bytes | bytearray, rows: int, stride: int, bpp: int) -> bytes:
    """Undo the row filters of ``rows`` rows of ``stride`` bytes (each after its filter byte)."""
    if rows == 0:
        return b""
    step = stride + 1
    if len(raw) < rows * step:
        raise PngError(f"image data is {len(raw)} bytes, {rows * step} expected")
    filters = raw[0 : rows * step : step]
    if not any(filters):  # all filter 0: the common, fast case
        return b"".join(raw[r * step + 1 : (r + 1) * step] for r in range(rows))
    out = bytearray(rows * stride)
    previous = bytearray(stride)
    for r in range(rows):
        kind = raw[r * step]
        line = bytearray(raw[r * step + 1 : (r + 1) * step])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray(((a + b) & 0xFF for a, b in zip(line, previous)))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = previous[i]
                c = previous[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + predictor) & 0xFF
        elif kind != 0:
            raise PngError(f"row {r} has filter type {kind}; allowed: 0–4")
        out[r * stride : (r + 1) * stride] = line
        previous = line
    return bytes(out)


def _unpack(rows: bytes, row_count: int, stride: int, samples_per_row: int, depth: int) -> bytes:
    """Sub-byte samples → one byte each, dropping each row's padding bits.

    The k-th sample of every packed byte is ``(byte >> shift_k) & mask``: one
    shift and one mask of the whole buffer as an integer, then a strided slice
    assignment interleaves the k streams.
    """
    if depth >= 8:
        return rows
    per = 8 // depth
    size = len(rows)
    packed = int.from_bytes(rows, "big")
    mask = int.from_bytes(bytes(((1 << depth) - 1,)) * size, "big")
    expanded = bytearray(size * per)
    for k in range(per):
        shift = 8 - depth * (k + 1)
        expanded[k::per] = ((packed >> shift) & mask).to_bytes(size, "big")
    padded = stride * per
    if padded == samples_per_row:
        return bytes(expanded)
    return b"".join(expanded[r * padded : r * padded + samples_per_row] for r in range(row_count))


def decode(data: bytes) -> Image:
    """Decode a PNG into samples; raises ``PngError`` with the reason."""
    header, plte, compressed = _chunks(bytes(data))
    width, height, depth, color_type, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", header
    )
    if color_type not in CHANNELS:
        raise PngError(f"colour type {color_type}; allowed: 0, 2, 3, 4, 6")
    if depth not in ALLOWED_DEPTHS[color_type]:
        allowed = ", ".join(map(str, ALLOWED_DEPTHS[color_type]))
        raise PngError(f"bit depth {depth} with colour type {color_type}; allowed: {allowed}")
    if compression or filtering or interlace not in (0, 1):
        raise PngError("unknown compression, filter method or interlace method")
    if not 0 < width * height <= MAX_PIXELS:
        raise PngError(f"image size {width}×{height} is outside 1–{MAX_PIXELS} pixels")
    palette: tuple[Colour, ...] = ()
    if color_type == 3:
        if not plte or len(plte) % 3:
            raise PngError("a palette image needs a PLTE chunk of RGB triples")
        palette = tuple((plte[i], plte[i + 1], plte[i + 2]) for i in range(0, len(plte), 3))
    try:
        raw = zlib.decompress(compressed)
    except zlib.error as error:
        raise PngError(f"image data does not decompress ({error})") from None
    channels = CHANNELS[color_type]
    bpp = _bytes_per_pixel(channels, depth)
    if interlace == 0:
        stride = (width * channels * depth + 7) // 8
        rows = _unfilter(raw, height, stride, bpp)
        samples = _unpack(rows, height, stride, width * channels, depth)
    else:
        samples = _deinterlace(raw, width, height, channels, depth, bpp)
    return Image(width, height, depth, color_type, palette, samples)


def _deinterlace(raw: bytes, width: int, height: int, channels: int, depth: int, bpp: int) -> bytes:
    size = (2 if depth == 16 else 1) * channels  # bytes per pixel after unpacking
    out = bytearray(width * height * size)
    offset = 0
    for x0, y0, dx, dy in ADAM7:
        pass_width = (width - x0 + dx - 1) // dx if width > x0 else 0
        pass_height = (height - y0 + dy - 1) // dy if height > y0 else 0
        if not pass_width or not pass_height:
            continue
        stride = (pass_width * channels * depth + 7) // 8
        length = pass_height * (stride + 1)
        rows = _unfilter(raw[offset : offset + length], pass_height, stride, bpp)
        offset += length
        samples = _unpack(rows, pass_height, stride, pass_width * channels, depth)
        for py in range(pass_height):
            y = y0 + py * dy
            line = samples[py * pass_width * size : (py + 1) * pass_width * size]
            for px in range(pass_width):
                x = x0 + px * dx
                target = (y * width + x) * size
                out[target : target + size] = line[px * size : (px + 1) * size]
    return bytes(out)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body))
        + kind
        + body
        + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def _pack_rows(indices: bytes, width: int, height: int, depth: int) -> bytes:
    """One index per byte → filter-0 rows of packed samples, each with its filter byte."""
    if depth == 8:
        return b"".join(b"\x00" + indices[r * width : (r + 1) * width] for r in range(height))
    per = 8 // depth
    padded_width = -(-width // per) * per
    if padded_width != width:
        pad = bytes(padded_width - width)
        indices = b"".join(indices[r * width : (r + 1) * width] + pad for r in range(height))
    packed = 0
    for k in range(per):  # sample k of every output byte, shifted into its bits
        packed |= int.from_bytes(indices[k::per], "big") << (8 - depth * (k + 1))
    stride = padded_width // per
    data = packed.to_bytes(stride * height, "big")
    return b"".join(b"\x00" + data[r * stride : (r + 1) * stride] for r in range(height))


def encode_indexed(width: int, height: int, indices: bytes, palette: Sequence[Colour]) -> bytes:
    """An indexed PNG (filter 0, smallest bit depth for the palette) of one index per pixel."""
    if len(indices) != width * height:
        raise PngError(f"{len(indices)} indices for a {width}×{height} image")
    if not 1 <= len(palette) <= 256:
        raise PngError(f"a palette holds 1–256 colours, got {len(palette)}")
    depth = next(d for d in (1, 2, 4, 8) if len(palette) <= 1 << d)
    outside = bytes(0 if v < len(palette) else 1 for v in range(256))
    if bytes(indices).translate(outside).find(1) >= 0:
        raise PngError("an index is outside the palette")
    header = struct.pack(">IIBBBBB", width, height, depth, 3, 0, 0, 0)
    plte = b"".join(bytes(colour) for colour in palette)
    data = zlib.compress(_pack_rows(bytes(indices), width, height, depth), 6)
    return (
        SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"PLTE", plte)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


def hex_colour(colour: Colour) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


def parse_hex_colour(text: str) -> Colour:
    """``#2ca02c`` → (44, 160, 44); raises ``ValueError`` otherwise."""
    value = text.strip().lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    if len(value) != 6:
        raise ValueError(f"not a colour: {text[:20]!r}")
    number = int(value, 16)
    return (number >> 16) & 0xFF, (number >> 8) & 0xFF, number & 0xFF
