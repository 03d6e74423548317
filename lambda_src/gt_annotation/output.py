"""The consolidated output in the shapes Ground Truth's built-in task types write.

Every consolidator returns its own result per object (``BatchResult.labels``);
this module is the one place that turns such a result into what goes into the
output manifest — ``consolidatedAnnotation.content`` — for the Lambda, the
local workbench and the benchmarks alike::

    {"<attr>": <the label, exactly as the built-in type writes it>,
     "<attr>-metadata": {"type": ..., "job-name": "labeling-job/<name>",
                         "human-annotated": "yes", "creation-date": ...,
                         <the built-in confidences and class-map>, <our extras>}}

Our extras (``workers``, ``method``, ``rejected-answers``, per-class
confidences, ``annotationsFromAllWorkers``) live in the metadata only, never
in the label. A failed object has no label at all, as in Ground Truth's own
output: only ``<attr>-metadata`` with ``failure-reason``.

Shapes per method (``METHOD_SHAPES``; see docs/architecture.md for one line each):

- ``dawid-skene``, ``majority-vote``: the class index; ``class-name``, ``confidence``
  (type ``groundtruth/image-classification`` or ``groundtruth/text-classification``);
- ``multi-label``: the list of class indices; ``class-map``, ``confidence-map``
  (``...-classification-multilabel``);
- ``bounding-box``: ``{"image_size", "annotations": [{"class_id", "left", "top",
  "width", "height"}]}``; ``objects[i].confidence``, ``class-map``
  (``groundtruth/object-detection``);
- ``semantic-segmentation``: the mask's URI; ``internal-color-map`` (every label
  of the job), ``confidence`` (``groundtruth/semantic-segmentation``);
- ``instance-segmentation`` (no built-in type): ``{"label-ref": mask URI,
  "instances": [{"label", "color", "index"}]}``; ``internal-color-map`` per
  instance, ``instances[i].confidence`` (``gt-constructs/instance-segmentation``);
- ``named-entity``: ``{"annotations": {"entities": [...], "labels": [...]}}``;
  ``entities[i].confidence`` (``groundtruth/text-span``);
- ``free-text`` (no built-in type): the text; ``confidence`` (``gt-constructs/free-text``);
- ``all-annotations``: ``{}`` (what Ground Truth writes for a custom job without
  a consolidation) and the raw answers in the metadata (``groundtruth/custom``).

Every worker's answer (``annotationsFromAllWorkers``: ``keep_all_annotations``,
``all-annotations``) is inline unless the batch's response would pass Lambda's
6 MB response limit: then ``fit_response`` moves the largest objects' answers
to S3, under the job's output prefix
(``<output>/<job name>/annotations-from-all-workers/<object id>.json``, the
same list), and the metadata says where: ``"annotationsFromAllWorkers-ref":
"s3://..."`` (the ``-ref`` suffix is Ground Truth's own for values held by
reference, as in ``source-ref``). Labels are never moved.

Standard library only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .contract import METHODS

TYPE_IMAGE_CLASSIFICATION = "groundtruth/image-classification"
TYPE_TEXT_CLASSIFICATION = "groundtruth/text-classification"
TYPE_IMAGE_MULTILABEL = "groundtruth/image-classification-multilabel"
TYPE_TEXT_MULTILABEL = "groundtruth/text-classification-multilabel"
TYPE_OBJECT_DETECTION = "groundtruth/object-detection"
TYPE_SEMANTIC_SEGMENTATION = "groundtruth/semantic-segmentation"
TYPE_TEXT_SPAN = "groundtruth/text-span"
TYPE_CUSTOM = "groundtruth/custom"
#: Ours: Ground Truth has no built-in instance segmentation or free-text type.
TYPE_INSTANCE_SEGMENTATION = "gt-constructs/instance-segmentation"
TYPE_FREE_TEXT = "gt-constructs/free-text"

#: Metadata key of every worker's parsed answer (``keepAllAnnotations``, ``all-annotations``).
ALL_ANNOTATIONS_KEY = "annotationsFromAllWorkers"
#: Metadata key of the S3 URI of every worker's answer when they are not inline.
ALL_ANNOTATIONS_REF_KEY = ALL_ANNOTATIONS_KEY + "-ref"
#: Lambda's limit on a synchronous response (what Ground Truth's call returns).
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
#: What a response may hold: the limit less room for Lambda's own encoding.
RESPONSE_BUDGET = MAX_RESPONSE_BYTES - 256 * 1024
FAILURE_REASON = "failure-reason"
METADATA_SUFFIX = "-metadata"
#: ``job-name`` is the ARN's resource part.
JOB_NAME_PREFIX = "labeling-job/"


class ResultShapeError(ValueError):
    """A consolidator's result lacks what its method's built-in shape needs."""


def metadata_key(label_attribute_name: str) -> str:
    return label_attribute_name + METADATA_SUFFIX


def job_name(job: str) -> str:
    """``labeling-job/<name>`` from a labeling job ARN, a ``labeling-job/<name>`` or a bare name."""
    resource = job.split(":", 5)[-1] if job.startswith("arn:") else job
    name = resource[len(JOB_NAME_PREFIX) :] if resource.startswith(JOB_NAME_PREFIX) else resource
    return JOB_NAME_PREFIX + name


def creation_date(now: datetime | None = None) -> str:
    """``creation-date`` as Ground Truth writes it: ISO 8601 in UTC, microseconds, no offset."""
    moment = now or datetime.now(timezone.utc)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


@dataclass(frozen=True)
class OutputContext:
    """What every entry of a batch shares."""

    label_attribute_name: str
    #: ``labeling-job/<name>`` (see ``job_name``).
    job_name: str
    creation_date: str
    task_type: str
    method: str


def _is_text(task_type: str, data_object: Mapping[str, Any]) -> bool:
    """Text or image variant of the classification types: the task type says, else the object."""
    if task_type.startswith("TEXT_") or task_type == "NAMED_ENTITY":
        return True
    if task_type.startswith("IMAGE_"):
        return False
    return "content" in data_object and "s3Uri" not in data_object


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ResultShapeError(f"{what} is not a finite number")
    return value


def _need(result: Mapping[str, Any], key: str) -> Any:
    if key not in result:
        raise ResultShapeError(f"the result has no {key!r}")
    return result[key]


Shape = Callable[[Mapping[str, Any], str, Mapping[str, Any]], tuple[Any, dict[str, Any]]]


def _classification(
    result: Mapping[str, Any], task_type: str, data_object: Mapping[str, Any]
) -> tuple[Any, dict[str, Any]]:
    class_id = _need(result, "class-id")
    if isinstance(class_id, bool) or not isinstance(class_id, int):
        raise ResultShapeError("class-id is not an integer")
    text = _is_text(task_type, data_object)
    return class_id, {
        "type": TYPE_TEXT_CLASSIFICATION if text else TYPE_IMAGE_CLASSIFICATION,
        "class-name": str(_need(result, "class-name")),
        "confidence": _number(_need(result, "confidence"), "confidence"),
    }


def _multilabel(
    result: Mapping[str, Any], task_type: str, data_object: Mapping[str, Any]
) -> tuple[Any, dict[str, Any]]:
    ids = list(_need(result, "class-ids"))
    class_map = {str(k): v for k, v in dict(_need(result, "class-map")).items()}
    confidence_map = {str(k): v for k, v in dict(_need(result, "confidence-map")).items()}
    text = _is_text(task_type, data_object)
    metadata: dict[str, Any] = {
        "type": TYPE_TEXT_MULTILABEL if text else TYPE_IMAGE_MULTILABEL,
        "class-map": class_map,
        "confidence-map": confidence_map,
    }
    if "confidence" in result:  # ours: the mean over the chosen labels
        metadata["confidence"] = _number(result["confidence"], "confidence")
    return ids, metadata


def _boxes(
    result: Mapping[str, Any], task_type: str, data_object: Mapping[str, Any]
) -> tuple[Any, dict[str, Any]]:
    annotations = []
    objects = []
    for box in _need(result, "annotations"):
        annotations.append(
            {key: box[key] for key in ("class_id", "left", "top", "width", "height")}
        )
        objects.append({"confidence": _number(box.get("confidence", 0.0), "box confidence")})
    label = {"image_size": list(_need(result, "image_size")), "annotations": annotations}
    metadata: dict[str, Any] = {
        "type": TYPE_OBJECT_DETECTION,
        "objects": objects,
        "class-map": {str(k): v for k, v in dict(_need(result, "class-map")).items()},
    }
    if "confidence" in result:  # ours: the image's
        metadata["confidence"] = _number(result["confidence"], "confidence")
    return label, metadata


def _semantic(
    result: Mapping[str, Any], task_type: str, data_object: Mapping[str, Any]
) -> tuple[Any, dict[str, Any]]:
    reference = _need(result, "label-ref")
    if not isinstance(reference, str):
        raise ResultShapeError("label-ref is not a string")
    colour_map = {
        str(k): {"class-name": v["class-name"], "hex-color": v["hex-color"]}
        for k, v in dict(_need(result, "internal-color-map")).items()
    }
    metadata: dict[str, Any] = {
        "type": TYPE_SEMANTIC_SEGMENTATION,
        "internal-color-map": colour_map,
        "confidence": _number(_need(result, "confidence"), "confidence"),
    }
    if "class-confidences" in result:  # ours: per painted class
        metadata["class-confidences"] = dict(result["class-confidences"])
    return reference, metadata


def _instance(
    result: Mapping[str, Any], task_type: str, data_object: Mapping[str, Any]
) -> tuple[Any, dict[str, Any]]:
    reference = _need(result, "label-ref")
    if not isinstance(reference, str):
        raise ResultShapeError("label-ref is not a string")
    instances = list(_need(result, "instances"))
    colour_map = {"0": {"class-name": "BACKGROUND", "hex-color": "#000000"}}
    for instance in instances:
        colour_map[str(instance["index"])] = {
            "class-name": instance["label"],
            "hex-color": instance["color"],
        }
    label = {
        "label-ref": reference,
        "instances": [{key: i[key] for key in ("label", "color", "index")} for i in instances],
    }
    return label, {
        "type": TYPE_INSTANCE_SEGMENTATION,
        "internal-color-map": colour_map,
        "instances": [
            {"confidence": _number(i.get("confidence", 0.0), "instance confidence")}
            for i in instances
        ],
        "confidence": _number(_need(result, "confidence"), "confidence"),
    }


def _entities(
    result: Mapping[str, Any], task_type: str, data_object: Mapping[str, Any]
) -> tuple[Any, dict[str, Any]]:
    annotations = dict(_need(result, "annotations"))
    entities = list(annotations.get("entities", []))
    label = {
        "annotations": {
            "entities": [
                {key: e[key] for key in ("label", "startOffset", "endOffset")} for e in entities
            ],
            "labels": list(annotations.get("labels", [])),
        }
    }
    metadata: dict[str, Any] = {
        "type": TYPE_TEXT_SPAN,
        "entities": [
            {"confidence": _number(e.get("confidence", 0.0), "entity confidence")} for e in entities
        ],
    }
    if "confidence" in result:  # ours: the text's
        metadata["confidence"] = _number(result["confidence"], "confidence")
    return label, metadata


def _free_text(
    result: Mapping[str, Any], task_type: str, data_object: Mapping[str, Any]
) -> tuple[Any, dict[str, Any]]:
    text = _need(result, "text")
    if not isinstance(text, str):
        raise ResultShapeError("text is not a string")
    return text, {
        "type": TYPE_FREE_TEXT,
        "confidence": _number(_need(result, "confidence"), "confidence"),
    }


def _raw(
    result: Mapping[str, Any], task_type: str, data_object: Mapping[str, Any]
) -> tuple[Any, dict[str, Any]]:
    return {}, {"type": TYPE_CUSTOM}


def _other(
    result: Mapping[str, Any], task_type: str, data_object: Mapping[str, Any]
) -> tuple[Any, dict[str, Any]]:
    """A consolidator of no known method (experiments): its result is the label."""
    label = {k: v for k, v in result.items() if k not in ("confidence", "workers")}
    metadata: dict[str, Any] = {"type": TYPE_CUSTOM}
    if "confidence" in result:
        metadata["confidence"] = _number(result["confidence"], "confidence")
    return label, metadata


#: Built-in shape of each consensus module (``MethodSpec.module``).
MODULE_SHAPES: dict[str, Shape] = {
    "classification": _classification,
    "multilabel": _multilabel,
    "boxes": _boxes,
    "semantic": _semantic,
    "instance": _instance,
    "entities": _entities,
    "freetext": _free_text,
    "raw": _raw,
}
#: Built-in shape of each method.
METHOD_SHAPES: dict[str, Shape] = {
    name: MODULE_SHAPES[spec.module] for name, spec in METHODS.items()
}


def _common(context: OutputContext, kind: str) -> dict[str, Any]:
    return {
        "type": kind,
        "job-name": context.job_name,
        "human-annotated": "yes",
        "creation-date": context.creation_date,
    }


def _raw_answers(raw_answers: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    return {} if raw_answers is None else {ALL_ANNOTATIONS_KEY: list(raw_answers)}


def consolidated_content(
    result: Mapping[str, Any],
    context: OutputContext,
    *,
    data_object: Mapping[str, Any] | None = None,
    workers: int,
    rejected: int,
    raw_answers: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """``content`` for a consolidated object: the built-in label and its metadata.

    Raises ``ResultShapeError`` (or ``KeyError``/``TypeError``) when ``result``
    is not what the method's consolidator returns; the caller turns that into
    a failure entry.
    """
    shape = METHOD_SHAPES.get(context.method, _other)
    label, specific = shape(result, context.task_type, data_object or {})
    metadata = _common(context, specific.pop("type"))
    metadata.update(specific)
    used = result.get("workers", workers)
    metadata["workers"] = used if isinstance(used, int) and not isinstance(used, bool) else workers
    metadata["method"] = context.method
    metadata["rejected-answers"] = rejected
    metadata.update(_raw_answers(raw_answers))
    return {
        context.label_attribute_name: label,
        metadata_key(context.label_attribute_name): metadata,
    }


def failure_reason(reason: str, rejected: int) -> str:
    """The reason, with how many answers were rejected when any were."""
    if rejected <= 0:
        return reason
    return f"{reason} ({rejected} answer{'s' if rejected != 1 else ''} rejected)"


def failure_content(
    reason: str,
    context: OutputContext,
    *,
    data_object: Mapping[str, Any] | None = None,
    workers: int = 0,
    rejected: int = 0,
    raw_answers: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """``content`` for an object that got no label: no ``<attr>``, only its metadata.

    As in Ground Truth's own output for a failed object: ``failure-reason``
    and no label, so nothing downstream can take the failure for a human label
    (no ``human-annotated``, no confidence).
    """
    metadata = {
        FAILURE_REASON: failure_reason(reason, rejected),
        "type": output_type(context.method, context.task_type, data_object or {}),
        "job-name": context.job_name,
        "creation-date": context.creation_date,
        "workers": workers,
        "method": context.method,
        "rejected-answers": rejected,
    }
    metadata.update(_raw_answers(raw_answers))
    return {metadata_key(context.label_attribute_name): metadata}


def output_type(method: str, task_type: str, data_object: Mapping[str, Any]) -> str:
    """The metadata ``type`` of a method's output (also when the object failed)."""
    module = METHODS[method].module if method in METHODS else None
    text = _is_text(task_type, data_object)
    return {
        "classification": TYPE_TEXT_CLASSIFICATION if text else TYPE_IMAGE_CLASSIFICATION,
        "multilabel": TYPE_TEXT_MULTILABEL if text else TYPE_IMAGE_MULTILABEL,
        "boxes": TYPE_OBJECT_DETECTION,
        "semantic": TYPE_SEMANTIC_SEGMENTATION,
        "instance": TYPE_INSTANCE_SEGMENTATION,
        "entities": TYPE_TEXT_SPAN,
        "freetext": TYPE_FREE_TEXT,
    }.get(module or "", TYPE_CUSTOM)


