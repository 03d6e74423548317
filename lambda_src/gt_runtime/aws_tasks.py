"""The job state machine's steps (``gt_constructs/runtime/aws/machine.py``) over the engine.

Each step is one short call (``handler(event)`` with ``event["action"]``):

- ``initialize`` ``{"request"}``: validate the request, manifest, template and label
  categories (a problem marks the job ``Failed`` with all of them and fails the step),
  store the job ``Initializing`` and cut the manifest into chunks of
  ``PRE_ANNOTATION_CHUNK`` lines (the Distributed Map's items). Idempotent by job name.
- ``pre_annotate`` ``{"jobName", "chunk": {"start", "end"}}``: the pre-annotation
  Lambda per line of one chunk; the objects are stored (again: idempotent).
- ``start`` ``{"jobName"}``: every object stored, the job goes ``InProgress`` and the
  first objects are released (``MaxConcurrentTaskCount``).
- ``tick`` ``{"jobName", "round", "wait"}``: one engine tick of this job (leases,
  lifetimes, release, consolidation batches, stopping conditions, completion and the
  final manifest); answers ``{"done", "wait", "round"}``: the next tick comes soon
  after a tick that did something, later and later (up to ``MAX_WAIT``) while idle.
- ``fail`` ``{"state"}``: the execution failed; the job is marked ``Failed`` with the
  error (unless it already ended).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from . import aws_host
from .aws_contract import PRE_ANNOTATION_CHUNK
from .engine import Engine
from .model import Conflict, JobConfigError, JobRecord, JobStatus, ObjectStatus

#: Seconds between ticks while work moves, and the longest wait while idle.
BUSY_WAIT = 20
MAX_WAIT = 300


def initialize(engine: Engine, given: Mapping[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = json.loads(json.dumps(given))
    name = request.get("LabelingJobName")
    if not isinstance(name, str) or not name:
        raise JobConfigError("the request has no LabelingJobName")
    existing = engine.store.get_job(name)
    if existing is not None:
        if existing.request != request:
            raise Conflict(
                f"a labeling job named {name!r} already exists with another request; "
                "job names are unique: choose a new one"
            )
        count = existing.object_count if existing.status == JobStatus.INITIALIZING else 0
        return {"jobName": name, "chunks": _chunks(count)}
    problems, lines = engine.validate(request)
    now = engine.clock()
    job = JobRecord(
        name=name,
        arn=engine.job_arn(name),
        request=request,
        status=JobStatus.INITIALIZING,
        created_at=now,
        updated_at=now,
        team=str(request["HumanTaskConfig"]["WorkteamArn"]).rsplit("/", 1)[-1]
        if not problems
        else "",
        object_count=len(lines),
    )
    if not engine.store.put_job(job):  # created meanwhile by a retry of this step
        return initialize(engine, request)
    engine._emit_status(job)
    if problems:
        engine._end_job(job, JobStatus.FAILED, now, "; ".join(problems)[:1024])
        raise JobConfigError(problems)
    return {"jobName": name, "chunks": _chunks(len(lines))}


def _chunks(count: int) -> list[dict[str, int]]:
    return [
        {"start": start, "end": min(start + PRE_ANNOTATION_CHUNK, count)}
        for start in range(0, count, PRE_ANNOTATION_CHUNK)
    ]


def pre_annotate(engine: Engine, job_name: str, chunk: Mapping[str, Any]) -> dict[str, Any]:
    job = engine._job(job_name, fresh=True)
    if job.status != JobStatus.INITIALIZING:
        return {"stored": 0}
    start, end = int(chunk["start"]), int(chunk["end"])
    problems: list[str] = []
    uri = job.request["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"]
    lines = engine._read_manifest(uri, problems)
    if problems:
        raise JobConfigError(problems)
    objects, refused = engine._pre_annotate(job.request, lines[start:end])
    if refused:
        raise JobConfigError([f"lines {start}–{end - 1} of the manifest: {p}" for p in refused])
    for item in objects:
        item.seq += start
    engine.store.add_objects(job_name, objects)
    return {"stored": len(objects)}


def start(engine: Engine, job_name: str) -> dict[str, Any]:
    job = engine._job(job_name, fresh=True)
    if job.status == JobStatus.INITIALIZING:
        counts = engine.store.count_objects(job_name)
        if counts.total < job.object_count:
            raise RuntimeError(
                f"labeling job {job_name!r} has {counts.total} of its {job.object_count} "
                "objects stored; pre-annotation did not finish"
            )
        stand_ins = [SimpleNamespace(status=ObjectStatus.PENDING)] * counts[
            ObjectStatus.PENDING
        ] + [SimpleNamespace(status=ObjectStatus.SKIPPED)] * counts[ObjectStatus.SKIPPED]
        limit = Engine._release_limit(job.request, stand_ins)  # type: ignore[arg-type]
        engine.store.update_job(job_name, release_limit=limit)
        engine._store_objects(engine._job(job_name, fresh=True), [])
    return _after_tick(engine, job_name, worked=True, round_number=0, previous_wait=BUSY_WAIT)


def tick(
    engine: Engine, job_name: str, round_number: int = 0, previous_wait: int = BUSY_WAIT
) -> dict[str, Any]:
    job = engine._job(job_name, fresh=True)
    worked = False
    if job.status not in JobStatus.FINAL:
        report = engine._tick_job(job, engine.clock())
        worked = any(value for value in report.values() if isinstance(value, int | bool))
    return _after_tick(
        engine, job_name, worked=worked, round_number=round_number + 1, previous_wait=previous_wait
    )


def _after_tick(
    engine: Engine, job_name: str, *, worked: bool, round_number: int, previous_wait: int
) -> dict[str, Any]:
    job = engine._job(job_name, fresh=True)
    done = job.status in JobStatus.FINAL
    wait = BUSY_WAIT if worked else min(MAX_WAIT, max(BUSY_WAIT, int(previous_wait) * 2))
    return {"done": done, "wait": 0 if done else wait, "round": round_number, "status": job.status}


def fail(engine: Engine, state: Mapping[str, Any]) -> dict[str, Any]:
    job_name = (state.get("job") or {}).get("jobName") or (state.get("request") or {}).get(
        "LabelingJobName"
    )
    if not isinstance(job_name, str):
        return {"marked": False}
    job = engine.store.get_job(job_name)
    if job is None or job.status in JobStatus.FINAL:
        return {"marked": False}
    engine._end_job(job, JobStatus.FAILED, engine.clock(), _reason(state.get("error")))
    return {"marked": True}


def _reason(error: Any) -> str:
    """The failure reason from a Step Functions error (``Cause`` of a Lambda error is its
    JSON ``errorMessage``)."""
    if not isinstance(error, Mapping):
        return "the labeling job's state machine failed"
    cause = str(error.get("Cause") or "")
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, Mapping) and parsed.get("errorMessage"):
            cause = str(parsed["errorMessage"])
    except ValueError:
        pass
    text = f"{error.get('Error', 'Error')}: {cause}" if cause else str(error.get("Error"))
    return text[:1024]


def dispatch(engine: Engine, event: Mapping[str, Any]) -> dict[str, Any]:
    action = event.get("action")
    if action == "initialize":
        return initialize(engine, event["request"])
    if action == "pre_annotate":
        return pre_annotate(engine, str(event["jobName"]), event["chunk"])
    if action == "start":
        return start(engine, str(event["jobName"]))
    if action == "tick":
        return tick(
            engine,
            str(event["jobName"]),
            int(event.get("round") or 0),
            int(event.get("wait") or BUSY_WAIT),
        )
    if action == "fail":
        return fail(engine, event.get("state") or {})
    raise ValueError(
        f"unknown action {action!r}; allowed: initialize, pre_annotate, start, tick, fail"
    )


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point of the state machine's steps."""
    account = aws_host.account_of(getattr(context, "invoked_function_arn", None))
    return dispatch(aws_host.engine(account=account), event)


__all__ = ["dispatch", "fail", "handler", "initialize", "pre_annotate", "start", "tick"]
