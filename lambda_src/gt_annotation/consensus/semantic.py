"""Semantic segmentation: a weighted per-pixel vote over the workers' label masks.

Each worker's PNG (palette or RGB/RGBA, any bit depth) becomes a plane of class
indices through the worker's ``labelMappings`` (label → colour); colours no
label uses are background. Every worker who answered votes at every pixel —
background where they painted nothing — with a weight from their stored skill;
the class with the most weight wins (background on ties). The result is one
indexed PNG (palette index = class index), the colour of every class of the job
(``internal-color-map``, painted or not) and a confidence per painted class:
the mean share of the vote its pixels got.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..model import AnswerError, BatchResult, ConsolidationContext, ObjectAnswers
from ..png import encode_indexed, hex_colour
from .common import worker_weights
from .masks import (
    PALETTE,
    Mask,
    agreement_updates,
    aligned_voters,
    colour_plane,
    decode_answer_png,
    equals,
    greater_than,
    lanes,
    parse_colour,
    quantised_weights,
    repeat,
    store_png,
)

BACKGROUND = "BACKGROUND"
BACKGROUND_COLOUR = (255, 255, 255)


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
    width, height, voters = aligned_voters(item)
    size = width * height
    # Most trusted first: ties between classes go to the more trusted worker's class.
    order = sorted(range(len(voters)), key=lambda i: -weights.get(voters[i][0], default))
    voters = [voters[i] for i in order]
    q = quantised_weights([weights.get(w, default) for w, _ in voters])
    total = sum(q)
    high, ones, full = repeat(0x80, size), repeat(1, size), repeat(0xFF, size)
    low7 = repeat(0x7F, size)

    def same(a: int, b: int) -> int:
        """0/1 lanes where the two planes hold the same index."""
        x = a ^ b
        return ((((x & low7) + low7) | x) & high ^ high) >> 7

    planes = [lanes(mask.plane) for _, mask in voters]
    # A worker's support at a pixel: the weight of every worker who chose the same class
    # there (background included), i.e. the weight of that worker's class.
    supports = [ones * weight for weight in q]
    for i in range(len(planes)):
        for j in range(i + 1, len(planes)):
            matching = same(planes[i], planes[j])
            supports[i] += matching * q[j]
            supports[j] += matching * q[i]
    best, best_class = supports[0], planes[0]
    for candidate_support, candidate in zip(supports[1:], planes[1:]):
        win = greater_than(candidate_support, best, high, ones) * 0xFF
        keep = full ^ win
        best = (candidate_support & win) | (best & keep)
        best_class = (candidate & win) | (best_class & keep)
    plane = best_class.to_bytes(size, "big")
    agreeing = [same(p, best_class) for p in planes]
    agree = [a.bit_count() for a in agreeing]
    classes = [c for c in range(max(len(m.entries) for _, m in voters) + 1) if plane.find(c) >= 0]
    support: dict[int, int] = {}
    pixels: dict[int, int] = {}
    for cls in classes:
        region = lanes(plane.translate(equals(cls)))
        pixels[cls] = region.bit_count()
        support[cls] = sum(w * (a & region).bit_count() for w, a in zip(q, agreeing))
    entries = voters[0][1].entries
    palette = [BACKGROUND_COLOUR, *(colour for _, colour in entries)]
    several = len(voters) > 1
    # Every class of the job, painted or not (verification needs the colours), as the
    # built-in job lists it; the confidence of each painted class beside it.
    color_map: dict[str, dict[str, Any]] = {
        str(cls): {
            "class-name": BACKGROUND if cls == 0 else entries[cls - 1][0],
            "hex-color": hex_colour(colour),
        }
        for cls, colour in enumerate(palette)
    }
    class_confidences = {
        str(cls): round(support.get(cls, 0) / (total * n), 4) if several else 0.0
        for cls, n in sorted(pixels.items())
        if n
    }
    png = encode_indexed(width, height, plane, palette)
    reference = store_png(context, item.dataset_object_id, png)
    image_confidence = sum(support.values()) / (total * size) if several else 0.0
    agreement = [n / size for n in agree]
    label = {
        "label-ref": reference,
        "internal-color-map": color_map,
        "class-confidences": class_confidences,
        "image_size": [{"width": width, "height": height, "depth": 3}],
        "confidence": round(image_confidence, 4),
        "workers": len(voters),
    }
    updates = agreement_updates([w for w, _ in voters], agreement) if len(voters) > 1 else {}
    return label, updates


CONSOLIDATOR = SemanticSegmentation()
