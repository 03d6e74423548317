"""No consensus: every worker's parsed answer (what the original sample returned).

The label of each object is ``{"annotationsFromAllWorkers": [...]}`` only; the
handler adds that list (it does so for every method with ``keepAllAnnotations``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..model import BatchResult, ConsolidationContext, ObjectAnswers


class RawAnswers:
    """Accepts any JSON answer as it is; learns nothing about the workers."""

    def parse_answer(self, value: Any, labels: Sequence[str]) -> Any:
        return value

    def consolidate(
        self, objects: Sequence[ObjectAnswers], context: ConsolidationContext
    ) -> BatchResult:
        return BatchResult(labels={item.dataset_object_id: {} for item in objects})


CONSOLIDATOR = RawAnswers()
