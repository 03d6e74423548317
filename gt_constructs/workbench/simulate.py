"""``gt-constructs simulate``: the whole custom workflow locally, with workers of known quality.

generated manifest → pre-annotation (``build_task_input``) → the default worker
template rendered for every task → synthetic answers (each worker has a true
accuracy; spammers answer at random) → post-annotation (``consolidate_batch``)
→ output manifest. Then: accuracy against the synthetic truth, and the skill
the consensus recovered for every worker next to the true one.
"""

from __future__ import annotations

import abc
import argparse
import json
import random
import statistics
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..consolidation import Consolidation
from ..task_type import DataKind, TaskType
from ..template import WorkerTemplate
from .common import LocalFiles, WorkbenchError, parse_labels, parse_task_type, say
from .consolidate import (
    ConsolidatedObject,
    Record,
    RunSummary,
    consolidate_records,
    mask_writer,
    now_iso,
    output_line,
    validate_method,
)
from .preview import default_elements_url, render_preview, task_input_for
from .report import ReportCollector, render, worker_rows, write_report

DEFAULT_LABELS: dict[TaskType, list[str]] = {
    TaskType.IMAGE_CLASSIFICATION: ["Bird", "Cat", "Dog", "Fish"],
    TaskType.TEXT_CLASSIFICATION: ["Negative", "Neutral", "Positive"],
    TaskType.IMAGE_MULTI_LABEL: ["Car", "Person", "Sign", "Tree"],
    TaskType.TEXT_MULTI_LABEL: ["Billing", "Delivery", "Praise", "Product"],
    TaskType.BOUNDING_BOX: ["Car", "Person"],
    TaskType.NAMED_ENTITY: ["LOC", "ORG", "PER"],
}
SUPPORTED = tuple(DEFAULT_LABELS)
IMAGE_SIZE = (640, 480)
LABEL_ATTRIBUTE = "simulated"
JOB_NAME = "gt-constructs-simulation"

_NAMES = {
    "PER": ["Ana Silva", "Bo Chen", "Carla Diaz", "Dev Patel", "Emma Berg", "Femi Ade"],
    "ORG": ["Acme Corp", "Blue Harbor Bank", "Nordwind AG", "City Library", "Orbit Labs"],
    "LOC": ["Lisbon", "Osaka", "Nairobi", "Lake Placid", "Porto Alegre", "Bergen"],
}
_SENTENCES = [
    "On Monday {PER} met the team of {ORG} in {LOC}.",
    "{ORG} opened an office in {LOC}, said {PER}.",
    "{PER} flew from {LOC} to {LOC} for {ORG}.",
    "The report by {PER} about {ORG} was published in {LOC}.",
]


@dataclass(frozen=True)
class SimWorker:
    worker_id: str
    accuracy: float
    spammer: bool


@dataclass
class SimObject:
    data_object: dict[str, Any]
    truth: Any
    answers: list[tuple[SimWorker, Any]] = field(default_factory=list)


# -- truth and answers per task family ---------------------------------------------------


def _other(rng: random.Random, labels: Sequence[str], not_this: str) -> str:
    return rng.choice([label for label in labels if label != not_this] or list(labels))


class _Family(abc.ABC):
    """Truth generation, answers and scoring of one kind of task."""

    chance = 0.0

    @abc.abstractmethod
    def truth(self, rng: random.Random, labels: Sequence[str], index: int) -> Any:
        """The synthetic true label of object ``index``."""

    @abc.abstractmethod
    def answer(
        self, rng: random.Random, worker: SimWorker, truth: Any, labels: Sequence[str]
    ) -> Any:
        """What ``worker`` answers for ``truth``."""

    @abc.abstractmethod
    def score(
        self, pairs: Sequence[tuple[Any, Mapping[str, Any]]], labels: Sequence[str]
    ) -> dict[str, float]:
        """Accuracy figures of consolidated labels against the truth."""


