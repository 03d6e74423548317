"""Worker skill that persists across batches (and, optionally, jobs).

Items: partition key ``scope``, sort key ``worker``; numeric attributes
``c_<true>_<given>`` (classification confusion soft counts), ``agree`` and
``scored``. A batch reads its workers first (the prior), consolidates, then
adds its own evidence with atomic ``ADD`` updates: concurrent batches never
lose counts, because nothing is read-modified-written.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from .model import WorkerSkill

_CONFUSION = re.compile(r"c_(\d+)_(\d+)")


def skill_scope(mode: str, job_name: str, task_type: str, labels: Sequence[str]) -> str:
    """``job#<name>`` or ``labels#<hash of task type and labels>`` (shared by jobs)."""
    if mode == "label-set":
        digest = hashlib.sha256("\n".join([task_type, *labels]).encode()).hexdigest()[:16]
        return f"labels#{digest}"
    return f"job#{job_name}"


class SkillStore(Protocol):
    def load(self, scope: str, workers: Iterable[str]) -> dict[str, WorkerSkill]: ...

    def add(self, scope: str, updates: Mapping[str, WorkerSkill]) -> None: ...


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
                current = self._items.get((scope, worker), WorkerSkill(worker))
                self._items[(scope, worker)] = current.add(delta)

    def all(self, scope: str) -> dict[str, WorkerSkill]:
        return {w: s for (sc, w), s in self._items.items() if sc == scope}


def _number(value: float) -> str:
    return format(Decimal(repr(round(value, 6))), "f")


class DynamoSkillStore:
    """Skill in DynamoDB: BatchGetItem to read, one atomic ADD per worker to write."""

    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table_name = table_name
        if client is None:
            import boto3  # only here: the workbench runs without boto3 installed

            client = boto3.client("dynamodb")
        self.client = client

    def load(self, scope: str, workers: Iterable[str]) -> dict[str, WorkerSkill]:
        names = sorted(set(workers))
        skills: dict[str, WorkerSkill] = {}
        for start in range(0, len(names), 100):  # BatchGetItem takes 100 keys
            keys = [{"scope": {"S": scope}, "worker": {"S": w}} for w in names[start : start + 100]]
            request: dict[str, Any] = {self.table_name: {"Keys": keys, "ConsistentRead": True}}
            for _attempt in range(8):
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    skill = self._from_item(item)
                    skills[skill.worker_id] = skill
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
        return skills

    @staticmethod
    def _from_item(item: Mapping[str, Any]) -> WorkerSkill:
        skill = WorkerSkill(item["worker"]["S"])
        for name, value in item.items():
            if "N" not in value:
                continue
            number = float(value["N"])
            match = _CONFUSION.fullmatch(name)
            if match:
                skill.confusion[(int(match[1]), int(match[2]))] = number
            elif name == "agree":
                skill.agreements = number
            elif name == "scored":
                skill.scored = number
        return skill

    def add(self, scope: str, updates: Mapping[str, WorkerSkill]) -> None:
        for worker, delta in updates.items():
            parts: list[str] = []
            names: dict[str, str] = {}
            values: dict[str, Any] = {}
            fields: list[tuple[str, float]] = [
                (f"c_{t}_{g}", v) for (t, g), v in sorted(delta.confusion.items()) if v
            ]
            if delta.scored or delta.agreements:
                fields += [("agree", delta.agreements), ("scored", delta.scored)]
            for index, (field, value) in enumerate(fields):
                names[f"#f{index}"] = field
                values[f":v{index}"] = {"N": _number(value)}
                parts.append(f"#f{index} :v{index}")
            if not parts:
                continue
            self.client.update_item(
                TableName=self.table_name,
                Key={"scope": {"S": scope}, "worker": {"S": worker}},
                UpdateExpression="ADD " + ", ".join(parts),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
