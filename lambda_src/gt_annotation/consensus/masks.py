"""Worker masks as planes of one byte per pixel, and whole-image arithmetic on them.

A *plane* holds one small number per pixel (a class or instance index, 0 for
background). Voting treats a plane as one big integer whose bytes are lanes:
``bytes.translate`` turns a plane into 0/1 lanes for one index, and integer
addition, multiplication by a small weight, subtraction and masking then work
on every pixel at once inside the interpreter's C code. Lane values stay below
128 (weights are scaled so their sum fits), so no carry crosses a lane.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..model import AnswerError, ConsolidationContext, ObjectAnswers, WorkerSkill
from ..png import Colour, Image, PngError, decode, parse_hex_colour

#: Largest lane value a vote count may reach (leaves the top bit free).
MAX_LANE = 126
#: Distinct colours for consolidated masks (index 0 is the background).
PALETTE: tuple[Colour, ...] = (
    (44, 160, 44),
    (31, 119, 180),
    (255, 127, 14),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)


@dataclass(frozen=True)
class Mask:
    """One worker's mask: a plane of indices and what each index means."""

    width: int
    height: int
    plane: bytes
    #: Index i (1-based) → (label, colour) of that class or instance.
    entries: tuple[tuple[str, Colour], ...]


def colour_plane(image: Image, colours: Sequence[Colour]) -> bytes:
    """Per pixel: 1 + the position of its colour in ``colours``, 0 for any other colour."""
    if image.color_type == 3:
        lookup = {colour: i + 1 for i, colour in enumerate(colours)}
        table = bytearray(256)
        for index, colour in enumerate(image.palette):
            table[index] = lookup.get(colour, 0)
        return image.samples.translate(bytes(table))
    samples = image.samples[0::2] if image.bit_depth == 16 else image.samples  # high bytes
    if image.bit_depth < 8:  # grey at 1/2/4 bits: scale to 0–255 like any viewer
        top = (1 << image.bit_depth) - 1
        samples = samples.translate(bytes(min(255, v * 255 // top) for v in range(256)))
    channels = image.channels
    if image.color_type in (0, 4):
        red = green = blue = samples[0::channels]
    else:
        red, green, blue = samples[0::channels], samples[1::channels], samples[2::channels]
    size = image.width * image.height
    result = 0
    for index, (r, g, b) in enumerate(colours, start=1):
        hit = lanes(red.translate(equals(r))) & lanes(green.translate(equals(g)))
        hit &= lanes(blue.translate(equals(b)))
        result |= hit * index
    return result.to_bytes(size, "big")


_EQUALS: dict[int, bytes] = {}


def equals(value: int) -> bytes:
    """A translate table: ``value`` → 1, everything else → 0."""
    table = _EQUALS.get(value)
    if table is None:
        table = _EQUALS[value] = bytes(1 if v == value else 0 for v in range(256))
    return table


def lanes(plane: bytes) -> int:
    return int.from_bytes(plane, "big")


@lru_cache(maxsize=16)
def repeat(byte: int, size: int) -> int:
    """An integer whose ``size`` byte lanes all hold ``byte`` (cached: images share sizes)."""
    return int.from_bytes(bytes((byte,)) * size, "big")


def lane_sum(value: int, bits: int = 7) -> int:
    """Sum of all lanes of ``value`` (each lane < 2**bits)."""
    size = (value.bit_length() + 7) // 8
    if not size:
        return 0
    ones = repeat(1, size)
    return sum(((value >> bit) & ones).bit_count() << bit for bit in range(bits))


def greater_than(count: int, best: int, high: int, ones: int) -> int:
    """0/1 lanes where ``count`` > ``best`` (both lanes ≤ ``MAX_LANE``)."""
    return (((count | high) - (best + ones)) & high) >> 7


def decode_answer_png(value: Mapping[str, Any]) -> Image:
    """The worker's mask PNG from ``labeledImage.pngImageData`` (base64)."""
    labeled = value.get("labeledImage")
    data = labeled.get("pngImageData") if isinstance(labeled, Mapping) else None
    if not isinstance(data, str) or not data:
        raise AnswerError("answer has no labeledImage.pngImageData")
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        raise AnswerError("labeledImage.pngImageData is not base64") from None
    try:
        image = decode(raw)
    except PngError as error:
        raise AnswerError(f"the mask is not a readable PNG ({error})") from None
    size = value.get("inputImageProperties")
    if isinstance(size, Mapping):
        width, height = size.get("width"), size.get("height")
        if (
            isinstance(width, int)
            and isinstance(height, int)
            and (width, height) != (image.width, image.height)
        ):
            raise AnswerError(
                f"mask is {image.width}×{image.height} but the image is {width}×{height}"
            )
    return image


def parse_colour(text: Any, what: str) -> Colour:
    if not isinstance(text, str):
        raise AnswerError(f"{what} has no colour")
    try:
        return parse_hex_colour(text)
    except ValueError:
        raise AnswerError(f"{what} colour {text[:20]!r} is not #rrggbb") from None


def quantised_weights(weights: Sequence[float]) -> list[int]:
    """Integer weights (≥ 1) proportional to ``weights`` whose sum is at most ``MAX_LANE``."""
    top = max(weights) if weights else 1.0
    budget = max(1, MAX_LANE // max(1, len(weights)))
    return [max(1, round(w / top * budget)) for w in weights]


def agreement_updates(
    workers: Sequence[str], agreements: Sequence[float]
) -> dict[str, WorkerSkill]:
    """Skill evidence: each answer scored once, agreement as a fraction of one."""
    return {
        worker: WorkerSkill(worker, agreements=round(max(0.0, min(1.0, a)), 4), scored=1.0)
        for worker, a in zip(workers, agreements)
    }


def aligned_voters(item: ObjectAnswers) -> tuple[int, int, list[tuple[str, Mask]]]:
    """The common mask size of an object and the (worker, mask) pairs of that size.

    A mask of another size cannot be voted pixel by pixel with the others; the
    most frequent size wins (``inputImageProperties`` already rejected most).
    """
    masks: list[Mask] = [a.value for a in item.answers]
    width, height = same_size(masks)
    voters = [
        (a.worker_id, m)
        for a, m in zip(item.answers, masks)
        if (m.width, m.height) == (width, height)
    ]
    return width, height, voters


def store_png(context: ConsolidationContext, object_id: str, png: bytes) -> str:
    """Write the consolidated mask (its ``s3://`` URI), or inline it when there is no writer."""
    if context.write_png is not None:
        return context.write_png(object_id, png)
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def same_size(masks: Sequence[Mask]) -> tuple[int, int]:
    """The common size of the masks (the most frequent one)."""
    sizes: dict[tuple[int, int], int] = {}
    for mask in masks:
        sizes[(mask.width, mask.height)] = sizes.get((mask.width, mask.height), 0) + 1
    return max(sizes, key=lambda s: (sizes[s], s))