class _Single(_Family):
    def __init__(self, k: int) -> None:
        self.chance = 1.0 / max(k, 1)

    def truth(self, rng: random.Random, labels: Sequence[str], index: int) -> Any:
        return rng.choice(list(labels))

    def answer(
        self, rng: random.Random, worker: SimWorker, truth: Any, labels: Sequence[str]
    ) -> Any:
        if worker.spammer:
            return {"label": rng.choice(list(labels))}
        return {"label": truth if rng.random() < worker.accuracy else _other(rng, labels, truth)}

    def score(
        self, pairs: Sequence[tuple[Any, Mapping[str, Any]]], labels: Sequence[str]
    ) -> dict[str, float]:
        right = sum(1 for truth, label in pairs if label.get("class-name") == truth)
        return {"accuracy": right / len(pairs) if pairs else 0.0}


class _Multi(_Family):
    chance = 0.5

    def truth(self, rng: random.Random, labels: Sequence[str], index: int) -> Any:
        return sorted(label for label in labels if rng.random() < 0.35)

    def answer(
        self, rng: random.Random, worker: SimWorker, truth: Any, labels: Sequence[str]
    ) -> Any:
        if worker.spammer:
            return {"labels": sorted(label for label in labels if rng.random() < 0.5)}
        chosen = [label for label in labels if (label in truth) == (rng.random() < worker.accuracy)]
        return {"labels": sorted(chosen)}

    def score(
        self, pairs: Sequence[tuple[Any, Mapping[str, Any]]], labels: Sequence[str]
    ) -> dict[str, float]:
        exact = decisions = right = 0
        for truth, label in pairs:
            class_map = label.get("class-map") or {}
            got = {str(class_map.get(str(i), i)) for i in label.get("class-ids", [])}
            exact += got == set(truth)
            for name in labels:
                decisions += 1
                right += (name in got) == (name in truth)
        return {
            "exact match": exact / len(pairs) if pairs else 0.0,
            "label decisions right": right / decisions if decisions else 0.0,
        }


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def _f1(found: int, truths: int, predicted: int) -> dict[str, float]:
    precision = found / predicted if predicted else 1.0
    recall = found / truths if truths else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "F1": f1}


class _Boxes(_Family):
    def truth(self, rng: random.Random, labels: Sequence[str], index: int) -> Any:
        width, height = IMAGE_SIZE
        boxes = []
        for _ in range(rng.randint(1, 3)):
            w, h = rng.randint(60, 200), rng.randint(60, 200)
            boxes.append(
                {
                    "label": rng.choice(list(labels)),
                    "left": rng.randint(0, width - w),
                    "top": rng.randint(0, height - h),
                    "width": w,
                    "height": h,
                }
            )
        return boxes

    def answer(
        self, rng: random.Random, worker: SimWorker, truth: Any, labels: Sequence[str]
    ) -> Any:
        width, height = IMAGE_SIZE
        drawn = []
        if worker.spammer:
            drawn = self.truth(rng, labels, 0)
        else:
            noise = (1.0 - worker.accuracy) * 15
            for box in truth:
                if rng.random() > worker.accuracy:
                    continue
                left = min(max(0, round(box["left"] + rng.gauss(0, noise))), width - 10)
                top = min(max(0, round(box["top"] + rng.gauss(0, noise))), height - 10)
                drawn.append(
                    {
                        "label": box["label"]
                        if rng.random() < worker.accuracy
                        else _other(rng, labels, box["label"]),
                        "left": left,
                        "top": top,
                        "width": max(
                            10, min(width - left, round(box["width"] + rng.gauss(0, noise)))
                        ),
                        "height": max(
                            10, min(height - top, round(box["height"] + rng.gauss(0, noise)))
                        ),
                    }
                )
        return {"boundingBoxes": drawn, "inputImageProperties": {"width": width, "height": height}}

    def score(
        self, pairs: Sequence[tuple[Any, Mapping[str, Any]]], labels: Sequence[str]
    ) -> dict[str, float]:
        found = truths = predicted = 0
        for truth, label in pairs:
            class_map = label.get("class-map") or {}
            got = [
                (
                    str(class_map.get(str(a.get("class_id")))),
                    (a["left"], a["top"], a["width"], a["height"]),
                )
                for a in label.get("annotations", [])
            ]
            truths += len(truth)
            predicted += len(got)
            used: set[int] = set()
            for box in truth:
                rect = (box["left"], box["top"], box["width"], box["height"])
                for index, (name, candidate) in enumerate(got):
                    if index not in used and name == box["label"] and _iou(rect, candidate) >= 0.5:
                        used.add(index)
                        found += 1
                        break
        return _f1(found, truths, predicted)


