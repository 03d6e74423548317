"""Dawid–Skene beats majority vote on real crowd data with gold labels.

The data sets (``benchmarks/data/crowd/``) become ``ObjectAnswers`` exactly as
the handler builds them: one object per task, one answer per CSV row (a
repeated worker/task row dropped, as Ground Truth takes one answer per worker).
The full comparison with crowd-kit lives in ``benchmarks/quality.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gt_annotation.consensus.classification import CONSOLIDATOR
from gt_annotation.model import ConsolidationContext, ObjectAnswers, WorkerAnswer

from benchmarks import _crowd


def objects_of(data: _crowd.CrowdData) -> list[ObjectAnswers]:
    grouped = _crowd.answers_by_task(data)
    return [
        ObjectAnswers(
            task,
            {"content": task},
            [
                WorkerAnswer(worker, CONSOLIDATOR.parse_answer({"label": label}, data.labels))
                for worker, label in grouped[task]
            ],
        )
        for task in data.tasks
    ]


def accuracy(data: _crowd.CrowdData, method: str) -> float:
    context = ConsolidationContext(
        "TEXT_CLASSIFICATION", data.labels, "category", {"method": method}
    )
    labels = CONSOLIDATOR.consolidate(objects_of(data), context).labels
    return sum(labels[t]["class-name"] == data.gold[t] for t in data.tasks) / len(data.tasks)


@pytest.mark.parametrize(
    "name",
    [
        "MS",  # music genres: 10 classes, 44 workers of very different skill
        "ZenCrowd_in",  # entity linking, 25 workers
        "CF_amt",  # tweet sentiment, 20 answers per tweet
        "SP",  # film review polarity, 5,000 reviews
    ],
)
def test_dawid_skene_beats_majority_vote(crowd_data: Path, name: str) -> None:
    data = _crowd.load(crowd_data, name)
    ds = accuracy(data, "dawid-skene")
    mv = accuracy(data, "majority-vote")
    assert ds > mv, f"{name}: Dawid–Skene {ds:.4f}, majority vote {mv:.4f}"


def test_converted_answers_keep_every_task_and_answer(crowd_data: Path) -> None:
    data = _crowd.load(crowd_data, "CF")
    objects = objects_of(data)
    assert len(objects) == 300
    assert sum(len(o.answers) for o in objects) == 1720 - data.duplicates
    assert set(data.gold) == {o.dataset_object_id for o in objects}
