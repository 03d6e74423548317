"""Instance segmentation: match instances across workers, keep the backed ones, vote pixels.

1. Each worker's mask is split into instances by colour (palette index *i* is
   the instance whose ``color`` equals palette entry *i*).
2. Instances of the same label are matched across workers by mask IoU (at least
   ``iouThreshold``, default 0.5): the most trusted workers' instances seed the
   matches, and every other worker contributes its best-overlapping instance.
3. A match is kept when its workers carry more than half the skill weight of
   every worker who answered the image.
4. Within a kept match, a pixel belongs to the instance where workers holding
   more than half of *all* answering workers' weight marked it (a worker who
   drew nothing there votes background).
5. One indexed PNG (index 0 background, one colour per kept instance) and the
   instance list with label, colour and confidence (weight share × mean IoU of
   the members with the consensus mask).

Masks are integers whose byte lanes are pixels (see ``masks.py``); IoU is two
popcounts, so matching costs little even for full-size images.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..contract import INSTANCE_SEGMENTATION
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

_IOU_THRESHOLD = INSTANCE_SEGMENTATION.option("iouThreshold")
DEFAULT_IOU = _IOU_THRESHOLD.default


@dataclass
class _Instance:
    worker: int
    label: str
    colour: tuple[int, int, int]
    bits: int  # 0/1 lanes
    area: int


class InstanceSegmentation:
    """``CONSOLIDATOR`` for the method ``instance-segmentation``."""

    def parse_answer(self, value: Any, labels: Sequence[str]) -> Mask:
        if not isinstance(value, Mapping):
            raise AnswerError("instance segmentation answer is not a JSON object")
        instances = value.get("instances")
        if not isinstance(instances, list):
            raise AnswerError("answer has no instances list")
        entries = []
        for position, instance in enumerate(instances):
            if not isinstance(instance, Mapping):
                raise AnswerError(f"instance {position} is not an object")
            label = instance.get("label")
            if not isinstance(label, str) or (labels and label not in labels):
                allowed = ", ".join(labels)[:80] or "any text"
                raise AnswerError(
                    f"instance {position} label {str(label)[:40]!r} is not one of: {allowed}"
                )
            entries.append((label, parse_colour(instance.get("color"), f"instance {position}")))
        if len({colour for _, colour in entries}) != len(entries):
            raise AnswerError("two instances share a colour")
        image = decode_answer_png(value)
        plane = (
            colour_plane(image, [colour for _, colour in entries])
            if entries
            else bytes(image.width * image.height)
        )
        return Mask(image.width, image.height, plane, tuple(entries))

    def consolidate(
        self, objects: Sequence[ObjectAnswers], context: ConsolidationContext
    ) -> BatchResult:
        result = BatchResult()
        weights, default = worker_weights(context.skills)
        threshold = float(_IOU_THRESHOLD.read(context.options))
        for item in objects:
            label, updates = _consolidate_object(item, weights, default, threshold, context)
            result.labels[item.dataset_object_id] = label
            result.skill_updates.update(updates)
        return result


def _consolidate_object(
    item: ObjectAnswers,
    weights: Mapping[str, float],
    default: float,
    threshold: float,
    context: ConsolidationContext,
) -> tuple[dict[str, Any], dict[str, Any]]:
    width, height, voters = aligned_voters(item)
    size = width * height
    raw_weights = [weights.get(w, default) for w, _ in voters]
    q = quantised_weights(raw_weights)
    total = sum(q)
    instances = [
        _Instance(index, label, colour, bits, bits.bit_count())
        for index, (_, mask) in enumerate(voters)
        for number, (label, colour) in enumerate(mask.entries, start=1)
        if mask.plane.find(number) >= 0
        for bits in (lanes(mask.plane.translate(equals(number))),)
    ]
    matches = _match(instances, raw_weights, threshold)
    high, ones = repeat(0x80, size), repeat(1, size)
    half = ones * (total // 2)  # a pixel needs more than half of all weight
    kept: list[tuple[str, tuple[int, int, int], int, float]] = []  # label, colour, bits, conf
    matched_by_worker = [0] * len(voters)
    for match in matches:
        support = sum(q[inst.worker] for inst in match)
        if support * 2 <= total:
            continue
        count = sum(inst.bits * q[inst.worker] for inst in match)
        bits = greater_than(count, half, high, ones)
        area = bits.bit_count()
        if not area:
            continue
        ious = [
            (inst.bits & bits).bit_count() / (inst.area + area - (inst.bits & bits).bit_count())
            for inst in match
        ]
        confidence = support / total * sum(ious) / len(ious) if len(voters) > 1 else 0.0
        kept.append((match[0].label, match[0].colour, bits, confidence))
        for inst in match:
            matched_by_worker[inst.worker] += 1
    kept.sort(key=lambda k: -k[3])
    plane_int = 0
    taken = 0
    palette: list[tuple[int, int, int]] = [(0, 0, 0)]
    listed: list[dict[str, Any]] = []
    for number, (label, colour, bits, confidence) in enumerate(kept, start=1):
        bits &= ~taken  # overlapping instances: the more confident keeps the pixel
        taken |= bits
        plane_int |= bits * number
        if colour in palette:
            colour = next(c for c in PALETTE if c not in palette)
        palette.append(colour)
        listed.append(
            {
                "label": label,
                "color": hex_colour(colour),
                "index": number,
                "confidence": round(confidence, 4),
            }
        )
    plane = plane_int.to_bytes(size, "big")
    png = encode_indexed(width, height, plane, palette)
    reference = store_png(context, item.dataset_object_id, png)
    if listed:
        image_confidence = sum(i["confidence"] for i in listed) / len(listed)
    else:  # nobody's instance was backed: how much weight agreed there is nothing
        empty = sum(w for (_, mask), w in zip(voters, q) if not mask.entries)
        image_confidence = empty / total if len(voters) > 1 else 0.0
    own = [sum(1 for inst in instances if inst.worker == i) for i in range(len(voters))]
    agreement = [
        1.0 if not own[i] and not kept else matched_by_worker[i] / max(own[i], len(kept), 1)
        for i in range(len(voters))
    ]
    output = {
        "label-ref": reference,
        "instances": listed,
        "image_size": [{"width": width, "height": height, "depth": 3}],
        "confidence": round(image_confidence, 4),
        "workers": len(voters),
    }
    updates = agreement_updates([w for w, _ in voters], agreement) if len(voters) > 1 else {}
    return output, updates


def _iou(a: _Instance, b: _Instance) -> float:
    inter = (a.bits & b.bits).bit_count()
    return inter / (a.area + b.area - inter) if inter else 0.0


def _match(
    instances: list[_Instance], weights: Sequence[float], threshold: float
) -> list[list[_Instance]]:
    """Greedy matching: seeds in order of worker weight and area; one instance per worker."""
    order = sorted(
        range(len(instances)), key=lambda i: (-weights[instances[i].worker], -instances[i].area, i)
    )
    used: set[int] = set()
    matches = []
    for seed_index in order:
        if seed_index in used:
            continue
        seed = instances[seed_index]
        used.add(seed_index)
        match = [seed]
        workers = {seed.worker}
        for other_worker in sorted({inst.worker for inst in instances} - workers):
            best, best_iou = None, threshold
            for index, inst in enumerate(instances):
                if index in used or inst.worker != other_worker or inst.label != seed.label:
                    continue
                iou = _iou(seed, inst)
                if iou >= best_iou:
                    best, best_iou = index, iou
            if best is not None:
                used.add(best)
                match.append(instances[best])
        matches.append(match)
    return matches


CONSOLIDATOR = InstanceSegmentation()