def response_size(response: Sequence[Mapping[str, Any]]) -> int:
    """Bytes of the response as JSON (default separators: never less than Lambda's)."""
    return len(json.dumps(response).encode("utf-8"))


def fit_response(
    response: Sequence[dict[str, Any]],
    label_attribute_name: str,
    store: Callable[[str, list[Any]], str] | None,
    budget: int = RESPONSE_BUDGET,
) -> int:
    """Keep the response within ``budget``: move the largest objects' every-worker answers
    to S3 (``store(object id, answers) -> s3 URI``) until it fits, leaving
    ``annotationsFromAllWorkers-ref`` in their metadata. Returns how many were moved
    (0: it fitted, or nothing can be moved: no store, or no answers inline)."""
    size = response_size(response)
    if size <= budget or store is None:
        return 0
    key = metadata_key(label_attribute_name)
    inline = []
    for entry in response:
        metadata = entry.get("consolidatedAnnotation", {}).get("content", {}).get(key)
        if isinstance(metadata, dict) and ALL_ANNOTATIONS_KEY in metadata:
            weight = len(json.dumps(metadata[ALL_ANNOTATIONS_KEY]).encode("utf-8"))
            inline.append((weight, str(entry["datasetObjectId"]), metadata))
    inline.sort(key=lambda item: -item[0])
    moved = 0
    for weight, object_id, metadata in inline:
        if size <= budget:
            break
        uri = store(object_id, metadata.pop(ALL_ANNOTATIONS_KEY))
        metadata[ALL_ANNOTATIONS_REF_KEY] = uri
        size -= weight - len(uri)
        moved += 1
    return moved


def is_failure(content: Mapping[str, Any], label_attribute_name: str) -> bool:
    metadata = content.get(metadata_key(label_attribute_name))
    return isinstance(metadata, Mapping) and FAILURE_REASON in metadata


__all__ = [
    "ALL_ANNOTATIONS_KEY",
    "ALL_ANNOTATIONS_REF_KEY",
    "FAILURE_REASON",
    "MAX_RESPONSE_BYTES",
    "METHOD_SHAPES",
    "RESPONSE_BUDGET",
    "OutputContext",
    "ResultShapeError",
    "consolidated_content",
    "creation_date",
    "failure_content",
    "failure_reason",
    "fit_response",
    "is_failure",
    "job_name",
    "metadata_key",
    "output_type",
    "response_size",
]
