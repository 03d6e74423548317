"""Consensus algorithms, one module per task family, loaded on demand.

Each module exposes ``CONSOLIDATOR`` (see ``model.Consolidator``). Only the
module a function needs is imported, so cold starts stay small.
"""

from __future__ import annotations

import importlib

from ..model import Consolidator

METHOD_MODULES = {
    "dawid-skene": "classification",
    "majority-vote": "classification",
    "multi-label": "multilabel",
    "bounding-box": "boxes",
    "semantic-segmentation": "semantic",
    "instance-segmentation": "instance",
    "named-entity": "entities",
    "free-text": "freetext",
    "all-annotations": "raw",
}

DEFAULT_METHODS = {
    "IMAGE_CLASSIFICATION": "dawid-skene",
    "TEXT_CLASSIFICATION": "dawid-skene",
    "IMAGE_MULTI_LABEL": "multi-label",
    "TEXT_MULTI_LABEL": "multi-label",
    "BOUNDING_BOX": "bounding-box",
    "SEMANTIC_SEGMENTATION": "semantic-segmentation",
    "INSTANCE_SEGMENTATION": "instance-segmentation",
    "NAMED_ENTITY": "named-entity",
    "CUSTOM": "all-annotations",
}


def default_method(task_type: str) -> str:
    try:
        return DEFAULT_METHODS[task_type]
    except KeyError:
        allowed = ", ".join(DEFAULT_METHODS)
        raise ValueError(f"unknown task type {task_type!r}; allowed: {allowed}") from None


def get_consolidator(method: str) -> Consolidator:
    """The consolidator of a method name (see ``METHOD_MODULES``)."""
    module = METHOD_MODULES.get(method)
    if module is None:
        allowed = ", ".join(METHOD_MODULES)
        raise ValueError(f"unknown consolidation method {method!r}; allowed: {allowed}")
    consolidator: Consolidator = importlib.import_module(f".{module}", __name__).CONSOLIDATOR
    return consolidator
