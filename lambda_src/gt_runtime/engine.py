"""The labeling runtime's engine: Ground Truth's job logic, written once.

``Engine(store, blobs, invoker)`` runs ``CreateLabelingJob`` requests: it
validates them (``JobConfigError`` lists every problem), reads the manifest
through the ``Blobs``, calls the pre-annotation Lambda per line, hands tasks to
workers (``claim`` / ``submit`` / ``decline``, leased for
``TaskTimeLimitInSeconds``), and in ``tick`` returns lapsed leases to the pool,
ends objects whose ``TaskAvailabilityLifetimeInSeconds`` passed, releases up
to ``MaxConcurrentTaskCount`` objects, applies the stopping conditions, calls
the post-annotation Lambda per batch and writes Ground Truth's output layout
under ``S3OutputPath/<job name>/``. State lives in the ``Store``: the engine
keeps nothing that a restart would lose (only caches).

Hosts: the local server calls ``tick`` from a background loop; on AWS a
schedule or a state machine does. ``tick`` is idempotent and safe after a
crash: a consolidation batch started before the crash is finished with the
same objects and file names, its response file is reused when it was written.
"""

from __future__ import annotations

import json
import logging
import math
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .blobs import BlobNotFound, Blobs, join_uri, split_uri
from .invoke import Invoker
from .model import (
    BadRequest,
    BatchRecord,
    Conflict,
    Counters,
    Forbidden,
    JobConfigError,
    JobRecord,
    JobStatus,
    NoTaskAvailable,
    NotFound,
    ObjectRecord,
    ObjectResult,
    ObjectStatus,
    Task,
    TaskRecord,
    WorkerIdentity,
)
from .store import Store

LOGGER = logging.getLogger("gt_runtime.engine")

#: What a Ground Truth job-state event carries (EventBridge ``detail-type``).
STATUS_DETAIL_TYPE = "SageMaker Ground Truth Labeling Job State Change"
#: The runtime's own event source (a custom publisher may not use ``aws.``).
EVENT_SOURCE = "gt-constructs.runtime"
#: Ground Truth's protocol version of both Lambda events.
LAMBDA_EVENT_VERSION = "2018-10-16"

JOB_NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
ATTRIBUTE_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,126}")
#: Manifest limits of CreateLabelingJob.
MAX_LINE_CHARS = 100_000
#: Bounds of the human task settings (botocore model; private workteams).
BOUNDS = {
    "NumberOfHumanWorkersPerDataObject": (1, 9),
    "TaskTimeLimitInSeconds": (30, 28_800),
    "TaskAvailabilityLifetimeInSeconds": (60, 2_592_000),
    "MaxConcurrentTaskCount": (1, 5_000),
}
DEFAULT_MAX_CONCURRENT = 1_000
#: Problems listed per kind before "and N more" (one error, still readable).
MAX_LISTED = 10

#: Failure reasons written in ``<attr>-metadata.failure-reason``.
REASON_NO_ANSWER = (
    "No worker answered this object before it ended (TaskAvailabilityLifetimeInSeconds "
    "passed, or every member of the workteam declined it)"
)
REASON_NO_ENTRY = "The post-annotation Lambda returned no entry for this object"
REASON_BAD_ENTRY = "The post-annotation Lambda returned an entry without a JSON object content"


