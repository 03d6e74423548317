"""Generated crowd data sets with gold labels: class-asymmetric workers, skewed classes.

Standard library only (tests use it too), deterministic (fixed seeds). Each set
is built so that a model which flattens class-dependent error rates towards a
symmetric one-coin worker fails on it: a rare class (5–15 % of the objects)
that many workers miss, or workers who over-use one class when unsure. One
control set has symmetric (one-coin) workers and balanced classes, where the
flattening is right and a full-confusion model must not lose much.

Workers' errors are not independent, as on real data: 15 % of the objects are
hard, and on a hard object every worker gives the same wrong-looking (decoy)
class 35 % of the time, so confidences must saturate with the number of
answers as on the real sets.

Every set is returned in the shape of ``_crowd.CrowdData`` (label names are
the class indices as strings), so the benchmark runs it like the real sets.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from _crowd import CrowdData

#: Share of hard objects, and how often a worker answers a hard object's decoy class.
HARD = 0.15
DECOY = 0.35

#: A worker: one answer distribution per true class (``rows[truth][given]``).
Worker = list[list[float]]


def _row(k: int, truth: int, accuracy: float, errors: Sequence[float] | None = None) -> list[float]:
    """Answer distribution for one true class: ``accuracy`` on it, the rest by ``errors``."""
    weights = list(errors) if errors is not None else [1.0] * k
    weights[truth] = 0.0
    total = sum(weights)
    return [accuracy if g == truth else (1.0 - accuracy) * w / total for g, w in enumerate(weights)]


def _build(
    name: str,
    seed: int,
    *,
    objects: int,
    shares: Sequence[float],
    workers: int,
    per_object: int,
    make_worker: Callable[[random.Random, int], Worker],
) -> CrowdData:
    rng = random.Random(seed)
    k = len(shares)
    pool = [make_worker(rng, i) for i in range(workers)]
    data = CrowdData(name)
    data.labels = [str(c) for c in range(k)]
    for number in range(objects):
        task = f"t{number}"
        truth = rng.choices(range(k), shares)[0]
        data.tasks.append(task)
        data.gold[task] = str(truth)
        # Shared ambiguity: a hard object looks like a decoy class to every worker.
        decoy = rng.choice([c for c in range(k) if c != truth]) if rng.random() < HARD else None
        for w in rng.sample(range(workers), per_object):
            if decoy is not None and rng.random() < DECOY:
                given = decoy
            else:
                given = rng.choices(range(k), pool[w][truth])[0]
            data.answers.append((f"w{w}", task, str(given)))
    return data


def rare_missed() -> CrowdData:
    """Binary, rare class 8 %: 60 % of the workers say 'common' for half the rare objects."""

    def worker(rng: random.Random, i: int) -> Worker:
        if i % 5 < 3:  # misses the rare class, very accurate otherwise
            return [_row(2, 0, rng.uniform(0.95, 0.99)), _row(2, 1, rng.uniform(0.35, 0.6))]
        accuracy = rng.uniform(0.75, 0.9)
        return [_row(2, 0, accuracy), _row(2, 1, accuracy)]

    return _build(
        "gen_rare_missed",
        1201,
        objects=2000,
        shares=(0.92, 0.08),
        workers=40,
        per_object=5,
        make_worker=worker,
    )


def overuse() -> CrowdData:
    """Four classes (55/25/12/8 %): 40 % of the workers answer class 1 when unsure."""

    def worker(rng: random.Random, i: int) -> Worker:
        if i % 5 < 2:
            accuracy = rng.uniform(0.55, 0.75)
            bias = [0.1, 1.0, 0.1, 0.1]
            return [_row(4, t, accuracy if t != 1 else 0.97, bias) for t in range(4)]
        accuracy = rng.uniform(0.7, 0.9)
        return [_row(4, t, accuracy) for t in range(4)]

    return _build(
        "gen_overuse",
        1202,
        objects=2000,
        shares=(0.55, 0.25, 0.12, 0.08),
        workers=30,
        per_object=5,
        make_worker=worker,
    )


def confusable() -> CrowdData:
    """Three classes (60/30/10 %): the rare class looks like class 1; recall varies by worker."""

    def worker(rng: random.Random, i: int) -> Worker:
        rows = [_row(3, t, rng.uniform(0.8, 0.95)) for t in range(2)]
        rows.append(_row(3, 2, rng.uniform(0.3, 0.95), [0.1, 1.0, 0.0]))
        return rows

    return _build(
        "gen_confusable",
        1203,
        objects=3000,
        shares=(0.6, 0.3, 0.1),
        workers=50,
        per_object=4,
        make_worker=worker,
    )


def sparse_rare() -> CrowdData:
    """Five classes, rare class 5 %, three answers per object from 100 workers (few per worker)."""

    def worker(rng: random.Random, i: int) -> Worker:
        accuracy = rng.uniform(0.6, 0.9)
        rows = [_row(5, t, accuracy) for t in range(4)]
        recall = accuracy if i % 2 else rng.uniform(0.2, 0.5)  # half the crowd misses it
        rows.append(_row(5, 4, recall, [1.0, 1.0, 1.0, 4.0, 0.0]))
        return rows

    return _build(
        "gen_sparse_rare",
        1204,
        objects=1500,
        shares=(0.35, 0.25, 0.2, 0.15, 0.05),
        workers=100,
        per_object=3,
        make_worker=worker,
    )


def one_coin() -> CrowdData:
    """Control: four balanced classes, symmetric workers (one-coin is the true model)."""

    def worker(rng: random.Random, i: int) -> Worker:
        accuracy = rng.uniform(0.45, 0.9)
        return [_row(4, t, accuracy) for t in range(4)]

    return _build(
        "gen_one_coin",
        1205,
        objects=1500,
        shares=(0.25, 0.25, 0.25, 0.25),
        workers=40,
        per_object=4,
        make_worker=worker,
    )


#: Generated sets by name, in the order the benchmark reports them.
GENERATED: dict[str, Callable[[], CrowdData]] = {
    "gen_rare_missed": rare_missed,
    "gen_overuse": overuse,
    "gen_confusable": confusable,
    "gen_sparse_rare": sparse_rare,
    "gen_one_coin": one_coin,
}
