"""Multi-label classification: one binary model per label, worker sensitivity and specificity.

Every label *j* of every object is present or absent (prevalence ``p_j``). A
worker who answered an object says "present" for the labels they selected and
"absent" for all others. Worker *w* finds a present label with probability
``se_wj`` (sensitivity) and leaves an absent one out with probability
``sp_wj`` (specificity). EM alternates between the posterior of every label
of every object and the prevalences and worker rates, as Dawid–Skene does for
a single label.

Priors: a worker's per-label rates are shrunk towards the worker's rates over
all labels, and those towards the crowd's, so a worker seen a few times, or a
label a worker rarely met, borrows strength; stored skill adds its counts.

Stored skill (the ``WorkerSkill`` shape): the confusion keys are
``(2 * label_index + truth, given)`` with ``truth`` and ``given`` in {0, 1}:
the soft counts of label *label_index* being truly absent/present and the
worker answering absent/present. ``agreements`` / ``scored`` count label
decisions that agreed with the consensus, out of all decisions.

Output: the labels whose posterior exceeds 0.5 (``class-ids``), their names,
a confidence per chosen label, and an overall ``confidence``: the mean over
the chosen labels (with none chosen, the mean confidence that each label is
absent). As for single labels, the confidence tempers the likelihood of ``n``
answers by ``EVIDENCE / (EVIDENCE + n)``, because workers share an object's
ambiguity; one answer only gives confidence 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..contract import MULTI_LABEL
from ..model import (
    AnswerError,
    BatchResult,
    ConsolidationContext,
    ObjectAnswers,
    WorkerSkill,
)

#: Pseudo-decisions pulling a worker's per-label rates towards the worker's overall rates.
LABEL_PRIOR = 20.0
#: Pseudo-decisions pulling a worker's overall rates towards the crowd's.
WORKER_PRIOR = 4.0
#: Crowd rates assumed before any answer (sensitivity, specificity) and their weight.
CROWD_SENSITIVITY = 0.7
CROWD_SPECIFICITY = 0.9
CROWD_PRIOR = 10.0
#: Answers to one object count as at most about this many independent ones (confidence only).
EVIDENCE = 3.0
_MAX_ITERATIONS = MULTI_LABEL.option("maxIterations")
DEFAULT_MAX_ITERATIONS = int(_MAX_ITERATIONS.default)
TOLERANCE = 1e-5


class MultiLabel:
    """``CONSOLIDATOR`` for the method ``multi-label``."""

    def parse_answer(self, value: Any, labels: Sequence[str]) -> tuple[Any, ...]:
        """The selected labels of a multi-select answer, as sorted unique class indices.

        Accepted: ``{"labels": [...]}`` (crowd-classifier-multi-select,
        crowd-image-classifier-multi-select), or the bare list; items are
        label names or class indices. An empty list means "none applies".
        With no label categories the names themselves are kept.
        """
        if isinstance(value, Mapping):
            if "labels" not in value:
                keys = ", ".join(sorted(map(str, value))[:5]) or "none"
                raise AnswerError(f"multi-label answer has no 'labels' (keys: {keys})")
            value = value["labels"]
        if not isinstance(value, list):
            raise AnswerError(
                f"multi-label answer is a {type(value).__name__}; "
                "expected {'labels': [<name>, ...]} or a list of label names"
            )
        names = list(labels)
        positions = {name: i for i, name in enumerate(names)}
        chosen: set[Any] = set()
        for item in value:
            if isinstance(item, bool) or not isinstance(item, str | int):
                raise AnswerError(f"a selected label is a {type(item).__name__}, not a label name")
            if isinstance(item, int):
                if not 0 <= item < len(names):
                    raise AnswerError(
                        f"class index {item} is outside 0–{len(names) - 1}"
                        if names
                        else "a class index needs label categories; none were given"
                    )
                chosen.add(item)
            elif not names:
                chosen.add(item)
            elif item in positions:
                chosen.add(positions[item])
            else:
                shown = ", ".join(repr(n) for n in names[:20])
                raise AnswerError(f"label {item[:60]!r} is not one of: {shown}")
        return tuple(sorted(chosen, key=lambda x: (isinstance(x, str), x)))

    def consolidate(
        self, objects: Sequence[ObjectAnswers], context: ConsolidationContext
    ) -> BatchResult:
        labels = list(context.labels)
        extra = sorted(
            {x for o in objects for a in o.answers for x in a.value if isinstance(x, str)}
        )
        labels += [name for name in extra if name not in labels]
        index = {name: i for i, name in enumerate(labels)}
        answered = [o for o in objects if o.answers]
        workers = sorted({a.worker_id for o in answered for a in o.answers})
        worker_index = {w: i for i, w in enumerate(workers)}
        coded = [
            [
                (
                    worker_index[a.worker_id],
                    frozenset(x if isinstance(x, int) else index[x] for x in a.value),
                )
                for a in o.answers
            ]
            for o in answered
        ]
        k = len(labels)
        stored = [context.skills.get(w) for w in workers]
        posteriors, confidences = binary_em(
            coded,
            len(workers),
            k,
            stored=stored,
            max_iterations=int(_MAX_ITERATIONS.read(context.options)),
        )
        result = BatchResult()
        for item, answers, posterior, confidence in zip(
            answered, coded, posteriors, confidences, strict=True
        ):
            several = len(answers) > 1
            chosen = [j for j in range(k) if posterior[j] > 0.5]
            confidence_map = {str(j): round(confidence[j], 4) if several else 0.0 for j in chosen}
            if not several:
                overall = 0.0
            elif chosen:
                overall = sum(confidence[j] for j in chosen) / len(chosen)
            else:
                overall = sum(1.0 - c for c in confidence) / k if k else 0.0
            result.labels[item.dataset_object_id] = {
                "class-ids": chosen,
                "class-map": {str(j): labels[j] for j in chosen},
                "confidence-map": confidence_map,
                "confidence": round(overall, 4),
                "workers": len(answers),
            }
        result.skill_updates = _evidence(coded, posteriors, workers, k)
        return result


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _rates(counts: list[list[list[float]]], k: int) -> tuple[list[list[float]], list[list[float]]]:
    """Log-likelihood ratios per worker and label: (for "present" answers, for "absent" answers).

    ``counts[w][j]`` = [n00, n01, n10, n11] (truth, given) soft counts.
    """
    crowd = [0.0, 0.0, 0.0, 0.0]
    pooled = []
    for worker in counts:
        sums = [sum(c[i] for c in worker) for i in range(4)]
        pooled.append(sums)
        for i in range(4):
            crowd[i] += sums[i]
    crowd_se = (crowd[3] + CROWD_PRIOR * CROWD_SENSITIVITY) / (crowd[2] + crowd[3] + CROWD_PRIOR)
    crowd_sp = (crowd[0] + CROWD_PRIOR * CROWD_SPECIFICITY) / (crowd[0] + crowd[1] + CROWD_PRIOR)
    present: list[list[float]] = []
    absent: list[list[float]] = []
    for worker, sums in zip(counts, pooled, strict=True):
        se_w = (sums[3] + WORKER_PRIOR * crowd_se) / (sums[2] + sums[3] + WORKER_PRIOR)
        sp_w = (sums[0] + WORKER_PRIOR * crowd_sp) / (sums[0] + sums[1] + WORKER_PRIOR)
        yes = []
        no = []
        for n00, n01, n10, n11 in worker:
            se = (n11 + LABEL_PRIOR * se_w) / (n10 + n11 + LABEL_PRIOR)
            sp = (n00 + LABEL_PRIOR * sp_w) / (n00 + n01 + LABEL_PRIOR)
            yes.append(math.log(se / (1.0 - sp)))
            no.append(math.log((1.0 - se) / sp))
        present.append(yes)
        absent.append(no)
    return present, absent


def binary_em(
    coded: list[list[tuple[int, frozenset[int]]]],
    n_workers: int,
    k: int,
    *,
    stored: Sequence[WorkerSkill | None] = (),
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
    tolerance: float = TOLERANCE,
) -> tuple[list[list[float]], list[list[float]]]:
    """(posterior that each label is present, tempered posterior) per object."""
    base = [[[0.0] * 4 for _ in range(k)] for _ in range(n_workers)]
    for w in range(n_workers):
        skill = stored[w] if w < len(stored) else None
        if skill is None:
            continue
        for (slot, given), count in skill.confusion.items():
            label, truth = divmod(slot, 2)
            if 0 <= label < k and given in (0, 1) and count > 0:
                base[w][label][2 * truth + given] += count
    stored_prevalence = [
        (
            sum(base[w][j][2] + base[w][j][3] for w in range(n_workers)),
            sum(map(sum, (base[w][j] for w in range(n_workers)))),
        )
        for j in range(k)
    ]
    # Start from the share of workers who selected each label.
    posteriors = [
        [sum(1.0 for _, chosen in answers if j in chosen) / len(answers) for j in range(k)]
        for answers in coded
    ]
    n = len(coded)
    log_prior = [0.0] * k
    present: list[list[float]] = [[0.0] * k for _ in range(n_workers)]
    absent: list[list[float]] = [[0.0] * k for _ in range(n_workers)]
    for _ in range(max_iterations):
        # M-step.
        log_prior = []
        for j in range(k):
            total = sum(q[j] for q in posteriors)
            seen_present, seen_all = stored_prevalence[j]
            memory = 20.0 * seen_present / seen_all if seen_all else 0.0
            weight = 20.0 if seen_all else 0.0
            p = (total + 1.0 + memory) / (n + 2.0 + weight)
            log_prior.append(_logit(min(max(p, 1e-6), 1 - 1e-6)))
        counts = [[row[:] for row in worker] for worker in base]
        for answers, q in zip(coded, posteriors, strict=True):
            for w, chosen in answers:
                rows = counts[w]
                for j in range(k):
                    row = rows[j]
                    if j in chosen:
                        row[1] += 1.0 - q[j]
                        row[3] += q[j]
                    else:
                        row[0] += 1.0 - q[j]
                        row[2] += q[j]
        present, absent = _rates(counts, k)
        # E-step.
        change = 0.0
        updated = []
        for answers, old in zip(coded, posteriors, strict=True):
            scores = log_prior[:]
            for w, chosen in answers:
                yes = present[w]
                no = absent[w]
                for j in range(k):
                    scores[j] += yes[j] if j in chosen else no[j]
            q = [_sigmoid(s) for s in scores]
            for a, b in zip(q, old, strict=True):
                if abs(a - b) > change:
                    change = abs(a - b)
            updated.append(q)
        posteriors = updated
        if change < tolerance:
            break
    confidences = []
    for answers in coded:
        weight = EVIDENCE / (EVIDENCE + len(answers))
        scores = [0.0] * k
        for w, chosen in answers:
            for j in range(k):
                scores[j] += present[w][j] if j in chosen else absent[w][j]
        confidences.append([_sigmoid(log_prior[j] + weight * scores[j]) for j in range(k)])
    return posteriors, confidences


def _evidence(
    coded: list[list[tuple[int, frozenset[int]]]],
    posteriors: list[list[float]],
    workers: list[str],
    k: int,
) -> dict[str, WorkerSkill]:
    """This batch's soft counts per worker, keyed ``(2 * label + truth, given)``."""
    updates: dict[str, WorkerSkill] = {}
    for answers, q in zip(coded, posteriors, strict=True):
        if len(answers) < 2:
            continue  # a lone answer says nothing about its worker
        for w, chosen in answers:
            skill = updates.get(workers[w])
            if skill is None:
                skill = updates[workers[w]] = WorkerSkill(workers[w])
            confusion = skill.confusion
            for j in range(k):
                given = 1 if j in chosen else 0
                for truth, p in ((0, 1.0 - q[j]), (1, q[j])):
                    if p > 1e-4:
                        key = (2 * j + truth, given)
                        confusion[key] = confusion.get(key, 0.0) + p
                skill.agreements += q[j] if given else 1.0 - q[j]
                skill.scored += 1.0
    return updates


CONSOLIDATOR = MultiLabel()
