"""Named entities: cluster spans by Jaccard overlap, boundaries from the mode, label by vote.

For every text, each worker's spans (character ranges ``[startOffset,
endOffset)``) are compared with the other workers' spans; pairs whose Jaccard
index (shared characters over characters covered by either) is at least
``jaccardThreshold`` (default 0.5) are merged greedily, best first, into
clusters with at most one span per worker and every two spans overlapping by
the threshold (the matching of ``boxes.cluster_pairs``). Labels do not take part
in the matching: workers who agree on a span but not on its type are one
cluster, and its label is the weighted vote of its members.

A cluster is kept when the workers who marked it carry more than half the
weight of all the workers who answered (weights: ``WorkerSkill.reliability()``).
Its start is the mode of the members' starts: the most frequent value given by
at least two workers, ties broken by the summed weight; with no such mode, the
weighted median. The end likewise. The label is the weighted vote (ties: the
label listed first). An entity's confidence is the weight share of the workers
who gave the winning label times the weighted mean Jaccard index of the
members' spans with the consensus span; the text's confidence is the mean over
all clusters of the confidence of the decision taken (``1 - share`` for a
dropped cluster), 1 when nobody marked anything, 0 when only one worker answered.

Skill evidence: spans in kept clusters that carry the winning label are
agreements; spans marked plus kept clusters missed are scored; marking nothing
where the consensus is empty is one agreement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..contract import NAMED_ENTITY
from ..model import AnswerError, BatchResult, ConsolidationContext, ObjectAnswers, WorkerSkill
from .boxes import match_clusters
from .common import paused_gc, worker_weights

_JACCARD_THRESHOLD = NAMED_ENTITY.option("jaccardThreshold")
DEFAULT_JACCARD_THRESHOLD = _JACCARD_THRESHOLD.default
#: An answer with more entities than this is rejected.
MAX_ENTITIES = 5000


class Span(NamedTuple):
    """One entity: a label over the characters ``start`` to ``end`` (exclusive)."""

    label: str
    start: int
    end: int


@dataclass(frozen=True)
class EntityAnswer:
    """One worker's entities."""

    spans: tuple[Span, ...]


