"""Single-label classification: Dawid–Skene EM, or plain majority vote.

Dawid–Skene models each worker with a confusion matrix (the probability of
answering class *l* when the truth is *k*) and the batch with class priors, and
alternates between the posterior of every object's class (E-step) and the
workers' matrices (M-step). Each worker's matrix starts from a Dirichlet prior:
light smoothing that assumes a worker is better than chance, plus the soft
counts stored for that worker by earlier batches (the skill table), so a small
batch still knows who tends to be wrong. The reported confidence is the
posterior of the chosen class.

The inner loops are ``zip``/``sum`` over short lists (one entry per class), so
the work per answer runs mostly inside the interpreter's C code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..model import (
    AnswerError,
    BatchResult,
    ConsolidationContext,
    ObjectAnswers,
    WorkerSkill,
)

#: Prior pseudo-counts of a worker's confusion row: ``PRIOR_STRENGTH`` answers
#: of which ``PRIOR_ACCURACY`` are right, the rest spread over the other classes.
PRIOR_STRENGTH = 2.0
PRIOR_ACCURACY = 0.7
#: Empirical-Bayes shrinkage: each worker's row also gets this many pseudo-answers
#: distributed like the whole batch's confusion matrix, so workers with few
#: answers look like the average worker rather than like a generic one.
POPULATION_STRENGTH = 5.0
#: Stored skill counts enter at full weight (they are real, earlier evidence).
STORED_WEIGHT = 1.0
#: The reported confidence uses the answers' log-likelihoods scaled by this
#: power: workers' errors are correlated (hard items fool several at once), so
#: treating answers as independent makes the plain posterior overconfident.
CONFIDENCE_POWER = 0.5
DEFAULT_MAX_ITERATIONS = 50
TOLERANCE = 1e-4


def _label_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        if "label" in value:
            return value["label"]
        labels = value.get("labels")
        if isinstance(labels, list) and len(labels) == 1:
            return labels[0]
        raise AnswerError("classification answer has no 'label'")
    return value


class Classification:
    """``CONSOLIDATOR`` for the methods ``dawid-skene`` and ``majority-vote``."""

    def parse_answer(self, value: Any, labels: Sequence[str]) -> int | str:
        """The class index of a crowd-classifier answer (``{"label": name}``, a name or an index).

        With no label categories (``labels`` empty) the label name itself is kept.
        """
        label = _label_value(value)
        if isinstance(label, bool) or not isinstance(label, str | int):
            raise AnswerError(f"classification answer is a {type(label).__name__}, not a label")
        if isinstance(label, int):
            if 0 <= label < len(labels):
                return label
            raise AnswerError(f"class index {label} is outside 0–{len(labels) - 1}")
        if not labels:
            return label
        try:
            return list(labels).index(label)
        except ValueError:
            shown = ", ".join(list(labels)[:10])
            raise AnswerError(f"label {label[:60]!r} is not one of: {shown}") from None

    def consolidate(
        self, objects: Sequence[ObjectAnswers], context: ConsolidationContext
    ) -> BatchResult:
        labels = list(context.labels)
        extra = sorted({a.value for o in objects for a in o.answers if isinstance(a.value, str)})
        labels += [name for name in extra if name not in labels]
        index = {name: i for i, name in enumerate(labels)}
        answered = [o for o in objects if o.answers]
        workers = sorted({a.worker_id for o in answered for a in o.answers})
        worker_index = {w: i for i, w in enumerate(workers)}
        coded = [
            [
                (worker_index[a.worker_id], a.value if isinstance(a.value, int) else index[a.value])
                for a in o.answers
            ]
            for o in answered
        ]
        k = max(len(labels), 1)
        method = str(context.options.get("method", "dawid-skene"))
        if method == "majority-vote":
            posteriors = [_vote(answers, k) for answers in coded]
            confidences = posteriors
        else:
            stored = [context.skills.get(w) for w in workers]
            posteriors, confidences = dawid_skene(
                coded,
                len(workers),
                k,
                stored=stored,
                max_iterations=int(context.options.get("maxIterations", DEFAULT_MAX_ITERATIONS)),
            )
        result = BatchResult()
        for item, answers, posterior, calibrated in zip(
            answered, coded, posteriors, confidences, strict=True
        ):
            best = max(range(k), key=posterior.__getitem__)
            confidence = calibrated[best] if len(answers) > 1 else 0.0
            result.labels[item.dataset_object_id] = {
                "class-id": best,
                "class-name": labels[best] if labels else str(best),
                "confidence": round(confidence, 4),
                "workers": len(answers),
                "method": method,
            }
        result.skill_updates = _evidence(coded, posteriors, workers, k)
        return result


def _vote(answers: list[tuple[int, int]], k: int) -> list[float]:
    counts = [0.0] * k
    for _, label in answers:
        counts[label] += 1.0
    total = sum(counts) or 1.0
    return [c / total for c in counts]


def _prior_row(k: int, truth: int) -> list[float]:
    if k == 1:
        return [PRIOR_STRENGTH]
    off = PRIOR_STRENGTH * (1 - PRIOR_ACCURACY) / (k - 1)
    return [PRIOR_STRENGTH * PRIOR_ACCURACY if g == truth else off for g in range(k)]


def _log_columns(counts: list[list[list[float]]], k: int) -> list[list[float]]:
    """Per (worker, given label): the log-probability of that answer under each true class."""
    columns: list[list[float]] = []
    for matrix in counts:
        logs = []
        for row in matrix:
            total = sum(row)
            logs.append([math.log(c / total) for c in row])
        for given in range(k):
            columns.append([logs[truth][given] for truth in range(k)])
    return columns


def _posterior(scores: list[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def dawid_skene(
    coded: list[list[tuple[int, int]]],
    n_workers: int,
    k: int,
    *,
    stored: Sequence[WorkerSkill | None] = (),
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
    tolerance: float = TOLERANCE,
) -> tuple[list[list[float]], list[list[float]]]:
    """Posterior class probabilities per object (answers coded as (worker, class) pairs),
    and the tempered posteriors reported as confidence (see ``CONFIDENCE_POWER``)."""
    base: list[list[list[float]]] = []
    for w in range(n_workers):
        skill = stored[w] if w < len(stored) else None
        matrix = [_prior_row(k, truth) for truth in range(k)]
        if skill is not None:
            for (truth, given), count in skill.confusion.items():
                if truth < k and given < k and count > 0:
                    matrix[truth][given] += STORED_WEIGHT * count
        base.append(matrix)
    has_history = any(s is not None and s.confusion for s in stored)
    # Answers grouped by (worker, label) → objects, for the M-step.
    groups: dict[int, list[int]] = {}
    keys = [[w * k + label for w, label in answers] for answers in coded]
    for obj, answer_keys in enumerate(keys):
        for key in answer_keys:
            groups.setdefault(key, []).append(obj)

    if has_history:
        columns = _log_columns(base, k)
        flat = [0.0] * k
        posteriors = [
            _posterior([sum(x) for x in zip(flat, *(columns[j] for j in ks))]) for ks in keys
        ]
    else:
        posteriors = [_vote(answers, k) for answers in coded]
    if not coded:
        return posteriors, posteriors
    scores: list[list[float]] = []

    for _ in range(max_iterations):
        # M-step: class priors and confusion matrices from the current posteriors.
        totals = [sum(column) for column in zip(*posteriors, strict=True)]
        n = len(posteriors)
        log_prior = [math.log((t + 1.0) / (n + k)) for t in totals]
        evidence = [[[0.0] * k for _ in range(k)] for _ in range(n_workers)]
        population = [[1.0] * k for _ in range(k)]
        for key, objs in groups.items():
            w, given = divmod(key, k)
            sums = [sum(column) for column in zip(*(posteriors[o] for o in objs))]
            matrix = evidence[w]
            for truth in range(k):
                matrix[truth][given] += sums[truth]
                population[truth][given] += sums[truth]
        shrink = [[POPULATION_STRENGTH * c / sum(row) for c in row] for row in population]
        counts = [
            [
                [b + e + p for b, e, p in zip(brow, erow, prow)]
                for brow, erow, prow in zip(bmatrix, ematrix, shrink)
            ]
            for bmatrix, ematrix in zip(base, evidence)
        ]
        columns = _log_columns(counts, k)
        # E-step.
        scores = [[sum(x) for x in zip(log_prior, *(columns[j] for j in ks))] for ks in keys]
        updated = [_posterior(score) for score in scores]
        change = max(
            max(abs(a - b) for a, b in zip(new, old, strict=True))
            for new, old in zip(updated, posteriors, strict=True)
        )
        posteriors = updated
        if change < tolerance:
            break
    confidences = [
        _posterior([CONFIDENCE_POWER * (v - p) + p for v, p in zip(score, log_prior)])
        for score in scores
    ]
    return posteriors, confidences


def _evidence(
    coded: list[list[tuple[int, int]]],
    posteriors: list[list[float]],
    workers: list[str],
    k: int,
) -> dict[str, WorkerSkill]:
    """Soft confusion counts of this batch (added to the stored skill)."""
    updates: dict[str, WorkerSkill] = {}
    for answers, posterior in zip(coded, posteriors, strict=True):
        if len(answers) < 2:
            continue  # a lone answer says nothing about its worker
        for w, given in answers:
            skill = updates.setdefault(workers[w], WorkerSkill(workers[w]))
            for truth in range(k):
                p = posterior[truth]
                if p > 1e-4:
                    key = (truth, given)
                    skill.confusion[key] = skill.confusion.get(key, 0.0) + p
                    if truth == given:
                        skill.agreements += p
            skill.scored += 1.0
    return updates


CONSOLIDATOR = Classification()
