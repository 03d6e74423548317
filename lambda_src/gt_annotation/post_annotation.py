"""Post-annotation (consolidation) Lambda: several workers' answers → one label per object.

The handler is thin: read the event and payload, call ``consolidate_batch``
(pure, shared with the local workbench and the benchmarks), record worker
skill, emit metrics, answer Ground Truth. Whatever happens to one answer or one
object, every dataset object of the payload gets exactly one entry.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .consensus import default_method, get_consolidator
from .consensus.common import paused_gc
from .events import AnswerParser, ConsolidationRequest, parse_objects, parse_request
from .logs import get_logger
from .metrics import emit_consolidation_metrics
from .model import ConsolidationContext, ObjectAnswers, PngWriter, Rejection
from .skill import DynamoSkillStore, MemorySkillStore, SkillStore, skill_scope

LOGGER = get_logger("gt_annotation.post_annotation")


@dataclass(frozen=True)
class Settings:
    """What the construct configures through the function's environment."""

    task_type: str = "CUSTOM"
    answer_name: str | None = None
    method: str = "all-annotations"
    keep_all_annotations: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    payload_access: str = "ASSUME_EXECUTION_ROLE"
    skill_table: str | None = None
    skill_scope_mode: str = "job"
    output_uri: str | None = None

    @staticmethod
    def from_environment(env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        task_type = env.get("GT_TASK_TYPE", "CUSTOM")
        config: dict[str, Any] = json.loads(env.get("GT_CONSOLIDATION") or "{}")
        method = str(config.pop("method", "") or default_method(task_type))
        keep = bool(config.pop("keepAllAnnotations", False))
        return Settings(
            task_type=task_type,
            answer_name=env.get("GT_ANSWER_NAME") or None,
            method=method,
            keep_all_annotations=keep or method == "all-annotations",
            options={"method": method, **config},
            payload_access=env.get("GT_PAYLOAD_ACCESS", "ASSUME_EXECUTION_ROLE"),
            skill_table=env.get("GT_SKILL_TABLE") or None,
            skill_scope_mode=env.get("GT_SKILL_SCOPE", "job"),
            output_uri=env.get("GT_OUTPUT_URI") or None,
        )


@dataclass
class BatchStats:
    objects: int = 0
    consolidated: int = 0
    errors: int = 0
    rejected: int = 0
    confidences: list[float] = field(default_factory=list)

    @property
    def mean_confidence(self) -> float | None:
        return sum(self.confidences) / len(self.confidences) if self.confidences else None


def _error_label(reason: str, rejected: int) -> dict[str, Any]:
    return {"consolidation-error": reason, "rejectedAnswers": rejected}


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
) -> tuple[list[dict[str, Any]], BatchStats, list[Rejection]]:
    """The Ground Truth response for a payload: one entry per dataset object, always.

    Returns (response, stats, rejections). Worker skill is read from and added
    to ``skill_store`` under ``scope``.
    """
    consolidator = get_consolidator(settings.method)
    label_list = list(labels or [])
    parser = AnswerParser(settings.answer_name, label_list, consolidator.parse_answer, fetch)
    with paused_gc():  # many small objects, no cycles: collections would only re-walk them
        objects, rejections = parse_objects(payload, parser)
    stats = BatchStats(objects=len(objects))
    for item in objects:
        rejections.extend(item.rejections)
    stats.rejected = len(rejections)

    workers = {a.worker_id for o in objects for a in o.answers}
    skills = skill_store.load(scope, workers) if skill_store is not None and workers else {}
    context = ConsolidationContext(
        task_type=settings.task_type,
        labels=label_list,
        label_attribute_name=label_attribute_name,
        options=settings.options,
        skills=skills,
        write_png=write_png,
    )
    answered = [o for o in objects if o.answers]
    labels_by_id: dict[str, dict[str, Any]] = {}
    updates = {}
    try:
        batch = consolidator.consolidate(answered, context)
        labels_by_id, updates = batch.labels, batch.skill_updates
    except Exception:  # one bad object must not sink the batch: retry one by one
        LOGGER.exception(
            "batch consolidation failed; consolidating object by object",
            extra={"objects": len(answered)},
        )
        for item in answered:
            try:
                single = consolidator.consolidate([item], context)
                labels_by_id.update(single.labels)
                for worker, delta in single.skill_updates.items():
                    updates[worker] = updates[worker].add(delta) if worker in updates else delta
            except Exception as error:
                LOGGER.error(
                    "object could not be consolidated",
                    extra={
                        "datasetObjectId": item.dataset_object_id,
                        "error": type(error).__name__,
                    },
                )
                labels_by_id[item.dataset_object_id] = _error_label(
                    f"consolidation failed ({type(error).__name__})", len(item.rejections)
                )
    if skill_store is not None and updates:
        skill_store.add(scope, updates)

    response = []
    for item in objects:
        label = labels_by_id.get(item.dataset_object_id)
        if label is None:
            reason = (
                "no usable worker answer" if item.rejections else "no worker answered this object"
            )
            label = _error_label(reason, len(item.rejections))
        if "consolidation-error" in label:
            stats.errors += 1
        else:
            stats.consolidated += 1
            if isinstance(label.get("confidence"), int | float):
                stats.confidences.append(float(label["confidence"]))
        if settings.keep_all_annotations:
            label = dict(label)
            label["annotationsFromAllWorkers"] = [
                {"workerId": a.worker_id, "annotationData": {"content": a.raw}}
                for a in item.answers
            ]
        response.append(
            {
                "datasetObjectId": item.dataset_object_id,
                "consolidatedAnnotation": {"content": {label_attribute_name: label}},
            }
        )
    return response, stats, rejections


def _inline_png_writer(_object_id: str, data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _run(event: Any, settings: Settings) -> list[dict[str, Any]]:
    from .payload import S3Access, mask_uri

    request: ConsolidationRequest = parse_request(event)
    access = S3Access(settings.payload_access, request.role_arn)
    if request.inline_payload is not None:
        payload: Any = request.inline_payload
    else:
        assert request.payload_uri is not None
        payload = json.loads(access.read_text(request.payload_uri))

    write_png: PngWriter = _inline_png_writer
    if settings.output_uri:
        output_uri = settings.output_uri

        def write_png(object_id: str, data: bytes) -> str:
            uri = mask_uri(output_uri, request.job_name, object_id)
            access.write_bytes(uri, data, "image/png")
            return uri

    store: SkillStore = (
        DynamoSkillStore(settings.skill_table) if settings.skill_table else MemorySkillStore()
    )
    scope = skill_scope(
        settings.skill_scope_mode,
        request.job_name,
        settings.task_type,
        request.label_categories or [],
    )
    response, stats, rejections = consolidate_batch(
        payload,
        settings,
        labels=request.label_categories,
        label_attribute_name=request.label_attribute_name,
        scope=scope,
        skill_store=store,
        write_png=write_png,
        fetch=access.read_text,
    )
    for rejection in rejections:
        LOGGER.warning(
            "worker answer left out",
            extra={
                "datasetObjectId": rejection.dataset_object_id,
                "workerId": rejection.worker_id,
                "reason": rejection.reason,
            },
        )
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
        mean_confidence=stats.mean_confidence,
    )
    return response


def handler(event: Any, context: Any) -> list[dict[str, Any]]:
    """Lambda entry point."""
    return _run(event, Settings.from_environment())


__all__ = ["BatchStats", "ObjectAnswers", "Settings", "consolidate_batch", "handler"]
