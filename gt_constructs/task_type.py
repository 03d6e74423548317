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
