"""Worker skill that persists across batches (and, optionally, jobs).

Items: partition key ``scope``, sort key ``worker``; numeric attributes
``c_<true>_<given>`` (classification confusion soft counts), ``agree`` and
``scored``. A batch reads its workers first (the prior), consolidates, then
adds its own evidence with atomic ``ADD`` updates: concurrent batches never
lose counts, because nothing is read-modified-written.

Each batch counts once. Ground Truth invokes the post-annotation function
again when an invocation fails or times out, possibly after the evidence was
stored; ``add(..., batch=...)`` takes the batch's idempotency key
(``batch_key``: the job and the payload) and writes the evidence in one
transaction with a record of that key, conditional on the record not
existing yet. A retry finds the record and adds nothing.
``open_skill_store(table)`` is what the post-annotation function uses: the
DynamoDB table, unless the labeling runtime routed skill elsewhere with
``route_skill_store_to(factory)`` (a context variable: only the code inside
the ``with``; never set in Lambda).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any, Protocol

from .contract import (
    SKILL_SCOPE_JOB,
    SKILL_SCOPE_LABEL_SET,
    SKILL_SCOPES,
    SKILL_TABLE_TTL_ATTRIBUTE,
)
from .model import WorkerSkill

_CONFUSION = re.compile(r"c_(\d+)_(\d+)")


def skill_scope(mode: str, job_name: str, task_type: str, labels: Sequence[str]) -> str:
    """``job#<name>`` or ``labels#<hash of task type and labels>`` (shared by jobs)."""
    if mode == SKILL_SCOPE_LABEL_SET:
        digest = hashlib.sha256("\n".join([task_type, *labels]).encode()).hexdigest()[:16]
        return f"labels#{digest}"
    if mode == SKILL_SCOPE_JOB:
        return f"job#{job_name}"
    raise ValueError(f"skill scope {mode!r} is unknown; allowed: {', '.join(SKILL_SCOPES)}")


def batch_key(job: str, payload: Any) -> str:
    """The idempotency key of a consolidation batch: a SHA-256 of the labeling job (its
    ARN) and the payload's canonical JSON.

    A retried invocation carries the same objects and answers, whatever the
    payload's ``s3Uri``; two batches of one job never do (each data object is
    consolidated once per job).
    """
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{job}\n{canonical}".encode()).hexdigest()


class SkillStore(Protocol):
    """Where worker skill lives between batches (DynamoDB in Lambda, memory elsewhere)."""

    def load(self, scope: str, workers: Iterable[str]) -> dict[str, WorkerSkill]:
        """Stored skill of the workers that have any (the prior of a batch)."""
        ...

    def add(
        self, scope: str, updates: Mapping[str, WorkerSkill], *, batch: str | None = None
    ) -> bool:
        """Add a batch's evidence to what is stored (never replace it).

        ``batch`` (``batch_key``): the evidence of a batch already added under
        this key is not added again. Returns false when nothing was added for
        that reason.
        """
        ...


