"""Consolidation: how several workers' answers become one label.

The post-annotation Lambda reads the choice from its environment
(``GT_CONSOLIDATION``); see ``docs/architecture.md`` for the output formats.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .task_type import TaskType

#: The Crowd HTML elements whose output each method understands.
METHOD_ELEMENTS: dict[str, tuple[str, ...]] = {
    "dawid-skene": ("crowd-image-classifier", "crowd-classifier"),
    "majority-vote": ("crowd-image-classifier", "crowd-classifier"),
    "multi-label": ("crowd-image-classifier-multi-select", "crowd-classifier-multi-select"),
    "bounding-box": ("crowd-bounding-box",),
    "semantic-segmentation": ("crowd-semantic-segmentation",),
    "instance-segmentation": ("crowd-instance-segmentation",),
    "named-entity": ("crowd-entity-annotation",),
    "free-text": ("crowd-text-area", "crowd-input"),
    "all-annotations": (),
}


@dataclass(frozen=True)
class Consolidation:
    """Which consensus the post-annotation function computes.

    Create one with the static factories, e.g. ``Consolidation.dawid_skene()``.
    ``answer_name`` is the ``name`` attribute of the answer element in the
    worker template (the key of the worker's form output); by default it is
    read from the template, which must then hold exactly one matching element.
    ``keep_all_annotations`` adds every worker's parsed answer to the label
    (the original sample's ``annotationsFromAllWorkers``) beside the consensus.
    """

    method: str
    answer_name: str | None = None
    keep_all_annotations: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)

    # -- factories -----------------------------------------------------------------
    @staticmethod
    def dawid_skene(
        *,
        answer_name: str | None = None,
        keep_all_annotations: bool = False,
        max_iterations: int = 50,
    ) -> Consolidation:
        """Single-label classification by Dawid–Skene EM: a confusion matrix per worker,
        seeded from the worker's stored skill. Default for classification."""
        return Consolidation(
            "dawid-skene", answer_name, keep_all_annotations, {"maxIterations": max_iterations}
        )

    @staticmethod
    def majority_vote(
        *, answer_name: str | None = None, keep_all_annotations: bool = False
    ) -> Consolidation:
        """Single-label classification by plain majority (ties: the lowest class index)."""
        return Consolidation("majority-vote", answer_name, keep_all_annotations)

    @staticmethod
    def multi_label(
        *, answer_name: str | None = None, keep_all_annotations: bool = False
    ) -> Consolidation:
        """Multi-label classification: per label, a binary model of each worker's
        sensitivity and specificity."""
        return Consolidation("multi-label", answer_name, keep_all_annotations)

    @staticmethod
    def bounding_boxes(
        *,
        iou_threshold: float = 0.5,
        answer_name: str | None = None,
        keep_all_annotations: bool = False,
    ) -> Consolidation:
        """Boxes matched across workers by IoU, kept when a weighted majority drew them,
        coordinates averaged by worker skill."""
        return Consolidation(
            "bounding-box", answer_name, keep_all_annotations, {"iouThreshold": iou_threshold}
        )

    @staticmethod
    def semantic_segmentation(
        *, answer_name: str | None = None, keep_all_annotations: bool = False
    ) -> Consolidation:
        """Weighted per-pixel vote over the workers' label masks."""
        return Consolidation("semantic-segmentation", answer_name, keep_all_annotations)

    @staticmethod
    def instance_segmentation(
        *,
        iou_threshold: float = 0.5,
        answer_name: str | None = None,
        keep_all_annotations: bool = False,
    ) -> Consolidation:
        """Instances matched across workers by mask IoU, kept by weighted majority,
        pixels voted within each instance."""
        return Consolidation(
            "instance-segmentation",
            answer_name,
            keep_all_annotations,
            {"iouThreshold": iou_threshold},
        )

    @staticmethod
    def named_entities(
        *,
        jaccard_threshold: float = 0.5,
        answer_name: str | None = None,
        keep_all_annotations: bool = False,
    ) -> Consolidation:
        """Spans clustered by Jaccard overlap, boundaries from the mode, label by vote."""
        return Consolidation(
            "named-entity",
            answer_name,
            keep_all_annotations,
            {"jaccardThreshold": jaccard_threshold},
        )

    @staticmethod
    def free_text(
        *, answer_name: str | None = None, keep_all_annotations: bool = False
    ) -> Consolidation:
        """The answer closest to all others (medoid); confidence from agreement."""
        return Consolidation("free-text", answer_name, keep_all_annotations)

    @staticmethod
    def all_annotations(*, answer_name: str | None = None) -> Consolidation:
        """No consensus: every worker's parsed answer, as the original sample did."""
        return Consolidation("all-annotations", answer_name, True)

    @staticmethod
    def for_task_type(task_type: TaskType) -> Consolidation:
        """The default consolidation of a task type (the factory's defaults)."""
        factories = {
            "dawid-skene": Consolidation.dawid_skene,
            "multi-label": Consolidation.multi_label,
            "bounding-box": Consolidation.bounding_boxes,
            "semantic-segmentation": Consolidation.semantic_segmentation,
            "instance-segmentation": Consolidation.instance_segmentation,
            "named-entity": Consolidation.named_entities,
            "all-annotations": Consolidation.all_annotations,
        }
        return factories[task_type.default_method]()

    # -- use -----------------------------------------------------------------------
    @property
    def elements(self) -> tuple[str, ...]:
        """Crowd HTML elements whose output this method reads (empty: any)."""
        return METHOD_ELEMENTS[self.method]

    def with_answer_name(self, answer_name: str) -> Consolidation:
        return replace(self, answer_name=answer_name)

    def to_environment_json(self) -> str:
        """The ``GT_CONSOLIDATION`` value the post-annotation function reads."""
        body: dict[str, Any] = {
            "method": self.method,
            "keepAllAnnotations": self.keep_all_annotations,
        }
        body.update(self.options)
        return json.dumps(body, sort_keys=True, separators=(",", ":"))
