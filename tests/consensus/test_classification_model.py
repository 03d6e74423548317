"""The shipped classification model: worker prior from the batch, vectorised EM, calibration.

Pins what issue 20 changed: each worker's accuracy is pulled toward the
crowd's by a weight the batch chooses (Beta-binomial evidence over the
workers), every worker's rows are smoothed toward a one-coin row, the EM runs
over flat lists (checked here against a plain per-object EM of the same
model), and the confidence is tempered and mixed with the uniform
distribution.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from gt_annotation.consensus.classification import (
    CONSOLIDATOR,
    EVIDENCE,
    FLOOR,
    WORKER_PRIORS,
    _log_columns,
    _stored_counts,
    dawid_skene,
)
from gt_annotation.model import ConsolidationContext, ObjectAnswers, WorkerAnswer, WorkerSkill

from benchmarks import _crowd

Coded = list[list[tuple[int, int]]]


def batch(seed: int, accuracies: list[float], objects: int = 600, k: int = 3) -> Coded:
    """Objects with 1-6 answers from workers of the given accuracies, errors uniform."""
    rng = random.Random(seed)
    coded: Coded = []
    for _ in range(objects):
        truth = rng.randrange(k)
        chosen = rng.sample(range(len(accuracies)), rng.randint(1, 6))
        coded.append(
            [(w, truth if rng.random() < accuracies[w] else rng.randrange(k)) for w in chosen]
        )
    return coded


def test_a_crowd_of_alike_workers_gets_a_strong_pull_toward_the_crowd() -> None:
    # GIVEN twenty workers who are all right 80 % of the time
    fit = dawid_skene(batch(1, [0.8] * 20), 20, 3)
    # THEN a worker's own record barely moves its accuracy from the crowd's
    assert fit.worker_prior >= 64.0


def test_a_crowd_of_different_workers_gets_a_weak_pull() -> None:
    # GIVEN workers from nearly random to nearly perfect
    fit = dawid_skene(batch(2, [0.35 + 0.03 * i for i in range(20)]), 20, 3)
    # THEN each worker's own record decides its accuracy
    assert fit.worker_prior <= 16.0
    assert min(WORKER_PRIORS) < fit.worker_prior or fit.worker_prior == min(WORKER_PRIORS)


def reference_em(
    coded: Coded, n_workers: int, k: int, stored: list[WorkerSkill | None], iterations: int
) -> list[list[float]]:
    """The same model with a plain per-object E-step and per-answer counts."""
    base = _stored_counts(stored, n_workers, k)
    posteriors = []
    for answers in coded:
        votes = [0.0] * k
        for _, label in answers:
            votes[label] += 1.0
        posteriors.append([v / len(answers) for v in votes])
    for _ in range(iterations):
        counts = [[row[:] for row in matrix] for matrix in base]
        for answers, p in zip(coded, posteriors, strict=True):
            for w, given in answers:
                for t in range(k):
                    counts[w][t][given] += p[t]
        n = len(coded)
        log_prior = [math.log((sum(p[t] for p in posteriors) + 1.0) / (n + k)) for t in range(k)]
        columns, _ = _log_columns(counts, k, 2048.0, None)
        posteriors = []
        for answers in coded:
            scores = [
                log_prior[t] + sum(columns[w * k + g][t] for w, g in answers) for t in range(k)
            ]
            top = max(scores)
            exps = [math.exp(s - top) for s in scores]
            posteriors.append([e / sum(exps) for e in exps])
    return posteriors


def test_the_vectorised_em_is_the_plain_em_of_the_same_model() -> None:
    # GIVEN a batch with objects of 1 to 6 answers (no stored skill: the vote starts both)
    coded = batch(3, [0.5 + 0.02 * i for i in range(20)], objects=300)
    fit = dawid_skene(coded, 20, 3, max_iterations=5, tolerance=0.0)
    # WHEN the same five iterations run one object and one answer at a time
    expected = reference_em(coded, 20, 3, [], 5)
    # THEN the posteriors agree to rounding (both choose the worker prior in every M-step;
    # the fit holds its choice only after a cycle, which must not have happened here)
    assert not fit.worker_prior_held
    for got, want in zip(fit.posteriors, expected, strict=True):
        assert got == pytest.approx(want, abs=1e-9)


def test_batch_skill_counts_leave_lone_answers_out_and_sum_to_the_answers() -> None:
    coded = batch(4, [0.7] * 10, objects=200)
    fit = dawid_skene(coded, 10, 3)
    several = sum(len(a) for a in coded if len(a) > 1)
    assert sum(sum(map(sum, m)) for m in fit.batch_counts) == pytest.approx(several)


def test_confidence_is_tempered_and_mixed_with_the_uniform() -> None:
    # GIVEN a batch where many objects get five agreeing answers
    coded = batch(5, [0.9] * 10, objects=200)
    objects = [
        ObjectAnswers(str(i), {}, [WorkerAnswer(f"w{w}", g) for w, g in answers])
        for i, answers in enumerate(coded)
    ]
    labels = CONSOLIDATOR.consolidate(
        objects, ConsolidationContext("T", ["a", "b", "c"], "x")
    ).labels
    confidences = [v["confidence"] for v in labels.values() if v["workers"] > 1]
    # THEN no confidence reaches 1: the floor keeps FLOOR of the mass on the uniform
    assert max(confidences) <= 1.0 - FLOOR + FLOOR / 3 + 1e-4
    assert min(confidences) >= 1.0 / 3
    assert EVIDENCE > 0


@pytest.mark.parametrize("name", ["ZenCrowd_us", "ZenCrowd_all", "CF"])
def test_prolific_class_dependent_workers_do_not_pull_below_majority_vote(
    crowd_data: Path, name: str
) -> None:
    """Real sets where a few workers answer most objects, with class-dependent errors shared
    between workers: models that free those workers' rows (per-class or per-worker evidence,
    the crowd's class-dependent matrix as centre) fell 1.3-10 points below majority vote."""
    data = _crowd.load(crowd_data, name)
    grouped = _crowd.answers_by_task(data)
    index = {label: i for i, label in enumerate(data.labels)}
    workers: dict[str, int] = {}
    coded = [
        [(workers.setdefault(w, len(workers)), index[label]) for w, label in grouped[t]]
        for t in data.tasks
    ]
    fit = dawid_skene(coded, len(workers), len(data.labels))
    ours = sum(
        data.labels[max(range(len(p)), key=p.__getitem__)] == data.gold[t]
        for p, t in zip(fit.posteriors, data.tasks, strict=True)
    )
    votes = 0
    for answers, t in zip(coded, data.tasks, strict=True):
        counts = [0] * len(data.labels)
        for _, g in answers:
            counts[g] += 1
        votes += data.labels[max(range(len(counts)), key=counts.__getitem__)] == data.gold[t]
    assert ours >= votes - 0.005 * len(data.tasks), (ours, votes)
