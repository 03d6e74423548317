"""Realistic crowd-bounding-box answers and the time it takes to consolidate them.

``bench_boxes()`` builds a batch the way Ground Truth sends it to the
post-annotation Lambda (already JSON-decoded element values): every image has
``boxes`` true objects of four classes; each worker draws every object with a
few pixels of jitter (a sloppier last worker jitters more), now and then misses
one and draws a stray box instead. It then times what the Lambda does with
them: ``parse_answer`` for every answer plus ``consolidate`` for the batch.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path
from typing import Any

_LAMBDA_SRC = Path(__file__).resolve().parent.parent / "lambda_src"
if str(_LAMBDA_SRC) not in sys.path:
    sys.path.insert(0, str(_LAMBDA_SRC))

from gt_annotation.consensus.boxes import CONSOLIDATOR  # noqa: E402
from gt_annotation.model import ConsolidationContext, ObjectAnswers, WorkerAnswer  # noqa: E402

LABELS = ["Car", "Person", "Bicycle", "Traffic light"]
SIZES = [(1280, 960), (1920, 1080), (640, 480)]


def _truth(rng: random.Random, width: int, height: int, count: int) -> list[tuple[Any, ...]]:
    objects = []
    for _ in range(count):
        w = rng.randint(width // 20, width // 4)
        h = rng.randint(height // 20, height // 4)
        objects.append(
            (rng.choice(LABELS), rng.randint(0, width - w), rng.randint(0, height - h), w, h)
        )
    return objects


def _drawn(
    rng: random.Random, truth: tuple[Any, ...], jitter: float, width: int, height: int
) -> dict[str, Any]:
    label, left, top, w, h = truth
    x1 = min(max(0, round(left + rng.gauss(0, jitter * w))), width - 2)
    y1 = min(max(0, round(top + rng.gauss(0, jitter * h))), height - 2)
    x2 = min(max(x1 + 1, round(left + w + rng.gauss(0, jitter * w))), width)
    y2 = min(max(y1 + 1, round(top + h + rng.gauss(0, jitter * h))), height)
    return {"height": y2 - y1, "label": label, "left": x1, "top": y1, "width": x2 - x1}


Batch = list[list[tuple[str, dict[str, Any]]]]


def make_batch(n_objects: int = 10_000, workers: int = 5, boxes: int = 8, seed: int = 0) -> Batch:
    """Per object, ``(worker id, crowd-bounding-box value)`` for every worker."""
    return make_scenes(n_objects, workers, boxes, seed)[0]


def make_scenes(
    n_objects: int = 10_000, workers: int = 5, boxes: int = 8, seed: int = 0
) -> tuple[Batch, list[list[tuple[Any, ...]]]]:
    """The batch and, per object, the true boxes ``(label, left, top, width, height)``."""
    rng = random.Random(seed)
    truths = []
    worker_ids = [f"private.us-east-1.worker{k:02d}" for k in range(workers)]
    jitters = [0.03] * (workers - 1) + [0.10]
    batch = []
    for _ in range(n_objects):
        width, height = rng.choice(SIZES)
        truth = _truth(rng, width, height, boxes)
        truths.append(truth)
        answers = []
        for worker, jitter in zip(worker_ids, jitters, strict=True):
            drawn = []
            for obj in truth:
                if rng.random() < 0.05:  # missed it, drew something else instead
                    drawn.append(_drawn(rng, _truth(rng, width, height, 1)[0], 0.0, width, height))
                else:
                    drawn.append(_drawn(rng, obj, jitter, width, height))
            answers.append(
                (
                    worker,
                    {
                        "boundingBoxes": drawn,
                        "inputImageProperties": {"height": height, "width": width},
                    },
                )
            )
        batch.append(answers)
    return batch, truths


def consolidate(batch: Batch, iou_threshold: float = 0.5) -> tuple[float, float, dict[str, Any]]:
    """Seconds spent in ``parse_answer`` and in ``consolidate``, and the labels."""
    start = time.perf_counter()
    objects = [
        ObjectAnswers(
            str(index),
            {"s3Uri": f"s3://bucket/images/{index}.jpg"},
            [WorkerAnswer(w, CONSOLIDATOR.parse_answer(v, LABELS)) for w, v in answers],
        )
        for index, answers in enumerate(batch)
    ]
    parsed = time.perf_counter()
    context = ConsolidationContext(
        task_type="BOUNDING_BOX",
        labels=LABELS,
        label_attribute_name="vehicles",
        options={"method": "bounding-box", "iouThreshold": iou_threshold},
    )
    result = CONSOLIDATOR.consolidate(objects, context)
    done = time.perf_counter()
    assert len(result.labels) == len(batch)
    return parsed - start, done - parsed, result.labels


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    iy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(ix, 0) * max(iy, 0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def accuracy(labels: dict[str, Any], truths: list[list[tuple[Any, ...]]]) -> tuple[float, float]:
    """(precision, recall) of the consensus boxes against the truth, at IoU 0.5, same class."""
    found = correct = 0
    for index, truth in enumerate(truths):
        predicted = [
            (LABELS[a["class_id"]], (a["left"], a["top"], a["width"], a["height"]))
            for a in labels[str(index)]["annotations"]
        ]
        found += len(predicted)
        for label, *rect in truth:
            if any(p == label and _iou(tuple(rect), r) >= 0.5 for p, r in predicted):
                correct += 1
    total = sum(len(t) for t in truths)
    return (correct / found if found else 1.0), correct / total


def bench_boxes(n_objects: int = 10_000, workers: int = 5, boxes: int = 8, seed: int = 0) -> float:
    """Seconds to parse and consolidate ``n_objects`` × ``workers`` × ``boxes`` boxes."""
    parse, consolidated, _ = consolidate(make_batch(n_objects, workers, boxes, seed))
    return parse + consolidated


if __name__ == "__main__":
    data, truth = make_scenes()
    parse_s, consolidate_s, labels = consolidate(data)
    precision, recall = accuracy(labels, truth)
    print(
        f"bounding boxes, 10000 objects x 5 workers x 8 boxes: parse {parse_s:.3f} s,"
        f" consolidate {consolidate_s:.3f} s, total {parse_s + consolidate_s:.3f} s;"
        f" precision {precision:.3f}, recall {recall:.3f}"
    )
