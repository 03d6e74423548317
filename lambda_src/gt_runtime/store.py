"""The ``Store`` protocol: where jobs, objects, tasks, leases, answers and batches live.

Two implementations: ``SqliteStore`` (one machine, ``sqlite_store.py``) and the
DynamoDB store (AWS). The engine holds all the logic; a store keeps records and
makes the few steps that must be atomic atomic. Every operation is meant to be
implementable on DynamoDB with key reads, queries on an index and conditional
writes or ``TransactWriteItems``:

- no full-table scan on a hot path (``claim``, ``submit``, ``decline``,
  ``get_task``, ``active_task``): they touch one job's open objects through an
  index, one object, one task;
- no single item every claim writes: a claim writes the object it takes and
  the new task, nothing job-wide (the job record changes only in ``release``,
  ``start_batch`` and status changes, i.e. in the engine's ``tick``);
- ``claim``, ``submit``, ``decline``, ``release``, ``start_batch`` and
  ``finish_batch`` are each ONE atomic step (SQLite: a transaction;
  DynamoDB: a conditional write or a transaction).

Invariants a store guarantees whatever the concurrency (threads, processes,
Lambda instances):

1. An object never has more tasks ``ACTIVE`` + ``SUBMITTED`` than it ``needed``.
2. A worker never holds two tasks of one object in ``TaskStatus.BLOCKING``
   (active, submitted, declined): never the same object twice, never an object
   they declined. A task that ``EXPIRED`` or was ``CANCELLED`` does not block.
3. A submit is counted once, and only while the task is ``ACTIVE`` and its
   deadline has not passed.
4. A batch's objects are ``BATCHED`` with its number from ``start_batch`` until
   ``finish_batch``; at most one batch of a job is open at a time.

Times are epoch seconds (floats) given by the engine's clock: a store never
reads the time itself, so tests drive leases and lifetimes with a fake clock.
Errors are ``model``'s: ``NotFound`` (no such task, or another worker's) and
``Conflict`` (a state that does not allow the step), each with a message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from .model import (
    BatchRecord,
    Conflict,
    JobRecord,
    NotFound,
    ObjectCounts,
    ObjectRecord,
    ObjectResult,
    TaskRecord,
    TaskStatus,
)


@runtime_checkable
class Store(Protocol):
    """Persistence of the labeling runtime (see the module docstring for the rules)."""

    # -- jobs ---------------------------------------------------------------------------
    def put_job(self, job: JobRecord) -> bool:
        """Create ``job`` unless a job of that name exists; ``False`` when one does
        (creating a job is idempotent by name; nothing is changed then)."""
        ...

    def get_job(self, name: str) -> JobRecord | None:
        """The job of that name, or ``None``."""
        ...

    def list_jobs(self) -> list[JobRecord]:
        """Every job, oldest first (a short list: one item per job)."""
        ...

    def update_job(
        self, name: str, *, expect_status: Sequence[str] | None = None, **changes: Any
    ) -> bool:
        """Set fields of the job (``JobRecord`` attribute names), only if its status is one
        of ``expect_status`` when given; ``False`` when that condition fails or there is no
        such job."""
        ...

    # -- objects ------------------------------------------------------------------------
    def add_objects(self, job_name: str, objects: Sequence[ObjectRecord]) -> None:
        """Store objects of a job in as few writes as the backend allows (batched).
        Idempotent by ``(job_name, seq)``: an object already stored is left as it is,
        so an interrupted initialization can simply be run again."""
        ...

    def get_object(self, job_name: str, seq: int) -> ObjectRecord | None:
        """One object by its input position."""
        ...

    def objects(
        self,
        job_name: str,
        *,
        start: int = 0,
        limit: int | None = None,
        statuses: Sequence[str] | None = None,
    ) -> list[ObjectRecord]:
        """Objects with ``seq >= start`` in input order (only ``statuses`` when given),
        at most ``limit``. Used to write output and pages, never per claim."""
        ...

    def count_objects(self, job_name: str) -> ObjectCounts:
        """How many objects of the job are in each status (an index count, not per claim)."""
        ...

    def release(
        self,
        job_name: str,
        *,
        now: float,
        lifetime_seconds: float,
        max_open: int,
        max_released: int,
    ) -> list[int]:
        """Move the lowest ``PENDING`` objects to ``OPEN`` (``released_at=now``,
        ``available_until=now+lifetime_seconds``) while fewer than ``max_open`` objects
        are ``OPEN`` and the job's ``released`` count is below ``max_released``; add
        their number to ``released``. One atomic step. Returns their positions."""
        ...

    # -- tasks --------------------------------------------------------------------------
    def claim(
        self,
        job_name: str,
        *,
        worker_id: str,
        worker: dict[str, Any],
        task_id: str,
        now: float,
        deadline: float,
    ) -> TaskRecord | None:
        """Lease one slot of an ``OPEN`` object with a free slot that the worker holds no
        blocking task of, as a new ``ACTIVE`` task ``task_id`` (one atomic step; the
        lowest position first, or any order that spreads contention). ``None`` when there
        is none. Invariants 1 and 2 hold under any concurrency."""
        ...

    def active_task(self, job_name: str, worker_id: str, now: float) -> TaskRecord | None:
        """The worker's ``ACTIVE`` task of the job whose deadline is after ``now``, if any
        (an index query by job and worker)."""
        ...

    def get_task(self, task_id: str) -> TaskRecord | None:
        """A task by id (a key read)."""
        ...

    def submit(
        self,
        task_id: str,
        *,
        worker_id: str,
        answer: dict[str, Any],
        now: float,
        team_size: int | None,
    ) -> TaskRecord:
        """Record the answer of an ``ACTIVE`` task whose ``deadline > now``, in one atomic
        step: the task becomes ``SUBMITTED``; the object's ``active`` -1, ``submitted``
        +1; the object becomes ``READY`` (``ended_at=now``) when it has all its answers,
        or when ``team_size`` is given and every team member has answered or declined
        it with nothing out. ``NotFound`` for an unknown task or another worker's;
        ``Conflict`` (with a message) when it is not active or the lease ran out:
        nothing is counted then."""
        ...

    def decline(
        self, task_id: str, *, worker_id: str, now: float, team_size: int | None
    ) -> TaskRecord:
        """The worker declines an ``ACTIVE`` task (one atomic step): the task becomes
        ``DECLINED`` (the worker is not offered the object again), the object's
        ``active`` -1, ``declined`` +1, and it ends (``READY``) when ``team_size`` is
        given and every member has answered or declined it with nothing out.
        ``NotFound``/``Conflict`` as ``submit``."""
        ...

    def expire_leases(self, job_name: str, *, now: float, limit: int) -> int:
        """Up to ``limit`` ``ACTIVE`` tasks of the job with ``deadline <= now`` become
        ``EXPIRED`` and their slots return to the pool (object ``active`` -1), each
        atomically. Found through an index on deadline. Returns how many."""
        ...

    def end_objects(self, job_name: str, *, now: float, limit: int) -> int:
        """Up to ``limit`` ``OPEN`` objects with ``available_until <= now`` become
        ``READY`` with the answers they have (``ended_at=now``); their ``ACTIVE``
        tasks are ``CANCELLED``. Returns how many."""
        ...

    def cancel_active(self, job_name: str, *, now: float) -> int:
        """Every ``ACTIVE`` task of the job becomes ``CANCELLED`` (the job stops); the
        objects' ``active`` counts drop accordingly. Returns how many."""
        ...

    def submitted_tasks(
        self, job_name: str, seqs: Iterable[int] | None = None
    ) -> dict[int, list[TaskRecord]]:
        """The ``SUBMITTED`` tasks (answers) of the given objects (all objects of the job
        when ``None``), by position, each list in submission order."""
        ...

    def count_submitted_by(self, job_name: str, worker_id: str) -> int:
        """How many answers the worker has submitted to the job (their own count)."""
        ...

    # -- consolidation batches -------------------------------------------------------------
    def open_batch(self, job_name: str) -> BatchRecord | None:
        """The job's batch started and not finished (after a crash: the one to redo)."""
        ...

    def start_batch(self, job_name: str, *, now: float, limit: int) -> BatchRecord | None:
        """Start the job's next consolidation batch in one atomic step: the open batch if
        there is one (never a second); otherwise up to ``limit`` ``READY`` objects (lowest
        positions) become ``BATCHED`` with number ``job.batches`` (then +1), stamped
        ``max(floor(now), job.last_batch_at + 1)`` so no two batches share a file name.
        ``None`` when nothing is ready."""
        ...

    def finish_batch(self, job_name: str, number: int, results: Sequence[ObjectResult]) -> bool:
        """Record a batch's outcome in one atomic step: each object takes its result
        (status, content, failure reason, worker-response URI) and the batch is
        ``DONE``. ``False`` (and nothing changed) when the batch is already done."""
        ...

    # -- lifecycle ----------------------------------------------------------------------
    def close(self) -> None:
        """Release connections (the store may not be used afterwards)."""
        ...


__all__ = ["Store"]


def own_active_task(
    task: TaskRecord | None, task_id: str, worker_id: str, now: float, verb: str
) -> TaskRecord:
    """``task`` if it is ``worker_id``'s, still ``ACTIVE`` and within its deadline (what a
    submit or decline needs, in every store); else ``NotFound`` or ``Conflict`` saying why
    (``verb``: "submit", "decline")."""
    if task is None or task.worker_id != worker_id:
        raise NotFound(f"no task {task_id[:40]!r} of yours")
    if task.status != TaskStatus.ACTIVE:
        why = {
            TaskStatus.SUBMITTED: "it was already submitted",
            TaskStatus.DECLINED: "it was declined",
            TaskStatus.EXPIRED: "its time limit ran out and it went back to the pool",
            TaskStatus.CANCELLED: "the object or the job ended",
        }.get(task.status, f"it is {task.status}")
        raise Conflict(f"cannot {verb} task {task_id[:40]!r}: {why}; nothing was recorded")
    if task.deadline <= now:
        raise Conflict(
            f"cannot {verb} task {task_id[:40]!r}: its time limit ran out "
            f"{now - task.deadline:.0f} s ago and it went back to the pool; nothing was "
            "recorded"
        )
    return task
