"""Free text: the answer closest to all the others (the weighted medoid).

Answers are compared after normalisation (Unicode NFKC, case folded,
punctuation and symbols turned into spaces, runs of whitespace collapsed), so
"The cat." and "the cat" are the same answer. Two answers' similarity is
``difflib.SequenceMatcher``'s ratio over their characters (1 for equal
texts); when either is longer than ``CHARACTER_LIMIT`` characters the ratio
is taken over their words instead, which keeps long transcriptions fast.

Each answer scores the skill-weighted sum of its similarity to every answer
(itself included, so a reliable worker's answer counts for more); the highest
score wins (ties: the more reliable worker, then the text that sorts first).
The label is that worker's text as typed. Its confidence is the weighted mean
similarity of the *other* answers to it, 0 when only one worker answered.

Skill evidence: every worker is scored once per text; the agreement is the
worker's similarity to the chosen answer (for the chosen worker, the
confidence: how much the others agreed with it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from ..model import AnswerError, BatchResult, ConsolidationContext, ObjectAnswers, WorkerSkill
from .common import worker_weights

#: Longer texts are compared word by word rather than character by character.
CHARACTER_LIMIT = 2000
#: An answer longer than this is rejected (Ground Truth caps a whole answer far below).
MAX_CHARACTERS = 200_000
_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class TextAnswer:
    """One worker's text, as typed and normalised for comparison."""

    text: str
    normalised: str


def normalise(text: str) -> str:
    """Case, width, punctuation and whitespace differences removed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _NOT_WORD.sub(" ", folded).strip()


def similarity(a: str, b: str) -> float:
    """Similarity of two normalised texts in [0, 1] (1: equal)."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    if len(a) > CHARACTER_LIMIT or len(b) > CHARACTER_LIMIT:
        return SequenceMatcher(None, a.split(), b.split(), autojunk=False).ratio()
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


class FreeText:
    """``CONSOLIDATOR`` for the method ``free-text``."""

    def parse_answer(self, value: Any, labels: Sequence[str]) -> TextAnswer:
        """A crowd-text-area / crowd-input value: a string, or an object holding one string."""
        if isinstance(value, Mapping):
            if len(value) != 1:
                keys = ", ".join(sorted(map(str, value))[:5]) or "none"
                raise AnswerError(
                    f"free-text answer is an object with {len(value)} keys ({keys});"
                    " expected a string or an object holding exactly one string"
                )
            (value,) = value.values()
        if not isinstance(value, str):
            kind = "null" if value is None else type(value).__name__
            raise AnswerError(f"free-text answer is a {kind}, expected a string")
        if len(value) > MAX_CHARACTERS:
            raise AnswerError(
                f"free-text answer has {len(value)} characters; at most {MAX_CHARACTERS} allowed"
            )
        return TextAnswer(value, normalise(value))

    def consolidate(
        self, objects: Sequence[ObjectAnswers], context: ConsolidationContext
    ) -> BatchResult:
        weights, default_weight = worker_weights(context.skills)
        result = BatchResult()
        updates = result.skill_updates
        for item in objects:
            if not item.answers:
                continue
            answers = sorted(item.answers, key=lambda a: (a.worker_id, a.value.text))
            chosen, confidence, agreements = _medoid(
                [a.value.normalised for a in answers],
                [weights.get(a.worker_id, default_weight) for a in answers],
            )
            result.labels[item.dataset_object_id] = {
                "text": answers[chosen].value.text,
                "confidence": round(confidence, 4),
                "workers": len(answers),
            }
            if len(answers) > 1:
                for answer, agreed in zip(answers, agreements):
                    skill = updates.get(answer.worker_id)
                    if skill is None:
                        skill = updates[answer.worker_id] = WorkerSkill(answer.worker_id)
                    skill.agreements += agreed
                    skill.scored += 1.0
        return result


def _medoid(texts: Sequence[str], weights: Sequence[float]) -> tuple[int, float, list[float]]:
    """(index of the chosen text, confidence, agreement of every answer with it)."""
    n = len(texts)
    if n == 1:
        return 0, 0.0, [1.0]
    matrix = [[1.0] * n for _ in range(n)]
    cache: dict[tuple[str, str], float] = {}
    for i in range(n):
        for j in range(i + 1, n):
            a, b = texts[i], texts[j]
            key = (a, b) if a <= b else (b, a)
            value = cache.get(key)
            if value is None:
                value = cache[key] = similarity(a, b)
            matrix[i][j] = matrix[j][i] = value
    scores = [sum(w * s for w, s in zip(weights, row)) for row in matrix]
    chosen = min(range(n), key=lambda i: (-round(scores[i], 12), -weights[i], texts[i], i))
    row = matrix[chosen]
    others = sum(weights) - weights[chosen]
    confidence = (scores[chosen] - weights[chosen]) / others if others > 0 else 0.0
    agreements = list(row)
    agreements[chosen] = confidence
    return chosen, min(max(confidence, 0.0), 1.0), agreements


CONSOLIDATOR = FreeText()
