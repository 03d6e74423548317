"""Post-annotation (consolidation) Lambda: several workers' answers → one label per object.

The handler is thin: read the event and payload, call ``consolidate_batch``
(pure, shared with the local workbench and the benchmarks), record worker
skill, emit metrics, answer Ground Truth. Every entry's ``content`` is in the
built-in task types' shape (``output.py``): ``<attr>`` and ``<attr>-metadata``. Whatever happens to one answer or one
object, every dataset object of the payload gets exactly one entry:

- an answer that cannot be used (not JSON, no answer element, a shape the
  consolidator's ``parse_answer`` refuses, an ``s3Uri`` that cannot be read)
  is left out of its object's consensus, counted and logged (object id,
  worker id, reason; never the data);
- an object without a usable answer gets a failure as Ground Truth writes one:
  no label, only ``<attr>-metadata`` with ``failure-reason`` (and
  ``rejected-answers``), never a made-up label;
- a consolidator that raises for the batch is retried object by object, and an
  object that still fails gets a failure entry;
- worker skill is a prior: a skill table that cannot be read or written is
  logged and the batch goes on with what it has.

Only an unusable *event* (no payload, no label attribute name, a payload that
cannot be read) raises, with a message saying what is wrong: there is no
object to answer for, and Ground Truth retries the invocation.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .consensus import get_consolidator
from .consensus.common import paused_gc
from .contract import ALL_ANNOTATIONS, ConfigurationError, PostAnnotationSettings
from .events import (
    AnswerParser,
    ConsolidationRequest,
    EventError,
    parse_objects,
    parse_request,
)
from .logs import get_logger
from .metrics import emit_consolidation_metrics
from .model import ConsolidationContext, Consolidator, ObjectAnswers, PngWriter, Rejection
from .output import (
    OutputContext,
    consolidated_content,
    creation_date,
    failure_content,
    job_name,
    metadata_key,
)
from .skill import SkillStore, open_skill_store, skill_scope

LOGGER = get_logger("gt_annotation.post_annotation")

#: Rejections logged one per line; beyond this, one summary line (a flood helps nobody).
MAX_LOGGED_REJECTIONS = 200

#: The function's settings, read from the environment the construct writes (``contract``).
Settings = PostAnnotationSettings


@dataclass
class BatchStats:
    """Counts of one batch (metrics, logs, the workbench's summary)."""

    objects: int = 0
    consolidated: int = 0
    errors: int = 0
    rejected: int = 0
    confidences: list[float] = field(default_factory=list)

    @property
    def mean_confidence(self) -> float | None:
        return sum(self.confidences) / len(self.confidences) if self.confidences else None


def _consolidate(
    consolidator: Consolidator, answered: list[ObjectAnswers], context: ConsolidationContext
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Results, skill deltas and failures (object id → reason) of the batch; object by
    object if the batch fails."""
    try:
        batch = consolidator.consolidate(answered, context)
        return dict(batch.labels), dict(batch.skill_updates), {}
    except Exception as error:  # one bad object must not sink the batch: retry one by one
        LOGGER.warning(
            "batch consolidation failed; consolidating object by object",
            extra={"objects": len(answered), "error": type(error).__name__},
        )
    results: dict[str, Any] = {}
    updates: dict[str, Any] = {}
    failures: dict[str, str] = {}
    for item in answered:
        try:
            single = consolidator.consolidate([item], context)
            result = single.labels.get(item.dataset_object_id)
        except Exception as error:
            LOGGER.error(
                "object could not be consolidated",
                extra={"datasetObjectId": item.dataset_object_id, "error": type(error).__name__},
            )
            failures[item.dataset_object_id] = f"consolidation failed ({type(error).__name__})"
            continue
        if result is not None:
            results[item.dataset_object_id] = result
        for worker, delta in single.skill_updates.items():
            updates[worker] = updates[worker].add(delta) if worker in updates else delta
    return results, updates, failures


def _result_problem(result: Any, item: ObjectAnswers) -> str | None:
    """Why the consolidator's result for an object cannot be output, or ``None``."""
    if result is None:
        if item.answers:
            return "the consolidator returned no label"
        return "no usable worker answer" if item.rejections else "no worker answered this object"
    if not isinstance(result, dict):
        return f"the consolidator returned a {type(result).__name__}, not a JSON object"
    try:
        json.dumps(result, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as error:
        return (
            f"the consolidated label is not valid JSON ({type(error).__name__}: a non-finite "
            "number, a non-JSON value or a cycle)"
        )
    return None


def _content(
    result: Any,
    failure: str | None,
    item: ObjectAnswers,
    output: OutputContext,
    raw_answers: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """The entry's ``content``: the built-in shape, or a failure (never a made-up label)."""
    facts: dict[str, Any] = {
        "data_object": item.data_object,
        "workers": len(item.answers),
        "rejected": len(item.rejections),
        "raw_answers": raw_answers,
    }
    reason = failure or _result_problem(result, item)
    if reason is None:
        try:
            content = consolidated_content(result, output, **facts)
            json.dumps(content, allow_nan=False)
            return content
        except Exception as error:  # a result that does not fit its method's shape
            reason = (
                f"the consolidator's result does not fit the {output.method} output "
                f"({type(error).__name__})"
            )
    return failure_content(reason, output, **facts)


def _all_annotations(item: ObjectAnswers) -> list[dict[str, Any]]:
    return [{"workerId": a.worker_id, "annotationData": {"content": a.raw}} for a in item.answers]


def consolidate_batch(
    payload: Any,
    settings: Settings,
    *,
    labels: Sequence[str] | None,
    label_attribute_name: str,
    scope: str,
    skill_store: SkillStore | None = None,
    write_png: PngWriter | None = None,
    fetch: Callable[[str], str] | None = None,
    consolidator: Consolidator | None = None,
    job: str = "local",
    created: str | None = None,
) -> tuple[list[dict[str, Any]], BatchStats, list[Rejection]]:
    """The Ground Truth response for a payload: one entry per dataset object, always.

    ``payload`` is the list Ground Truth writes at ``payload.s3Uri``. Returns
    (response, stats, rejections). Each entry's ``content`` holds
    ``<label_attribute_name>`` and its ``-metadata`` in the built-in shape
    (``output.py``); ``job`` (the labeling job's ARN or name) gives the
    metadata's ``job-name``, ``created`` its ``creation-date`` (default: now). Worker skill is read from ``skill_store``
    under ``scope`` (the prior) and the batch's evidence added to it; without
    a store, skill is learned within the batch only. ``consolidator``
    overrides the one of ``settings.method`` (tests, experiments). Raises only
    ``EventError`` when the payload is not a list.
    """
    consolidator = consolidator or get_consolidator(settings.method)
    label_list = list(labels or [])
    parser = AnswerParser(settings.answer_name, label_list, consolidator.parse_answer, fetch)
    with paused_gc():  # many small objects, no cycles: collections would only re-walk them
        objects, rejections = parse_objects(payload, parser)
    stats = BatchStats(objects=len(objects))
    for item in objects:
        rejections.extend(item.rejections)
    stats.rejected = len(rejections)

    workers = {a.worker_id for o in objects for a in o.answers}
    skills = {}
    if skill_store is not None and workers:
        try:
            skills = skill_store.load(scope, workers)
        except Exception as error:  # skill is a prior: without it the batch still has an answer
            LOGGER.warning(
                "worker skill could not be read; consolidating with this batch's evidence only",
                extra={"error": type(error).__name__, "detail": str(error)[:200]},
            )
    context = ConsolidationContext(
        task_type=settings.task_type,
        labels=label_list,
        label_attribute_name=label_attribute_name,
        options=settings.options,
        skills=skills,
        write_png=write_png,
    )
    raw_only = settings.method == ALL_ANNOTATIONS.name
    answered = [o for o in objects if o.answers]
    results, updates, failures = _consolidate(consolidator, answered, context)
    if skill_store is not None and updates:
        try:
            skill_store.add(scope, updates)
        except Exception as error:  # the labels are right; retrying the batch would count twice
            LOGGER.error(
                "worker skill evidence could not be stored",
                extra={"error": type(error).__name__, "detail": str(error)[:200]},
            )

    output = OutputContext(
        label_attribute_name=label_attribute_name,
        job_name=job_name(job),
        creation_date=created or creation_date(),
        task_type=settings.task_type,
        method=settings.method,
    )
    keep = settings.keep_all_annotations or raw_only
    response = []
    for item in objects:
        content = _content(
            results.get(item.dataset_object_id),
            failures.get(item.dataset_object_id),
            item,
            output,
            _all_annotations(item) if keep else None,
        )
        metadata = content[metadata_key(label_attribute_name)]
        if label_attribute_name not in content:
            stats.errors += 1
        else:
            stats.consolidated += 1
            confidence = metadata.get("confidence")
            if isinstance(confidence, int | float) and not isinstance(confidence, bool):
                stats.confidences.append(float(confidence))
        response.append(
            {
                "datasetObjectId": item.dataset_object_id,
                "consolidatedAnnotation": {"content": content},
            }
        )
    return response, stats, rejections


def _inline_png_writer(_object_id: str, data: bytes) -> str:
    """Without GT_OUTPUT_URI the mask travels in the label itself, as a data URI."""
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def log_rejections(rejections: Sequence[Rejection], limit: int = MAX_LOGGED_REJECTIONS) -> None:
    """One line per left-out answer (object id, worker id, reason), then a summary if many."""
    for rejection in rejections[:limit]:
        LOGGER.warning(
            "worker answer left out",
            extra={
                "datasetObjectId": rejection.dataset_object_id,
                "workerId": rejection.worker_id,
                "reason": rejection.reason,
            },
        )
    if len(rejections) > limit:
        LOGGER.warning("more worker answers left out", extra={"notLogged": len(rejections) - limit})


def _read_payload(access: Any, request: ConsolidationRequest) -> Any:
    if request.inline_payload is not None:
        return request.inline_payload
    assert request.payload_uri is not None
    try:
        text = access.read_text(request.payload_uri)
    except Exception as error:
        LOGGER.error(
            "the consolidation payload could not be read",
            extra={
                "payloadUri": request.payload_uri,
                "access": access.mode,
                "error": type(error).__name__,
            },
        )
        raise
    try:
        return json.loads(text)
    except ValueError as error:
        raise EventError(f"the payload at {request.payload_uri} is not JSON ({error})") from None


def run(event: Any, settings: Settings) -> list[dict[str, Any]]:
    """The whole invocation for given settings (the handler reads them from the environment)."""
    from .payload import S3Access, S3PngWriter

    request = parse_request(event)
    access = S3Access(settings.payload_access, request.role_arn)
    payload = _read_payload(access, request)
    write_png: PngWriter = (
        S3PngWriter(access, settings.output_uri, request.job_name)
        if settings.output_uri
        else _inline_png_writer
    )
    store = open_skill_store(settings.skill_table) if settings.skill_table else None
    # A job made in the console sends no labelCategories: the job's own labels (from the
    # construct) keep the class ids stable, never the order the answers arrived in.
    labels = request.label_categories
    if labels is None and settings.labels is not None:
        labels = list(settings.labels)
    scope = skill_scope(
        settings.skill_scope_mode,
        request.job_name,
        settings.task_type,
        labels or [],
    )
    response, stats, rejections = consolidate_batch(
        payload,
        settings,
        labels=labels,
        label_attribute_name=request.label_attribute_name,
        scope=scope,
        skill_store=store,
        write_png=write_png,
        fetch=access.read_text,
        job=request.labeling_job_arn,
    )
    log_rejections(rejections)
    LOGGER.info(
        "batch consolidated",
        extra={
            "job": request.job_name,
            "objects": stats.objects,
            "consolidated": stats.consolidated,
            "errors": stats.errors,
            "rejectedAnswers": stats.rejected,
            "method": settings.method,
        },
    )
    emit_consolidation_metrics(
        job_name=request.job_name,
        objects=stats.consolidated,
        rejected=stats.rejected,
        errors=stats.errors,
        mean_confidence=stats.mean_confidence,
        namespace=settings.metrics_namespace,
    )
    return response


def handler(event: Any, context: Any) -> list[dict[str, Any]]:
    """Lambda entry point."""
    return run(event, Settings.from_environment())


__all__ = [
    "BatchStats",
    "ConfigurationError",
    "ObjectAnswers",
    "Settings",
    "consolidate_batch",
    "handler",
    "run",
]
