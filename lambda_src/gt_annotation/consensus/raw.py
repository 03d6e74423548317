"""No consensus: every worker's parsed answer (what the original sample returned)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..model import BatchResult, ConsolidationContext, ObjectAnswers


class RawAnswers:
    def parse_answer(self, value: Any, labels: Sequence[str]) -> Any:
        return value

    def consolidate(
        self, objects: Sequence[ObjectAnswers], context: ConsolidationContext
    ) -> BatchResult:
        # The handler adds annotationsFromAllWorkers to every label.
        result = BatchResult()
        for item in objects:
            result.labels[item.dataset_object_id] = {"workers": len(item.answers)}
        return result


CONSOLIDATOR = RawAnswers()
