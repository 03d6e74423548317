"""Worker skill that persists across batches (and, optionally, jobs).

Items: partition key ``scope``, sort key ``worker``; numeric attributes
``c_<true>_<given>`` (classification confusion soft counts), ``agree`` and
``scored``. A batch reads its workers first (the prior), consolidates, then
adds its own evidence with atomic ``ADD`` updates: concurrent batches never
lose counts, because nothing is read-modified-written.

``open_skill_store(table)`` is what the post-annotation function uses: the
DynamoDB table, unless the labeling runtime routed skill elsewhere with
``route_skill_store_to(factory)`` (a context variable: only the code inside
the ``with``; never set in Lambda).
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any, Protocol

from .contract import SKILL_SCOPE_JOB, SKILL_SCOPE_LABEL_SET, SKILL_SCOPES
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


class SkillStore(Protocol):
    """Where worker skill lives between batches (DynamoDB in Lambda, memory elsewhere)."""

    def load(self, scope: str, workers: Iterable[str]) -> dict[str, WorkerSkill]:
        """Stored skill of the workers that have any (the prior of a batch)."""
        ...

    def add(self, scope: str, updates: Mapping[str, WorkerSkill]) -> None:
        """Add a batch's evidence to what is stored (never replace it)."""
        ...


class MemorySkillStore:
    """The same contract in memory (workbench, benchmarks, tests)."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], WorkerSkill] = {}
        self._lock = threading.Lock()

    def load(self, scope: str, workers: Iterable[str]) -> dict[str, WorkerSkill]:
        with self._lock:
            return {w: self._items[(scope, w)] for w in set(workers) if (scope, w) in self._items}

    def add(self, scope: str, updates: Mapping[str, WorkerSkill]) -> None:
        with self._lock:
            for worker, delta in updates.items():
                fields = dict(update_fields(delta))
                if not fields:
                    continue
                current = self._items.get((scope, worker), WorkerSkill(worker))
                self._items[(scope, worker)] = current.add(_skill_from_fields(worker, fields))

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


def _skill_from_fields(worker: str, fields: Mapping[str, float]) -> WorkerSkill:
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


class DynamoSkillStore:
    """Skill in DynamoDB: BatchGetItem to read, one atomic ADD per worker to write.

    Needs ``dynamodb:BatchGetItem`` and ``dynamodb:UpdateItem`` on the table,
    nothing else.
    """

    #: BatchGetItem rounds for unprocessed keys, and the first back-off (doubling) in seconds.
    READ_ROUNDS = 6
    BACKOFF = 0.05

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
        return _skill_from_fields(item["worker"]["S"], numbers)

    def add(self, scope: str, updates: Mapping[str, WorkerSkill]) -> None:
        """Add each worker's evidence with one atomic ``UpdateItem ... ADD``.

        Nothing is read back and rewritten, so batches consolidated at the same
        time both land. Every worker is attempted; failures are raised together
        afterwards as ``SkillStoreError``.
        """
        failed: list[str] = []
        for worker, delta in updates.items():
            fields = update_fields(delta)
            if not fields:
                continue
            names = {f"#f{i}": name for i, (name, _) in enumerate(fields)}
            values = {f":v{i}": {"N": _number(value)} for i, (_, value) in enumerate(fields)}
            try:
                self.client.update_item(
                    TableName=self.table_name,
                    Key={"scope": {"S": scope}, "worker": {"S": worker}},
                    UpdateExpression="ADD " + ", ".join(f"#f{i} :v{i}" for i in range(len(fields))),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
            except Exception as error:
                failed.append(type(error).__name__)
        if failed:
            raise SkillStoreError(
                f"skill of {len(failed)} of {len(updates)} workers not added "
                f"({', '.join(sorted(set(failed)))})"
            )


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