def _describe(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _offset(index: int, key: str, value: Any) -> int:
    if type(value) is not int:
        raise AnswerError(
            f"entity {index} {key} is a {_describe(value)}, expected a character offset (integer)"
        )
    if value < 0:
        raise AnswerError(f"entity {index} {key} is {value}, expected 0 or more")
    return value


class NamedEntities:
    """``CONSOLIDATOR`` for the method ``named-entity``."""

    def parse_answer(self, value: Any, labels: Sequence[str]) -> EntityAnswer:
        """A crowd-entity-annotation value: ``{"entities": [{"label", "startOffset", "endOffset"}]}``.

        Offsets are integers with ``0 <= startOffset < endOffset``; a label
        must be one of ``labels`` (any name when the job has no label categories).
        """
        if isinstance(value, Mapping) and "entities" not in value and len(value) == 1:
            (inner,) = value.values()
            if isinstance(inner, Mapping) and "entities" in inner:
                value = inner
        if not isinstance(value, Mapping):
            raise AnswerError(
                f"named-entity answer is a {_describe(value)}, expected an object with 'entities'"
            )
        raw_entities = value.get("entities")
        if not isinstance(raw_entities, list):
            raise AnswerError(
                f"named-entity answer has no 'entities' list (got {_describe(raw_entities)})"
            )
        if len(raw_entities) > MAX_ENTITIES:
            raise AnswerError(
                f"{len(raw_entities)} entities in one answer; at most {MAX_ENTITIES} allowed"
            )
        known = set(labels)
        spans = []
        for index, raw in enumerate(raw_entities):
            if not isinstance(raw, Mapping):
                raise AnswerError(f"entity {index} is a {_describe(raw)}, expected an object")
            for key in ("label", "startOffset", "endOffset"):
                if key not in raw:
                    raise AnswerError(
                        f"entity {index} has no {key!r} (expected label, startOffset, endOffset)"
                    )
            label = raw["label"]
            if type(label) is int and 0 <= label < len(labels):
                label = labels[label]
            if not isinstance(label, str):
                raise AnswerError(
                    f"entity {index} label is a {_describe(label)}, expected a label name"
                )
            if known and label not in known:
                shown = ", ".join(list(labels)[:10])
                raise AnswerError(f"entity {index} label {label[:60]!r} is not one of: {shown}")
            start = _offset(index, "startOffset", raw["startOffset"])
            end = _offset(index, "endOffset", raw["endOffset"])
            if end <= start:
                raise AnswerError(
                    f"entity {index} ends at {end}, not after its start {start}"
                    " (endOffset must be greater than startOffset)"
                )
            spans.append(Span(label, start, end))
        return EntityAnswer(tuple(spans))

    def consolidate(
        self, objects: Sequence[ObjectAnswers], context: ConsolidationContext
    ) -> BatchResult:
        threshold = jaccard_threshold(context.options)
        labels = list(context.labels)
        seen = {span.label for o in objects for a in o.answers for span in a.value.spans}
        labels += sorted(seen.difference(labels))
        rank = {name: i for i, name in enumerate(labels)}
        label_list = [{"label": name} for name in labels]
        weights, default_weight = worker_weights(context.skills)
        result = BatchResult()
        updates = result.skill_updates
        with paused_gc():
            for item in objects:
                if not item.answers:
                    continue
                answers = sorted(item.answers, key=lambda a: (a.worker_id, a.value.spans))
                entities, confidence, evidence = _consolidate_text(
                    [a.value.spans for a in answers],
                    [weights.get(a.worker_id, default_weight) for a in answers],
                    threshold,
                    rank,
                )
                result.labels[item.dataset_object_id] = {
                    "annotations": {"labels": label_list, "entities": entities},
                    "confidence": round(confidence, 4),
                    "workers": len(answers),
                }
                if len(answers) > 1:
                    for answer, (agreed, scored) in zip(answers, evidence):
                        skill = updates.get(answer.worker_id)
                        if skill is None:
                            skill = updates[answer.worker_id] = WorkerSkill(answer.worker_id)
                        skill.agreements += agreed
                        skill.scored += scored
        return result


def jaccard_threshold(options: Mapping[str, Any]) -> float:
    """The ``jaccardThreshold`` option (also accepted as ``jaccard_threshold``), in (0, 1]."""
    return float(_JACCARD_THRESHOLD.read(options))


def mode_or_median(values: Sequence[tuple[int, float]]) -> int:
    """The mode of weighted values, or their weighted median when there is none.

    The mode is the value given most often, by at least two members; between
    equally frequent values the larger summed weight wins, and a tie in both
    means there is no mode. The median is the smallest value at which the
    cumulative weight reaches half the total.
    """
    counts: dict[int, list[float]] = {}
    for value, weight in values:
        entry = counts.get(value)
        if entry is None:
            counts[value] = [1, weight]
        else:
            entry[0] += 1
            entry[1] += weight
    ranked = sorted(counts.items(), key=lambda item: (-item[1][0], -item[1][1]))
    best_count, best_weight = ranked[0][1]
    if best_count >= 2 and (
        len(ranked) == 1
        or ranked[1][1][0] < best_count
        or ranked[1][1][1] < best_weight * (1 - 1e-9)
    ):
        return ranked[0][0]
    ordered = sorted(values)
    half = sum(weight for _, weight in ordered) / 2
    cumulative = 0.0
    for value, weight in ordered:
        cumulative += weight
        if cumulative >= half * (1 - 1e-9):
            return value
    return ordered[-1][0]


def _jaccard(s1: int, e1: int, s2: int, e2: int) -> float:
    inter = min(e1, e2) - max(s1, s2)
    if inter <= 0:
        return 0.0
    return inter / ((e1 - s1) + (e2 - s2) - inter)


def _consolidate_text(
    answers: Sequence[tuple[Span, ...]],
    weights: Sequence[float],
    threshold: float,
    rank: Mapping[str, int],
) -> tuple[list[dict[str, Any]], float, list[tuple[float, float]]]:
    """Entities, confidence and (agreements, scored) per answer, for one text."""
    n_answers = len(answers)
    total = sum(weights)
    majority = 0.5 * total * (1 + 1e-9)
    items = sorted(
        (span.start, span.end, owner, span.label)
        for owner, spans in enumerate(answers)
        for span in spans
    )
    n = len(items)
    edges: list[tuple[float, int, int]] = []
    adjacent = [0] * n
    for i in range(n - 1):
        s1, e1, o1, _ = items[i]
        length = e1 - s1
        # Jaccard >= t needs t * length shared characters (a hair of slack for rounding).
        reach = e1 - threshold * length * (1 - 1e-9)
        for j in range(i + 1, n):
            s2, e2, o2, _ = items[j]
            if s2 > reach:
                break
            if o1 == o2:
                continue
            inter = (e1 if e1 < e2 else e2) - s2
            if inter <= 0:
                continue
            similarity = inter / (length + (e2 - s2) - inter)
            if similarity >= threshold:
                edges.append((similarity, i, j))
                adjacent[i] |= 1 << j
                adjacent[j] |= 1 << i
    matched = [0] * n_answers  # spans in kept clusters, with the winning label
    present = [0] * n_answers  # kept clusters with a span of the worker
    decisions: list[float] = []
    entities: list[dict[str, Any]] = []
    for group in match_clusters(n, [item[2] for item in items], edges, adjacent):
        support = sum(weights[items[k][2]] for k in group)
        if support <= majority:
            decisions.append(1.0 - support / total)
            continue
        members = [items[k] for k in group]
        start = mode_or_median([(s, weights[o]) for s, _, o, _ in members])
        end = mode_or_median([(e, weights[o]) for _, e, o, _ in members])
        if end <= start:  # modes from different spans that do not fit together
            best = min(members, key=lambda m: (-weights[m[2]], m[0], m[1]))
            start, end = best[0], best[1]
        votes: dict[str, float] = {}
        for _, _, owner, name in members:
            votes[name] = votes.get(name, 0.0) + weights[owner]
        label = min(votes, key=lambda name: (-votes[name], rank.get(name, len(rank)), name))
        overlap = sum(weights[o] * _jaccard(s, e, start, end) for s, e, o, _ in members)
        agreeing = votes[label]
        for _, _, owner, name in members:
            present[owner] += 1
            if name == label:
                matched[owner] += 1
        confidence = (agreeing / total) * (overlap / support) if n_answers > 1 else 0.0
        decisions.append(confidence)
        entities.append(
            {
                "label": label,
                "startOffset": start,
                "endOffset": end,
                "confidence": round(confidence, 4),
            }
        )
    entities.sort(key=lambda e: (e["startOffset"], e["endOffset"], rank.get(e["label"], 0)))
    if n_answers < 2:
        confidence = 0.0
    elif decisions:
        confidence = sum(decisions) / len(decisions)
    else:
        confidence = 1.0
    kept = len(entities)
    evidence: list[tuple[float, float]] = []
    for owner, spans in enumerate(answers):
        if not spans and not kept:
            evidence.append((1.0, 1.0))
        else:
            missed = kept - present[owner]
            evidence.append((float(matched[owner]), float(len(spans) + missed)))
    return entities, confidence, evidence


CONSOLIDATOR = NamedEntities()