def iso_millis(moment: float) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` (worker-response times)."""
    stamp = datetime.fromtimestamp(moment, timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def file_stamp(moment: float) -> str:
    """``YYYY-MM-DD_HH:MM:SS`` (names of worker-response and consolidation files)."""
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%d_%H:%M:%S")


def creation_date(moment: float) -> str:
    """``creation-date`` of ``<attr>-metadata``: ISO 8601, UTC, microseconds, no offset."""
    return (
        datetime.fromtimestamp(moment, timezone.utc)
        .replace(tzinfo=None)
        .isoformat(timespec="microseconds")
    )


@dataclass(frozen=True)
class JobPaths:
    """Where a job's output goes (Ground Truth's layout under ``S3OutputPath/<job>/``)."""

    root: str

    @staticmethod
    def of(job: JobRecord) -> JobPaths:
        return JobPaths(join_uri(job.request["OutputConfig"]["S3OutputPath"], job.name))

    def worker_response(self, object_id: str, stamp: str) -> str:
        return join_uri(
            self.root, "annotations/worker-response/iteration-1", object_id, f"{stamp}.json"
        )

    def consolidation_request(self, stamp: str) -> str:
        return join_uri(
            self.root,
            "annotations/consolidated-annotation/consolidation-request/iteration-1",
            f"{stamp}.json",
        )

    def consolidation_response(self, stamp: str) -> str:
        return join_uri(
            self.root,
            "annotations/consolidated-annotation/consolidation-response/iteration-1",
            f"{stamp}.json",
        )

    @property
    def annotations(self) -> str:
        return join_uri(self.root, "annotations")

    @property
    def intermediate_manifest(self) -> str:
        return join_uri(self.root, "manifests/intermediate/1/output.manifest")

    @property
    def output_manifest(self) -> str:
        return join_uri(self.root, "manifests/output/output.manifest")


def _lambda_arns(request: Mapping[str, Any]) -> tuple[str | None, str | None]:
    human = request.get("HumanTaskConfig") or {}
    pre = human.get("PreHumanTaskLambdaArn") or None
    post = (human.get("AnnotationConsolidationConfig") or {}).get(
        "AnnotationConsolidationLambdaArn"
    ) or None
    return pre, post


class Engine:
    """Ground Truth's labeling-job logic over a ``Store``, ``Blobs`` and an ``Invoker``.

    ``clock`` gives epoch seconds (tests pass a fake one to drive leases and
    lifetimes). ``notify(kind, payload)`` receives ``"status"`` events
    (EventBridge-shaped: ``source``, ``detail-type``, ``detail``,
    ``resources``) and ``"object"`` messages (one per labelled object when the
    request names ``OutputConfig.SnsTopicArn``: ``{"TopicArn", "Message"}``);
    a failing hook is logged, never fatal. Consolidation batches hold up to
    ``batch_size`` objects and start once that many are ready, or
    ``batch_wait_seconds`` after the previous one, or when nothing is out any
    more. The intermediate manifest is rewritten at most every
    ``intermediate_every_seconds``.
    """

    def __init__(
        self,
        store: Store,
        blobs: Blobs,
        invoker: Invoker,
        *,
        clock: Callable[[], float] = time.time,
        region: str = "local",
        account: str = "000000000000",
        notify: Callable[[str, dict[str, Any]], None] | None = None,
        batch_size: int = 500,
        batch_wait_seconds: float = 2.0,
        intermediate_every_seconds: float = 30.0,
        event_source: str = EVENT_SOURCE,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.invoker = invoker
        self.clock = clock
        self.region = region
        self.account = account
        self.notify = notify
        self.batch_size = max(1, int(batch_size))
        self.batch_wait_seconds = batch_wait_seconds
        self.intermediate_every_seconds = intermediate_every_seconds
        self.event_source = event_source
        # Caches only: nothing here is needed after a restart.
        self._templates: dict[str, str] = {}
        self._jobs: dict[str, JobRecord] = {}
        self._last_batch: dict[str, float] = {}
        self._last_intermediate: dict[str, float] = {}

    # ================================================================ requester side
    def job_arn(self, job_name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:labeling-job/{job_name}"

    def create_job(
        self, request: Mapping[str, Any], *, team_members: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """Create and start a job from its ``CreateLabelingJob`` request.

        Validates the request, the manifest, the template and the label
        categories, and runs the pre-annotation Lambda over every line before
        anything is stored: any problem raises one ``JobConfigError`` listing
        them all and changes nothing. ``team_members`` (worker ids) lets an
        object end when every member declined it. Idempotent by job name: the
        same request again returns the job (finishing an interrupted start);
        another request under an existing name is a ``Conflict``.
        Returns ``describe_job``.
        """
        request = dict(json.loads(json.dumps(request)))  # a private, JSON-clean copy
        name = request.get("LabelingJobName")
        existing = self.store.get_job(name) if isinstance(name, str) else None
        if existing is not None:
            if existing.request != request:
                raise Conflict(
                    f"a labeling job named {name!r} already exists with another request; "
                    "job names are unique: choose a new one"
                )
            if existing.status == JobStatus.INITIALIZING:
                self._initialize(existing)
            return self.describe_job(existing.name)
        problems, lines = self.validate(request)
        if problems:
            raise JobConfigError(problems)
        assert isinstance(name, str)
        objects, object_problems = self._pre_annotate(request, lines)
        if object_problems:
            raise JobConfigError(object_problems)
        now = self.clock()
        human = request["HumanTaskConfig"]
        job = JobRecord(
            name=name,
            arn=self.job_arn(name),
            request=request,
            status=JobStatus.INITIALIZING,
            created_at=now,
            updated_at=now,
            team=str(human["WorkteamArn"]).rsplit("/", 1)[-1],
            object_count=len(lines),
            team_members=None if team_members is None else sorted(set(team_members)),
        )
        job.release_limit = self._release_limit(request, objects)
        if not self.store.put_job(job):  # created meanwhile by another caller
            return self.create_job(request, team_members=team_members)
        self._emit_status(job)
        self._store_objects(job, objects)
        return self.describe_job(name)

    def set_team_members(self, job_name: str, team_members: Sequence[str] | None) -> None:
        """The workteam's members (worker ids) now: an object every one of them declined
        ends with the answers it has. ``None``: not known."""
        self._job(job_name)
        self.store.update_job(
            job_name, team_members=None if team_members is None else sorted(set(team_members))
        )
        self._jobs.pop(job_name, None)

    def describe_job(self, job_name: str) -> dict[str, Any]:
        """``DescribeLabelingJob``'s shape: status, ``LabelCounters``, ``FailureReason``,
        ARN, output, times (epoch seconds, as AWS's JSON protocol sends them) and the
        request's configuration; ``RuntimeDetails`` adds the runtime's own counts."""
        job = self._job(job_name, fresh=True)
        counts = self.store.count_objects(job_name)
        labeled, failed = counts[ObjectStatus.LABELED], counts[ObjectStatus.FAILED]
        counters = Counters(
            TotalLabeled=labeled,
            HumanLabeled=labeled,
            MachineLabeled=0,
            FailedNonRetryableError=failed,
            Unlabeled=max(0, job.object_count - labeled - failed),
        )
        request = job.request
        description: dict[str, Any] = {
            "LabelingJobName": job.name,
            "LabelingJobArn": job.arn,
            "LabelingJobStatus": job.status,
            "LabelCounters": counters.to_dict(),
            "CreationTime": job.created_at,
            "LastModifiedTime": job.updated_at,
            "JobReferenceCode": job.name,
            "LabelAttributeName": request.get("LabelAttributeName"),
            "InputConfig": request.get("InputConfig"),
            "OutputConfig": request.get("OutputConfig"),
            "RoleArn": request.get("RoleArn"),
            "HumanTaskConfig": request.get("HumanTaskConfig"),
            "Tags": request.get("Tags", []),
        }
        for key in ("LabelCategoryConfigS3Uri", "StoppingConditions"):
            if key in request:
                description[key] = request[key]
        if job.failure_reason:
            description["FailureReason"] = job.failure_reason
        if job.status in (JobStatus.COMPLETED, JobStatus.STOPPED):
            description["LabelingJobOutput"] = {
                "OutputDatasetS3Uri": JobPaths.of(job).output_manifest
            }
        description["RuntimeDetails"] = {
            "Objects": job.object_count,
            "ObjectsByStatus": dict(counts.by_status),
            "Released": job.released,
            "ReleaseLimit": job.release_limit,
            "ConsolidationBatches": job.batches,
            "Team": job.team,
            "TeamSize": job.team_size,
            "EndTime": job.ended_at,
        }
        return description

    def list_jobs(self) -> list[dict[str, Any]]:
        """Every job's summary (``ListLabelingJobs``' items), oldest first."""
        summaries = []
        for job in self.store.list_jobs():
            summaries.append(
                {
                    "LabelingJobName": job.name,
                    "LabelingJobArn": job.arn,
                    "LabelingJobStatus": job.status,
                    "CreationTime": job.created_at,
                    "LastModifiedTime": job.updated_at,
                    "WorkteamArn": job.request["HumanTaskConfig"]["WorkteamArn"],
                    "TaskTitle": job.request["HumanTaskConfig"].get("TaskTitle", ""),
                    "Objects": job.object_count,
                    "FailureReason": job.failure_reason,
                }
            )
        return summaries

    def stop_job(self, job_name: str) -> None:
        """``StopLabelingJob``: nothing more is released or submitted (tasks out are
        cancelled: their submits get 409), objects whose answers are all in are
        consolidated, the output manifest is written, and the job ends ``Stopped``.
        Stopping a job that already ended changes nothing."""
        if self.begin_stop(job_name):
            self._tick_job(self._job(job_name, fresh=True), self.clock())

    def begin_stop(self, job_name: str) -> bool:
        """Mark the job ``Stopping`` and cancel its tasks out; the next tick finishes it.
        False when the job already ended (nothing to finish)."""
        job = self._job(job_name, fresh=True)
        if job.status in JobStatus.FINAL:
            return False
        if job.status == JobStatus.STOPPING:
            return True
        now = self.clock()
        if self.store.update_job(
            job_name,
            expect_status=[JobStatus.INITIALIZING, JobStatus.IN_PROGRESS],
            status=JobStatus.STOPPING,
            updated_at=now,
        ):
            self._jobs.pop(job_name, None)
            self._emit_status(self._job(job_name, fresh=True))
        self.store.cancel_active(job_name, now=now)
        return True

    def tick(self, now: float | None = None) -> dict[str, Any]:
        """Advance every job that has not ended to ``now`` (default: the clock).

        Per job: finish an interrupted start; lapsed leases return to the pool;
        objects past their availability lifetime end; objects are released up
        to ``MaxConcurrentTaskCount`` and the stopping conditions; ready objects
        are consolidated in batches; a job with nothing left completes and gets
        its final manifest. Idempotent; safe to run again after a crash.
        Returns what was done, per job.
        """
        moment = self.clock() if now is None else now
        report: dict[str, Any] = {}
        for job in self.store.list_jobs():
            if job.status in JobStatus.FINAL:
                continue
            try:
                report[job.name] = self._tick_job(job, moment)
            except Exception as error:  # one job's trouble must not stop the others
                LOGGER.exception("tick failed", extra={"job": job.name})
                report[job.name] = {"error": f"{type(error).__name__}: {error}"}
        return report

    def object_answers(
        self, job_name: str, *, start: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Per object (input order): its status, each worker's answer and, once
        consolidated, the label, its metadata or the failure reason (requester page)."""
        job = self._job(job_name)
        attribute = job.request["LabelAttributeName"]
        objects = self.store.objects(job_name, start=start, limit=limit)
        answers = self.store.submitted_tasks(job_name, [o.seq for o in objects])
        rows = []
        for item in objects:
            content = item.content or {}
            rows.append(
                {
                    "datasetObjectId": item.dataset_object_id,
                    "dataObject": item.data_object,
                    "status": item.status,
                    "needed": item.needed,
                    "submitted": item.submitted,
                    "active": item.active,
                    "declined": item.declined,
                    "answers": [_answer_entry(task) for task in answers.get(item.seq, [])],
                    "label": content.get(attribute),
                    "metadata": content.get(attribute + "-metadata"),
                    "failureReason": item.failure_reason,
                }
            )
        return rows

    def output_manifest_uri(self, job_name: str) -> str | None:
        """The final ``output.manifest`` once written (the job ended), else the
        intermediate one if it exists, else ``None``."""
        paths = JobPaths.of(self._job(job_name))
        for uri in (paths.output_manifest, paths.intermediate_manifest):
            if self.blobs.exists(uri):
                return uri
        return None

    # ================================================================ worker side
    def jobs_for(self, worker: WorkerIdentity) -> list[dict[str, Any]]:
        """The running jobs of the worker's teams, with the objects open for work, the
        worker's own count and their task in progress (if any)."""
        now = self.clock()
        worker_id = self.worker_id(worker)
        rows = []
        for job in self.store.list_jobs():
            if job.team not in worker.teams or job.status != JobStatus.IN_PROGRESS:
                continue
            human = job.human_task
            counts = self.store.count_objects(job.name)
            active = self.store.active_task(job.name, worker_id, now)
            rows.append(
                {
                    "LabelingJobName": job.name,
                    "LabelingJobStatus": job.status,
                    "TaskTitle": human.get("TaskTitle", ""),
                    "TaskDescription": human.get("TaskDescription", ""),
                    "TaskKeywords": human.get("TaskKeywords", []),
                    "TaskTimeLimitInSeconds": human.get("TaskTimeLimitInSeconds"),
                    "CreationTime": job.created_at,
                    "objectsOpen": counts[ObjectStatus.OPEN],
                    "objectsTotal": job.object_count,
                    "myCount": self.store.count_submitted_by(job.name, worker_id),
                    "activeTaskId": active.task_id if active else None,
                }
            )
        return rows

    def worker_id(self, worker: WorkerIdentity) -> str:
        """The worker's ``workerId`` in output (``private.<region>.<hex>``)."""
        return worker.worker_id(self.region)

    def claim(self, job_name: str, worker: WorkerIdentity) -> Task:
        """The next task for this worker: the task they hold (unexpired) of this job if
        any, else a new lease on an object they have not had. ``NotFound`` (no job),
        ``Forbidden`` (not in the job's team), ``Conflict`` (the job is not running),
        ``NoTaskAvailable`` (nothing for them now)."""
        job = self._job(job_name)
        self._check_team(job, worker)
        if job.status != JobStatus.IN_PROGRESS:
            job = self._job(job_name, fresh=True)
            if job.status != JobStatus.IN_PROGRESS:
                raise Conflict(
                    f"labeling job {job_name!r} is {job.status}: it hands out no more tasks"
                )
        now = self.clock()
        worker_id = self.worker_id(worker)
        record = self.store.active_task(job_name, worker_id, now)
        if record is None:
            limit = int(job.human_task["TaskTimeLimitInSeconds"])
            record = self.store.claim(
                job_name,
                worker_id=worker_id,
                worker=worker.to_dict(),
                task_id=secrets.token_urlsafe(18),
                now=now,
                deadline=now + limit,
            )
        if record is None:
            raise NoTaskAvailable(
                f"no task for you in labeling job {job_name!r} right now: every released "
                "object has its workers, or you have answered or declined it; try again later"
            )
        return self._task(job, record)

    def get_task(self, task_id: str, worker: WorkerIdentity) -> Task:
        """The worker's own task (any status); ``NotFound`` for another worker's."""
        record = self._own_task(task_id, worker)
        return self._task(self._job(record.job_name), record)

    def submit(self, task_id: str, worker: WorkerIdentity, answer_content: Any) -> dict[str, Any]:
        """Record the worker's answer (``answerContent``: the form's output by element
        name). ``BadRequest`` for an empty answer, ``NotFound`` for another worker's task,
        ``Conflict`` once the lease ran out, the task was declined or cancelled, or the job
        stopped: such a submit is never counted."""
        if not isinstance(answer_content, Mapping) or not answer_content:
            raise BadRequest(
                "the answer is empty: submit the form's output as a non-empty JSON object "
                "keyed by element name (Mechanical Turk: taskAnswers)"
            )
        try:
            answer = json.loads(json.dumps(dict(answer_content), allow_nan=False))
        except (TypeError, ValueError) as error:
            raise BadRequest(f"the answer is not valid JSON ({error})") from None
        record = self._own_task(task_id, worker)
        job = self._job(record.job_name, fresh=True)
        if job.status != JobStatus.IN_PROGRESS:
            raise Conflict(
                f"labeling job {job.name!r} is {job.status}: answers are no longer accepted"
            )
        done = self.store.submit(
            task_id,
            worker_id=record.worker_id,
            answer=answer,
            now=self.clock(),
            team_size=job.team_size,
        )
        return {
            "taskId": done.task_id,
            "status": done.status,
            "datasetObjectId": done.dataset_object_id,
            "submittedAt": done.submitted_at,
            "myCount": self.store.count_submitted_by(job.name, done.worker_id),
        }

    def decline(self, task_id: str, worker: WorkerIdentity) -> None:
        """The worker declines the task: it is not offered to them again; if every
        member of the team declined the object, it ends with the answers it has."""
        record = self._own_task(task_id, worker)
        job = self._job(record.job_name, fresh=True)
        if job.status != JobStatus.IN_PROGRESS:
            raise Conflict(f"labeling job {job.name!r} is {job.status}: nothing to decline")
        self.store.decline(
            task_id, worker_id=record.worker_id, now=self.clock(), team_size=job.team_size
        )

    def task_template(self, job_name: str) -> str:
        """The worker template's text (``UiConfig.UiTemplateS3Uri``, read through the blobs)."""
        if job_name not in self._templates:
            job = self._job(job_name)
            uri = job.request["HumanTaskConfig"]["UiConfig"]["UiTemplateS3Uri"]
            self._templates[job_name] = self.blobs.read(uri).decode("utf-8")
        return self._templates[job_name]

    # ================================================================ validation
    def validate(self, request: Mapping[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
        """Every problem of a request for this runtime, and the manifest's objects.

        Checks the request's shape and bounds (as CreateLabelingJob does), what
        the runtime cannot do (public or vendor workforces, automated labeling,
        ``HumanTaskUiArn``, streaming input, Lambdas the invoker cannot run),
        and reads the manifest (each line a JSON object), the template and the
        label-category file.
        """
        problems: list[str] = []
        lines: list[dict[str, Any]] = []
        if not isinstance(request, Mapping):
            return [f"the request must be a JSON object, got {type(request).__name__}"], lines
        name = request.get("LabelingJobName")
        if not isinstance(name, str) or not JOB_NAME_PATTERN.fullmatch(name):
            problems.append(
                f"LabelingJobName {name!r} must be 1-63 letters, digits and hyphens, starting "
                "and ending with a letter or digit"
            )
        attribute = request.get("LabelAttributeName")
        if not isinstance(attribute, str) or not ATTRIBUTE_PATTERN.fullmatch(attribute):
            problems.append(
                f"LabelAttributeName {attribute!r} must be 1-127 letters, digits and hyphens"
            )
        elif attribute.endswith("-metadata"):
            problems.append(f"LabelAttributeName {attribute!r} must not end in '-metadata'")
        if not isinstance(request.get("RoleArn"), str) or not request.get("RoleArn"):
            problems.append(
                "RoleArn is required (the execution role; the post-annotation event carries it)"
            )
        if request.get("LabelingJobAlgorithmsConfig") is not None:
            problems.append(
                "LabelingJobAlgorithmsConfig (automated data labeling) is not supported by this "
                "runtime: only human labeling runs here"
            )
        manifest_uri = self._check_input(request.get("InputConfig"), problems)
        self._check_output(request.get("OutputConfig"), problems)
        self._check_stopping(request.get("StoppingConditions"), problems)
        template_uri = self._check_human_task(request.get("HumanTaskConfig"), problems)
        categories = request.get("LabelCategoryConfigS3Uri")
        if categories is not None:
            try:
                self._label_categories(str(categories))
            except ValueError as error:
                problems.append(str(error))
        if template_uri:
            try:
                text = self.blobs.read(template_uri).decode("utf-8")
                if not text.strip():
                    problems.append(f"the worker template at {template_uri} is empty")
            except (BlobNotFound, ValueError, UnicodeDecodeError) as error:
                problems.append(f"the worker template cannot be read: {error}")
        if manifest_uri:
            lines = self._read_manifest(manifest_uri, problems)
        return problems, lines

    def _check_input(self, config: Any, problems: list[str]) -> str | None:
        source = (config or {}).get("DataSource") if isinstance(config, Mapping) else None
        if not isinstance(source, Mapping):
            problems.append("InputConfig.DataSource is required")
            return None
        if "SnsDataSource" in source:
            problems.append(
                "InputConfig.DataSource.SnsDataSource (a streaming job) is not supported by this "
                "runtime: give S3DataSource.ManifestS3Uri"
            )
        uri = (source.get("S3DataSource") or {}).get("ManifestS3Uri")
        if not isinstance(uri, str) or not uri.startswith("s3://"):
            problems.append(
                f"InputConfig.DataSource.S3DataSource.ManifestS3Uri must be an s3:// URI, "
                f"got {uri!r}"
            )
            return None
        return uri

    @staticmethod
    def _check_output(config: Any, problems: list[str]) -> None:
        path = config.get("S3OutputPath") if isinstance(config, Mapping) else None
        if not isinstance(path, str) or not path.startswith("s3://") or len(path) <= 5:
            problems.append(f"OutputConfig.S3OutputPath must be an s3:// URI, got {path!r}")

    @staticmethod
    def _check_stopping(config: Any, problems: list[str]) -> None:
        if config is None:
            return
        if not isinstance(config, Mapping):
            problems.append("StoppingConditions must be an object")
            return
        count = config.get("MaxHumanLabeledObjectCount")
        if count is not None and (not _is_int(count) or count < 1):
            problems.append(
                f"StoppingConditions.MaxHumanLabeledObjectCount is {count!r}; allowed: an "
                "integer >= 1"
            )
        share = config.get("MaxPercentageOfInputDatasetLabeled")
        if share is not None and (not _is_int(share) or not 1 <= share <= 100):
            problems.append(
                f"StoppingConditions.MaxPercentageOfInputDatasetLabeled is {share!r}; allowed: "
                "an integer in [1, 100]"
            )

    def _check_human_task(self, config: Any, problems: list[str]) -> str | None:
        if not isinstance(config, Mapping):
            problems.append("HumanTaskConfig is required")
            return None
        team = config.get("WorkteamArn")
        if not isinstance(team, str) or ":workteam/" not in team:
            problems.append(f"HumanTaskConfig.WorkteamArn must be a workteam ARN, got {team!r}")
        elif ":workteam/public-crowd/" in team:
            problems.append(
                "the public workforce (Mechanical Turk) is not supported by this runtime: use a "
                "private workteam"
            )
        elif ":workteam/vendor-crowd/" in team:
            problems.append(
                "vendor workforces are not supported by this runtime: use a private workteam"
            )
        if config.get("PublicWorkforceTaskPrice") is not None:
            problems.append(
                "HumanTaskConfig.PublicWorkforceTaskPrice (a public workforce) is not supported"
            )
        raw_ui = config.get("UiConfig")
        ui: Mapping[str, Any] = raw_ui if isinstance(raw_ui, Mapping) else {}
        template = ui.get("UiTemplateS3Uri")
        if ui.get("HumanTaskUiArn"):
            problems.append(
                "HumanTaskConfig.UiConfig.HumanTaskUiArn (a built-in worker UI) is not supported "
                "by this runtime: give UiTemplateS3Uri (a custom template)"
            )
        if not isinstance(template, str) or not template.startswith("s3://"):
            if not ui.get("HumanTaskUiArn"):
                problems.append(
                    f"HumanTaskConfig.UiConfig.UiTemplateS3Uri must be an s3:// URI, "
                    f"got {template!r}"
                )
            template = None
        for key, (low, high) in BOUNDS.items():
            value = config.get(key)
            if value is None and key == "MaxConcurrentTaskCount":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                problems.append(
                    f"HumanTaskConfig.{key} is {value!r}; allowed: an integer in [{low}, {high}]"
                )
        for key, longest in (("TaskTitle", 128), ("TaskDescription", 255)):
            value = config.get(key)
            if not isinstance(value, str) or not 1 <= len(value) <= longest:
                problems.append(f"HumanTaskConfig.{key} must be 1-{longest} characters")
        pre, post = _lambda_arns({"HumanTaskConfig": config})
        for role, arn in (
            ("PreHumanTaskLambdaArn", pre),
            ("AnnotationConsolidationLambdaArn", post),
        ):
            if arn is not None:
                problem = self.invoker.problem(str(arn))
                if problem:
                    problems.append(f"{role}: {problem}")
        return template

    def _read_manifest(self, uri: str, problems: list[str]) -> list[dict[str, Any]]:
        try:
            text = self.blobs.read(uri).decode("utf-8")
        except (BlobNotFound, ValueError) as error:
            problems.append(f"the input manifest cannot be read: {error}")
            return []
        except UnicodeDecodeError:
            problems.append(f"the input manifest {uri} is not UTF-8 text")
            return []
        lines: list[dict[str, Any]] = []
        bad: list[str] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            if len(line) > MAX_LINE_CHARS:
                bad.append(f"line {number} is longer than {MAX_LINE_CHARS} characters")
                continue
            try:
                value = json.loads(line)
            except ValueError as error:
                bad.append(f"line {number} is not JSON ({error.args[0][:60]})")
                continue
            if not isinstance(value, dict):
                bad.append(f"line {number} is a JSON {type(value).__name__}, not an object")
                continue
            lines.append(value)
        if bad:
            more = f"; and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
            problems.append(f"the input manifest {uri}: " + "; ".join(bad[:MAX_LISTED]) + more)
        elif not lines:
            problems.append(f"the input manifest {uri} has no data objects")
        return lines

    def _label_categories(self, uri: str) -> list[str]:
        """The labels of a label-category file (``{"labels": [{"label": ...}]}``)."""
        try:
            document = json.loads(self.blobs.read(uri).decode("utf-8"))
        except BlobNotFound:
            raise ValueError(f"LabelCategoryConfigS3Uri: no file at {uri}") from None
        except (ValueError, UnicodeDecodeError):
            raise ValueError(f"LabelCategoryConfigS3Uri: {uri} is not JSON") from None
        labels = document.get("labels") if isinstance(document, dict) else None
        if not isinstance(labels, list) or not all(
            isinstance(item, dict) and isinstance(item.get("label"), str) for item in labels
        ):
            raise ValueError(
                f'LabelCategoryConfigS3Uri: {uri} must hold {{"labels": [{{"label": ...}}, ...]}}'
            )
        return [item["label"] for item in labels]

    # ================================================================ initialization
    def _pre_annotate(
        self, request: Mapping[str, Any], lines: Sequence[dict[str, Any]]
    ) -> tuple[list[ObjectRecord], list[str]]:
        """One pre-annotation call per line (the manifest line is ``task.input`` without a
        pre-annotation Lambda); every line the Lambda refuses is listed."""
        name = str(request["LabelingJobName"])
        arn = self.job_arn(name)
        pre, _ = _lambda_arns(request)
        needed = int(request["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"])
        objects: list[ObjectRecord] = []
        bad: list[str] = []
        for seq, line in enumerate(lines):
            task_input: Any = line
            required = True
            if pre is not None:
                event = {"version": LAMBDA_EVENT_VERSION, "labelingJobArn": arn, "dataObject": line}
                try:
                    response = self.invoker.pre_annotation(pre, event)
                except Exception as error:
                    bad.append(f"object {seq}: {type(error).__name__}: {str(error)[:200]}")
                    continue
                if not isinstance(response, Mapping) or "taskInput" not in response:
                    bad.append(
                        f"object {seq}: the pre-annotation Lambda answered without taskInput"
                    )
                    continue
                task_input = response["taskInput"]
                required = response.get("isHumanAnnotationRequired", True) is not False
            objects.append(
                ObjectRecord(
                    job_name=name,
                    seq=seq,
                    data_object=line,
                    task_input=task_input,
                    status=ObjectStatus.PENDING if required else ObjectStatus.SKIPPED,
                    needed=needed,
                )
            )
        if bad:
            more = f"; and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
            return objects, [
                "the pre-annotation Lambda refused data objects: "
                + "; ".join(bad[:MAX_LISTED])
                + more
            ]
        return objects, []

    @staticmethod
    def _release_limit(request: Mapping[str, Any], objects: Sequence[ObjectRecord]) -> int:
        """How many objects may go to workers: those that need humans, capped by the
        stopping conditions (``MaxPercentageOfInputDatasetLabeled`` of every input line,
        rounded down)."""
        limit = sum(1 for o in objects if o.status == ObjectStatus.PENDING)
        stopping = request.get("StoppingConditions") or {}
        if stopping.get("MaxHumanLabeledObjectCount") is not None:
            limit = min(limit, int(stopping["MaxHumanLabeledObjectCount"]))
        if stopping.get("MaxPercentageOfInputDatasetLabeled") is not None:
            share = int(stopping["MaxPercentageOfInputDatasetLabeled"])
            limit = min(limit, math.floor(len(objects) * share / 100))
        return limit

    def _store_objects(self, job: JobRecord, objects: Sequence[ObjectRecord]) -> None:
        for start in range(0, len(objects), 1000):
            self.store.add_objects(job.name, objects[start : start + 1000])
        now = self.clock()
        if self.store.update_job(
            job.name,
            expect_status=[JobStatus.INITIALIZING],
            status=JobStatus.IN_PROGRESS,
            updated_at=now,
        ):
            self._jobs.pop(job.name, None)
            started = self._job(job.name, fresh=True)
            self._emit_status(started)
            self._release(started, now)

    def _initialize(self, job: JobRecord) -> None:
        """Finish a start that was interrupted (objects already stored are kept)."""
        problems, lines = self.validate(job.request)
        objects, object_problems = (
            self._pre_annotate(job.request, lines) if not problems else ([], [])
        )
        problems += object_problems
        if problems:
            self._end_job(job, JobStatus.FAILED, self.clock(), "; ".join(problems)[:1024])
            return
        self._store_objects(job, objects)

    # ================================================================ tick
    def _tick_job(self, job: JobRecord, now: float) -> dict[str, Any]:
        if job.status == JobStatus.INITIALIZING:
            self._initialize(job)
            return {"initialized": True}
        name = job.name
        done: dict[str, Any] = {}
        if job.status == JobStatus.IN_PROGRESS:
            done["expired"] = self._drain(
                lambda: self.store.expire_leases(name, now=now, limit=500)
            )
            done["ended"] = self._drain(lambda: self.store.end_objects(name, now=now, limit=500))
            done["released"] = len(self._release(job, now))
        done["batches"] = self._consolidate(job, now)
        self._finish_if_done(self._job(name, fresh=True), now)
        return done

    @staticmethod
    def _drain(step: Callable[[], int]) -> int:
        total = 0
        while True:
            count = step()
            total += count
            if count == 0:
                return total

    def _release(self, job: JobRecord, now: float) -> list[int]:
        """Release objects up to MaxConcurrentTaskCount and the stopping conditions: the
        objects labelled and those under way never exceed the release limit."""
        human = job.human_task
        counts = self.store.count_objects(job.name)
        under_way = sum(
            counts[s] for s in (ObjectStatus.OPEN, ObjectStatus.READY, ObjectStatus.BATCHED)
        )
        budget = job.release_limit - counts[ObjectStatus.LABELED] - under_way
        if budget <= 0 or counts[ObjectStatus.PENDING] == 0:
            return []
        return self.store.release(
            job.name,
            now=now,
            lifetime_seconds=float(human["TaskAvailabilityLifetimeInSeconds"]),
            max_open=int(human.get("MaxConcurrentTaskCount") or DEFAULT_MAX_CONCURRENT),
            max_released=job.released + budget,
        )

    def _consolidate(self, job: JobRecord, now: float) -> int:
        """Run the open batch (after a crash) and new ones while objects are ready."""
        batches = 0
        batch = self.store.open_batch(job.name)
        while True:
            if batch is None:
                if not self._batch_due(job, now):
                    return batches
                batch = self.store.start_batch(job.name, now=now, limit=self.batch_size)
                if batch is None:
                    return batches
            self._run_batch(self._job(job.name, fresh=True), batch)
            self._last_batch[job.name] = now
            batches += 1
            batch = None

    def _batch_due(self, job: JobRecord, now: float) -> bool:
        counts = self.store.count_objects(job.name)
        ready = counts[ObjectStatus.READY]
        if ready == 0:
            return False
        if ready >= self.batch_size or counts[ObjectStatus.OPEN] == 0:
            return True
        if job.status != JobStatus.IN_PROGRESS:
            return True
        return now - self._last_batch.get(job.name, 0.0) >= self.batch_wait_seconds

    def _run_batch(self, job: JobRecord, batch: BatchRecord) -> None:
        """One consolidation batch, as Ground Truth runs it: worker-response files, the
        consolidation request, the post-annotation Lambda (or worker-response-ref without
        one), the response file, then the objects' results in one atomic step."""
        paths = JobPaths.of(job)
        stamp = file_stamp(batch.stamp)
        created = creation_date(batch.stamp)
        attribute = job.request["LabelAttributeName"]
        objects = {
            o.seq: o
            for o in self.store.objects(
                job.name,
                start=batch.seqs[0],
                statuses=[ObjectStatus.BATCHED],
                limit=len(batch.seqs),
            )
            if o.batch == batch.number
        }
        answers = self.store.submitted_tasks(job.name, batch.seqs)
        results: dict[int, ObjectResult] = {}
        payload: list[dict[str, Any]] = []
        for seq in batch.seqs:
            item = objects.get(seq)
            tasks = answers.get(seq, [])
            if item is None:
                continue
            if not tasks:
                results[seq] = ObjectResult(
                    seq,
                    ObjectStatus.FAILED,
                    _failure(attribute, REASON_NO_ANSWER, job.name, created),
                    REASON_NO_ANSWER,
                )
                continue
            uri = paths.worker_response(item.dataset_object_id, stamp)
            document = {"answers": [_answer_entry(task) for task in tasks]}
            self.blobs.write(uri, _json_bytes(document), "application/json")
            results[seq] = ObjectResult(seq, ObjectStatus.LABELED, None, None, uri)
            payload.append(
                {
                    "datasetObjectId": item.dataset_object_id,
                    "dataObject": _payload_data_object(item.data_object),
                    "annotations": [
                        {
                            "workerId": task.worker_id,
                            "annotationData": {"content": json.dumps(task.answer)},
                        }
                        for task in tasks
                    ],
                }
            )
        if payload:
            _, post = _lambda_arns(job.request)
            if post is None:
                for seq, result in list(results.items()):
                    if result.status == ObjectStatus.LABELED:
                        metadata = _metadata_defaults({}, job.name, created)
                        metadata["worker-response-ref"] = result.worker_response_uri
                        content = {attribute: {}, attribute + "-metadata": metadata}
                        results[seq] = ObjectResult(
                            seq, ObjectStatus.LABELED, content, None, result.worker_response_uri
                        )
            else:
                response = self._post_annotation(job, post, stamp, payload)
                self._apply_response(job, response, results, created)
        ordered = [results[seq] for seq in batch.seqs if seq in results]
        if self.store.finish_batch(job.name, batch.number, ordered):
            self._notify_objects(job, ordered)
        self._maybe_intermediate(job, batch.stamp)

    def _post_annotation(
        self, job: JobRecord, arn: str, stamp: str, payload: list[dict[str, Any]]
    ) -> Any:
        paths = JobPaths.of(job)
        request_uri = paths.consolidation_request(stamp)
        response_uri = paths.consolidation_response(stamp)
        if self.blobs.exists(response_uri):  # a crash after the Lambda answered: reuse it
            return json.loads(self.blobs.read(response_uri).decode("utf-8"))
        self.blobs.write(request_uri, _json_bytes(payload), "application/json")
        categories = job.request.get("LabelCategoryConfigS3Uri")
        event = {
            "version": LAMBDA_EVENT_VERSION,
            "labelingJobArn": job.arn,
            "labelCategories": self._label_categories(categories) if categories else None,
            "labelAttributeName": job.request["LabelAttributeName"],
            "roleArn": job.request["RoleArn"],
            "payload": {"s3Uri": request_uri},
            "outputConfig": paths.annotations,
        }
        response = self.invoker.post_annotation(arn, event)
        self.blobs.write(response_uri, _json_bytes(response), "application/json")
        return response

    @staticmethod
    def _apply_response(
        job: JobRecord, response: Any, results: dict[int, ObjectResult], created: str
    ) -> None:
        attribute = job.request["LabelAttributeName"]
        metadata_key = attribute + "-metadata"
        entries: dict[str, Any] = {}
        if isinstance(response, list):
            for entry in response:
                if isinstance(entry, Mapping) and "datasetObjectId" in entry:
                    entries.setdefault(str(entry["datasetObjectId"]), entry)
        for seq, result in list(results.items()):
            if result.status != ObjectStatus.LABELED:
                continue
            entry = entries.get(str(seq))
            reason: str | None = None
            content: Any = None
            if entry is None:
                reason = REASON_NO_ENTRY
            else:
                content = (entry.get("consolidatedAnnotation") or {}).get("content")
                if not isinstance(content, Mapping):
                    reason = REASON_BAD_ENTRY
            if reason is not None:
                results[seq] = ObjectResult(
                    seq,
                    ObjectStatus.FAILED,
                    _failure(attribute, reason, job.name, created),
                    reason,
                    result.worker_response_uri,
                )
                continue
            assert isinstance(content, Mapping)
            content = dict(content)
            metadata = content.get(metadata_key)
            metadata = dict(metadata) if isinstance(metadata, Mapping) else {}
            if attribute not in content:  # a failure as Ground Truth writes it: no label
                failure = str(metadata.get("failure-reason") or "no label was returned")
                metadata.setdefault("failure-reason", failure)
                content[metadata_key] = metadata
                results[seq] = ObjectResult(
                    seq, ObjectStatus.FAILED, content, failure, result.worker_response_uri
                )
                continue
            content[metadata_key] = _metadata_defaults(metadata, job.name, created)
            results[seq] = ObjectResult(
                seq, ObjectStatus.LABELED, content, None, result.worker_response_uri
            )

    def _finish_if_done(self, job: JobRecord, now: float) -> None:
        if job.status in JobStatus.FINAL or job.status == JobStatus.INITIALIZING:
            return
        counts = self.store.count_objects(job.name)
        under_way = [ObjectStatus.READY, ObjectStatus.BATCHED]
        if job.status == JobStatus.IN_PROGRESS:
            under_way.append(ObjectStatus.OPEN)
        if any(counts[s] for s in under_way) or self.store.open_batch(job.name):
            return
        if job.status == JobStatus.IN_PROGRESS:
            budget = job.release_limit - counts[ObjectStatus.LABELED]
            if counts[ObjectStatus.PENDING] and budget > 0:
                return  # more to release (MaxConcurrentTaskCount held them back)
            self._end_job(job, JobStatus.COMPLETED, now)
        else:  # Stopping
            self._end_job(job, JobStatus.STOPPED, now)

    def _end_job(
        self, job: JobRecord, status: str, now: float, failure_reason: str | None = None
    ) -> None:
        if status != JobStatus.FAILED:
            self._write_manifest(job, JobPaths.of(job).output_manifest, every_line=True)
        changes: dict[str, Any] = {"status": status, "updated_at": now, "ended_at": now}
        if failure_reason:
            changes["failure_reason"] = failure_reason
        if self.store.update_job(
            job.name,
            expect_status=[JobStatus.INITIALIZING, JobStatus.IN_PROGRESS, JobStatus.STOPPING],
            **changes,
        ):
            self._jobs.pop(job.name, None)
            self._emit_status(self._job(job.name, fresh=True))

    # ================================================================ output
    def _maybe_intermediate(self, job: JobRecord, moment: float) -> None:
        last = self._last_intermediate.get(job.name)
        if last is not None and moment - last < self.intermediate_every_seconds:
            return
        self._last_intermediate[job.name] = moment
        self._write_manifest(job, JobPaths.of(job).intermediate_manifest, every_line=False)

    def _write_manifest(self, job: JobRecord, uri: str, *, every_line: bool) -> None:
        """``output.manifest``: input lines in input order with the consolidated keys added
        (labelled) or ``<attr>-metadata.failure-reason`` (failed). The final one holds
        every input line (one not labelled is written as it came in); the intermediate
        one the objects done so far."""
        chunks: list[str] = []
        start = 0
        while True:
            page = self.store.objects(job.name, start=start, limit=2000)
            if not page:
                break
            for item in page:
                if item.status in (ObjectStatus.LABELED, ObjectStatus.FAILED) and item.content:
                    line = dict(item.data_object)
                    line.update(item.content)
                elif every_line:
                    line = item.data_object
                else:
                    continue
                chunks.append(json.dumps(line, separators=(",", ":"), ensure_ascii=False))
            start = page[-1].seq + 1
        data = ("\n".join(chunks) + "\n" if chunks else "").encode("utf-8")
        self.blobs.write(uri, data, "application/jsonlines")

    # ================================================================ events
    def _emit_status(self, job: JobRecord) -> None:
        self._emit(
            "status",
            {
                "version": "0",
                "source": self.event_source,
                "detail-type": STATUS_DETAIL_TYPE,
                "account": self.account,
                "region": self.region,
                "time": iso_millis(job.updated_at)[:-5] + "Z",
                "resources": [job.arn],
                "detail": {"LabelingJobStatus": job.status},
            },
        )

    def _notify_objects(self, job: JobRecord, results: Sequence[ObjectResult]) -> None:
        topic = (job.request.get("OutputConfig") or {}).get("SnsTopicArn")
        if not topic:
            return
        for result in results:
            if result.status != ObjectStatus.LABELED or result.content is None:
                continue
            item = self.store.get_object(job.name, result.seq)
            line = dict(item.data_object if item else {})
            line.update(result.content)
            self._emit("object", {"TopicArn": topic, "Message": json.dumps(line)})

    def _emit(self, kind: str, payload: dict[str, Any]) -> None:
        if self.notify is None:
            return
        try:
            self.notify(kind, payload)
        except Exception:  # a hook must never break the job
            LOGGER.exception("notify hook failed", extra={"kind": kind})

    # ================================================================ helpers
    def _job(self, name: str, *, fresh: bool = False) -> JobRecord:
        job = None if fresh else self._jobs.get(name)
        if job is None:
            job = self.store.get_job(name) if isinstance(name, str) else None
            if job is None:
                raise NotFound(f"no labeling job named {name!r}")
            self._jobs[name] = job
        return job

    @staticmethod
    def _check_team(job: JobRecord, worker: WorkerIdentity) -> None:
        if job.team not in worker.teams:
            raise Forbidden(
                f"you are not a member of workteam {job.team!r}, which labeling job "
                f"{job.name!r} is for"
            )

    def _own_task(self, task_id: str, worker: WorkerIdentity) -> TaskRecord:
        record = self.store.get_task(task_id) if isinstance(task_id, str) else None
        if record is None or record.worker_id != self.worker_id(worker):
            raise NotFound(f"no task {str(task_id)[:40]!r} of yours")
        return record

    def _task(self, job: JobRecord, record: TaskRecord) -> Task:
        item = self.store.get_object(job.name, record.seq)
        human = job.human_task
        return Task(
            task_id=record.task_id,
            job_name=job.name,
            dataset_object_id=record.dataset_object_id,
            task_input=item.task_input if item else None,
            accepted_at=record.accepted_at,
            deadline=record.deadline,
            status=record.status,
            title=str(human.get("TaskTitle", "")),
            description=str(human.get("TaskDescription", "")),
            time_limit_seconds=int(human.get("TaskTimeLimitInSeconds", 0)),
        )


# ==================================================================== module helpers
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _answer_entry(task: TaskRecord) -> dict[str, Any]:
    """One answer of a worker-response file, as Ground Truth writes it."""
    submitted = task.submitted_at if task.submitted_at is not None else task.accepted_at
    identity = WorkerIdentity.from_dict(task.worker) if task.worker else None
    return {
        "acceptanceTime": iso_millis(task.accepted_at),
        "submissionTime": iso_millis(submitted),
        "timeSpentInSeconds": round(max(0.0, submitted - task.accepted_at), 3),
        "workerId": task.worker_id,
        "workerMetadata": {"identityData": identity.identity_data() if identity else {}},
        "answerContent": task.answer,
    }


def _payload_data_object(line: Mapping[str, Any]) -> dict[str, Any]:
    """``dataObject`` of a consolidation-request entry: ``s3Uri`` or ``content``."""
    if isinstance(line.get("source-ref"), str):
        return {"s3Uri": line["source-ref"]}
    if "source" in line:
        return {"content": line["source"]}
    return {"content": json.dumps(line)}


def _metadata_defaults(metadata: dict[str, Any], job_name: str, created: str) -> dict[str, Any]:
    metadata.setdefault("job-name", f"labeling-job/{job_name}")
    metadata.setdefault("type", "groundtruth/custom")
    metadata.setdefault("human-annotated", "yes")
    metadata.setdefault("creation-date", created)
    return metadata


def _failure(attribute: str, reason: str, job_name: str, created: str) -> dict[str, Any]:
    return {
        attribute + "-metadata": {
            "failure-reason": reason,
            "job-name": f"labeling-job/{job_name}",
            "creation-date": created,
        }
    }


__all__ = [
    "EVENT_SOURCE",
    "STATUS_DETAIL_TYPE",
    "Engine",
    "JobPaths",
    "creation_date",
    "file_stamp",
    "iso_millis",
    "split_uri",
]