class _Entities(_Family):
    def __init__(self) -> None:
        self.texts: dict[int, str] = {}

    def truth(self, rng: random.Random, labels: Sequence[str], index: int) -> Any:
        sentence = rng.choice(_SENTENCES)
        text, entities, position = "", [], 0
        for chunk in sentence.replace("}", "{").split("{"):
            if chunk in _NAMES:
                name = rng.choice(_NAMES[chunk])
                label = chunk if chunk in labels else rng.choice(list(labels))
                entities.append(
                    {"label": label, "startOffset": position, "endOffset": position + len(name)}
                )
                chunk = name
            text += chunk
            position += len(chunk)
        self.texts[index] = text
        return {"text": text, "entities": entities}

    def answer(
        self, rng: random.Random, worker: SimWorker, truth: Any, labels: Sequence[str]
    ) -> Any:
        text, marked = truth["text"], []
        if worker.spammer:
            for _ in range(rng.randint(1, 3)):
                start = rng.randrange(0, max(1, len(text) - 5))
                marked.append(
                    {
                        "label": rng.choice(list(labels)),
                        "startOffset": start,
                        "endOffset": min(len(text), start + rng.randint(3, 12)),
                    }
                )
        else:
            for entity in truth["entities"]:
                if rng.random() > worker.accuracy:
                    continue
                end = entity["endOffset"]
                if rng.random() > worker.accuracy:
                    end = max(
                        entity["startOffset"] + 1, min(len(text), end + rng.choice((-2, -1, 1, 2)))
                    )
                label = (
                    entity["label"]
                    if rng.random() < worker.accuracy
                    else _other(rng, labels, entity["label"])
                )
                marked.append(
                    {"label": label, "startOffset": entity["startOffset"], "endOffset": end}
                )
        return {"entities": marked}

    def score(
        self, pairs: Sequence[tuple[Any, Mapping[str, Any]]], labels: Sequence[str]
    ) -> dict[str, float]:
        found = truths = predicted = 0
        for truth, label in pairs:
            annotations = label.get("annotations") or {}
            got = {
                (e["label"], e["startOffset"], e["endOffset"])
                for e in annotations.get("entities", [])
            }
            want = {(e["label"], e["startOffset"], e["endOffset"]) for e in truth["entities"]}
            truths += len(want)
            predicted += len(got)
            found += len(got & want)
        return _f1(found, truths, predicted)


def _family(task_type: TaskType, k: int) -> _Family:
    if task_type in (TaskType.IMAGE_CLASSIFICATION, TaskType.TEXT_CLASSIFICATION):
        return _Single(k)
    if task_type in (TaskType.IMAGE_MULTI_LABEL, TaskType.TEXT_MULTI_LABEL):
        return _Multi()
    if task_type is TaskType.BOUNDING_BOX:
        return _Boxes()
    if task_type is TaskType.NAMED_ENTITY:
        return _Entities()
    allowed = ", ".join(t.value for t in SUPPORTED)
    raise WorkbenchError(f"simulate does not support {task_type.value} yet; supported: {allowed}")


# -- the run -------------------------------------------------------------------------------


@dataclass
class SimulationResult:
    metrics: dict[str, float]
    baseline: dict[str, float]
    workers: list[dict[str, Any]]
    spammers_flagged: int
    spammers: int
    false_flags: int
    summary: RunSummary
    out: Path
    consolidated: list[ConsolidatedObject]


