"""The crowd data sets with gold labels, as Ground Truth post-annotation payloads.

Standard library only, so tests can use it too. Each CSV row (no header) is
``worker_id, task_id, worker_label, gold_label[, extra]``. One data object per
task, one annotation per answer. A Ground Truth worker answers an object once,
so a repeated (worker, task) row is dropped (first kept) and counted; every
method in the benchmarks sees the same de-duplicated answers.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The eight data sets, smallest first.
DATASETS = (
    "CF",
    "MS",
    "CF_amt",
    "SP_amt",
    "ZenCrowd_in",
    "ZenCrowd_us",
    "ZenCrowd_all",
    "SP",
)
#: What ``--smoke`` runs: small and quick.
SMOKE_DATASETS = ("MS", "SP_amt")

#: Name of the answer element in the (assumed) worker template.
ANSWER_NAME = "category"
LABEL_ATTRIBUTE = "category"
JOB_ARN_PREFIX = "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/"


@dataclass
class CrowdData:
    """One data set: answers in file order, gold label per task, label names."""

    name: str
    #: (worker, task, label name) per kept answer.
    answers: list[tuple[str, str, str]] = field(default_factory=list)
    gold: dict[str, str] = field(default_factory=dict)
    #: Label names, sorted numerically (the file's labels are small integers).
    labels: list[str] = field(default_factory=list)
    #: Tasks in order of first appearance.
    tasks: list[str] = field(default_factory=list)
    duplicates: int = 0

    @property
    def workers(self) -> int:
        return len({w for w, _, _ in self.answers})


def load(data_dir: Path, name: str) -> CrowdData:
    """Read ``<data_dir>/<name>.csv``."""
    path = Path(data_dir) / f"{name}.csv"
    data = CrowdData(name)
    seen: set[tuple[str, str]] = set()
    tasks: dict[str, None] = {}
    values: set[str] = set()
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle):
            if len(row) < 4:
                continue
            worker, task, label, gold = (cell.strip() for cell in row[:4])
            tasks.setdefault(task)
            data.gold.setdefault(task, gold)
            values.update((label, gold))
            if (worker, task) in seen:
                data.duplicates += 1
                continue
            seen.add((worker, task))
            data.answers.append((worker, task, label))
    data.tasks = list(tasks)
    data.labels = sorted(values, key=lambda v: (len(v), v))
    return data


def answers_by_task(data: CrowdData) -> dict[str, list[tuple[str, str]]]:
    """(worker, label) answers of every task, tasks in order of first appearance."""
    grouped: dict[str, list[tuple[str, str]]] = {t: [] for t in data.tasks}
    for worker, task, label in data.answers:
        grouped[task].append((worker, label))
    return grouped


def payload(tasks: Iterable[str], grouped: dict[str, list[tuple[str, str]]]) -> list[Any]:
    """The post-annotation payload (the JSON list at ``payload.s3Uri``) for some tasks.

    ``datasetObjectId`` is the task id; each answer is the worker's form output
    ``{"category": {"label": <name>}}`` as a JSON string, as Ground Truth sends it.
    """
    entries = []
    for task in tasks:
        entries.append(
            {
                "datasetObjectId": task,
                "dataObject": {"content": task},
                "annotations": [
                    {
                        "workerId": worker,
                        "annotationData": {"content": json.dumps({ANSWER_NAME: {"label": label}})},
                    }
                    for worker, label in grouped[task]
                ],
            }
        )
    return entries


def job_name(*parts: str) -> str:
    """A valid labeling job name from parts (``CF_amt``, ``b10`` → ``CF-amt-b10``)."""
    return "-".join(parts).replace("_", "-")[:63]


def event(job: str, labels: Sequence[str], payload_uri: str) -> dict[str, Any]:
    """A post-annotation event of labeling job ``job`` pointing at a payload in S3."""
    return {
        "version": "2018-10-16",
        "labelingJobArn": JOB_ARN_PREFIX + job,
        "labelCategories": list(labels),
        "labelAttributeName": LABEL_ATTRIBUTE,
        "roleArn": "arn:aws:iam::111122223333:role/gt-execution",
        "payload": {"s3Uri": payload_uri},
        "outputConfig": f"s3://crowd-benchmark-output/{job}/annotations",
    }


def batches(items: Sequence[str], size: int | None) -> list[Sequence[str]]:
    """``items`` cut into consecutive batches of ``size`` (None: one batch)."""
    if not size:
        return [items]
    return [items[i : i + size] for i in range(0, len(items), size)]
