"""Task types: what workers are asked to do, and what that implies."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class DataKind(enum.Enum):
    """What a data object is: an image referenced by ``source-ref`` or inline text in ``source``."""

    IMAGE = "image"
    TEXT = "text"


@dataclass(frozen=True)
class _TaskTypeInfo:
    element: str | None  # the Crowd HTML element of the default template
    data_kind: DataKind
    default_method: str
    template_file: str | None
    title: str


class TaskType(enum.Enum):
    """The kinds of labeling task the library knows.

    Each non-custom type brings a default worker template and selects the
    matching consolidation. ``CUSTOM`` needs your own template and, unless the
    raw answers are all you want, an explicit ``Consolidation``.
    """

    INSTANCE_SEGMENTATION = "INSTANCE_SEGMENTATION"
    SEMANTIC_SEGMENTATION = "SEMANTIC_SEGMENTATION"
    BOUNDING_BOX = "BOUNDING_BOX"
    IMAGE_CLASSIFICATION = "IMAGE_CLASSIFICATION"
    IMAGE_MULTI_LABEL = "IMAGE_MULTI_LABEL"
    TEXT_CLASSIFICATION = "TEXT_CLASSIFICATION"
    TEXT_MULTI_LABEL = "TEXT_MULTI_LABEL"
    NAMED_ENTITY = "NAMED_ENTITY"
    CUSTOM = "CUSTOM"

    @property
    def _info(self) -> _TaskTypeInfo:
        return _INFO[self]

    @property
    def element(self) -> str | None:
        """The Crowd HTML element that collects the answer (``None`` for CUSTOM)."""
        return self._info.element

    @property
    def data_kind(self) -> DataKind:
        return self._info.data_kind

    @property
    def default_method(self) -> str:
        """The consolidation method used when none is given."""
        return self._info.default_method

    @property
    def template_file(self) -> str | None:
        """File name of the default template in ``gt_constructs/templates``."""
        return self._info.template_file

    @property
    def title(self) -> str:
        return self._info.title

    @property
    def default_keywords(self) -> list[str]:
        """``TaskKeywords`` when none are given: the data kind, "labeling" and the task."""
        words = {"IMAGE": ["image", "labeling"], "TEXT": ["text", "labeling"]}[self.data_kind.name]
        return [*words, self.title.split(" (")[0].lower()][:5]

    @property
    def max_labels(self) -> int:
        """How many label categories a job of this type may have (``LABEL_LIMITS``)."""
        limit = LABEL_LIMITS.get(self)
        return limit.max_labels if limit else MAX_LABELS

    @property
    def label_limit_reason(self) -> str:
        """Why ``max_labels`` is what it is, for an error message."""
        limit = LABEL_LIMITS.get(self)
        if limit is None:
            return f"Ground Truth's limit for a labeling job is {MAX_LABELS}"
        return f"the {self.element} element takes at most {limit.max_labels} labels"


#: Ground Truth's limit on the label categories of one labeling job.
MAX_LABELS = 50


@dataclass(frozen=True)
class LabelLimit:
    """A Crowd HTML Element's documented limit on its labels, tighter than Ground Truth's."""

    max_labels: int
    #: The AWS documentation page that states it.
    source: str


#: The task types whose answer element documents a tighter label limit than
#: ``MAX_LABELS``. Only documented limits are here: the pages of the other elements
#: (crowd-classifier, crowd-classifier-multi-select, crowd-image-classifier-multi-select,
#: crowd-semantic-segmentation, crowd-instance-segmentation, crowd-entity-annotation;
#: also crowd-polygon and crowd-keypoint, which no task type uses) state none, so those
#: jobs get Ground Truth's 50.
LABEL_LIMITS: dict[TaskType, LabelLimit] = {
    # crowd-bounding-box, attribute labels: "Limit: 10 labels".
    TaskType.BOUNDING_BOX: LabelLimit(
        10,
        "https://docs.aws.amazon.com/sagemaker/latest/dg/sms-ui-template-crowd-bounding-box.html",
    ),
    # crowd-image-classifier, attribute categories: "You can specify up to 10 categories".
    TaskType.IMAGE_CLASSIFICATION: LabelLimit(
        10,
        "https://docs.aws.amazon.com/sagemaker/latest/dg/sms-ui-template-crowd-image-classifier.html",
    ),
}


_I, _T = DataKind.IMAGE, DataKind.TEXT
_INFO: dict[TaskType, _TaskTypeInfo] = {
    TaskType.INSTANCE_SEGMENTATION: _TaskTypeInfo(
        "crowd-instance-segmentation",
        _I,
        "instance-segmentation",
        "instance_segmentation.html",
        "Instance segmentation",
    ),
    TaskType.SEMANTIC_SEGMENTATION: _TaskTypeInfo(
        "crowd-semantic-segmentation",
        _I,
        "semantic-segmentation",
        "semantic_segmentation.html",
        "Semantic segmentation",
    ),
    TaskType.BOUNDING_BOX: _TaskTypeInfo(
        "crowd-bounding-box", _I, "bounding-box", "bounding_box.html", "Bounding boxes"
    ),
    TaskType.IMAGE_CLASSIFICATION: _TaskTypeInfo(
        "crowd-image-classifier",
        _I,
        "dawid-skene",
        "image_classification.html",
        "Image classification",
    ),
    TaskType.IMAGE_MULTI_LABEL: _TaskTypeInfo(
        "crowd-image-classifier-multi-select",
        _I,
        "multi-label",
        "image_multi_label.html",
        "Image classification (multi-label)",
    ),
    TaskType.TEXT_CLASSIFICATION: _TaskTypeInfo(
        "crowd-classifier", _T, "dawid-skene", "text_classification.html", "Text classification"
    ),
    TaskType.TEXT_MULTI_LABEL: _TaskTypeInfo(
        "crowd-classifier-multi-select",
        _T,
        "multi-label",
        "text_multi_label.html",
        "Text classification (multi-label)",
    ),
    TaskType.NAMED_ENTITY: _TaskTypeInfo(
        "crowd-entity-annotation",
        _T,
        "named-entity",
        "named_entity.html",
        "Named entity recognition",
    ),
    TaskType.CUSTOM: _TaskTypeInfo(None, _I, "all-annotations", None, "Custom task"),
}