def make_workers(rng: random.Random, count: int, spammers: int) -> list[SimWorker]:
    if count < 1:
        raise WorkbenchError(f"--workers must be 1 or more, got {count}")
    if not 0 <= spammers <= count:
        raise WorkbenchError(
            f"--spammers must be between 0 and --workers ({count}), got {spammers}"
        )
    spam = set(rng.sample(range(count), spammers))
    return [
        SimWorker(
            f"private.us-east-1.sim{index + 1:03d}",
            0.0 if index in spam else round(rng.uniform(0.7, 0.95), 3),
            index in spam,
        )
        for index in range(count)
    ]


def _data_object(task_type: TaskType, index: int, truth: Any) -> dict[str, Any]:
    if task_type is TaskType.NAMED_ENTITY:
        return {"source": truth["text"]}
    if task_type.data_kind is DataKind.TEXT:
        return {
            "source": f"Synthetic review number {index + 1}: the parcel arrived and the product works."
        }
    return {"source-ref": f"s3://gt-simulation/images/{index + 1:06d}.jpg"}


def simulate(
    task_type: TaskType,
    *,
    objects: int,
    workers: int,
    spammers: int,
    per_object: int,
    seed: int,
    out: Path,
    labels: Sequence[str] | None = None,
    batch_size: int = 1000,
    log: Callable[[str], None] = print,
    warn: Callable[[str], None] | None = None,
) -> SimulationResult:
    """A whole job on synthetic workers: manifest, tasks, answers, consolidation, score."""
    if task_type not in SUPPORTED:  # before anything about its arguments
        allowed = ", ".join(t.value for t in SUPPORTED)
        raise WorkbenchError(
            f"simulate does not support {task_type.value} yet; supported: {allowed}"
        )
    label_list = _check_arguments(task_type, objects, workers, per_object, labels)
    family = _family(task_type, len(label_list))
    method = validate_method(task_type.default_method)
    rng = random.Random(seed)
    crowd = make_workers(rng, workers, spammers)
    out.mkdir(parents=True, exist_ok=True)
    log(
        f"simulating {task_type.value}: {objects} objects, {workers} workers "
        f"({spammers} spammers), {per_object} answers per object, seed {seed}"
    )
    items = _manifest(task_type, family, rng, label_list, objects, out, log)
    answer_name = _pre_annotation(task_type, items, label_list, out, log)
    for item in items:
        for worker in rng.sample(crowd, per_object):
            item.answers.append((worker, family.answer(rng, worker, item.truth, label_list)))
    log(f"  answers         {objects * per_object} synthetic answers")
    consolidated, summary = _post_annotation(
        task_type, method, items, label_list, answer_name, out, batch_size, log, warn
    )
    pairs = [(item.truth, c.label) for item, c in zip(items, consolidated, strict=True)]
    metrics = family.score(pairs, label_list)
    baseline = _majority_baseline(family, items, label_list) if isinstance(family, _Single) else {}
    report, flagged, false_flags = _worker_report(family, crowd, items, summary)
    _write_jsonl(
        out / "truth.jsonl",
        ({"datasetObjectId": str(i), "truth": item.truth} for i, item in enumerate(items)),
    )
    return SimulationResult(
        metrics, baseline, report, flagged, spammers, false_flags, summary, out, consolidated
    )


def _check_arguments(
    task_type: TaskType,
    objects: int,
    workers: int,
    per_object: int,
    labels: Sequence[str] | None,
) -> list[str]:
    """The simulation's labels, once the counts are known to make sense."""
    if objects < 1:
        raise WorkbenchError(f"--objects must be 1 or more, got {objects}")
    if not 1 <= per_object <= workers:
        raise WorkbenchError(
            f"--per-object must be between 1 and --workers ({workers}), got {per_object}"
        )
    label_list = list(labels) if labels else DEFAULT_LABELS.get(task_type, [])
    if len(label_list) < 2:
        raise WorkbenchError(f"simulate needs at least 2 labels, got {label_list}")
    return label_list


