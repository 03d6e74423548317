"""The requester's label-quality report: the workbench's report over the job's answers.

The job's ``annotations/worker-response/`` files (Ground Truth's layout, written by the
engine) are read by the workbench's own reader and consensus (``consolidate``) with the
job's post-annotation settings, and drawn by ``workbench.report``: the same page
``gt-constructs consolidate --report`` writes for a Ground Truth job.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from ..lambda_src.gt_annotation.contract import PostAnnotationSettings
from ..lambda_src.gt_runtime.blobs import join_uri
from ..lambda_src.gt_runtime.invoke import LocalFunction
from ..task_type import TaskType
from ..workbench.common import LocalFiles
from ..workbench.consolidate import RunSummary, consolidate_records, read_worker_responses
from ..workbench.report import ReportCollector, render


def report_html(engine: Any, job_name: str, functions: Mapping[str, LocalFunction]) -> str:
    """The report page of ``job_name`` (a short page when no answer is in yet)."""
    described = engine.describe_job(job_name)
    human = described["HumanTaskConfig"]
    post_arn = (human.get("AnnotationConsolidationConfig") or {}).get(
        "AnnotationConsolidationLambdaArn"
    )
    function = functions.get(post_arn or "")
    settings = PostAnnotationSettings.from_environment(
        dict(function.environment) if function else {}
    )
    output = join_uri(described["OutputConfig"]["S3OutputPath"], job_name)
    folder = Path(engine.blobs.path(join_uri(output, "annotations", "worker-response")))
    if not folder.is_dir() or not any(folder.rglob("*.json")):
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Report</title>'
            f"</head><body><h1>Label quality report</h1><p>Job {escape(job_name)} has no "
            "answers yet.</p></body></html>"
        )
    lines = {
        str(row["datasetObjectId"]): row["dataObject"] for row in engine.object_answers(job_name)
    }
    task_type = TaskType(settings.task_type)
    collector = ReportCollector(answer_name=settings.answer_name)
    summary = RunSummary()
    for result in consolidate_records(
        read_worker_responses(folder, lines),
        task_type=task_type,
        method=settings.method,
        label_attribute=described["LabelAttributeName"],
        labels=list(settings.labels or ()),
        answer_name=settings.answer_name,
        job_name=job_name,
        keep_all_annotations=settings.keep_all_annotations,
        options=dict(settings.options),
        warn=lambda message: None,
    ):
        if isinstance(result, RunSummary):
            summary = result
        else:
            collector.add(result)
    return render(
        collector,
        summary,
        source=f"labeling job {job_name} ({folder})",
        task_type=task_type.value,
        files=LocalFiles((Path(engine.blobs.root),)),
    )
