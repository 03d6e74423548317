"""Records of the labeling runtime, worker identity, statuses and errors.

Everything the engine, the stores and the hosts (local server, AWS handlers)
exchange is defined here: plain dataclasses, JSON-friendly (``to_dict``), no
behaviour beyond small derived values. Standard library only.

Object life (``ObjectStatus``)::

    PENDING --release--> OPEN --N answers / lifetime / all declined--> READY
       |                   (tasks are claimed, leased, submitted)        |
       |                                                      consolidation batch
    SKIPPED (isHumanAnnotationRequired false)                            v
                                           FAILED (no answer) <-- BATCHED --> LABELED

Task life (``TaskStatus``)::

    ACTIVE --submit--> SUBMITTED
       |--decline--> DECLINED
       |--lease ran out--> EXPIRED        (the slot returns to the pool)
       |--object ended / job stopped--> CANCELLED
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any


# --------------------------------------------------------------------------- errors
class RuntimeApiError(Exception):
    """An error a caller can act on; ``status`` is the HTTP status a host answers with.

    ``code`` is a stable machine-readable name (the class name by default);
    the message says what is wrong and what is allowed.
    """

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message}


class BadRequest(RuntimeApiError):
    """The request is malformed (e.g. a submit with no answer): 400."""

    status = 400


class Forbidden(RuntimeApiError):
    """The caller may not do this (e.g. a worker outside the job's team): 403."""

    status = 403


class NotFound(RuntimeApiError):
    """No such job or task for this caller (another worker's task id too): 404."""

    status = 404


class Conflict(RuntimeApiError):
    """The state does not allow it (submit after the lease ran out, job stopped): 409.

    A refused submit is never counted.
    """

    status = 409


class NoTaskAvailable(RuntimeApiError):
    """Nothing for this worker right now (all taken, done, or not released yet).

    ``status`` is 404; a host may answer 204 instead (the portal's choice).
    """

    status = 404


class JobConfigError(BadRequest):
    """A CreateLabelingJob request the runtime cannot run; ``problems`` lists every problem."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        count = len(self.problems)
        head = "the labeling job cannot run on this runtime" + (
            f" ({count} problems)" if count > 1 else ""
        )
        super().__init__(head + ": " + "; ".join(self.problems))

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "problems": list(self.problems)}


# --------------------------------------------------------------------------- statuses
class JobStatus:
    """``LabelingJobStatus`` values (DescribeLabelingJob)."""

    INITIALIZING = "Initializing"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    #: States a job never leaves.
    FINAL = (COMPLETED, FAILED, STOPPED)


class ObjectStatus:
    """Where a data object is in its life (see the module docstring)."""

    PENDING = "pending"
    OPEN = "open"
    READY = "ready"
    BATCHED = "batched"
    LABELED = "labeled"
    FAILED = "failed"
    SKIPPED = "skipped"
    #: The object's answers are final (no more tasks).
    ENDED = (READY, BATCHED, LABELED, FAILED)
    #: Nothing more will happen to the object.
    FINAL = (LABELED, FAILED, SKIPPED)


class TaskStatus:
    """Where a task (one worker's assignment of one object) is in its life."""

    ACTIVE = "active"
    SUBMITTED = "submitted"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    #: A worker holding a task of an object in one of these states is never given it again.
    BLOCKING = (ACTIVE, SUBMITTED, DECLINED)


class BatchStatus:
    OPEN = "open"
    DONE = "done"


# --------------------------------------------------------------------------- identity
#: ``identityProviderType`` values Ground Truth writes in ``workerMetadata``.
PROVIDER_COGNITO = "Cognito"
PROVIDER_OIDC = "Oidc"


@dataclass(frozen=True)
class WorkerIdentity:
    """Who is calling, as the host authenticated them.

    ``sub`` and ``issuer`` identify the worker (Cognito: the user pool's
    ``sub`` claim and issuer URL; local workers: the local account's id and
    the issuer the local host chooses). ``teams`` are workteam names (the
    last segment of a ``WorkteamArn``; on AWS the Cognito groups).
    """

    sub: str
    issuer: str
    provider: str = PROVIDER_COGNITO
    teams: tuple[str, ...] = ()
    name: str | None = None
    email: str | None = None

    def worker_id(self, region: str) -> str:
        """``private.<region>.<hex>``: stable per (issuer, sub), as Ground Truth writes it."""
        digest = hashlib.sha256(f"{self.issuer}\n{self.sub}".encode()).hexdigest()[:16]
        return f"private.{region}.{digest}"

    def identity_data(self) -> dict[str, str]:
        """``workerMetadata.identityData`` of the worker-response file."""
        return {"identityProviderType": self.provider, "issuer": self.issuer, "sub": self.sub}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["teams"] = list(self.teams)
        return data

    @staticmethod
    def from_dict(data: dict[str, Any]) -> WorkerIdentity:
        return WorkerIdentity(
            sub=str(data["sub"]),
            issuer=str(data["issuer"]),
            provider=str(data.get("provider") or PROVIDER_COGNITO),
            teams=tuple(data.get("teams") or ()),
            name=data.get("name"),
            email=data.get("email"),
        )


# --------------------------------------------------------------------------- records
@dataclass
class JobRecord:
    """One labeling job: its CreateLabelingJob request and its life."""

    name: str
    arn: str
    #: The CreateLabelingJob request as given (``LabelingJobName`` included).
    request: dict[str, Any]
    status: str
    created_at: float
    updated_at: float
    #: Workteam name (last segment of ``HumanTaskConfig.WorkteamArn``).
    team: str
    #: Manifest lines (data objects).
    object_count: int = 0
    #: Team members (worker ids) known at creation; their number ends an object every one
    #: of them declined. ``None``: not known (objects end by answers or lifetime only).
    team_members: list[str] | None = None
    failure_reason: str | None = None
    #: Objects released so far (the next release starts at this input position).
    released: int = 0
    #: How many objects may be released in all (stopping conditions).
    release_limit: int = 0
    #: Consolidation batches started so far (the next batch's number).
    batches: int = 0
    #: The last batch's file timestamp (epoch seconds); batch file names never repeat.
    last_batch_at: float = 0.0
    #: When the job reached a final status.
    ended_at: float | None = None

    @property
    def workers_per_object(self) -> int:
        return int(self.request["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"])

    @property
    def human_task(self) -> dict[str, Any]:
        return dict(self.request["HumanTaskConfig"])

    @property
    def team_size(self) -> int | None:
        return None if self.team_members is None else len(self.team_members)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ObjectRecord:
    """One data object (one manifest line) of a job."""

    job_name: str
    #: Position in the manifest (0-based): also its ``datasetObjectId``.
    seq: int
    #: The manifest line, as read.
    data_object: dict[str, Any]
    #: The pre-annotation ``taskInput`` (``task.input`` of the template).
    task_input: Any = None
    status: str = ObjectStatus.PENDING
    #: Workers it needs (NumberOfHumanWorkersPerDataObject).
    needed: int = 1
    #: Tasks out now (leased, not yet submitted).
    active: int = 0
    submitted: int = 0
    declined: int = 0
    released_at: float | None = None
    #: TaskAvailabilityLifetimeInSeconds after release: the object ends then.
    available_until: float | None = None
    ended_at: float | None = None
    #: The consolidation batch that holds it.
    batch: int | None = None
    #: The consolidated ``content`` (the keys added to its manifest line), once labeled
    #: or failed.
    content: dict[str, Any] | None = None
    failure_reason: str | None = None
    #: The worker-response file of the object, once written.
    worker_response_uri: str | None = None

    @property
    def dataset_object_id(self) -> str:
        return str(self.seq)

    @property
    def free(self) -> int:
        """Slots a worker can still claim."""
        return max(0, self.needed - self.active - self.submitted)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TaskRecord:
    """One worker's assignment of one object: the lease and, once submitted, the answer."""

    task_id: str
    job_name: str
    seq: int
    worker_id: str
    #: ``WorkerIdentity.to_dict()`` of the worker (for ``workerMetadata``).
    worker: dict[str, Any]
    status: str
    accepted_at: float
    deadline: float
    submitted_at: float | None = None
    #: ``answerContent``: the form's output, keyed by element name.
    answer: dict[str, Any] | None = None

    @property
    def dataset_object_id(self) -> str:
        return str(self.seq)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchRecord:
    """One consolidation batch: its number, objects and file timestamp."""

    job_name: str
    number: int
    #: Input positions of its objects, ascending.
    seqs: list[int]
    #: Epoch seconds that name its files (unique per job).
    stamp: float
    status: str = BatchStatus.OPEN

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ObjectResult:
    """What a consolidation batch decided for one object."""

    seq: int
    #: ``ObjectStatus.LABELED`` or ``ObjectStatus.FAILED``.
    status: str
    content: dict[str, Any] | None
    failure_reason: str | None = None
    worker_response_uri: str | None = None


@dataclass(frozen=True)
class Task:
    """A task as a worker sees it (what ``Engine.claim`` and ``get_task`` return)."""

    #: Unguessable; also the Mechanical Turk ``assignmentId`` of the task page.
    task_id: str
    job_name: str
    dataset_object_id: str
    #: ``task.input`` of the worker template.
    task_input: Any
    accepted_at: float
    #: Epoch seconds after which a submit is refused (TaskTimeLimitInSeconds after accept).
    deadline: float
    status: str = TaskStatus.ACTIVE
    title: str = ""
    description: str = ""
    time_limit_seconds: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Counters:
    """``LabelCounters`` of DescribeLabelingJob."""

    TotalLabeled: int = 0
    HumanLabeled: int = 0
    MachineLabeled: int = 0
    FailedNonRetryableError: int = 0
    Unlabeled: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class ObjectCounts:
    """How many objects of a job are in each ``ObjectStatus`` (``by_status``)."""

    by_status: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, status: str) -> int:
        return self.by_status.get(status, 0)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


__all__ = [
    "PROVIDER_COGNITO",
    "PROVIDER_OIDC",
    "BadRequest",
    "BatchRecord",
    "BatchStatus",
    "Conflict",
    "Counters",
    "Forbidden",
    "JobConfigError",
    "JobRecord",
    "JobStatus",
    "NoTaskAvailable",
    "NotFound",
    "ObjectCounts",
    "ObjectRecord",
    "ObjectResult",
    "ObjectStatus",
    "RuntimeApiError",
    "Task",
    "TaskRecord",
    "TaskStatus",
    "WorkerIdentity",
]