def _manifest(
    task_type: TaskType,
    family: _Family,
    rng: random.Random,
    labels: Sequence[str],
    objects: int,
    out: Path,
    log: Callable[[str], None],
) -> list[SimObject]:
    """Step 1: the objects with their true answers, and the input manifest."""
    items: list[SimObject] = []
    for index in range(objects):
        truth = family.truth(rng, labels, index)
        items.append(SimObject(_data_object(task_type, index, truth), truth))
    manifest = out / "input.manifest"
    _write_jsonl(manifest, (item.data_object for item in items))
    log(f"  manifest        {manifest} ({objects} lines)")
    return items


def _pre_annotation(
    task_type: TaskType,
    items: Sequence[SimObject],
    labels: Sequence[str],
    out: Path,
    log: Callable[[str], None],
) -> str:
    """Steps 2 and 3: every task input rendered in the worker template; the answer's name."""
    template = WorkerTemplate.for_task_type(task_type)
    answer_name = template.validate(Consolidation.for_task_type(task_type)) or "annotatedResult"
    files = LocalFiles(())
    for item in items:
        task_input, _ = task_input_for(item.data_object, labels)
        page = template.render(task_input, grant_read_access=files.url)
        if labels[0] not in page:
            raise WorkbenchError(f"the rendered task does not show the labels: {template.source}")
    preview = render_preview(
        template,
        task_type,
        items[0].data_object,
        labels=labels,
        files=files,
        elements_url=default_elements_url(),
    )
    (out / "task-preview.html").write_text(preview.html, encoding="utf-8")
    log(
        f"  pre-annotation  {len(items)} task inputs; template {template.source} rendered "
        f"{len(items)} times (answer element '{answer_name}'); "
        f"first task: {out / 'task-preview.html'}"
    )
    return answer_name


def _record(index: int, item: SimObject, answer_name: str) -> Record:
    """One object's answers as the post-annotation Lambda reads them."""
    data = item.data_object
    return Record(
        f"object {index}",
        str(index),
        dict(data),
        {
            "datasetObjectId": str(index),
            "dataObject": {"s3Uri": data["source-ref"]}
            if "source-ref" in data
            else {"content": data["source"]},
            "annotations": [
                {
                    "workerId": worker.worker_id,
                    "annotationData": {"content": json.dumps({answer_name: answer})},
                }
                for worker, answer in item.answers
            ],
        },
    )


def _post_annotation(
    task_type: TaskType,
    method: str,
    items: Sequence[SimObject],
    labels: Sequence[str],
    answer_name: str,
    out: Path,
    batch_size: int,
    log: Callable[[str], None],
    warn: Callable[[str], None] | None,
) -> tuple[list[ConsolidatedObject], RunSummary]:
    """Step 5: consolidation through the Lambda's own code, into output.manifest."""
    records = [_record(index, item, answer_name) for index, item in enumerate(items)]
    output = out / "output.manifest"
    consolidated: list[ConsolidatedObject] = []
    summary = RunSummary()
    created = now_iso()
    with output.open("w", encoding="utf-8") as stream:
        for result in consolidate_records(
            records,
            task_type=task_type,
            method=method,
            label_attribute=LABEL_ATTRIBUTE,
            labels=labels,
            answer_name=answer_name,
            job_name=JOB_NAME,
            # Every synthetic answer stays in the output (annotationsFromAllWorkers), so
            # `gt-constructs consolidate` can be tried on this file.
            keep_all_annotations=True,
            write_png=mask_writer(output),
            batch_size=batch_size,
            warn=warn,
        ):
            if isinstance(result, RunSummary):
                summary = result
            else:
                consolidated.append(result)
                stream.write(output_line(result, LABEL_ATTRIBUTE, JOB_NAME, created) + "\n")
    log(
        f"  consolidation   {method}: {summary.consolidated} objects, {summary.errors} errors, "
        f"{summary.rejected} answers left out -> {output}"
    )
    return consolidated, summary


