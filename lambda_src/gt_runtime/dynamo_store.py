"""``DynamoStore``: the ``Store`` protocol on one DynamoDB table (the self-hosted runtime).

Single-table design; every read is a key read or a query (no scan anywhere), and
every step the protocol calls atomic is a conditional write or one
``TransactWriteItems``. Items (``pk`` / ``sk``, and the sparse index keys):

==========================  ===================  ======================================
item                        pk / sk              gsi1 (pk / sk), gsi2 (pk / sk)
==========================  ===================  ======================================
job                         ``J#job`` / ``JOB``  ``JOBS`` / created#name
object                      ``J#job`` / ``O#seq``  ``S#job#<status>`` / seq;
                                                 open: ``L#job`` / available_until#seq
task                        ``T#id`` / ``T``     ``A#job#seq`` / status#time#id;
                                                 active: ``D#job`` / deadline#id
worker's hold on an object  ``W#job#worker`` /   (a submitted, declined or active task:
                            ``O#seq``            the worker never gets the object again)
worker's active task        ``W#job#worker`` /   (at most one per job and worker)
                            ``ACTIVE``
worker's answer count       ``W#job#worker`` /
                            ``COUNT``
batch                       ``J#job`` / ``B#n``
==========================  ===================  ======================================

An open object with a free slot is in the index partition ``S#job#open``; one whose
slots are all taken moves to ``S#job#full`` (both are "open" to ``count_objects``), so a
claim reads only objects it could take. The claim is one transaction: the object's
``taken`` count goes up *only if it still has the value the claim read* (and is below
``needed``), the worker's hold on the object is put only if there is none, the worker's
active-task item only if there is none still running, and the task is put. Two workers
racing for the last slot: one transaction fails its condition and that worker tries the
next object; an object is never over-assigned and never given to one worker twice. A
claim writes the object, the task and the worker's own items: nothing job-wide, so
claims on different objects never contend (designed for 100,000 objects x 5 workers).

``submit`` and ``decline`` are one transaction too: the task (still active, deadline not
passed), the object's counts (conditioned on the values read, so the object's end, when
all answers are in or the whole team has answered or declined, is decided atomically
with the answer), the worker's answer count. Steps the runtime's state machine runs
one at a time per job (``release``, ``expire_leases``, ``end_objects``, batches) write
each object with its own condition; a batch's number and stamp are claimed atomically
with the job record, and a batch interrupted half-way is completed when it is found
open again (``open_batch``).

Numbers are stored as DynamoDB numbers, JSON documents (the manifest line, task input,
answers, consolidated content, the job's request) as strings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from .aws_contract import ENV_TABLE
from .model import (
    BatchRecord,
    BatchStatus,
    Conflict,
    JobRecord,
    ObjectCounts,
    ObjectRecord,
    ObjectResult,
    ObjectStatus,
    TaskRecord,
    TaskStatus,
)
from .store import own_active_task

#: Every ``ObjectStatus`` (each is one index partition; ``open`` is two: free and full).
_OBJECT_STATUSES = (
    ObjectStatus.PENDING,
    ObjectStatus.OPEN,
    ObjectStatus.READY,
    ObjectStatus.BATCHED,
    ObjectStatus.LABELED,
    ObjectStatus.FAILED,
    ObjectStatus.SKIPPED,
)
_FULL = "full"
#: Candidates a claim reads per page of the open-objects index.
_CLAIM_PAGE = 40
#: Optimistic retries of a read-modify-write that lost a race.
_RETRIES = 25


def _n(value: float | int) -> dict[str, str]:
    return {"N": str(Decimal(str(value)))}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _seq_key(seq: int) -> str:
    return f"{seq:010d}"


def _time_key(moment: float) -> str:
    return f"{moment:020.3f}"


def _num(item: Mapping[str, Any], name: str) -> float | None:
    value = item.get(name)
    if value is None or "NULL" in value:
        return None
    return float(value["N"])


def _int(item: Mapping[str, Any], name: str, default: int = 0) -> int:
    value = _num(item, name)
    return default if value is None else int(value)


def _str(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    return None if value is None or "S" not in value else str(value["S"])


def _json(item: Mapping[str, Any], name: str) -> Any:
    text = _str(item, name)
    return None if text is None else json.loads(text)


def _cancelled(error: Exception) -> list[str] | None:
    """The cancellation reasons of a failed transaction (``None``: another error)."""
    response = getattr(error, "response", None) or {}
    code = response.get("Error", {}).get("Code")
    if code != "TransactionCanceledException":
        return None
    reasons = response.get("CancellationReasons") or []
    if not reasons:  # some clients only say it in the message
        message = str(response.get("Error", {}).get("Message", ""))
        inside = message[message.find("[") + 1 : message.rfind("]")]
        return [part.strip() for part in inside.split(",")] if inside else []
    return [str(reason.get("Code", "None")) for reason in reasons]


def _conditional_failed(error: Exception) -> bool:
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoStore:
    """The ``Store`` protocol on a DynamoDB table (see the module docstring)."""

    def __init__(self, table_name: str | None = None, *, client: Any = None) -> None:
        name = table_name or os.environ.get(ENV_TABLE)
        if not name:
            raise ValueError(f"DynamoStore needs a table name (or the {ENV_TABLE} variable)")
        self.table = name
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self.client = client

    def close(self) -> None:
        """Nothing to release (the client is shared)."""

    # ------------------------------------------------------------------ plumbing
    def _get(self, pk: str, sk: str, *, consistent: bool = True) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table,
            Key={"pk": _s(pk), "sk": _s(sk)},
            ConsistentRead=consistent,
        )
        return response.get("Item")

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every item of a query, page after page."""
        kwargs = {"TableName": self.table, **kwargs}
        while True:
            response = self.client.query(**kwargs)
            yield from response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def _count(self, index: str, pk_name: str, pk: str) -> int:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": "#k = :k",
            "ExpressionAttributeNames": {"#k": pk_name},
            "ExpressionAttributeValues": {":k": _s(pk)},
            "Select": "COUNT",
        }
        total = 0
        while True:
            response = self.client.query(**kwargs)
            total += int(response.get("Count", 0))
            last = response.get("LastEvaluatedKey")
            if not last:
                return total
            kwargs["ExclusiveStartKey"] = last

    def _transact(self, items: list[dict[str, Any]]) -> list[str] | None:
        """Run a transaction; ``None`` when it committed, else the cancellation reasons."""
        try:
            self.client.transact_write_items(TransactItems=items)
        except Exception as error:
            reasons = _cancelled(error)
            if reasons is None:
                raise
            return reasons
        return None

    # ------------------------------------------------------------------ jobs
    @staticmethod
    def _job_item(job: JobRecord, version: int) -> dict[str, Any]:
        return {
            "pk": _s(f"J#{job.name}"),
            "sk": _s("JOB"),
            "gsi1pk": _s("JOBS"),
            "gsi1sk": _s(f"{_time_key(job.created_at)}#{job.name}"),
            "status": _s(job.status),
            "data": _s(_dump(job.to_dict())),
            "version": _n(version),
        }

    @staticmethod
    def _job(item: Mapping[str, Any] | None) -> JobRecord | None:
        if item is None:
            return None
        return JobRecord(**json.loads(item["data"]["S"]))

    def put_job(self, job: JobRecord) -> bool:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=self._job_item(job, 1),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except Exception as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def get_job(self, name: str) -> JobRecord | None:
        return self._job(self._get(f"J#{name}", "JOB"))

    def list_jobs(self) -> list[JobRecord]:
        items = self._query(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :k",
            ExpressionAttributeValues={":k": _s("JOBS")},
        )
        jobs = [self.get_job(item["pk"]["S"][2:]) for item in items]
        return [job for job in jobs if job is not None]

    def _job_update(
        self, name: str, changes: Mapping[str, Any], expect_status: Sequence[str] | None
    ) -> tuple[dict[str, Any], JobRecord] | None:
        """The job's item changed (a ``Put`` conditioned on its version), or ``None``."""
        item = self._get(f"J#{name}", "JOB")
        job = self._job(item)
        if item is None or job is None:
            return None
        if expect_status is not None and job.status not in expect_status:
            return None
        for key, value in changes.items():
            if not hasattr(job, key):
                raise AttributeError(f"a job has no field {key!r}")
            setattr(job, key, value)
        version = _int(item, "version", 1)
        put = {
            "TableName": self.table,
            "Item": self._job_item(job, version + 1),
            "ConditionExpression": "version = :v",
            "ExpressionAttributeValues": {":v": _n(version)},
        }
        return put, job

    def update_job(
        self, name: str, *, expect_status: Sequence[str] | None = None, **changes: Any
    ) -> bool:
        for _ in range(_RETRIES):
            found = self._job_update(name, changes, expect_status)
            if found is None:
                return False
            try:
                self.client.put_item(**found[0])
                return True
            except Exception as error:
                if not _conditional_failed(error):
                    raise
        raise Conflict(f"labeling job {name!r} is being changed by others; try again")

    # ------------------------------------------------------------------ objects
    @staticmethod
    def _object_index(job_name: str, seq: int, status: str, free: bool) -> str:
        if status == ObjectStatus.OPEN and not free:
            return f"S#{job_name}#{_FULL}"
        return f"S#{job_name}#{status}"

    def _object_item(self, o: ObjectRecord) -> dict[str, Any]:
        taken = o.active + o.submitted
        item: dict[str, Any] = {
            "pk": _s(f"J#{o.job_name}"),
            "sk": _s(f"O#{_seq_key(o.seq)}"),
            "gsi1pk": _s(self._object_index(o.job_name, o.seq, o.status, taken < o.needed)),
            "gsi1sk": _s(_seq_key(o.seq)),
            "seq": _n(o.seq),
            "status": _s(o.status),
            "needed": _n(o.needed),
            "active": _n(o.active),
            "submitted": _n(o.submitted),
            "declined": _n(o.declined),
            "taken": _n(taken),
            "data": _s(_dump(o.data_object)),
            "taskInput": _s(_dump(o.task_input)),
        }
        for name, value in (
            ("released_at", o.released_at),
            ("available_until", o.available_until),
            ("ended_at", o.ended_at),
            ("batch", o.batch),
        ):
            if value is not None:
                item[name] = _n(value)
        if o.content is not None:
            item["content"] = _s(_dump(o.content))
        if o.failure_reason is not None:
            item["failure_reason"] = _s(o.failure_reason)
        if o.worker_response_uri is not None:
            item["worker_response_uri"] = _s(o.worker_response_uri)
        if o.status == ObjectStatus.OPEN and o.available_until is not None:
            item["gsi2pk"] = _s(f"L#{o.job_name}")
            item["gsi2sk"] = _s(f"{_time_key(o.available_until)}#{_seq_key(o.seq)}")
        return item

    @staticmethod
    def _object(item: Mapping[str, Any]) -> ObjectRecord:
        batch = _num(item, "batch")
        return ObjectRecord(
            job_name=item["pk"]["S"][2:],
            seq=_int(item, "seq"),
            data_object=_json(item, "data"),
            task_input=_json(item, "taskInput"),
            status=str(_str(item, "status")),
            needed=_int(item, "needed", 1),
            active=_int(item, "active"),
            submitted=_int(item, "submitted"),
            declined=_int(item, "declined"),
            released_at=_num(item, "released_at"),
            available_until=_num(item, "available_until"),
            ended_at=_num(item, "ended_at"),
            batch=None if batch is None else int(batch),
            content=_json(item, "content"),
            failure_reason=_str(item, "failure_reason"),
            worker_response_uri=_str(item, "worker_response_uri"),
        )

    def add_objects(self, job_name: str, objects: Sequence[ObjectRecord]) -> None:
        for o in objects:
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item=self._object_item(o),
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except Exception as error:
                if not _conditional_failed(error):  # stored already: left as it is
                    raise

    def _object_raw(self, job_name: str, seq: int) -> dict[str, Any] | None:
        return self._get(f"J#{job_name}", f"O#{_seq_key(seq)}")

    def get_object(self, job_name: str, seq: int) -> ObjectRecord | None:
        item = self._object_raw(job_name, seq)
        return None if item is None else self._object(item)

    def objects(
        self,
        job_name: str,
        *,
        start: int = 0,
        limit: int | None = None,
        statuses: Sequence[str] | None = None,
    ) -> list[ObjectRecord]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :from AND :to",
            "ExpressionAttributeValues": {
                ":pk": _s(f"J#{job_name}"),
                ":from": _s(f"O#{_seq_key(max(0, start))}"),
                ":to": _s("O#9999999999"),
            },
            "ConsistentRead": True,
        }
        if statuses is not None:
            names = {f":s{i}": _s(status) for i, status in enumerate(statuses)}
            kwargs["FilterExpression"] = f"#st IN ({', '.join(names)})"
            kwargs["ExpressionAttributeNames"] = {"#st": "status"}
            kwargs["ExpressionAttributeValues"].update(names)
        found: list[ObjectRecord] = []
        for item in self._query(**kwargs):
            found.append(self._object(item))
            if limit is not None and len(found) >= limit:
                break
        return found

    def count_objects(self, job_name: str) -> ObjectCounts:
        counts = {
            status: self._count("gsi1", "gsi1pk", f"S#{job_name}#{status}")
            for status in _OBJECT_STATUSES
        }
        counts[ObjectStatus.OPEN] += self._count("gsi1", "gsi1pk", f"S#{job_name}#{_FULL}")
        return ObjectCounts({status: count for status, count in counts.items() if count})

    def _index_keys(
        self, job_name: str, status: str, pattern: str = "S#{job}#{status}"
    ) -> Iterator[dict[str, Any]]:
        return self._query(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :k",
            ExpressionAttributeValues={":k": _s(pattern.format(job=job_name, status=status))},
        )

    def release(
        self,
        job_name: str,
        *,
        now: float,
        lifetime_seconds: float,
        max_open: int,
        max_released: int,
    ) -> list[int]:
        job = self.get_job(job_name)
        if job is None:
            return []
        open_now = self.count_objects(job_name)[ObjectStatus.OPEN]
        room = min(max_open - open_now, max_released - job.released)
        if room <= 0:
            return []
        released: list[int] = []
        until = now + lifetime_seconds
        for key in self._index_keys(job_name, ObjectStatus.PENDING):
            if len(released) >= room:
                break
            seq = int(key["gsi1sk"]["S"])
            try:
                self.client.update_item(
                    TableName=self.table,
                    Key={"pk": _s(f"J#{job_name}"), "sk": _s(f"O#{_seq_key(seq)}")},
                    UpdateExpression=(
                        "SET #st = :open, released_at = :now, available_until = :until, "
                        "gsi1pk = :index, gsi2pk = :life, gsi2sk = :lifekey"
                    ),
                    ConditionExpression="#st = :pending",
                    ExpressionAttributeNames={"#st": "status"},
                    ExpressionAttributeValues={
                        ":open": _s(ObjectStatus.OPEN),
                        ":pending": _s(ObjectStatus.PENDING),
                        ":now": _n(now),
                        ":until": _n(until),
                        ":index": _s(f"S#{job_name}#{ObjectStatus.OPEN}"),
                        ":life": _s(f"L#{job_name}"),
                        ":lifekey": _s(f"{_time_key(until)}#{_seq_key(seq)}"),
                    },
                )
            except Exception as error:
                if _conditional_failed(error):
                    continue
                raise
            released.append(seq)
        if released:
            for _ in range(_RETRIES):
                current = self.get_job(job_name)
                if current is None or self.update_job(
                    job_name, released=current.released + len(released)
                ):
                    break
        return released

    # ------------------------------------------------------------------ tasks
    @staticmethod
    def _task_item(task: TaskRecord) -> dict[str, Any]:
        moment = task.submitted_at if task.submitted_at is not None else task.accepted_at
        item: dict[str, Any] = {
            "pk": _s(f"T#{task.task_id}"),
            "sk": _s("T"),
            "job": _s(task.job_name),
            "seq": _n(task.seq),
            "worker_id": _s(task.worker_id),
            "worker": _s(_dump(task.worker)),
            "status": _s(task.status),
            "accepted_at": _n(task.accepted_at),
            "deadline": _n(task.deadline),
            "gsi1pk": _s(f"A#{task.job_name}#{_seq_key(task.seq)}"),
            "gsi1sk": _s(f"{task.status}#{_time_key(moment)}#{task.task_id}"),
        }
        if task.status == TaskStatus.ACTIVE:
            item["gsi2pk"] = _s(f"D#{task.job_name}")
            item["gsi2sk"] = _s(f"{_time_key(task.deadline)}#{task.task_id}")
        if task.submitted_at is not None:
            item["submitted_at"] = _n(task.submitted_at)
        if task.answer is not None:
            item["answer"] = _s(_dump(task.answer))
        return item

    @staticmethod
    def _task(item: Mapping[str, Any]) -> TaskRecord:
        return TaskRecord(
            task_id=item["pk"]["S"][2:],
            job_name=str(_str(item, "job")),
            seq=_int(item, "seq"),
            worker_id=str(_str(item, "worker_id")),
            worker=_json(item, "worker") or {},
            status=str(_str(item, "status")),
            accepted_at=float(_num(item, "accepted_at") or 0.0),
            deadline=float(_num(item, "deadline") or 0.0),
            submitted_at=_num(item, "submitted_at"),
            answer=_json(item, "answer"),
        )

    def _worker_pk(self, job_name: str, worker_id: str) -> dict[str, str]:
        return _s(f"W#{job_name}#{worker_id}")

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
        task = TaskRecord(
            task_id, job_name, 0, worker_id, dict(worker), TaskStatus.ACTIVE, now, deadline
        )
        held = self._held(job_name, worker_id)
        exclusive: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :k",
                "ExpressionAttributeValues": {":k": _s(f"S#{job_name}#{ObjectStatus.OPEN}")},
                "Limit": _CLAIM_PAGE,
            }
            if exclusive:
                kwargs["ExclusiveStartKey"] = exclusive
            response = self.client.query(**kwargs)
            candidates = [
                (int(item["gsi1sk"]["S"]), _int(item, "taken"), _int(item, "needed", 1))
                for item in response.get("Items", [])
            ]
            # Lowest position first, as SQLite does: a worker who loses a race for an
            # object's last slot (a failed condition) simply takes the next one.
            for seq, taken, needed in candidates:
                for _ in range(_RETRIES):
                    if seq in held or taken >= needed:
                        break
                    outcome = self._try_claim(task, seq, taken, needed, now)
                    if outcome == "claimed":
                        task.seq = seq
                        return task
                    if outcome == "busy":  # this worker holds a running task of the job
                        return None
                    # Lost a race: the object changed since the index was read. Read it
                    # again and try once more while it still has a free slot.
                    current = self._object_raw(job_name, seq)
                    if current is None or _str(current, "status") != ObjectStatus.OPEN:
                        break
                    taken = _int(current, "taken")
            exclusive = response.get("LastEvaluatedKey")
            if not exclusive:
                return None

    def _held(self, job_name: str, worker_id: str) -> set[int]:
        """Objects the worker holds a blocking task of (never offered again)."""
        items = self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :o)",
            ExpressionAttributeValues={
                ":pk": self._worker_pk(job_name, worker_id),
                ":o": _s("O#"),
            },
            ProjectionExpression="sk",
            ConsistentRead=True,
        )
        return {int(item["sk"]["S"][2:]) for item in items}

    def _try_claim(self, task: TaskRecord, seq: int, taken: int, needed: int, now: float) -> str:
        job_name, worker_id = task.job_name, task.worker_id
        placed = TaskRecord(**{**task.to_dict(), "seq": seq})
        index = self._object_index(job_name, seq, ObjectStatus.OPEN, taken + 1 < needed)
        reasons = self._transact(
            [
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"pk": _s(f"J#{job_name}"), "sk": _s(f"O#{_seq_key(seq)}")},
                        "UpdateExpression": (
                            "SET taken = :next, active = active + :one, gsi1pk = :index"
                        ),
                        "ConditionExpression": "#st = :open AND taken = :taken AND needed > :taken",
                        "ExpressionAttributeNames": {"#st": "status"},
                        "ExpressionAttributeValues": {
                            ":open": _s(ObjectStatus.OPEN),
                            ":taken": _n(taken),
                            ":next": _n(taken + 1),
                            ":one": _n(1),
                            ":index": _s(index),
                        },
                    }
                },
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            "pk": self._worker_pk(job_name, worker_id),
                            "sk": _s(f"O#{_seq_key(seq)}"),
                            "task": _s(task.task_id),
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            "pk": self._worker_pk(job_name, worker_id),
                            "sk": _s("ACTIVE"),
                            "task": _s(task.task_id),
                            "deadline": _n(task.deadline),
                        },
                        "ConditionExpression": "attribute_not_exists(pk) OR deadline <= :now",
                        "ExpressionAttributeValues": {":now": _n(now)},
                    }
                },
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": self._task_item(placed),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
        if reasons is None:
            return "claimed"
        if len(reasons) > 2 and reasons[2] == "ConditionalCheckFailed":
            return "busy"
        return "lost"

    def active_task(self, job_name: str, worker_id: str, now: float) -> TaskRecord | None:
        pointer = self._get(f"W#{job_name}#{worker_id}", "ACTIVE")
        if pointer is None or (_num(pointer, "deadline") or 0.0) <= now:
            return None
        task = self.get_task(str(_str(pointer, "task")))
        if task is None or task.status != TaskStatus.ACTIVE or task.deadline <= now:
            return None
        return task

    def get_task(self, task_id: str) -> TaskRecord | None:
        item = self._get(f"T#{task_id}", "T")
        return None if item is None else self._task(item)

    def _active_own_task(self, task_id: str, worker_id: str, now: float, verb: str) -> TaskRecord:
        return own_active_task(self.get_task(task_id), task_id, worker_id, now, verb)

    def _finish_task(
        self,
        task_id: str,
        *,
        worker_id: str,
        now: float,
        team_size: int | None,
        answer: dict[str, Any] | None,
    ) -> TaskRecord:
        """Submit (``answer`` given) or decline, in one transaction (see the docstring)."""
        verb = "submit" if answer is not None else "decline"
        for _ in range(_RETRIES):
            task = self._active_own_task(task_id, worker_id, now, verb)
            raw = self._object_raw(task.job_name, task.seq)
            if raw is None:
                raise Conflict(f"cannot {verb} task {task_id[:40]!r}: its object is gone")
            o = self._object(raw)
            taken, closed = _int(raw, "taken"), _int(raw, "closed")
            submitted = o.submitted + (1 if answer is not None else 0)
            declined = o.declined + (0 if answer is not None else 1)
            active = o.active - 1
            taken_after = taken if answer is not None else taken - 1
            ends = o.status == ObjectStatus.OPEN and (
                submitted >= o.needed
                or (team_size is not None and active == 0 and submitted + declined >= team_size)
            )
            status = ObjectStatus.READY if ends else o.status
            sets = [
                "active = :active",
                "submitted = :submitted",
                "declined = :declined",
                "taken = :taken_after",
                "closed = :closed_after",
                "#st = :status",
                "gsi1pk = :index",
            ]
            values: dict[str, Any] = {
                ":active": _n(active),
                ":submitted": _n(submitted),
                ":declined": _n(declined),
                ":taken_after": _n(taken_after),
                ":closed_after": _n(closed + 1),
                ":status": _s(status),
                ":index": _s(
                    self._object_index(task.job_name, o.seq, status, taken_after < o.needed)
                ),
                ":was_active": _n(o.active),
                ":was_submitted": _n(o.submitted),
                ":was_declined": _n(o.declined),
                ":was_status": _s(o.status),
            }
            update = "SET " + ", ".join(sets)
            if ends:
                update += ", ended_at = :now REMOVE gsi2pk, gsi2sk"
                values[":now"] = _n(now)
            done = TaskRecord(
                **{
                    **task.to_dict(),
                    "status": TaskStatus.SUBMITTED if answer is not None else TaskStatus.DECLINED,
                    "submitted_at": now if answer is not None else None,
                    "answer": answer,
                }
            )
            items: list[dict[str, Any]] = [
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": self._task_item(done),
                        "ConditionExpression": (
                            "#st = :active_status AND deadline > :now AND worker_id = :w"
                        ),
                        "ExpressionAttributeNames": {"#st": "status"},
                        "ExpressionAttributeValues": {
                            ":active_status": _s(TaskStatus.ACTIVE),
                            ":now": _n(now),
                            ":w": _s(worker_id),
                        },
                    }
                },
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"pk": raw["pk"], "sk": raw["sk"]},
                        "UpdateExpression": update,
                        "ConditionExpression": (
                            "active = :was_active AND submitted = :was_submitted AND "
                            "declined = :was_declined AND #st = :was_status"
                        ),
                        "ExpressionAttributeNames": {"#st": "status"},
                        "ExpressionAttributeValues": values,
                    }
                },
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": {
                            "pk": self._worker_pk(task.job_name, worker_id),
                            "sk": _s("ACTIVE"),
                        },
                    }
                },
            ]
            if answer is not None:
                items.append(
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {
                                "pk": self._worker_pk(task.job_name, worker_id),
                                "sk": _s("COUNT"),
                            },
                            "UpdateExpression": "ADD answers :one",
                            "ExpressionAttributeValues": {":one": _n(1)},
                        }
                    }
                )
            if self._transact(items) is None:
                return done
        raise Conflict(f"cannot {verb} task {task_id[:40]!r}: its object is too busy; try again")

    def submit(
        self,
        task_id: str,
        *,
        worker_id: str,
        answer: dict[str, Any],
        now: float,
        team_size: int | None,
    ) -> TaskRecord:
        return self._finish_task(
            task_id, worker_id=worker_id, now=now, team_size=team_size, answer=answer
        )

    def decline(
        self, task_id: str, *, worker_id: str, now: float, team_size: int | None
    ) -> TaskRecord:
        return self._finish_task(
            task_id, worker_id=worker_id, now=now, team_size=team_size, answer=None
        )

    def _release_task(self, task: TaskRecord, status: str, *, object_ends: float | None) -> bool:
        """An active task becomes ``EXPIRED`` or ``CANCELLED``: its slot returns (object
        ``active`` and ``taken`` -1), the worker's hold on the object goes (they may get it
        again) and so does their active-task item if it is this task's. ``object_ends``:
        the object ends now too (lifetime). ``False`` when the task was no longer active."""
        for _ in range(_RETRIES):
            raw = self._object_raw(task.job_name, task.seq)
            if raw is None:
                return False
            o = self._object(raw)
            taken = _int(raw, "taken")
            active = max(0, o.active - 1)
            if object_ends is not None:
                status_after, taken_after = ObjectStatus.READY, o.submitted
            else:
                status_after, taken_after = o.status, max(0, taken - 1)
            update = "SET active = :active, taken = :taken_after, #st = :status, gsi1pk = :index"
            values: dict[str, Any] = {
                ":active": _n(active),
                ":taken_after": _n(taken_after),
                ":status": _s(status_after),
                ":index": _s(
                    self._object_index(task.job_name, o.seq, status_after, taken_after < o.needed)
                ),
                ":was_active": _n(o.active),
                ":was_taken": _n(taken),
                ":was_status": _s(o.status),
            }
            if object_ends is not None:
                update += ", ended_at = :ended REMOVE gsi2pk, gsi2sk"
                values[":ended"] = _n(object_ends)
            cancelled = TaskRecord(**{**task.to_dict(), "status": status})
            reasons = self._transact(
                [
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": self._task_item(cancelled),
                            "ConditionExpression": "#st = :active_status",
                            "ExpressionAttributeNames": {"#st": "status"},
                            "ExpressionAttributeValues": {":active_status": _s(TaskStatus.ACTIVE)},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {"pk": raw["pk"], "sk": raw["sk"]},
                            "UpdateExpression": update,
                            "ConditionExpression": (
                                "active = :was_active AND taken = :was_taken AND #st = :was_status"
                            ),
                            "ExpressionAttributeNames": {"#st": "status"},
                            "ExpressionAttributeValues": values,
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": {
                                "pk": self._worker_pk(task.job_name, task.worker_id),
                                "sk": _s(f"O#{_seq_key(task.seq)}"),
                            },
                        }
                    },
                ]
            )
            if reasons is None:
                self._drop_pointer(task)
                return True
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return False  # no longer active (submitted, declined or released meanwhile)
        return False

    def _drop_pointer(self, task: TaskRecord) -> None:
        try:
            self.client.delete_item(
                TableName=self.table,
                Key={"pk": self._worker_pk(task.job_name, task.worker_id), "sk": _s("ACTIVE")},
                ConditionExpression="task = :t",
                ExpressionAttributeValues={":t": _s(task.task_id)},
            )
        except Exception as error:
            if not _conditional_failed(error):
                raise

    def _active_by_deadline(self, job_name: str, before: float | None) -> list[TaskRecord]:
        condition = "gsi2pk = :k"
        values: dict[str, Any] = {":k": _s(f"D#{job_name}")}
        if before is not None:
            condition += " AND gsi2sk < :before"
            values[":before"] = _s(_time_key(before) + "$")  # '$' sorts after '#'
        tasks = []
        for key in self._query(
            IndexName="gsi2", KeyConditionExpression=condition, ExpressionAttributeValues=values
        ):
            task = self.get_task(key["pk"]["S"][2:])
            if task is not None and task.status == TaskStatus.ACTIVE:
                tasks.append(task)
        return tasks

    def expire_leases(self, job_name: str, *, now: float, limit: int) -> int:
        count = 0
        for task in self._active_by_deadline(job_name, now)[:limit]:
            if task.deadline <= now and self._release_task(
                task, TaskStatus.EXPIRED, object_ends=None
            ):
                count += 1
        return count

    def end_objects(self, job_name: str, *, now: float, limit: int) -> int:
        keys = self._query(
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :k AND gsi2sk < :before",
            ExpressionAttributeValues={
                ":k": _s(f"L#{job_name}"),
                ":before": _s(_time_key(now) + "$"),
            },
            Limit=limit,
        )
        count = 0
        for key in keys:
            if count >= limit:
                break
            seq = int(key["sk"]["S"][2:])
            for task in self._object_tasks(job_name, seq, TaskStatus.ACTIVE):
                self._release_task(task, TaskStatus.CANCELLED, object_ends=None)
            if self._end_object(job_name, seq, now):
                count += 1
        return count

    def _end_object(self, job_name: str, seq: int, now: float) -> bool:
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": _s(f"J#{job_name}"), "sk": _s(f"O#{_seq_key(seq)}")},
                UpdateExpression=(
                    "SET #st = :ready, ended_at = :now, active = :zero, taken = submitted, "
                    "gsi1pk = :index REMOVE gsi2pk, gsi2sk"
                ),
                ConditionExpression="#st = :open AND active = :zero",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={
                    ":ready": _s(ObjectStatus.READY),
                    ":open": _s(ObjectStatus.OPEN),
                    ":now": _n(now),
                    ":zero": _n(0),
                    ":index": _s(f"S#{job_name}#{ObjectStatus.READY}"),
                },
            )
        except Exception as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def cancel_active(self, job_name: str, *, now: float) -> int:
        count = 0
        for task in self._active_by_deadline(job_name, None):
            if self._release_task(task, TaskStatus.CANCELLED, object_ends=None):
                count += 1
        return count

    def _object_tasks(self, job_name: str, seq: int, status: str) -> list[TaskRecord]:
        keys = self._query(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :k AND begins_with(gsi1sk, :status)",
            ExpressionAttributeValues={
                ":k": _s(f"A#{job_name}#{_seq_key(seq)}"),
                ":status": _s(f"{status}#"),
            },
        )
        tasks = [self.get_task(key["pk"]["S"][2:]) for key in keys]
        return [task for task in tasks if task is not None and task.status == status]

    def submitted_tasks(
        self, job_name: str, seqs: Iterable[int] | None = None
    ) -> dict[int, list[TaskRecord]]:
        if seqs is None:
            seqs = [o.seq for o in self.objects(job_name) if o.submitted > 0]
        found: dict[int, list[TaskRecord]] = {}
        for seq in sorted(set(seqs)):
            tasks = self._object_tasks(job_name, seq, TaskStatus.SUBMITTED)
            if tasks:
                tasks.sort(key=lambda t: (t.submitted_at or 0.0, t.task_id))
                found[seq] = tasks
        return found

    def count_submitted_by(self, job_name: str, worker_id: str) -> int:
        item = self._get(f"W#{job_name}#{worker_id}", "COUNT")
        return 0 if item is None else _int(item, "answers")

    # ------------------------------------------------------------------ batches
    @staticmethod
    def _batch(item: Mapping[str, Any]) -> BatchRecord:
        return BatchRecord(
            job_name=item["pk"]["S"][2:],
            number=_int(item, "number"),
            seqs=json.loads(item["seqs"]["S"]),
            stamp=float(_num(item, "stamp") or 0.0),
            status=str(_str(item, "status")),
        )

    def _latest_batch(self, job_name: str) -> BatchRecord | None:
        response = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :b)",
            ExpressionAttributeValues={":pk": _s(f"J#{job_name}"), ":b": _s("B#")},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        return self._batch(items[0]) if items else None

    def open_batch(self, job_name: str) -> BatchRecord | None:
        batch = self._latest_batch(job_name)
        if batch is None or batch.status != BatchStatus.OPEN:
            return None
        self._mark_batched(batch)  # an interrupted start is completed first
        return batch

    def _mark_batched(self, batch: BatchRecord) -> None:
        for seq in batch.seqs:
            try:
                self.client.update_item(
                    TableName=self.table,
                    Key={"pk": _s(f"J#{batch.job_name}"), "sk": _s(f"O#{_seq_key(seq)}")},
                    UpdateExpression="SET #st = :batched, #b = :number, gsi1pk = :index",
                    ConditionExpression="#st = :ready",
                    ExpressionAttributeNames={"#st": "status", "#b": "batch"},
                    ExpressionAttributeValues={
                        ":batched": _s(ObjectStatus.BATCHED),
                        ":ready": _s(ObjectStatus.READY),
                        ":number": _n(batch.number),
                        ":index": _s(f"S#{batch.job_name}#{ObjectStatus.BATCHED}"),
                    },
                )
            except Exception as error:
                if not _conditional_failed(error):
                    raise

    def start_batch(self, job_name: str, *, now: float, limit: int) -> BatchRecord | None:
        existing = self.open_batch(job_name)
        if existing is not None:
            return existing
        seqs: list[int] = []
        for key in self._index_keys(job_name, ObjectStatus.READY):
            seqs.append(int(key["gsi1sk"]["S"]))
            if len(seqs) >= limit:
                break
        if not seqs:
            return None
        for _ in range(_RETRIES):
            job = self.get_job(job_name)
            if job is None:
                return None
            number = job.batches
            stamp = float(max(int(now), int(job.last_batch_at) + 1))
            found = self._job_update(
                job_name, {"batches": number + 1, "last_batch_at": stamp}, None
            )
            if found is None:
                return None
            put_job = found[0]
            reasons = self._transact(
                [
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": put_job["Item"],
                            "ConditionExpression": put_job["ConditionExpression"],
                            "ExpressionAttributeValues": put_job["ExpressionAttributeValues"],
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {
                                "pk": _s(f"J#{job_name}"),
                                "sk": _s(f"B#{number:08d}"),
                                "number": _n(number),
                                "seqs": _s(_dump(seqs)),
                                "stamp": _n(stamp),
                                "status": _s(BatchStatus.OPEN),
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
            if reasons is None:
                batch = BatchRecord(job_name, number, seqs, stamp)
                self._mark_batched(batch)
                return batch
        raise Conflict(f"could not start a consolidation batch of {job_name!r}; try again")

    def finish_batch(self, job_name: str, number: int, results: Sequence[ObjectResult]) -> bool:
        for result in results:
            if result.status not in (ObjectStatus.LABELED, ObjectStatus.FAILED):
                raise ValueError(f"a batch result must be labeled or failed: {result.status}")
        key = {"pk": _s(f"J#{job_name}"), "sk": _s(f"B#{number:08d}")}
        item = self._get(key["pk"]["S"], key["sk"]["S"])
        if item is None or _str(item, "status") != BatchStatus.OPEN:
            return False
        for result in results:
            sets = ["#st = :status", "gsi1pk = :index"]
            values: dict[str, Any] = {
                ":status": _s(result.status),
                ":index": _s(f"S#{job_name}#{result.status}"),
                ":batched": _s(ObjectStatus.BATCHED),
                ":number": _n(number),
            }
            for name, value in (
                ("content", None if result.content is None else _dump(result.content)),
                ("failure_reason", result.failure_reason),
                ("worker_response_uri", result.worker_response_uri),
            ):
                if value is not None:
                    sets.append(f"{name} = :{name}")
                    values[f":{name}"] = _s(value)
            try:
                self.client.update_item(
                    TableName=self.table,
                    Key={"pk": _s(f"J#{job_name}"), "sk": _s(f"O#{_seq_key(result.seq)}")},
                    UpdateExpression="SET " + ", ".join(sets),
                    ConditionExpression="#st = :batched AND #b = :number",
                    ExpressionAttributeNames={"#st": "status", "#b": "batch"},
                    ExpressionAttributeValues=values,
                )
            except Exception as error:
                if not _conditional_failed(error):  # already recorded by an earlier attempt
                    raise
        try:
            self.client.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET #st = :done",
                ConditionExpression="#st = :open",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={
                    ":done": _s(BatchStatus.DONE),
                    ":open": _s(BatchStatus.OPEN),
                },
            )
        except Exception as error:
            if _conditional_failed(error):
                return False
            raise
        return True


def create_table(client: Any, table_name: str) -> None:
    """The table as the stack makes it (tests and local tools; the stack uses CDK)."""
    from .aws_contract import INDEX_ATTRIBUTES, INDEXES

    attributes = {"pk", "sk"} | {name for pair in INDEXES.values() for name in pair}
    client.create_table(
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": pk, "KeyType": "HASH"},
                    {"AttributeName": sk, "KeyType": "RANGE"},
                ],
                "Projection": {
                    "ProjectionType": "INCLUDE",
                    "NonKeyAttributes": list(INDEX_ATTRIBUTES),
                },
            }
            for index, (pk, sk) in INDEXES.items()
        ],
    )


__all__ = ["DynamoStore", "create_table"]
