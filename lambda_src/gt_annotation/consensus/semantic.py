"""Semantic segmentation: a weighted per-pixel vote over the workers' label masks.

Each worker's PNG (palette or RGB/RGBA, any bit depth) becomes a plane of class
indices through the worker's ``labelMappings`` (label → colour); colours no
label uses are background. Every worker who answered votes at every pixel —
background where they painted nothing — with a weight from their stored skill;
the class with the most weight wins (background on ties). The result is one
indexed PNG with a confidence per class: the mean share of the vote its pixels
got.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from ..model import AnswerError, BatchResult, ConsolidationContext, ObjectAnswers
from ..png import encode_indexed, hex_colour
from .common import worker_weights
from .masks import (
    PALETTE,
    Mask,
    agreement_updates,
    colour_plane,
    decode_answer_png,
    equals,
    greater_than,
    lanes,
    parse_colour,
    quantised_weights,
    repeat,
    same_size,
)

BACKGROUND = "BACKGROUND"
BACKGROUND_COLOUR = (255, 255, 255)
NONZERO = bytes(min(v, 1) for v in range(256))


class SemanticSegmentation:
    """``CONSOLIDATOR`` for the method ``semantic-segmentation``."""

    def parse_answer(self, value: Any, labels: Sequence[str]) -> Mask:
        if not isinstance(value, Mapping):
            raise AnswerError("semantic segmentation answer is not a JSON object")
        mappings = value.get("labelMappings")
        if not isinstance(mappings, Mapping):
            raise AnswerError("answer has no labelMappings object")
        ordered = list(labels) or sorted(str(k) for k in mappings)
        entries = []
        for label in ordered:
            mapping = mappings.get(label)
            colour = (
                parse_colour(
                    mapping.get("color") if isinstance(mapping, Mapping) else None,
                    f"label {label!r}",
                )
                if mapping is not None
                else None
            )
            entries.append((label, colour))
        unknown = [str(k) for k in mappings if str(k) not in ordered]
        if unknown:
            raise AnswerError(
                f"labels {', '.join(unknown)[:80]} are not among {', '.join(ordered)[:80]}"
            )
        image = decode_answer_png(value)
        used = [(label, colour) for label, colour in entries if colour is not None]
        plane = colour_plane(image, [c for _, c in used])
        # plane holds 1 + position in ``used``; map to 1 + position in ``ordered``
        position = {label: i + 1 for i, label in enumerate(ordered)}
        remap = bytearray(256)
        for i, (label, _) in enumerate(used, start=1):
            remap[i] = position[label]
        return Mask(
            image.width,
            image.height,
            plane.translate(bytes(remap)),
            tuple(
                (label, colour or PALETTE[i % len(PALETTE)])
                for i, (label, colour) in enumerate(entries)
            ),
        )

    def consolidate(
        self, objects: Sequence[ObjectAnswers], context: ConsolidationContext
    ) -> BatchResult:
        result = BatchResult()
        weights, default = worker_weights(context.skills)
        for item in objects:
            label, updates = _vote(item, weights, default, context)
            result.labels[item.dataset_object_id] = label
            result.skill_updates.update(updates)
        return result


def _vote(
    item: ObjectAnswers,
    weights: Mapping[str, float],
    default: float,
    context: ConsolidationContext,
) -> tuple[dict[str, Any], dict[str, Any]]:
    masks: list[Mask] = [a.value for a in item.answers]
    width, height = same_size(masks)
    voters = [
        (a.worker_id, m)
        for a, m in zip(item.answers, masks)
        if (m.width, m.height) == (width, height)
    ]
    size = width * height
    q = quantised_weights([weights.get(w, default) for w, _ in voters])
    total = sum(q)
    high, ones = repeat(0x80, size), repeat(1, size)
    full = repeat(0xFF, size)
    classes = max(len(m.entries) for _, m in voters) + 1
    marks: dict[tuple[int, int], int] = {}  # (voter, class) → 0/1 lanes
    counts: dict[int, int] = {}
    for cls in range(1, classes):
        count = 0
        for index, (weight, (_, mask)) in enumerate(zip(q, voters)):
            if mask.plane.find(cls) < 0:  # memchr: skip classes this worker never painted
                continue
            marks[(index, cls)] = lanes(mask.plane.translate(equals(cls)))
            count += marks[(index, cls)] * weight
        if count:
            counts[cls] = count
    # Every voter votes exactly one class per pixel: background gets the rest.
    best = ones * total - sum(counts.values())
    best_class = 0
    for cls, count in counts.items():
        win = greater_than(count, best, high, ones)
        keep = full ^ (win * 0xFF)
        best = (count & (win * 0xFF)) | (best & keep)
        best_class = (win * cls) | (best_class & keep)
    plane = best_class.to_bytes(size, "big")
    result = {cls: lanes(plane.translate(equals(cls))) for cls in counts}
    painted = lanes(plane.translate(NONZERO))
    # Pixels where a voter agrees with the result: per class, and both background.
    background_agree = [
        size - (lanes(mask.plane.translate(NONZERO)) | painted).bit_count() for _, mask in voters
    ]
    support = {0: sum(w * n for w, n in zip(q, background_agree))}
    agree = list(background_agree)
    for (index, cls), mark in marks.items():
        both = (mark & result[cls]).bit_count()
        support[cls] = support.get(cls, 0) + q[index] * both
        agree[index] += both
    entries = voters[0][1].entries
    palette = [BACKGROUND_COLOUR, *(colour for _, colour in entries)]
    pixels = {0: size - painted.bit_count(), **{c: r.bit_count() for c, r in result.items()}}
    several = len(voters) > 1
    color_map: dict[str, dict[str, Any]] = {
        str(cls): {
            "class-name": BACKGROUND if cls == 0 else entries[cls - 1][0],
            "hex-color": hex_colour(palette[cls]),
            "confidence": round(support.get(cls, 0) / (total * n), 4) if several else 0.0,
        }
        for cls, n in sorted(pixels.items())
        if n
    }
    png = encode_indexed(width, height, plane, palette)
    reference = (
        context.write_png(item.dataset_object_id, png)
        if context.write_png
        else "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    )
    image_confidence = sum(support.values()) / (total * size) if several else 0.0
    agreement = [n / size for n in agree]
    label = {
        "label-ref": reference,
        "internal-color-map": color_map,
        "image_size": [{"width": width, "height": height, "depth": 3}],
        "confidence": round(image_confidence, 4),
        "workers": len(voters),
    }
    updates = agreement_updates([w for w, _ in voters], agreement) if len(voters) > 1 else {}
    return label, updates


CONSOLIDATOR = SemanticSegmentation()
