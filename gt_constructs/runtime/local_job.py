"""A job to run on this machine: its CreateLabelingJob request, files and functions.

``LocalJob`` is what ``gt-constructs serve`` runs, whichever way it was described:
from plain flags (``from_flags``: a manifest, a template, a task type, labels) or
from a user's CDK app (``local_app.from_app``: the synthesized request, with the
app's template, dataset and Lambda settings). Local ``s3://`` buckets live in the
serve folder: ``s3://input/...`` is ``DIR/input/...`` and Ground Truth's output is
written under ``s3://output/`` = ``DIR/output/``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..consolidation import Consolidation
from ..lambda_src.gt_annotation.contract import PostAnnotationSettings, PreAnnotationSettings
from ..lambda_src.gt_resources.labeling_job import job_name
from ..lambda_src.gt_runtime.invoke import LocalFunction
from ..task_type import DataKind, TaskType
from ..template import TemplateError, WorkerTemplate

REGION = "local"
ACCOUNT = "000000000000"
INPUT_BUCKET = "input"
OUTPUT_BUCKET = "output"
DEFAULT_TEAM = "local-team"
PRE_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:gt-constructs-pre-annotation"
POST_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:gt-constructs-post-annotation"


class LocalJobError(ValueError):
    """The job cannot run here; the message lists every problem and what is allowed."""

    def __init__(self, problems: Sequence[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


@dataclass
class LocalJob:
    """What ``serve`` needs to run a job locally."""

    request: dict[str, Any]
    #: ``s3://`` URI → bytes, written to the serve folder before the job is created.
    files: dict[str, bytes]
    #: Lambda ARN of the request → the library's function with its environment.
    functions: dict[str, LocalFunction]
    team: str
    worker_emails: list[str] = field(default_factory=list)
    #: Where the job came from (for messages).
    source: str = ""

    @property
    def name(self) -> str:
        return str(self.request["LabelingJobName"])


def workteam_arn(team: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/{team}"


def _source_path(value: str, base: Path) -> Path | None:
    """The local file a ``source-ref`` names (relative to the manifest, or file://)."""
    if value.startswith("file://"):
        parts = urlsplit(value)
        return Path(unquote(parts.path))
    if "://" in value:
        return None
    path = Path(value)
    return path if path.is_absolute() else base / path


def _data_key(path: Path, base: Path) -> str:
    resolved = path.resolve()
    try:
        relative = resolved.relative_to(base.resolve())
        return "data/" + relative.as_posix()
    except ValueError:
        digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
        return f"data/external/{digest}/{resolved.name}"


def read_manifest(
    manifest: Path, *, data_kind_attribute: str | None
) -> tuple[list[dict[str, Any]], dict[str, bytes], list[str]]:
    """The manifest's lines with local ``source-ref`` paths turned into ``s3://input/data/...``
    (the files to copy alongside), and every problem (line numbers named)."""
    problems: list[str] = []
    lines: list[dict[str, Any]] = []
    files: dict[str, bytes] = {}
    try:
        text = manifest.read_text(encoding="utf-8")
    except OSError as error:
        raise LocalJobError(f"cannot read the manifest {manifest}: {error.strerror}") from None
    base = manifest.parent
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{manifest}:{number}"
        try:
            line = json.loads(raw)
        except json.JSONDecodeError as error:
            problems.append(f"{where}: not JSON ({error.msg} at column {error.colno})")
            continue
        if not isinstance(line, dict):
            problems.append(f'{where}: a manifest line is a JSON object ({{"source-ref": ...}})')
            continue
        source = line.get("source-ref")
        if isinstance(source, str):
            path = _source_path(source, base)
            if path is not None:
                if not path.is_file():
                    problems.append(f"{where}: source-ref {source!r}: no such file ({path})")
                    continue
                key = _data_key(path, base)
                uri = f"s3://{INPUT_BUCKET}/{key}"
                if uri not in files:
                    files[uri] = path.read_bytes()
                line = {**line, "source-ref": uri}
        elif data_kind_attribute and data_kind_attribute not in line:
            problems.append(
                f"{where}: no {data_kind_attribute!r} (the task type's data object attribute)"
            )
            continue
        lines.append(line)
    if not lines and not problems:
        problems.append(f"{manifest}: the manifest has no data objects")
    return lines, files, problems


def from_flags(
    *,
    manifest: Path,
    template: Path | None,
    task_type: TaskType,
    labels: Sequence[str],
    workers_per_object: int,
    label_attribute: str | None = None,
    job_name_prefix: str | None = None,
    team: str = DEFAULT_TEAM,
    worker_emails: Sequence[str] = (),
    time_limit_seconds: int = 600,
    availability_seconds: int = 10 * 24 * 3600,
    max_concurrent: int = 1000,
    title: str | None = None,
    description: str | None = None,
) -> LocalJob:
    """A job from plain flags; ``LocalJobError`` lists every problem (nothing is written)."""
    problems: list[str] = []
    if not 1 <= workers_per_object <= 9:
        problems.append(f"--workers-per-object must be 1–9, got {workers_per_object}")
    if len(set(labels)) != len(labels):
        problems.append(f"--labels has duplicates: {list(labels)}")
    if not labels and task_type is not TaskType.CUSTOM:
        problems.append(f"{task_type.value} needs --labels")
    consolidation = Consolidation.for_task_type(task_type)
    worker_template: WorkerTemplate | None = None
    answer_name: str | None = None
    try:
        worker_template = (
            WorkerTemplate.from_file(template)
            if template is not None
            else WorkerTemplate.for_task_type(task_type)
        )
        answer_name = worker_template.validate(consolidation, task_type=task_type)
    except TemplateError as error:
        problems.extend(f"{error.source}:{p}" for p in error.problems)
    except ValueError as error:
        problems.append(str(error))
    attribute = None
    if task_type is not TaskType.CUSTOM:
        attribute = "source-ref" if task_type.data_kind is DataKind.IMAGE else "source"
    lines, files, manifest_problems = read_manifest(manifest, data_kind_attribute=attribute)
    problems.extend(manifest_problems)
    if problems:
        raise LocalJobError(problems)
    assert worker_template is not None
    label_attribute = label_attribute or task_type.value.lower().replace("_", "-")
    manifest_bytes = "".join(json.dumps(line) + "\n" for line in lines).encode("utf-8")
    categories = json.dumps(
        {"document-version": "2018-11-28", "labels": [{"label": label} for label in labels]}
    ).encode("utf-8")
    template_bytes = worker_template.text.encode("utf-8")
    fingerprint = hashlib.sha256(manifest_bytes + template_bytes + categories).hexdigest()[:16]
    prefix = f"s3://{INPUT_BUCKET}/jobs/{fingerprint}"
    files[f"{prefix}/dataset.manifest"] = manifest_bytes
    files[f"{prefix}/worker-template.liquid.html"] = template_bytes
    if labels:
        files[f"{prefix}/label-categories.json"] = categories
    request: dict[str, Any] = {
        "LabelAttributeName": label_attribute,
        "InputConfig": {
            "DataSource": {"S3DataSource": {"ManifestS3Uri": f"{prefix}/dataset.manifest"}}
        },
        "OutputConfig": {"S3OutputPath": f"s3://{OUTPUT_BUCKET}/"},
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/gt-constructs-local",
        "HumanTaskConfig": {
            "WorkteamArn": workteam_arn(team),
            "UiConfig": {"UiTemplateS3Uri": f"{prefix}/worker-template.liquid.html"},
            "PreHumanTaskLambdaArn": PRE_ARN,
            "TaskKeywords": task_type.default_keywords,
            "TaskTitle": (
                title or f"{task_type.title} of {', '.join(labels[:3]) or 'data objects'}"
            )[:128],
            "TaskDescription": (
                description
                or f"{task_type.title}: label each data object carefully following the instructions."
            )[:255],
            "NumberOfHumanWorkersPerDataObject": workers_per_object,
            "TaskTimeLimitInSeconds": time_limit_seconds,
            "TaskAvailabilityLifetimeInSeconds": availability_seconds,
            "MaxConcurrentTaskCount": max_concurrent,
            "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": POST_ARN},
        },
        "Tags": [{"Key": "gt-constructs:inputs", "Value": fingerprint}],
    }
    if labels:
        request["LabelCategoryConfigS3Uri"] = f"{prefix}/label-categories.json"
    request["LabelingJobName"] = job_name(job_name_prefix or label_attribute, request)
    pre = PreAnnotationSettings(task_type=task_type.value, labels=tuple(labels) or None)
    post = PostAnnotationSettings(
        task_type=task_type.value,
        answer_name=answer_name,
        method=consolidation.method,
        keep_all_annotations=consolidation.keep_all_annotations,
        options=dict(consolidation.options),
        skill_table="local-worker-skill",
        output_uri=f"s3://{OUTPUT_BUCKET}/{request['LabelingJobName']}",
        labels=tuple(labels) or None,
    )
    return LocalJob(
        request=request,
        files=files,
        functions={PRE_ARN: LocalFunction.pre(pre), POST_ARN: LocalFunction.post(post)},
        team=team,
        worker_emails=list(worker_emails),
        source=f"--manifest {manifest}",
    )