class MemorySkillStore:
    """The same contract in memory (workbench, benchmarks, tests)."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], WorkerSkill] = {}
        self._counted: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def load(self, scope: str, workers: Iterable[str]) -> dict[str, WorkerSkill]:
        with self._lock:
            return {w: self._items[(scope, w)] for w in set(workers) if (scope, w) in self._items}

    def add(
        self, scope: str, updates: Mapping[str, WorkerSkill], *, batch: str | None = None
    ) -> bool:
        with self._lock:
            if batch is not None:
                if (scope, batch) in self._counted:
                    return False
                self._counted.add((scope, batch))
            for worker, delta in updates.items():
                fields = dict(update_fields(delta))
                if not fields:
                    continue
                current = self._items.get((scope, worker), WorkerSkill(worker))
                self._items[(scope, worker)] = current.add(skill_from_fields(worker, fields))
            return True

    def all(self, scope: str) -> dict[str, WorkerSkill]:
        return {w: s for (sc, w), s in self._items.items() if sc == scope}


class SkillStoreError(RuntimeError):
    """Some skill evidence could not be read or written; the message says how much."""


def _number(value: float) -> str:
    return format(Decimal(repr(round(value, 6))), "f")


_CLIENT: Any = None


def _dynamodb_client() -> Any:
    """One DynamoDB client per execution environment, created on first use."""
    global _CLIENT
    if _CLIENT is None:
        import boto3  # only here: the workbench runs without boto3 installed

        _CLIENT = boto3.client("dynamodb")
    return _CLIENT


def reset_client() -> None:
    """Forget the cached client (tests switch between mocked accounts)."""
    global _CLIENT
    _CLIENT = None


def update_fields(delta: WorkerSkill) -> list[tuple[str, float]]:
    """The numeric attributes a batch adds for one worker (finite, non-zero values only)."""
    fields = [(f"c_{t}_{g}", v) for (t, g), v in sorted(delta.confusion.items())]
    fields += [("agree", delta.agreements), ("scored", delta.scored)]
    return [(name, value) for name, value in fields if value and math.isfinite(value)]


def skill_from_fields(worker: str, fields: Mapping[str, float]) -> WorkerSkill:
    """A worker's skill from its stored fields (``update_fields``' names and values)."""
    skill = WorkerSkill(worker)
    for name, number in fields.items():
        match = _CONFUSION.fullmatch(name)
        if match:
            skill.confusion[(int(match[1]), int(match[2]))] = number
        elif name == "agree":
            skill.agreements = number
        elif name == "scored":
            skill.scored = number
    return skill


#: Partition key prefix of the records of counted batches (never a worker scope).
BATCH_RECORD_PREFIX = "batch#"
#: Attribute holding when a batch record may be deleted (epoch seconds; the table's TTL).
EXPIRES_ATTRIBUTE = SKILL_TABLE_TTL_ATTRIBUTE
#: How long a batch record is kept: longer than any retry of Ground Truth (tasks wait
#: at most 30 days).
BATCH_RECORD_TTL = 60 * 24 * 3600
#: Items of one TransactWriteItems request (DynamoDB's limit): the record and 99 workers.
TRANSACTION_ITEMS = 100
#: Cancellation reasons worth another attempt (another batch updated a worker meanwhile).
_TRANSIENT = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}


def batch_record_key(scope: str, batch: str, part: int) -> dict[str, Any]:
    """The key of the record saying that part ``part`` of a batch was counted in ``scope``."""
    digest = hashlib.sha256(f"{scope}\n{batch}".encode()).hexdigest()
    return {"scope": {"S": f"{BATCH_RECORD_PREFIX}{digest}"}, "worker": {"S": str(part)}}


class DynamoSkillStore:
    """Skill in DynamoDB: BatchGetItem to read, atomic ADDs to write.

    With a ``batch`` key, each part of up to 99 workers is one
    ``TransactWriteItems``: the batch record (``PutItem`` if it does not exist)
    and the workers' ``UpdateItem ... ADD``, all or nothing. Needs
    ``dynamodb:BatchGetItem``, ``dynamodb:UpdateItem`` and ``dynamodb:PutItem``
    on the table, nothing else.
    """

    #: BatchGetItem rounds for unprocessed keys, and the first back-off (doubling) in seconds.
    READ_ROUNDS = 6
    BACKOFF = 0.05
    #: Attempts of one transaction cancelled by a conflict or throttling.
    WRITE_ATTEMPTS = 6

    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table_name = table_name
        self.client = client if client is not None else _dynamodb_client()

    def load(self, scope: str, workers: Iterable[str]) -> dict[str, WorkerSkill]:
        """The stored skill of these workers (absent workers: no history).

        Raises ``SkillStoreError`` when keys stay unprocessed after the retries.
        """
        names = sorted(set(workers))
        skills: dict[str, WorkerSkill] = {}
        missing = 0
        for start in range(0, len(names), 100):  # BatchGetItem takes 100 keys
            keys = [{"scope": {"S": scope}, "worker": {"S": w}} for w in names[start : start + 100]]
            request: dict[str, Any] = {self.table_name: {"Keys": keys, "ConsistentRead": True}}
            for attempt in range(self.READ_ROUNDS):
                if attempt:
                    time.sleep(self.BACKOFF * 2 ** (attempt - 1))
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    skill = self._from_item(item)
                    skills[skill.worker_id] = skill
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
            missing += len(request.get(self.table_name, {}).get("Keys", [])) if request else 0
        if missing:
            raise SkillStoreError(
                f"{missing} of {len(names)} workers' skill stayed unprocessed by BatchGetItem"
            )
        return skills

    @staticmethod
    def _from_item(item: Mapping[str, Any]) -> WorkerSkill:
        numbers = {name: float(value["N"]) for name, value in item.items() if "N" in value}
        return skill_from_fields(item["worker"]["S"], numbers)

    def _update(self, scope: str, worker: str, fields: list[tuple[str, float]]) -> dict[str, Any]:
        """The ``UpdateItem ... ADD`` of one worker's evidence (request parameters)."""
        return {
            "TableName": self.table_name,
            "Key": {"scope": {"S": scope}, "worker": {"S": worker}},
            "UpdateExpression": "ADD " + ", ".join(f"#f{i} :v{i}" for i in range(len(fields))),
            "ExpressionAttributeNames": {f"#f{i}": name for i, (name, _) in enumerate(fields)},
            "ExpressionAttributeValues": {
                f":v{i}": {"N": _number(value)} for i, (_, value) in enumerate(fields)
            },
        }

    def add(
        self, scope: str, updates: Mapping[str, WorkerSkill], *, batch: str | None = None
    ) -> bool:
        """Add each worker's evidence with an atomic ``UpdateItem ... ADD``.

        Nothing is read back and rewritten, so batches consolidated at the same
        time both land. With ``batch``, in transactions with the batch's record
        (a retry adds nothing: returns false). Every worker (or part) is
        attempted; failures are raised together afterwards as ``SkillStoreError``.
        """
        work = [(w, f) for w, f in ((w, update_fields(d)) for w, d in updates.items()) if f]
        if batch is not None:
            return self._add_once(scope, work, batch, len(updates))
        failed: list[str] = []
        for worker, fields in work:
            try:
                self.client.update_item(**self._update(scope, worker, fields))
            except Exception as error:
                failed.append(type(error).__name__)
        if failed:
            raise SkillStoreError(
                f"skill of {len(failed)} of {len(updates)} workers not added "
                f"({', '.join(sorted(set(failed)))})"
            )
        return True

    def _add_once(
        self, scope: str, work: list[tuple[str, list[tuple[str, float]]]], batch: str, total: int
    ) -> bool:
        """One transaction per part: the batch record, if new, and its workers' ADDs."""
        size = TRANSACTION_ITEMS - 1
        parts = [work[start : start + size] for start in range(0, len(work), size)]
        if not parts:
            return True  # no evidence: nothing to count
        expires = str(int(time.time()) + BATCH_RECORD_TTL)
        added = False
        failed: list[tuple[int, str]] = []
        for index, part in enumerate(parts):
            record = {
                "Put": {
                    "TableName": self.table_name,
                    "Item": {
                        **batch_record_key(scope, batch, index),
                        EXPIRES_ATTRIBUTE: {"N": expires},
                    },
                    "ConditionExpression": "attribute_not_exists(#scope)",
                    "ExpressionAttributeNames": {"#scope": "scope"},
                }
            }
            items = [record, *({"Update": self._update(scope, w, f)} for w, f in part)]
            outcome = self._transact(items)
            if outcome == "added":
                added = True
            elif outcome != "counted":
                failed.append((len(part), outcome))
        if failed:
            raise SkillStoreError(
                f"skill of {sum(n for n, _ in failed)} of {total} workers not added "
                f"({', '.join(sorted({reason for _, reason in failed}))})"
            )
        return added

    def _transact(self, items: list[dict[str, Any]]) -> str:
        """``added``, ``counted`` (the record existed: a retry) or why it failed."""
        reason = ""
        for attempt in range(self.WRITE_ATTEMPTS):
            if attempt:
                time.sleep(self.BACKOFF * 2 ** (attempt - 1))
            try:
                self.client.transact_write_items(TransactItems=items)
                return "added"
            except Exception as error:
                codes = [
                    r.get("Code", "None")
                    for r in getattr(error, "response", {}).get("CancellationReasons", [])
                ]
                if codes and codes[0] == "ConditionalCheckFailed":
                    return "counted"
                transient = set(codes) & _TRANSIENT
                reason = ", ".join(sorted(transient)) or type(error).__name__
                if not transient:
                    return reason
        return reason


#: Skill stores by table name instead of DynamoDB (``route_skill_store_to``); ``None``: DynamoDB.
_ROUTE: ContextVar[Callable[[str], SkillStore] | None] = ContextVar(
    "gt_annotation_skill_route", default=None
)


@contextmanager
def route_skill_store_to(factory: Callable[[str], SkillStore]) -> Iterator[None]:
    """Inside the ``with``, ``open_skill_store(table)`` returns ``factory(table)`` (the
    labeling runtime's persistent local store) instead of the DynamoDB table."""
    token = _ROUTE.set(factory)
    try:
        yield
    finally:
        _ROUTE.reset(token)


def open_skill_store(table_name: str) -> SkillStore:
    """The worker-skill store of ``table_name``: DynamoDB, or where the runtime routed it."""
    factory = _ROUTE.get()
    return factory(table_name) if factory is not None else DynamoSkillStore(table_name)
