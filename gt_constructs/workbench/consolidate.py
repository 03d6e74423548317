"""``gt-constructs consolidate``: consensus for a finished job's raw worker answers.

Input is either the output manifest of a job that kept every worker's answer
(``annotationsFromAllWorkers`` in ``<attr>-metadata``, as this library writes
it now, or in ``<attr>`` itself, the original sample's format and this
library's before the built-in shapes; one object a line) or the job's
``annotations/worker-response/`` folder. Output lines hold ``<attr>`` and
``<attr>-metadata`` in the built-in shapes (``lambda_src/gt_annotation/output.py``). Lines become payload
entries of the post-annotation function and go through its very code
(``consolidate_batch``) in batches, with worker skill carried from batch to
batch by the in-memory skill store.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

from ..lambda_src.gt_annotation.consensus import METHOD_MODULES
from ..lambda_src.gt_annotation.model import Rejection, WorkerSkill
from ..task_type import TaskType
from .common import LocalFiles, Progress, WorkbenchError, parse_labels, parse_task_type, say

#: Objects per call of the consensus: enough for Dawid–Skene to learn the workers.
DEFAULT_BATCH_SIZE = 1000
ALL_WORKERS = "annotationsFromAllWorkers"


@dataclass
class Record:
    """One data object of the input, as a payload entry plus what the output line keeps."""

    where: str
    object_id: str
    line: dict[str, Any]
    entry: dict[str, Any]


@dataclass(frozen=True)
class BadInput:
    """An input line (or file) that cannot be consolidated, and why."""

    where: str
    reason: str


# -- reading ---------------------------------------------------------------------------


def _data_object(line: Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(line.get("source-ref"), str):
        return {"s3Uri": line["source-ref"]}
    if isinstance(line.get("source"), str):
        return {"content": line["source"]}
    return {}


def _manifest_record(
    text: str, number: int, path: Path, attribute: str
) -> Record | BadInput | None:
    where = f"{path}:{number}"
    if not text.strip():
        return None
    try:
        line = json.loads(text)
    except ValueError as error:
        return BadInput(where, f"not JSON ({error})")
    if not isinstance(line, dict):
        return BadInput(where, f"a manifest line is a JSON object, got {type(line).__name__}")
    value = line.get(attribute)
    if not isinstance(value, dict) or not isinstance(value.get(ALL_WORKERS), list):
        value = line.get(f"{attribute}-metadata")  # the built-in shape keeps them in the metadata
    if not isinstance(value, dict) or not isinstance(value.get(ALL_WORKERS), list):
        others = sorted(
            k.removesuffix("-metadata")
            for k, v in line.items()
            if isinstance(v, dict) and isinstance(v.get(ALL_WORKERS), list)
        )
        hint = (
            f"; attributes holding {ALL_WORKERS}: {', '.join(others)} (use --label-attribute)"
            if others
            else f"; keys of the line: {', '.join(sorted(line)[:8])}"
        )
        return BadInput(where, f"no '{attribute}' attribute with an {ALL_WORKERS} list{hint}")
    object_id = str(number - 1)
    annotations = [
        {
            "workerId": item.get("workerId") if isinstance(item, dict) else None,
            "annotationData": item.get("annotationData") if isinstance(item, dict) else None,
        }
        for item in value[ALL_WORKERS]
    ]
    entry = {
        "datasetObjectId": object_id,
        "dataObject": _data_object(line),
        "annotations": annotations,
    }
    kept = {k: v for k, v in line.items() if k not in (attribute, f"{attribute}-metadata")}
    return Record(where, object_id, kept, entry)


def read_manifest(path: Path, attribute: str) -> Iterator[Record | BadInput]:
    """Records of an ``annotationsFromAllWorkers`` manifest, line by line (blank lines skipped)."""
    try:
        with path.open(encoding="utf-8") as lines:
            for number, text in enumerate(lines, start=1):
                record = _manifest_record(text, number, path, attribute)
                if record is not None:
                    yield record
    except OSError as error:
        raise WorkbenchError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise WorkbenchError(f"{path} is not UTF-8 text ({error.reason})") from None


def count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            count += block.count(b"\n")
    return count


def _worker_response_files(folder: Path) -> dict[str, list[Path]]:
    """``{datasetObjectId: [answer files]}`` under ``iteration-N/<id>/<time>.json``."""
    files: dict[str, list[Path]] = {}
    for path in sorted(folder.rglob("*.json")):
        object_dir = path.parent
        if not object_dir.parent.name.startswith("iteration-"):
            continue
        files.setdefault(object_dir.name, []).append(path)
    return files


def _sort_key(object_id: str) -> tuple[int, int | str]:
    return (0, int(object_id)) if object_id.isdigit() else (1, object_id)


def read_worker_responses(
    folder: Path, input_lines: Mapping[str, dict[str, Any]] | None = None
) -> Iterator[Record | BadInput]:
    """Records of a job's ``annotations/worker-response/`` folder, one per dataset object."""
    files = _worker_response_files(folder)
    if not files:
        raise WorkbenchError(
            f"{folder} holds no worker responses: expected "
            "iteration-N/<datasetObjectId>/<timestamp>.json files (a job's "
            "annotations/worker-response/ folder)"
        )
    for object_id in sorted(files, key=_sort_key):
        annotations: list[dict[str, Any]] = []
        problems: list[str] = []
        for path in files[object_id]:
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                problems.append(f"{path}: unreadable ({error})")
                continue
            answers = document.get("answers") if isinstance(document, dict) else None
            if not isinstance(answers, list):
                problems.append(f"{path}: no 'answers' list")
                continue
            for answer in answers:
                if not isinstance(answer, dict):
                    problems.append(f"{path}: an answer is not a JSON object")
                    continue
                annotations.append(
                    {
                        "workerId": answer.get("workerId"),
                        "annotationData": {"content": answer.get("answerContent")},
                    }
                )
        where = f"{folder}/*/{object_id}"
        for problem in problems:
            yield BadInput(problem, "skipped")
        if not annotations:
            if not problems:
                yield BadInput(where, "no answers")
            continue
        line = dict((input_lines or {}).get(object_id) or {"datasetObjectId": object_id})
        entry = {
            "datasetObjectId": object_id,
            "dataObject": _data_object(line),
            "annotations": annotations,
        }
        yield Record(where, object_id, line, entry)