def _worker_report(
    family: _Family,
    crowd: Sequence[SimWorker],
    items: Sequence[SimObject],
    summary: RunSummary,
) -> tuple[list[dict[str, Any]], int, int]:
    """Step 6: each worker's skill beside the truth; spammers flagged, and false flags."""
    rows = worker_rows(
        summary.skills, Counter(w.worker_id for item in items for w, _ in item.answers)
    )
    by_id = {w.worker_id: w for w in crowd}
    agreements = [r["agreement"] for r in rows if r["agreement"] is not None]
    threshold = _flag_threshold(family.chance, agreements)
    report = []
    flagged = false_flags = 0
    for row in rows:
        worker = by_id[row["worker"]]
        is_flagged = row["agreement"] is not None and row["agreement"] < threshold
        flagged += is_flagged and worker.spammer
        false_flags += is_flagged and not worker.spammer
        report.append(
            {
                **row,
                "true": None if worker.spammer else worker.accuracy,
                "spammer": worker.spammer,
                "flagged": is_flagged,
            }
        )
    return report, flagged, false_flags


def _flag_threshold(chance: float, agreements: Sequence[float]) -> float:
    """Halfway between chance and the median worker's agreement with the consensus."""
    if not agreements:
        return 0.0
    return (chance + statistics.median(agreements)) / 2


def _majority_baseline(
    family: _Family, items: Sequence[SimObject], labels: Sequence[str]
) -> dict[str, float]:
    right = 0
    for item in items:
        votes = Counter(answer["label"] for _, answer in item.answers)
        best = max(sorted(votes), key=lambda name: votes[name])
        right += best == item.truth
    return {"accuracy": right / len(items) if items else 0.0}


def _write_jsonl(path: Path, rows: Any) -> None:
    with path.open("w", encoding="utf-8") as stream:
        for row in rows:
            stream.write(json.dumps(row, separators=(",", ":")) + "\n")


def print_result(result: SimulationResult, stream: TextIO) -> None:
    def line(text: str) -> None:
        stream.write(text + "\n")

    shown = ", ".join(f"{k} {v:.3f}" for k, v in result.metrics.items())
    line(f"against the synthetic truth: {shown}")
    if result.baseline:
        line(
            "  (plain majority vote of the same answers: "
            + ", ".join(f"{k} {v:.3f}" for k, v in result.baseline.items())
            + ")"
        )
    line("worker skill: true accuracy vs what the consensus recovered (agreement with it)")
    line(f"  {'worker':<28} {'answers':>7} {'true':>6} {'recovered':>9}  note")
    for row in result.workers:
        true = "spam" if row["spammer"] else f"{row['true']:.2f}"
        recovered = f"{row['agreement']:.2f}" if row["agreement"] is not None else "–"
        note = "flagged" if row["flagged"] else ""
        if row["spammer"] and not row["flagged"]:
            note = "spammer not flagged"
        line(f"  {row['worker']:<28} {row['answers']:>7} {true:>6} {recovered:>9}  {note}")
    line(
        f"spammers flagged: {result.spammers_flagged} of {result.spammers}; "
        f"other workers flagged: {result.false_flags}"
    )
    line(f"files: {result.out}/input.manifest, output.manifest, truth.jsonl, task-preview.html")


# -- the command ----------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    if getattr(args, "against", None) or getattr(args, "data", None):
        if not args.data:
            raise WorkbenchError("--against needs --data DIR (the serve's --data folder)")
        from ..runtime.simulate import run as run_against

        return run_against(args)
    if not args.task_type or args.objects is None:
        raise WorkbenchError(
            "simulate needs --task-type and --objects (or --against URL --data DIR to drive a "
            "running server)"
        )
    task_type = parse_task_type(args.task_type)
    result = simulate(
        task_type,
        objects=args.objects,
        workers=args.workers,
        spammers=args.spammers,
        per_object=args.per_object,
        seed=args.seed,
        out=Path(args.out),
        labels=parse_labels(args.labels),
        warn=(lambda message: None) if not args.verbose else say,
    )
    print_result(result, sys.stdout)
    if args.report:
        collector = ReportCollector(answer_name=result.summary.answer_name)
        for item in result.consolidated:
            collector.add(item)
        output = result.out / "output.manifest"
        html = render(
            collector,
            result.summary,
            source=str(output),
            task_type=task_type.value,
            files=LocalFiles.around(output),
        )
        write_report(Path(args.report), html)
        print(f"wrote {args.report}")
    return 0
