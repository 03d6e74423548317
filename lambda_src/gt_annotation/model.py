"""Typed structures shared by the handlers and the consensus algorithms.

Flow of a post-annotation batch::

    event  --parse-->  [ObjectAnswers]  --Consolidator.consolidate-->  BatchResult
                                                                        |
    response <--format-- {datasetObjectId: label JSON}  <---------------+

Every consolidator module in ``consensus/`` exposes one object satisfying the
``Consolidator`` protocol.  ``parse_answer`` turns the worker's element value
(already JSON-decoded) into the module's typed value or raises ``AnswerError``
with a short reason; ``consolidate`` computes the labels of a whole batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class AnswerError(ValueError):
    """A worker answer that cannot be used; the message is the reason (no data)."""


@dataclass(frozen=True)
class WorkerAnswer:
    """One worker's parsed answer to one data object."""

    worker_id: str
    value: Any
    #: The raw element output (parsed JSON), kept for ``all_annotations``.
    raw: Any = None


@dataclass(frozen=True)
class Rejection:
    """A worker answer left out of the consensus, and why (never the data)."""

    dataset_object_id: str
    worker_id: str
    reason: str


@dataclass
class ObjectAnswers:
    """All usable answers for one dataset object of the batch."""

    dataset_object_id: str
    #: ``{"s3Uri": ...}`` for images, ``{"content": ...}`` for text.
    data_object: Mapping[str, Any]
    answers: list[WorkerAnswer] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


@dataclass
class WorkerSkill:
    """What is known about one worker, summed over the job (or label set).

    Classification keeps a confusion matrix of soft counts keyed by
    ``(true_class_index, given_class_index)``; every other task type keeps
    ``agreements`` out of ``scored`` (soft counts of answers that agreed with
    the consensus).  Deltas of a batch have the same shape and are *added*
    to the stored values (atomic ``ADD`` in DynamoDB).
    """

    worker_id: str
    confusion: dict[tuple[int, int], float] = field(default_factory=dict)
    agreements: float = 0.0
    scored: float = 0.0

    def reliability(self, prior_agreements: float = 2.0, prior_scored: float = 3.0) -> float:
        """Posterior mean of the agreement rate (Beta prior, default 2/3)."""
        return (self.agreements + prior_agreements) / (self.scored + prior_scored)

    def is_empty(self) -> bool:
        return not self.confusion and self.scored == 0.0

    def add(self, other: WorkerSkill) -> WorkerSkill:
        confusion = dict(self.confusion)
        for key, value in other.confusion.items():
            confusion[key] = confusion.get(key, 0.0) + value
        return WorkerSkill(
            self.worker_id,
            confusion,
            self.agreements + other.agreements,
            self.scored + other.scored,
        )


#: Writes a PNG for a dataset object and returns its ``s3://`` URI (or a local
#: path in the workbench).  Arguments: dataset object id, PNG bytes.
PngWriter = Callable[[str, bytes], str]


@dataclass
class ConsolidationContext:
    """Everything a consolidator may use besides the answers."""

    task_type: str
    labels: Sequence[str]
    label_attribute_name: str
    #: Method options from the construct (e.g. ``{"method": "dawid-skene"}``).
    options: Mapping[str, Any] = field(default_factory=dict)
    #: Stored skill of the batch's workers (prior); missing = no history.
    skills: Mapping[str, WorkerSkill] = field(default_factory=dict)
    write_png: PngWriter | None = None


@dataclass
class BatchResult:
    """Consolidated labels per dataset object id, plus the batch's skill evidence."""

    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    skill_updates: dict[str, WorkerSkill] = field(default_factory=dict)


class Consolidator(Protocol):
    """What every consensus module exposes (as a module-level ``CONSOLIDATOR``)."""

    def parse_answer(self, value: Any, labels: Sequence[str]) -> Any:
        """Validate and normalise one worker's element value; raise ``AnswerError``."""
        ...

    def consolidate(
        self, objects: Sequence[ObjectAnswers], context: ConsolidationContext
    ) -> BatchResult:
        """Labels for every object with at least one answer, and skill deltas."""
        ...