def read_input_manifest(path: Path) -> dict[str, dict[str, Any]]:
    """The job's input manifest by dataset object id (the 0-based line number)."""
    lines: dict[str, dict[str, Any]] = {}
    try:
        with path.open(encoding="utf-8") as text:
            for number, line in enumerate(text):
                if line.strip():
                    try:
                        value = json.loads(line)
                    except ValueError as error:
                        raise WorkbenchError(f"{path}:{number + 1}: not JSON ({error})") from None
                    if isinstance(value, dict):
                        lines[str(number)] = value
    except OSError as error:
        raise WorkbenchError(
            f"--input-manifest {path}: cannot read it ({error.strerror})"
        ) from None
    except UnicodeDecodeError as error:
        raise WorkbenchError(f"--input-manifest {path}: not UTF-8 text ({error.reason})") from None
    return lines


# -- answer name and labels ------------------------------------------------------------


def _content(annotation: Mapping[str, Any]) -> Any:
    data = annotation.get("annotationData")
    content = data.get("content") if isinstance(data, Mapping) else None
    if isinstance(content, str):
        try:
            return json.loads(content)
        except ValueError:
            return None
    return content


def infer_answer_name(records: Iterable[Record], method: str) -> str | None:
    """The form key holding the answer element, when every answer has the same one."""
    if method == "all-annotations":
        return None
    common: set[str] | None = None
    for record in islice(records, 200):
        for annotation in record.entry["annotations"]:
            content = _content(annotation)
            if isinstance(content, Mapping):
                keys = set(map(str, content))
                common = keys if common is None else common & keys
    if not common:
        return None
    if len(common) == 1:
        return next(iter(common))
    if "annotatedResult" in common:
        return "annotatedResult"
    raise WorkbenchError(
        "the answers hold several elements ("
        + ", ".join(sorted(common))
        + "): say which one to consolidate with --answer-name"
    )


