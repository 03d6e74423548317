"""Single-label classification: Dawid–Skene EM (default), or plain majority vote.

Model
    Every object has one true class *k* (class priors ``p_k``); every worker
    answers class *l* with probability ``π_w[k][l]`` (a confusion matrix per
    worker). EM alternates between the posterior class of every object of the
    batch (E-step) and the class priors and matrices (M-step).

Priors (light smoothing, and what makes small batches work)
    Each row of a worker's matrix gets Dirichlet pseudo-counts worth
    ``ROW_PRIOR`` answers, centred on a *one-coin* row: the worker's own
    overall accuracy on the diagonal, the rest spread evenly. That accuracy is
    itself shrunk towards the accuracy of the whole crowd (``WORKER_PRIOR``
    answers' worth), so a worker seen a few times is an average worker, and a
    class a worker rarely met borrows from how well the worker does overall.
    Stored skill (``context.skills``: soft confusion counts of earlier batches)
    is added to the counts as pseudo-counts, so a batch of ten objects still
    knows who tends to be wrong. EM starts from a vote weighted by that stored
    skill (a plain majority vote for new workers).

Confidence
    The posterior of the chosen class, with one correction: workers who label
    the same object share its ambiguity (an unclear image misleads all of
    them), so their answers are not independent evidence. The likelihood of
    ``n`` answers is tempered by ``EVIDENCE / (EVIDENCE + n)``, which makes
    evidence saturate (a 12-to-8 split among twenty good workers is not 99.9 %
    certain) and keeps the reported confidence calibrated. The label itself is
    the untempered posterior's choice. One answer only: that answer, confidence 0.

Skill evidence
    ``skill_updates`` holds this batch's soft counts only (the posterior of
    each object spread over ``(true, given)`` for each of its answers), to be
    *added* to the store. Stored counts enter the next batch as a prior and
    are never re-emitted, so nothing is counted twice. Objects answered by a
    single worker say nothing about that worker and are left out.

Speed: answers are coded once as column indices (``worker * K + label``);
each iteration is ``zip``/``sum`` over short per-class lists, with no
per-answer Python objects.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..contract import DAWID_SKENE
from ..model import (
    AnswerError,
    BatchResult,
    ConsolidationContext,
    ObjectAnswers,
    WorkerSkill,
)

METHODS = ("dawid-skene", "majority-vote")
#: Pseudo-answers of each confusion row's prior (centred on the worker's one-coin row).
ROW_PRIOR = 50.0
#: Pseudo-answers pulling a worker's accuracy towards the crowd's.
WORKER_PRIOR = 4.0
#: Crowd accuracy assumed before any answer is seen, and its weight in answers.
CROWD_ACCURACY = 0.7
CROWD_PRIOR = 10.0
#: Weight (in objects) of class frequencies learned by earlier batches.
CLASS_PRIOR_MEMORY = 20.0
#: Answers to one object count as at most about this many independent ones (confidence only).
EVIDENCE = 3.0
#: Pseudo-counts per wrong class when learning how the crowd's errors spread (large: uniform).
SPREAD_PRIOR = 1.0
_MAX_ITERATIONS = DAWID_SKENE.option("maxIterations")
DEFAULT_MAX_ITERATIONS = int(_MAX_ITERATIONS.default)
TOLERANCE = 1e-5


def _label_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        if "label" in value:
            return value["label"]
        labels = value.get("labels")
        if isinstance(labels, list) and len(labels) == 1:
            return labels[0]
        keys = ", ".join(sorted(map(str, value))[:5]) or "none"
        raise AnswerError(f"classification answer has no 'label' (keys: {keys})")
    return value


class Classification:
    """``CONSOLIDATOR`` for the methods ``dawid-skene`` and ``majority-vote``."""

    def parse_answer(self, value: Any, labels: Sequence[str]) -> int | str:
        """The class index of a crowd-classifier answer.

        Accepted: ``{"label": name}`` (crowd-classifier, crowd-image-classifier),
        a bare label name, or a class index. With no label categories
        (``labels`` empty) the name itself is kept.
        """
        label = _label_value(value)
        if isinstance(label, bool) or not isinstance(label, str | int):
            raise AnswerError(
                f"classification answer is a {type(label).__name__}; "
                "expected {'label': <name>}, a label name or a class index"
            )
        if isinstance(label, int):
            if 0 <= label < len(labels):
                return label
            if not labels:
                raise AnswerError("a class index needs label categories; none were given")
            raise AnswerError(f"class index {label} is outside 0–{len(labels) - 1}")
        if not labels:
            return label
        try:
            return list(labels).index(label)
        except ValueError:
            shown = ", ".join(repr(name) for name in list(labels)[:20])
            more = f" (and {len(labels) - 20} more)" if len(labels) > 20 else ""
            raise AnswerError(f"label {label[:60]!r} is not one of: {shown}{more}") from None

    def consolidate(
        self, objects: Sequence[ObjectAnswers], context: ConsolidationContext
    ) -> BatchResult:
        method = str(context.options.get("method", "dawid-skene"))
        if method not in METHODS:
            raise ValueError(
                f"unknown classification method {method!r}; allowed: {', '.join(METHODS)}"
            )
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
        if method == "majority-vote":
            chosen = [_vote(answers, k) for answers in coded]
            confidences = [shares[best] for best, shares in ((_argmax(v), v) for v in chosen)]
            posteriors = chosen
        else:
            stored = [context.skills.get(w) for w in workers]
            fit = dawid_skene(
                coded,
                len(workers),
                k,
                stored=stored,
                max_iterations=int(_MAX_ITERATIONS.read(context.options)),
            )
            posteriors = fit.posteriors
            confidences = [
                confidence[_argmax(posterior)]
                for posterior, confidence in zip(fit.posteriors, fit.confidences, strict=True)
            ]
        result = BatchResult()
        for item, answers, posterior, confidence in zip(
            answered, coded, posteriors, confidences, strict=True
        ):
            # One answer: no consensus to find, the label is that answer (confidence 0).
            best = answers[0][1] if len(answers) == 1 else _argmax(posterior)
            result.labels[item.dataset_object_id] = {
                "class-id": best,
                "class-name": labels[best] if labels else str(best),
                "confidence": round(confidence, 4) if len(answers) > 1 else 0.0,
                "workers": len(answers),
                "method": method,
            }
        result.skill_updates = _evidence(coded, posteriors, workers, k)
        return result


def _argmax(values: Sequence[float]) -> int:
    best = 0
    for i in range(1, len(values)):
        if values[i] > values[best]:
            best = i
    return best


def _vote(answers: Sequence[tuple[int, int]], k: int) -> list[float]:
    counts = [0.0] * k
    for _, label in answers:
        counts[label] += 1.0
    total = sum(counts) or 1.0
    return [c / total for c in counts]


def _softmax(scores: Sequence[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


class DawidSkeneFit:
    """Posteriors (for the label and the skill), tempered posteriors (confidence), iterations."""

    __slots__ = ("confidences", "iterations", "posteriors")

    def __init__(
        self, posteriors: list[list[float]], confidences: list[list[float]], iterations: int
    ) -> None:
        self.posteriors = posteriors
        self.confidences = confidences
        self.iterations = iterations


def _stored_counts(
    stored: Sequence[WorkerSkill | None], n_workers: int, k: int
) -> list[list[list[float]]]:
    counts = []
    for w in range(n_workers):
        matrix = [[0.0] * k for _ in range(k)]
        skill = stored[w] if w < len(stored) else None
        if skill is not None:
            for (truth, given), count in skill.confusion.items():
                if 0 <= truth < k and 0 <= given < k and count > 0:
                    matrix[truth][given] += count
        counts.append(matrix)
    return counts


def _log_columns(counts: list[list[list[float]]], k: int) -> list[list[float]]:
    """Per column ``w * k + given``: log π_w[truth][given] for every truth.

    ``counts`` already include the stored skill; the hierarchical prior
    (row → worker's one-coin accuracy → crowd accuracy) is added here.
    """
    diagonal = 0.0
    total = 0.0
    per_worker = []
    for matrix in counts:
        d = sum(matrix[t][t] for t in range(k))
        s = sum(map(sum, matrix))
        per_worker.append((d, s))
        diagonal += d
        total += s
    crowd = (diagonal + CROWD_PRIOR * CROWD_ACCURACY) / (total + CROWD_PRIOR)
    # How the crowd's errors spread over the wrong classes, per true class.
    spread = []
    for truth in range(k):
        wrong = [
            0.0 if g == truth else sum(m[truth][g] for m in counts) + SPREAD_PRIOR for g in range(k)
        ]
        total_wrong = sum(wrong) or 1.0
        spread.append([x / total_wrong for x in wrong])
    columns: list[list[float]] = []
    for matrix, (d, s) in zip(counts, per_worker, strict=True):
        accuracy = (d + WORKER_PRIOR * crowd) / (s + WORKER_PRIOR)
        if k == 1:
            columns.append([0.0])
            continue
        on = ROW_PRIOR * accuracy
        off = ROW_PRIOR * (1.0 - accuracy)
        logs = []
        for truth, row in enumerate(matrix):
            norm = math.log(sum(row) + ROW_PRIOR)
            shares = spread[truth]
            logs.append(
                [
                    math.log(c + (on if g == truth else off * shares[g])) - norm
                    for g, c in enumerate(row)
                ]
            )
        for given in range(k):
            columns.append([logs[truth][given] for truth in range(k)])
    return columns


def dawid_skene(
    coded: list[list[tuple[int, int]]],
    n_workers: int,
    k: int,
    *,
    stored: Sequence[WorkerSkill | None] = (),
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
    tolerance: float = TOLERANCE,
) -> DawidSkeneFit:
    """Dawid–Skene EM over a batch; answers coded as ``(worker, class)`` pairs per object."""
    base = _stored_counts(stored, n_workers, k)
    stored_classes = [
        sum(base[w][t][g] for w in range(n_workers) for g in range(k)) for t in range(k)
    ]
    stored_total = sum(stored_classes)
    class_memory = (
        [CLASS_PRIOR_MEMORY * c / stored_total for c in stored_classes]
        if stored_total > 0
        else [0.0] * k
    )
    keys = [[w * k + label for w, label in answers] for answers in coded]
    groups: dict[int, list[int]] = {}
    for obj, answer_keys in enumerate(keys):
        for key in answer_keys:
            groups.setdefault(key, []).append(obj)

    # Start: a vote weighted by stored skill (plain majority for unknown workers).
    columns = _log_columns(base, k)
    if stored_total > 0:
        flat = [0.0] * k
        posteriors = [
            _softmax([sum(x) for x in zip(flat, *(columns[j] for j in ks))]) for ks in keys
        ]
    else:
        posteriors = [_vote(answers, k) for answers in coded]
    iterations = 0
    log_prior = [0.0] * k
    n = len(posteriors)
    for iterations in range(1, max_iterations + 1):  # noqa: B007 (reported)
        # M-step: class priors and confusion counts from the current posteriors.
        totals = [sum(column) for column in zip(*posteriors)] if posteriors else [0.0] * k
        denominator = n + k + sum(class_memory)
        log_prior = [
            math.log((t + 1.0 + m) / denominator) for t, m in zip(totals, class_memory, strict=True)
        ]
        counts = [[row[:] for row in matrix] for matrix in base]
        for key, objs in groups.items():
            w, given = divmod(key, k)
            matrix = counts[w]
            if len(objs) == 1:
                sums = posteriors[objs[0]]
            else:
                sums = [sum(column) for column in zip(*(posteriors[o] for o in objs))]
            for truth in range(k):
                matrix[truth][given] += sums[truth]
        columns = _log_columns(counts, k)
        # E-step.
        updated = [
            _softmax([sum(x) for x in zip(log_prior, *(columns[j] for j in ks))]) for ks in keys
        ]
        change = 0.0
        for new, old in zip(updated, posteriors, strict=True):
            for a, b in zip(new, old, strict=True):
                if abs(a - b) > change:
                    change = abs(a - b)
        posteriors = updated
        if change < tolerance:
            break
    confidences = []
    for ks in keys:
        likelihood = [sum(x) for x in zip(*(columns[j] for j in ks))] if ks else [0.0] * k
        weight = EVIDENCE / (EVIDENCE + len(ks))
        confidences.append(
            _softmax([p + weight * x for p, x in zip(log_prior, likelihood, strict=True)])
        )
    return DawidSkeneFit(posteriors, confidences, iterations)


def _evidence(
    coded: list[list[tuple[int, int]]],
    posteriors: list[list[float]],
    workers: list[str],
    k: int,
) -> dict[str, WorkerSkill]:
    """This batch's soft confusion counts per worker (to be added to the stored skill)."""
    updates: dict[str, WorkerSkill] = {}
    for answers, posterior in zip(coded, posteriors, strict=True):
        if len(answers) < 2:
            continue  # a lone answer says nothing about its worker
        for w, given in answers:
            skill = updates.get(workers[w])
            if skill is None:
                skill = updates[workers[w]] = WorkerSkill(workers[w])
            confusion = skill.confusion
            for truth in range(k):
                p = posterior[truth]
                if p > 1e-4:
                    key = (truth, given)
                    confusion[key] = confusion.get(key, 0.0) + p
            skill.agreements += posterior[given]
            skill.scored += 1.0
    return updates


CONSOLIDATOR = Classification()
