"""Bounding boxes: match boxes across workers by IoU, keep what a weighted majority drew.

For every object and every label, each box is compared with the boxes of the
*other* workers that overlap it (boxes are sorted by their left edge and swept,
so pairs that cannot overlap are never looked at). Pairs with an IoU of at
least ``iouThreshold`` (default 0.5) are merged greedily, best IoU first, into
clusters under two rules: a cluster holds at most one box per worker, and every
two boxes in a cluster overlap by at least the threshold (complete linkage, so
a chain of loosely overlapping boxes never becomes one object). The result does
not depend on the order in which the answers arrive.

A cluster is kept when the workers who drew it carry more than half the weight
of all the workers who answered the object (a worker who drew nothing votes
"no box" everywhere; exactly half is not a majority). A worker's weight is the
reliability stored for them (``WorkerSkill.reliability()``: agreements over
scored answers, with a Beta prior, so a newcomer weighs 2/3). The consensus box
is the weighted mean of the cluster's corners, rounded to whole pixels and kept
inside the image. Its confidence is the cluster's share of the weight times the
weighted mean IoU of its boxes with the consensus box; the object's confidence
is the mean, over all clusters, of the confidence of the decision taken (that
box confidence for a kept cluster, ``1 - share`` for a dropped one), 1 when
nobody drew anything, and 0 whenever only one worker answered.

Skill evidence per worker: boxes that landed in kept clusters are agreements;
boxes drawn plus kept clusters the worker missed are scored. A worker who drew
nothing on an object whose consensus is empty agrees once.

Speed (a batch can hold thousands of images with dozens of boxes each): answers
are stored flat, boxes are bucketed by label and swept in order of their left
edge, stopping as soon as no later box can reach the threshold; when the pairs
over the threshold form separate cliques (workers agree), the clusters are read
off the cliques without the greedy merge; and the cyclic garbage collector is
paused while a batch is consolidated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

from ..contract import BOUNDING_BOX
from ..model import AnswerError, BatchResult, ConsolidationContext, ObjectAnswers, WorkerSkill
from .common import paused_gc, worker_weights

_IOU_THRESHOLD = BOUNDING_BOX.option("iouThreshold")
DEFAULT_IOU_THRESHOLD = _IOU_THRESHOLD.default
#: An answer with more boxes than this is rejected (the matching is quadratic in the worst case).
MAX_BOXES = 2000
#: Coordinates and image sides beyond this many pixels are refused (no real image is that large).
MAX_PIXELS = 1_000_000
_NUMBER = (int, float)
_FIELDS = ("label", "left", "top", "width", "height")
_fields_of = itemgetter(*_FIELDS)


class Box(NamedTuple):
    """One box in pixels, as corners (clipped to the image when its size is known)."""

    label: str
    left: float
    top: float
    right: float
    bottom: float


class BoxAnswer(NamedTuple):
    """One worker's boxes and the image size the worker's tool reported.

    Stored flat (a label per box, four corners per box in ``corners``): a
    batch holds hundreds of thousands of boxes, and flat tuples of numbers
    cost the garbage collector nothing. ``boxes`` gives them as ``Box``.
    """

    labels: tuple[str, ...]
    #: ``left, top, right, bottom`` of every box, one after the other.
    corners: tuple[float, ...]
    #: ``(width, height)`` from ``inputImageProperties``; None when absent.
    image_size: tuple[int, int] | None = None

    @property
    def boxes(self) -> tuple[Box, ...]:
        it = iter(self.corners)
        return tuple(Box(*box) for box in zip(self.labels, it, it, it, it))


def _describe(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _image_size(value: Any) -> tuple[int, int]:
    if type(value) is dict:
        width = value.get("width")
        height = value.get("height")
        if (
            type(width) is int
            and type(height) is int
            and 0 < width <= MAX_PIXELS
            and 0 < height <= MAX_PIXELS
        ):
            return width, height
    if not isinstance(value, Mapping):
        raise AnswerError(
            f"inputImageProperties is a {_describe(value)}, expected {{'width': W, 'height': H}}"
        )
    size = []
    for key in ("width", "height"):
        number: Any = value.get(key)
        if type(number) not in _NUMBER or not (
            0 < number <= MAX_PIXELS and float(number).is_integer()  # also refuses NaN
        ):
            raise AnswerError(
                f"inputImageProperties.{key} is {number!r}; expected a whole number of pixels"
                f" from 1 to {MAX_PIXELS}"
            )
        size.append(int(number))
    return size[0], size[1]


def _box_error(index: int, raw: Any, labels: Sequence[str]) -> AnswerError:
    """The precise reason a box was refused (the slow path, only for bad boxes)."""
    if not isinstance(raw, Mapping):
        return AnswerError(f"box {index} is a {_describe(raw)}, expected an object")
    for key in _FIELDS:
        if key not in raw:
            return AnswerError(f"box {index} has no {key!r} (expected {', '.join(_FIELDS)})")
    label = raw["label"]
    if not isinstance(label, str) and not (type(label) is int and 0 <= label < len(labels)):
        return AnswerError(f"box {index} label is a {_describe(label)}, expected a label name")
    if isinstance(label, str) and labels and label not in labels:
        shown = ", ".join(list(labels)[:10])
        return AnswerError(f"box {index} label {label[:60]!r} is not one of: {shown}")
    for key in _FIELDS[1:]:
        number = raw[key]
        if type(number) not in _NUMBER:
            return AnswerError(
                f"box {index} {key} is a {_describe(number)}, expected a number of pixels"
            )
        if number != number or number in (float("inf"), float("-inf")):
            return AnswerError(f"box {index} {key} is {number!r}, expected a finite number")
    for key in ("width", "height"):
        if raw[key] <= 0:
            return AnswerError(f"box {index} {key} is {raw[key]!r}, expected more than 0 pixels")
    return AnswerError(
        f"box {index} lies outside the image or beyond {MAX_PIXELS} pixels from its origin"
    )


def _unwrap(value: Any) -> Mapping[str, Any]:
    """The crowd-bounding-box value, also when it still sits under its element name."""
    if not isinstance(value, Mapping):
        raise AnswerError(
            f"bounding-box answer is a {_describe(value)}, expected an object with 'boundingBoxes'"
        )
    if "boundingBoxes" not in value and len(value) == 1:
        (inner,) = value.values()
        if isinstance(inner, Mapping) and "boundingBoxes" in inner:
            return inner
    return value


class BoundingBoxes:
    """``CONSOLIDATOR`` for the method ``bounding-box``."""

    def __init__(self) -> None:
        # The label set of the last call: a batch parses every answer with the same labels.
        self._known_labels: tuple[tuple[str, ...], frozenset[str]] = ((), frozenset())

    def _known(self, labels: Sequence[str]) -> frozenset[str]:
        key = labels if isinstance(labels, tuple) else tuple(labels)
        cached = self._known_labels
        if cached[0] != key:
            cached = self._known_labels = (key, frozenset(key))
        return cached[1]

    def parse_answer(self, value: Any, labels: Sequence[str]) -> BoxAnswer:
        """A crowd-bounding-box value as boxes with corners.

        ``{"boundingBoxes": [{"height", "label", "left", "top", "width"}],
        "inputImageProperties": {"height", "width"}}``, in pixels. Sizes must be
        positive and coordinates finite numbers; a label must be one of
        ``labels`` (any name when the job has no label categories). Parts of a
        box outside the image are cut off; a box wholly outside is an error.
        """
        value = _unwrap(value)
        raw_boxes = value.get("boundingBoxes")
        if not isinstance(raw_boxes, list):
            raise AnswerError(
                f"bounding-box answer has no 'boundingBoxes' list (got {_describe(raw_boxes)})"
            )
        if len(raw_boxes) > MAX_BOXES:
            raise AnswerError(f"{len(raw_boxes)} boxes in one answer; at most {MAX_BOXES} allowed")
        size = None
        properties = value.get("inputImageProperties")
        if properties is not None:
            size = _image_size(properties)
        max_x, max_y = size if size is not None else (MAX_PIXELS, MAX_PIXELS)
        known = self._known(labels)
        names: list[str] = []
        corners: list[float] = []
        for index, raw in enumerate(raw_boxes):
            try:
                label, left, top, width, height = _fields_of(raw)
            except (KeyError, TypeError, IndexError):
                raise _box_error(index, raw, labels) from None
            if not (
                type(left) is int
                and type(top) is int
                and type(width) is int
                and type(height) is int
            ) and (
                type(left) not in _NUMBER
                or type(top) not in _NUMBER
                or type(width) not in _NUMBER
                or type(height) not in _NUMBER
                or 0 * (left + top + width + height) != 0  # NaN or infinite
            ):
                raise _box_error(index, raw, labels)
            if type(label) is not str or (known and label not in known):
                if type(label) is int and 0 <= label < len(labels):
                    label = labels[label]
                else:
                    raise _box_error(index, raw, labels)
            right = left + width
            bottom = top + height
            if not (
                left >= 0 and top >= 0 and right <= max_x and bottom <= max_y
            ):  # partly outside the image: cut off what is
                left = left if left > 0 else 0
                top = top if top > 0 else 0
                right = right if right < max_x else max_x
                bottom = bottom if bottom < max_y else max_y
            if width <= 0 or height <= 0 or right <= left or bottom <= top:
                raise _box_error(index, raw, labels)
            names.append(label)
            corners += (left, top, right, bottom)
        return BoxAnswer(tuple(names), tuple(corners), size)

    def consolidate(
        self, objects: Sequence[ObjectAnswers], context: ConsolidationContext
    ) -> BatchResult:
        threshold = iou_threshold(context.options)
        labels = list(context.labels)
        seen = {name for o in objects for a in o.answers for name in a.value.labels}
        labels += sorted(seen.difference(labels))
        class_ids = {name: i for i, name in enumerate(labels)}
        class_map = {str(i): name for i, name in enumerate(labels)}
        weights, default_weight = worker_weights(context.skills)
        result = BatchResult()
        updates = result.skill_updates
        with paused_gc():
            for item in objects:
                if not item.answers:
                    continue
                answers = sorted(item.answers, key=_answer_key)
                label, evidence = _consolidate_object(
                    [a.value for a in answers],
                    [weights.get(a.worker_id, default_weight) for a in answers],
                    threshold,
                    class_ids,
                )
                label["class-map"] = class_map
                result.labels[item.dataset_object_id] = label
                if len(answers) > 1:
                    for answer, (agreed, scored) in zip(answers, evidence):
                        skill = updates.get(answer.worker_id)
                        if skill is None:
                            skill = updates[answer.worker_id] = WorkerSkill(answer.worker_id)
                        skill.agreements += agreed
                        skill.scored += scored

        return result


#: Bounds of a worker's weight: stored counts that went wrong cannot silence or double a worker.
def iou_threshold(options: Mapping[str, Any]) -> float:
    """The ``iouThreshold`` option (also accepted as ``iou_threshold``), in (0, 1]."""
    return float(_IOU_THRESHOLD.read(options))


def _answer_key(answer: Any) -> tuple[Any, ...]:
    value: BoxAnswer = answer.value
    return (answer.worker_id, value.image_size or (0, 0), value.labels, value.corners)


def _image_size_of(values: Sequence[BoxAnswer]) -> tuple[int, int] | None:
    """The image size most workers reported (they normally all report the same)."""
    first = values[0].image_size
    if all(value.image_size == first for value in values):
        return first
    counts: dict[tuple[int, int], int] = {}
    for value in values:
        if value.image_size is not None:
            counts[value.image_size] = counts.get(value.image_size, 0) + 1
    if not counts:
        return None
    return max(counts, key=lambda size: (counts[size], size))


def separate_cliques(adjacent: Sequence[int]) -> list[list[int]] | None:
    """The cliques of a graph that is nothing but separate cliques, else None.

    ``adjacent[i]`` has bit ``j`` set for every edge ``(i, j)``. Edges never
    join two items of one owner, so when they form separate cliques (all
    workers agree up to the threshold) those cliques are exactly what the
    greedy merge of ``cluster_pairs`` would build: the items sharing one
    closed neighbourhood, as many as it has members.
    """
    groups: dict[int, list[int]] = {}
    for i, mask in enumerate(adjacent):
        key = mask | 1 << i
        group = groups.get(key)
        if group is None:
            groups[key] = [i]
        else:
            group.append(i)
    for key, group in groups.items():
        if len(group) != key.bit_count():
            return None
    return list(groups.values())


def match_clusters(
    n: int, owners: Sequence[int], edges: list[tuple[float, int, int]], adjacent: list[int]
) -> list[list[int]]:
    """``cluster_pairs``, through the ``separate_cliques`` shortcut when it applies."""
    if not edges:
        return [[i] for i in range(n)]
    cliques = separate_cliques(adjacent)
    return cliques if cliques is not None else cluster_pairs(n, owners, edges)


def cluster_pairs(
    n: int, owners: Sequence[int], edges: list[tuple[float, int, int]]
) -> list[list[int]]:
    """Greedy complete-linkage clustering of ``n`` items drawn by several owners.

    ``edges`` are ``(similarity, i, j)`` with ``i < j``, only for the pairs at
    or above the threshold; they are taken best first (ties: higher indices
    first, so callers order their items canonically). Two clusters merge when
    an edge joins them, no owner is in both (one item per owner), and every
    pair across them is an edge.
    """
    if not edges:
        return [[i] for i in range(n)]
    edges.sort(reverse=True)
    root = list(range(n))
    members: list[list[int]] = [[i] for i in range(n)]
    masks = [1 << owner for owner in owners]
    linked = {i * n + j for _, i, j in edges}
    for _, i, j in edges:
        a = root[i]
        b = root[j]
        if a == b or masks[a] & masks[b]:
            continue
        group_a = members[a]
        group_b = members[b]
        if len(group_a) + len(group_b) > 2:
            complete = True
            for x in group_a:
                for y in group_b:
                    if (x * n + y if x < y else y * n + x) not in linked:
                        complete = False
                        break
                if not complete:
                    break
            if not complete:
                continue
        if len(group_a) < len(group_b):
            a, b, group_a, group_b = b, a, group_b, group_a
        group_a.extend(group_b)
        for x in group_b:
            root[x] = a
        masks[a] |= masks[b]
        members[b] = []
    return [group for group in members if group]


def _overlaps(
    boxes: list[tuple[float, float, float, float, int]], areas: list[float], threshold: float
) -> list[int]:
    """Per box, a bit mask of the other workers' boxes it overlaps by IoU >= threshold.

    ``boxes`` are sorted by their left edge: IoU >= t needs an overlap of at
    least t times the width, so once a box starts beyond that, no later one
    qualifies and the scan stops.
    """
    n = len(boxes)
    adjacent = [0] * n
    for i in range(n - 1):
        ax1, ay1, ax2, ay2, aw = boxes[i]
        aa = areas[i]
        reach = ax2 - threshold * (ax2 - ax1) * (1 - 1e-9)
        mask = adjacent[i]
        bit = 1 << i
        for j in range(i + 1, n):
            bx1, by1, bx2, by2, bw = boxes[j]
            if bx1 > reach:
                break
            if bw == aw:
                continue
            iy = (ay2 if ay2 < by2 else by2) - (ay1 if ay1 > by1 else by1)
            if iy <= 0:
                continue
            inter = ((ax2 if ax2 < bx2 else bx2) - bx1) * iy
            if inter >= threshold * (aa + areas[j] - inter):
                mask |= 1 << j
                adjacent[j] |= bit
        adjacent[i] = mask
    return adjacent


def _box_clusters(
    boxes: list[tuple[float, float, float, float, int]],
    areas: list[float],
    threshold: float,
    adjacent: list[int],
) -> list[list[int]]:
    """Clusters of one label's boxes: the cliques of ``adjacent`` when they are
    separate (the common case), else the greedy merge of ``cluster_pairs``."""
    n = len(boxes)
    cliques = separate_cliques(adjacent)
    if cliques is not None:
        return cliques
    edges = []
    for i in range(n):
        x1, y1, x2, y2, _ = boxes[i]
        mask = adjacent[i] >> (i + 1)
        j = i + 1
        while mask:
            if mask & 1:
                bx1, by1, bx2, by2, _ = boxes[j]
                inter = (min(x2, bx2) - max(x1, bx1)) * (min(y2, by2) - max(y1, by1))
                edges.append((inter / (areas[i] + areas[j] - inter), i, j))
            mask >>= 1
            j += 1
    return cluster_pairs(n, [box[4] for box in boxes], edges)


def _consolidate_object(
    values: Sequence[BoxAnswer],
    weights: Sequence[float],
    threshold: float,
    class_ids: Mapping[str, int],
) -> tuple[dict[str, Any], list[tuple[float, float]]]:
    """The label of one object and (agreements, scored) per answer, in answer order."""
    n_answers = len(values)
    total = sum(weights)
    majority = 0.5 * total * (1 + 1e-9)
    matched = [0] * n_answers
    buckets = _by_label(values)
    size = _image_size_of(values)
    limit_x, limit_y = size if size is not None else (MAX_PIXELS, MAX_PIXELS)
    annotations: list[dict[str, Any]] = []
    decisions: list[float] = []
    for label in sorted(buckets, key=class_ids.__getitem__):  # output ordered by class
        boxes = buckets[label]
        boxes.sort()
        areas = [(x2 - x1) * (y2 - y1) for x1, y1, x2, y2, _ in boxes]
        adjacent = _overlaps(boxes, areas, threshold)
        class_id = class_ids[label]
        for group in _box_clusters(boxes, areas, threshold, adjacent):
            if len(group) == 1:
                x1, y1, x2, y2, owner = boxes[group[0]]
                support = weights[owner]
                if support <= majority:
                    decisions.append(1.0 - support / total)
                    continue
                cx1, cy1, cx2, cy2 = x1, y1, x2, y2
                matched[owner] += 1
                overlap = support
            else:
                support = sx1 = sy1 = sx2 = sy2 = 0.0
                for k in group:
                    x1, y1, x2, y2, owner = boxes[k]
                    weight = weights[owner]
                    support += weight
                    sx1 += weight * x1
                    sy1 += weight * y1
                    sx2 += weight * x2
                    sy2 += weight * y2
                if support <= majority:
                    decisions.append(1.0 - support / total)
                    continue
                cx1 = sx1 / support
                cy1 = sy1 / support
                cx2 = sx2 / support
                cy2 = sy2 / support
                area = (cx2 - cx1) * (cy2 - cy1)
                overlap = 0.0
                for k in group:
                    x1, y1, x2, y2, owner = boxes[k]
                    matched[owner] += 1
                    ix = (x2 if x2 < cx2 else cx2) - (x1 if x1 > cx1 else cx1)
                    iy = (y2 if y2 < cy2 else cy2) - (y1 if y1 > cy1 else cy1)
                    if ix > 0 and iy > 0:
                        inter = ix * iy
                        overlap += weights[owner] * inter / (areas[k] + area - inter)
            confidence = overlap / total if n_answers > 1 else 0.0
            decisions.append(confidence)
            # Whole pixels, at least 1x1, inside the image.
            left = round(cx1)
            top = round(cy1)
            right = round(cx2)
            bottom = round(cy2)
            if left >= limit_x:
                left = limit_x - 1
            if top >= limit_y:
                top = limit_y - 1
            if right > limit_x:
                right = limit_x
            if bottom > limit_y:
                bottom = limit_y
            annotations.append(
                {
                    "class_id": class_id,
                    "left": left,
                    "top": top,
                    "width": right - left if right > left else 1,
                    "height": bottom - top if bottom > top else 1,
                    "confidence": round(confidence, 4),
                }
            )
    label_json = _object_label(size, annotations, decisions, n_answers)
    return label_json, _box_evidence(values, matched, len(annotations))


def _by_label(
    values: Sequence[BoxAnswer],
) -> dict[str, list[tuple[float, float, float, float, int]]]:
    """Every answer's boxes, by label: ``(x1, y1, x2, y2, answer index)``."""
    buckets: dict[str, list[tuple[float, float, float, float, int]]] = {}
    for owner, value in enumerate(values):
        it = iter(value.corners)
        for label, x1, y1, x2, y2 in zip(value.labels, it, it, it, it):
            bucket = buckets.get(label)
            if bucket is None:
                buckets[label] = [(x1, y1, x2, y2, owner)]
            else:
                bucket.append((x1, y1, x2, y2, owner))
    return buckets


def _object_label(
    size: tuple[int, int] | None,
    annotations: list[dict[str, Any]],
    decisions: Sequence[float],
    n_answers: int,
) -> dict[str, Any]:
    """The object's label: its boxes, and the mean confidence of every keep-or-drop decision."""
    if n_answers < 2:
        confidence = 0.0
    elif decisions:
        confidence = sum(decisions) / len(decisions)
    else:
        confidence = 1.0
    return {
        "image_size": (
            [{"width": size[0], "height": size[1], "depth": 3}] if size is not None else []
        ),
        "annotations": annotations,
        "confidence": round(confidence, 4),
        "workers": n_answers,
    }


def _box_evidence(
    values: Sequence[BoxAnswer], matched: Sequence[int], kept: int
) -> list[tuple[float, float]]:
    """(agreements, scored) per answer: one box per worker per cluster, so a worker
    missed every kept cluster it has no box in."""
    evidence = []
    for k, value in enumerate(values):
        drawn = len(value.labels)
        if drawn == 0 and not kept:
            evidence.append((1.0, 1.0))
        else:
            evidence.append((float(matched[k]), float(drawn + kept - matched[k])))
    return evidence


CONSOLIDATOR = BoundingBoxes()
