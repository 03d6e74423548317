"""Pre-annotation Lambda: one manifest line in, the worker task's input out.

Request (one call per data object)::

    {"version": "2018-10-16", "labelingJobArn": "...",
     "dataObject": {"source-ref": "s3://bucket/key.jpg", ...any other attributes...}}

Response::

    {"taskInput": {"source-ref": "s3://bucket/key.jpg", ...every other attribute...,
                   "taskObject": "s3://bucket/key.jpg", "labels": [...],
                   "manifestLine": {...the whole manifest line...}},
     "isHumanAnnotationRequired": true}

``taskInput`` becomes ``task.input`` in the worker template. It keeps every
attribute of the manifest line as it is (``source-ref`` / ``source`` too: AWS's
task-UI samples read ``task.input.source``) and adds the keys of
``contract.TASK_INPUT_KEYS``: ``taskObject`` (the object's URI or text),
``labels`` (the job's labels, when known) and ``manifestLine`` (the whole line:
what AWS's verification and adjustment templates read, e.g.
``task.input.manifestLine["<attr>-metadata"]["class-map"]``). Those three
win over manifest attributes of the same name, which stay readable under
``manifestLine``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .contract import (
    TASK_INPUT_LABELS,
    TASK_INPUT_MANIFEST_LINE,
    TASK_INPUT_OBJECT,
    ConfigurationError,
    PreAnnotationSettings,
)
from .logs import get_logger

LOGGER = get_logger("gt_annotation.pre_annotation")


class DataObjectError(ValueError):
    """A manifest line Ground Truth cannot turn into a task; the message names it."""


def _describe(data_object: Any) -> str:
    if isinstance(data_object, Mapping):
        keys = ", ".join(sorted(map(str, data_object))[:8]) or "no keys"
        return f"data object with {keys}"
    return f"data object of type {type(data_object).__name__}"


def build_task_input(
    data_object: Any, labels: Sequence[str] | None = None, skip_attribute: str | None = None
) -> dict[str, Any]:
    """The pre-annotation response for one data object (pure function).

    Raises ``DataObjectError`` naming the object when it has neither a
    ``source-ref`` (an ``s3://`` URI) nor a ``source`` (text), or a wrong type.
    """
    if not isinstance(data_object, Mapping):
        raise DataObjectError(
            f"{_describe(data_object)}: a data object must be a JSON object (one manifest line) "
            'with "source-ref" (an s3:// URI) or "source" (text)'
        )
    ref, text = data_object.get("source-ref"), data_object.get("source")
    if ref is not None:
        if not isinstance(ref, str) or not ref.startswith("s3://") or len(ref) <= len("s3://"):
            raise DataObjectError(
                f'{_describe(data_object)}: "source-ref" must be an s3:// URI string, '
                f"got {type(ref).__name__} {repr(ref)[:80]}"
            )
        task_object: str = ref
    elif text is not None:
        if not isinstance(text, str):
            raise DataObjectError(
                f'{_describe(data_object)}: "source" must be a string of text, '
                f"got {type(text).__name__}"
            )
        task_object = text
    else:
        raise DataObjectError(
            f'{_describe(data_object)}: neither "source-ref" (an s3:// URI) nor "source" '
            "(text) is present"
        )
    # Every attribute of the manifest line, so templates can use it (task.input.<key>).
    task_input: dict[str, Any] = dict(data_object)
    task_input[TASK_INPUT_OBJECT] = task_object
    if labels is not None:
        task_input[TASK_INPUT_LABELS] = list(labels)
    task_input[TASK_INPUT_MANIFEST_LINE] = dict(data_object)
    required = not (skip_attribute and skip_attribute in data_object)
    return {"taskInput": task_input, "isHumanAnnotationRequired": required}


def labels_from_environment(env: Mapping[str, str] | None = None) -> list[str] | None:
    """``GT_LABELS`` as a list of strings (None when unset)."""
    labels = PreAnnotationSettings.from_environment(env).labels
    return None if labels is None else list(labels)


def job_labels(settings: PreAnnotationSettings) -> list[str] | None:
    """The job's labels: ``GT_LABELS``, else the label-category file the construct names
    (read with the function's own role, once per container), else ``None``."""
    if settings.labels is not None:
        return list(settings.labels)
    if settings.label_categories_uri is None:
        return None
    from .payload import DIRECT_READ, S3Access, read_labels

    own = S3Access(DIRECT_READ, None)
    return list(read_labels(settings.label_categories_uri, own.read_text))


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point."""
    data_object = event.get("dataObject") if isinstance(event, Mapping) else None
    try:
        if data_object is None:
            raise DataObjectError(
                'the pre-annotation event has no "dataObject" (the manifest line); expected '
                '{"version": "2018-10-16", "labelingJobArn": ..., "dataObject": {...}}'
            )
        settings = PreAnnotationSettings.from_environment()
        labels = job_labels(settings)
        response = build_task_input(data_object, labels, settings.skip_if_labeled)
    except DataObjectError as error:
        LOGGER.error(
            "rejected data object",
            extra={
                "reason": str(error),
                "job": event.get("labelingJobArn") if isinstance(event, Mapping) else None,
            },
        )
        raise
    if not response["isHumanAnnotationRequired"]:
        LOGGER.info("skipped: already labelled", extra={"attribute": settings.skip_if_labeled})
    return response


__all__ = [
    "ConfigurationError",
    "DataObjectError",
    "build_task_input",
    "handler",
    "labels_from_environment",
]
