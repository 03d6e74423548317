"""Consensus algorithms, one module per task family, loaded on demand.

Each module exposes ``CONSOLIDATOR`` (see ``model.Consolidator``). Only the
module a function needs is imported, so cold starts stay small.
"""

from __future__ import annotations

import importlib

from ..contract import DEFAULT_METHODS, METHODS, default_method
from ..model import Consolidator

#: Consensus module of each method (the contract's ``METHODS``).
METHOD_MODULES = {name: spec.module for name, spec in METHODS.items()}

__all__ = ["DEFAULT_METHODS", "METHOD_MODULES", "default_method", "get_consolidator"]


def get_consolidator(method: str) -> Consolidator:
    """The consolidator of a method name (see ``METHOD_MODULES``)."""
    module = METHOD_MODULES.get(method)
    if module is None:
        allowed = ", ".join(METHOD_MODULES)
        raise ValueError(f"unknown consolidation method {method!r}; allowed: {allowed}")
    consolidator: Consolidator = importlib.import_module(f".{module}", __name__).CONSOLIDATOR
    return consolidator
