"""Consolidation: how several workers' answers become one label.

The post-annotation Lambda reads the choice from its environment
(its environment, written by the Lambda contract); see ``docs/architecture.md``
for the output formats.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .lambda_src.gt_annotation import contract
from .task_type import TaskType

#: The Crowd HTML elements whose output each method understands (from the contract).
METHOD_ELEMENTS: dict[str, tuple[str, ...]] = {
    name: spec.elements for name, spec in contract.METHODS.items()
}


def _default(method: contract.MethodSpec, key: str) -> Any:
    return method.option(key).default


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
        max_iterations: int = _default(contract.DAWID_SKENE, "maxIterations"),
    ) -> Consolidation:
        """Single-label classification by Dawid–Skene EM: a confusion matrix per worker,
        seeded from the worker's stored skill. Default for classification."""
        return Consolidation(
            contract.DAWID_SKENE.name,
            answer_name,
            keep_all_annotations,
            {"maxIterations": max_iterations},
        )

    @staticmethod
    def majority_vote(
        *, answer_name: str | None = None, keep_all_annotations: bool = False
    ) -> Consolidation:
        """Single-label classification by plain majority (ties: the lowest class index)."""
        return Consolidation(contract.MAJORITY_VOTE.name, answer_name, keep_all_annotations)

    @staticmethod
    def multi_label(
        *,
        answer_name: str | None = None,
        keep_all_annotations: bool = False,
        max_iterations: int = _default(contract.MULTI_LABEL, "maxIterations"),
    ) -> Consolidation:
        """Multi-label classification: per label, a binary model of each worker's
        sensitivity and specificity (``max_iterations`` caps its EM iterations)."""
        return Consolidation(
            contract.MULTI_LABEL.name,
            answer_name,
            keep_all_annotations,
            {"maxIterations": max_iterations},
        )

    @staticmethod
    def bounding_boxes(
        *,
        iou_threshold: float = _default(contract.BOUNDING_BOX, "iouThreshold"),
        answer_name: str | None = None,
        keep_all_annotations: bool = False,
    ) -> Consolidation:
        """Boxes matched across workers by IoU, kept when a weighted majority drew them,
        coordinates averaged by worker skill."""
        return Consolidation(
            contract.BOUNDING_BOX.name,
            answer_name,
            keep_all_annotations,
            {"iouThreshold": iou_threshold},
        )

    @staticmethod
    def semantic_segmentation(
        *, answer_name: str | None = None, keep_all_annotations: bool = False
    ) -> Consolidation:
        """Weighted per-pixel vote over the workers' label masks."""
        return Consolidation(contract.SEMANTIC_SEGMENTATION.name, answer_name, keep_all_annotations)

    @staticmethod
    def instance_segmentation(
        *,
        iou_threshold: float = _default(contract.INSTANCE_SEGMENTATION, "iouThreshold"),
        answer_name: str | None = None,
        keep_all_annotations: bool = False,
    ) -> Consolidation:
        """Instances matched across workers by mask IoU, kept by weighted majority,
        pixels voted within each instance."""
        return Consolidation(
            contract.INSTANCE_SEGMENTATION.name,
            answer_name,
            keep_all_annotations,
            {"iouThreshold": iou_threshold},
        )

    @staticmethod
    def named_entities(
        *,
        jaccard_threshold: float = _default(contract.NAMED_ENTITY, "jaccardThreshold"),
        answer_name: str | None = None,
        keep_all_annotations: bool = False,
    ) -> Consolidation:
        """Spans clustered by Jaccard overlap, boundaries from the mode, label by vote."""
        return Consolidation(
            contract.NAMED_ENTITY.name,
            answer_name,
            keep_all_annotations,
            {"jaccardThreshold": jaccard_threshold},
        )

    @staticmethod
    def free_text(
        *, answer_name: str | None = None, keep_all_annotations: bool = False
    ) -> Consolidation:
        """The answer closest to all others (medoid); confidence from agreement."""
        return Consolidation(contract.FREE_TEXT.name, answer_name, keep_all_annotations)

    @staticmethod
    def all_annotations(*, answer_name: str | None = None) -> Consolidation:
        """No consensus: every worker's parsed answer, as the original sample did."""
        return Consolidation(contract.ALL_ANNOTATIONS.name, answer_name, True)

    @staticmethod
    def for_task_type(task_type: TaskType) -> Consolidation:
        """The default consolidation of a task type (the factory's defaults)."""
        factory: Callable[[], Consolidation] = getattr(
            Consolidation, FACTORIES[task_type.default_method]
        )
        return factory()

    # -- use -----------------------------------------------------------------------
    @property
    def elements(self) -> tuple[str, ...]:
        """Crowd HTML elements whose output this method reads (empty: any)."""
        return METHOD_ELEMENTS[self.method]

    def with_answer_name(self, answer_name: str) -> Consolidation:
        return replace(self, answer_name=answer_name)

    def to_environment_json(self) -> str:
        """The ``GT_CONSOLIDATION`` value the post-annotation function reads."""
        return contract.PostAnnotationSettings(
            method=self.method,
            keep_all_annotations=self.keep_all_annotations,
            options=dict(self.options),
        ).consolidation_json()

    def problems(self) -> list[str]:
        """What the post-annotation function would refuse in this choice (the contract's
        rules), each naming the factory's Python parameter and the values allowed."""
        spec = contract.METHODS.get(self.method)
        if spec is None:
            allowed = ", ".join(f"Consolidation.{f}()" for f in FACTORIES.values())
            return [f"method {self.method!r} is unknown; create one with {allowed}"]
        factory = f"Consolidation.{FACTORIES[self.method]}()"
        problems = []
        if not isinstance(self.keep_all_annotations, bool):
            problems.append(
                f"{factory}: keep_all_annotations is {self.keep_all_annotations!r}; "
                "allowed: True or False"
            )
        known = {option.key: option for option in spec.options}
        for key, value in self.options.items():
            option = known.get(key)
            if option is None:
                names = ", ".join(o.snake_name for o in spec.options) or "none"
                problems.append(f"{factory} has no option {key!r}; its options: {names}")
                continue
            problem = option.problem(value, name=option.snake_name)
            if problem is not None:
                problems.append(f"{factory}: {problem}")
        return problems


#: The factory of each consolidation method (``Consolidation.<name>()``).
FACTORIES: dict[str, str] = {
    contract.DAWID_SKENE.name: "dawid_skene",
    contract.MAJORITY_VOTE.name: "majority_vote",
    contract.MULTI_LABEL.name: "multi_label",
    contract.BOUNDING_BOX.name: "bounding_boxes",
    contract.SEMANTIC_SEGMENTATION.name: "semantic_segmentation",
    contract.INSTANCE_SEGMENTATION.name: "instance_segmentation",
    contract.NAMED_ENTITY.name: "named_entities",
    contract.FREE_TEXT.name: "free_text",
    contract.ALL_ANNOTATIONS.name: "all_annotations",
}