def _collect_labels(value: Any, counts: Counter[str]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "label" and isinstance(item, str):
                counts[item] += 1
            elif key == "labels" and isinstance(item, list):
                for label in item:
                    if isinstance(label, str):
                        counts[label] += 1
                    else:
                        _collect_labels(label, counts)
            elif key == "labelMappings" and isinstance(item, Mapping):
                counts.update(str(name) for name in item)
            elif key != "labeledImage":
                _collect_labels(item, counts)
    elif isinstance(value, list):
        for item in value:
            _collect_labels(item, counts)


def infer_labels(records: Iterable[Record], answer_name: str | None) -> list[str]:
    """Every label name the answers use, sorted (class ids follow this order)."""
    counts: Counter[str] = Counter()
    for record in records:
        for annotation in record.entry["annotations"]:
            content = _content(annotation)
            if answer_name and isinstance(content, Mapping):
                content = content.get(answer_name)
            _collect_labels(content, counts)
    return sorted(counts)


# -- consolidating ---------------------------------------------------------------------


@dataclass
class ConsolidatedObject:
    record: Record
    #: ``{<attr>: label, <attr>-metadata: {...}}`` in the built-in shape (no ``<attr>``: failed).
    content: dict[str, Any]
    attribute: str

    @property
    def label(self) -> dict[str, Any]:
        """The flat view the report and the simulation read (``label_view``)."""
        return label_view(self.content, self.attribute)


_COMMON_METADATA = ("type", "job-name", "job_name", "human-annotated", "creation-date")


def label_view(content: Mapping[str, Any], attribute: str) -> dict[str, Any]:
    """One flat dict per object, from the built-in shape (or an old-format label as it is).

    ``class-id``/``class-name``, ``class-ids``/``class-map``, boxes' ``annotations``
    with their ``confidence``, ``label-ref`` + ``internal-color-map`` (painted
    classes), ``instances``, named-entity ``annotations``, ``text``, and
    ``confidence``/``workers``; a failure is ``{"consolidation-error", "rejectedAnswers"}``.
    """
    metadata = content.get(f"{attribute}-metadata")
    label = content.get(attribute)
    if not isinstance(metadata, Mapping) or (
        isinstance(label, Mapping) and "consolidation-error" in label
    ):
        return dict(label) if isinstance(label, Mapping) else {}  # an old-format label
    if "failure-reason" in metadata or attribute not in content:
        return {
            "consolidation-error": str(metadata.get("failure-reason", "no label")),
            "rejectedAnswers": metadata.get("rejected-answers", 0),
        }
    kind = str(metadata.get("type", ""))
    extras = {k: v for k, v in metadata.items() if k not in _COMMON_METADATA}
    view: dict[str, Any] = {
        k: extras[k] for k in ("confidence", "workers", "method") if k in extras
    }
    if kind.endswith("-multilabel"):
        view.update({"class-ids": label, "class-map": extras.get("class-map", {})})
        view["confidence-map"] = extras.get("confidence-map", {})
    elif kind.endswith("classification"):
        view.update({"class-id": label, "class-name": extras.get("class-name")})
    elif kind.endswith("object-detection") and isinstance(label, Mapping):
        objects = extras.get("objects") or []
        view["image_size"] = label.get("image_size", [])
        view["annotations"] = [
            {**a, **(objects[i] if i < len(objects) else {})}
            for i, a in enumerate(label.get("annotations", []))
        ]
        view["class-map"] = extras.get("class-map", {})
    elif kind.endswith("semantic-segmentation"):
        painted = extras.get("class-confidences")
        colours = extras.get("internal-color-map") or {}
        view["label-ref"] = label
        view["internal-color-map"] = {
            k: v for k, v in colours.items() if not isinstance(painted, Mapping) or k in painted
        }
    elif kind.endswith("instance-segmentation") and isinstance(label, Mapping):
        confidences = extras.get("instances") or []
        view["label-ref"] = label.get("label-ref")
        view["instances"] = [
            {**i, **(confidences[n] if n < len(confidences) else {})}
            for n, i in enumerate(label.get("instances", []))
        ]
    elif kind.endswith("text-span") and isinstance(label, Mapping):
        annotations = label.get("annotations") or {}
        confidences = extras.get("entities") or []
        view["annotations"] = {
            "labels": annotations.get("labels", []),
            "entities": [
                {**e, **(confidences[n] if n < len(confidences) else {})}
                for n, e in enumerate(annotations.get("entities", []))
            ],
        }
    elif kind.endswith("free-text"):
        view["text"] = label
    elif isinstance(label, Mapping):
        view = {**label, **view}
    return view


@dataclass
class RunSummary:
    objects: int = 0
    consolidated: int = 0
    errors: int = 0
    rejected: int = 0
    bad_inputs: list[BadInput] = field(default_factory=list)
    skills: dict[str, WorkerSkill] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    answer_name: str | None = None
    method: str = ""


def validate_method(method: str) -> str:
    if method not in METHOD_MODULES:
        allowed = ", ".join(METHOD_MODULES)
        raise WorkbenchError(f"unknown consolidation method {method!r}; allowed: {allowed}")
    from ..lambda_src.gt_annotation.consensus import get_consolidator

    try:
        get_consolidator(method)
    except ModuleNotFoundError as error:
        if error.name and error.name.startswith(__package__ or "gt_constructs"):
            raise WorkbenchError(
                f"the consolidation method {method!r} is not available in this installation "
                f"({error.name} is missing)"
            ) from None
        raise
    return method


def _batches(
    items: Iterable[Record | BadInput], size: int, bad: list[BadInput], warn: Callable[[str], None]
) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for item in items:
        if isinstance(item, BadInput):
            bad.append(item)
            warn(f"{item.where}: {item.reason}; skipped")
            continue
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def consolidate_records(
    records: Iterable[Record | BadInput],
    *,
    task_type: TaskType,
    method: str,
    label_attribute: str,
    labels: Sequence[str],
    answer_name: str | None,
    job_name: str,
    keep_all_annotations: bool = False,
    options: Mapping[str, Any] | None = None,
    write_png: Callable[[str, bytes], str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    warn: Callable[[str], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> Iterator[ConsolidatedObject | RunSummary]:
    """Consolidated objects in input order; the last item yielded is the ``RunSummary``."""
    from ..lambda_src.gt_annotation.post_annotation import Settings, consolidate_batch
    from ..lambda_src.gt_annotation.skill import MemorySkillStore

    say = warn or (lambda message: print(message, file=sys.stderr))
    settings = Settings(
        task_type=task_type.value,
        answer_name=answer_name,
        method=method,
        keep_all_annotations=keep_all_annotations or method == "all-annotations",
        options={"method": method, **(options or {})},
    )
    store = MemorySkillStore()
    scope = f"job#{job_name}"
    summary = RunSummary(labels=list(labels), answer_name=answer_name, method=method)
    for batch in _batches(records, batch_size, summary.bad_inputs, say):
        response, stats, rejections = consolidate_batch(
            [r.entry for r in batch],
            settings,
            labels=list(labels) or None,
            label_attribute_name=label_attribute,
            scope=scope,
            skill_store=store,
            write_png=write_png,
            job=job_name,
        )
        by_id = {
            str(item["datasetObjectId"]): item["consolidatedAnnotation"]["content"]
            for item in response
        }
        where = {r.object_id: r.where for r in batch}
        _report_rejections(rejections, where, say)
        summary.objects += stats.objects
        summary.consolidated += stats.consolidated
        summary.errors += stats.errors
        summary.rejected += stats.rejected
        for record in batch:
            content = by_id.get(record.object_id)
            if content is None:  # cannot happen: consolidate_batch answers every object
                content = {f"{label_attribute}-metadata": {"failure-reason": "no label returned"}}
            consolidated = ConsolidatedObject(record, content, label_attribute)
            if label_attribute not in content:
                say(f"{record.where}: {consolidated.label['consolidation-error']}")
            yield consolidated
        if on_batch is not None:
            on_batch(len(batch))
    summary.skills = store.all(scope)
    yield summary


def _report_rejections(
    rejections: Sequence[Rejection], where: Mapping[str, str], say: Callable[[str], None]
) -> None:
    for rejection in rejections:
        place = where.get(rejection.dataset_object_id, f"object {rejection.dataset_object_id}")
        say(f"{place}: answer of worker {rejection.worker_id} left out: {rejection.reason}")


def now_iso() -> str:
    """``creation-date`` as Ground Truth writes it (UTC, ISO, microseconds)."""
    from ..lambda_src.gt_annotation.output import creation_date

    return creation_date(datetime.now(timezone.utc))


def output_line(item: ConsolidatedObject, attribute: str, job_name: str, created: str) -> str:
    """The input line with ``<attribute>`` and ``<attribute>-metadata`` in the built-in shape
    (an old label and metadata of the line are replaced; a failed object has no label)."""
    from ..lambda_src.gt_annotation.output import job_name as qualified

    line = {
        k: v for k, v in item.record.line.items() if k not in (attribute, f"{attribute}-metadata")
    }
    line.update(item.content)
    metadata = line.get(f"{attribute}-metadata")
    if isinstance(metadata, dict):
        line[f"{attribute}-metadata"] = {
            **metadata,
            "job-name": qualified(job_name),
            "creation-date": created,
        }
    return json.dumps(line, separators=(",", ":"), default=str)


def mask_writer(out: Path) -> Callable[[str, bytes], str]:
    """Writes consolidated masks as ``<out stem>-masks/<id>.png`` beside the output manifest."""
    folder = out.parent / f"{out.stem}-masks"

    def write(object_id: str, data: bytes) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in object_id) or "object"
        path = folder / f"{safe}.png"
        path.write_bytes(data)
        return str(path.resolve())

    return write


def job_name_of(path: Path, attribute: str) -> str | None:
    """The job name in the first line's existing ``<attribute>-metadata``, if any."""
    try:
        with path.open(encoding="utf-8") as lines:
            for text in islice(lines, 20):
                try:
                    line = json.loads(text)
                except ValueError:
                    continue
                meta = line.get(f"{attribute}-metadata") if isinstance(line, dict) else None
                if isinstance(meta, dict):
                    name = meta.get("job-name") or meta.get("job_name")
                    if isinstance(name, str) and name:
                        return name
    except OSError:
        return None
    return None


def write_lines(stream: TextIO, lines: Iterable[str]) -> int:
    count = 0
    for line in lines:
        stream.write(line + "\n")
        count += 1
    return count


def nothing_to_consolidate(source: Path, attribute: str, read: Iterable[Record | BadInput]) -> str:
    """Why no line of ``source`` could be consolidated, and what was expected instead."""
    bad = [item for item in read if isinstance(item, BadInput)]
    if source.is_dir():
        return (
            f"nothing to consolidate: none of the {len(bad)} worker response(s) in {source} "
            f"could be read (first: {bad[0].where}: {bad[0].reason}); expected a job's "
            "annotations/worker-response/ folder (iteration-N/<datasetObjectId>/<time>.json)"
            if bad
            else f"nothing to consolidate: {source} holds no worker response"
        )
    expected = (
        f"expected JSON Lines whose '{attribute}' attribute holds an {ALL_WORKERS} list "
        "(the output manifest of a job that kept every worker's answer; "
        "`gt-constructs simulate --out DIR` writes one to DIR/output.manifest, label "
        "attribute 'simulated')"
    )
    if not bad:
        return f"nothing to consolidate: {source} has no manifest line; {expected}"
    return (
        f"nothing to consolidate: none of the {len(bad)} line(s) of {source} could be read "
        f"(first: {bad[0].where}: {bad[0].reason}); {expected}"
    )


def nothing_usable(
    objects: int, rejected: int, answer_name: str | None, method: str, first: Sequence[str]
) -> str:
    """Why a run that read its input labelled no object, and what to check."""
    reason = f" (first: {first[0]})" if first else ""
    element = f"--answer-name {answer_name!r}" if answer_name else "--answer-name"
    return (
        f"nothing consolidated: not one of the {rejected} answer(s) of the {objects} "
        f"object(s) could be used{reason}; nothing was written. Check {element} (the key "
        f"of the answer element in the worker's answer) and --task-type/--method "
        f"('{method}' reads that element's output)"
    )


# -- the command ----------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    from .report import ReportCollector, render, write_report

    task_type = parse_task_type(args.task_type)
    method = validate_method(args.method or task_type.default_method)
    source = Path(args.input)
    attribute = args.label_attribute
    if not source.exists():
        raise WorkbenchError(
            f"{source} does not exist: give an output manifest (annotationsFromAllWorkers) "
            "or a job's annotations/worker-response/ folder"
        )
    if args.batch_size < 1:
        raise WorkbenchError(f"--batch-size must be 1 or more, got {args.batch_size}")
    input_lines = read_input_manifest(Path(args.input_manifest)) if args.input_manifest else None

    def records() -> Iterator[Record | BadInput]:
        if source.is_dir():
            return read_worker_responses(source, input_lines)
        return read_manifest(source, attribute)

    def good() -> Iterator[Record]:
        return (r for r in records() if isinstance(r, Record))

    if next(good(), None) is None:
        raise WorkbenchError(nothing_to_consolidate(source, attribute, records()))
    answer_name = args.answer_name or infer_answer_name(good(), method)
    labels = parse_labels(args.labels)
    if labels is None:
        labels = infer_labels(good(), answer_name)
        if method != "all-annotations":
            say(
                f"warning: no --labels given; labels inferred from the answers: {labels} "
                "(class ids follow this order; pass --labels to fix it)"
            )
    job_name = args.job_name or (None if source.is_dir() else job_name_of(source, attribute))
    job_name = job_name or "gt-constructs-workbench"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    total = None if source.is_dir() else count_lines(source)
    progress = Progress(total, label="consolidating", enabled=True if args.progress else None)
    collector = ReportCollector(answer_name=answer_name)
    summary = RunSummary()
    written = 0
    created = now_iso()
    first_rejection: list[str] = []

    def note(message: str) -> None:
        if not first_rejection and " left out: " in message:
            first_rejection.append(message)
        progress.note(message)

    # Written beside the output and moved there at the end: a run that labels nothing
    # leaves no output behind (nor a half-written one when it is interrupted).
    partial = out.with_name(f".{out.name}.partial")
    with partial.open("w", encoding="utf-8") as stream:
        for result in consolidate_records(
            records(),
            task_type=task_type,
            method=method,
            label_attribute=attribute,
            labels=labels,
            answer_name=answer_name,
            job_name=job_name,
            keep_all_annotations=args.keep_all_annotations,
            write_png=mask_writer(out),
            batch_size=args.batch_size or DEFAULT_BATCH_SIZE,
            warn=note,
            on_batch=progress.advance,
        ):
            if isinstance(result, RunSummary):
                summary = result
                continue
            stream.write(output_line(result, attribute, job_name, created) + "\n")
            collector.add(result)
            written += 1
    progress.close()
    if written and summary.errors == written:
        partial.unlink()
        raise WorkbenchError(
            nothing_usable(written, summary.rejected, answer_name, method, first_rejection)
        )
    partial.replace(out)
    print(
        f"wrote {written} consolidated line(s) to {out} ({method}; {summary.errors} without a "
        f"label, {summary.rejected} answer(s) left out, {len(summary.bad_inputs)} input line(s) "
        "skipped)"
    )
    if args.report:
        html = render(
            collector,
            summary,
            source=str(source),
            task_type=task_type.value,
            files=LocalFiles.around(
                source, Path(args.input_manifest) if args.input_manifest else None
            ),
        )
        write_report(Path(args.report), html)
        print(f"wrote {args.report}")
    return 1 if summary.bad_inputs and args.strict else 0
