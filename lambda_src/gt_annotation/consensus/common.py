"""Helpers shared by the consensus modules: worker vote weights, garbage-collector pause."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from ..model import WorkerSkill

MIN_WEIGHT = 0.001
MAX_WEIGHT = 1.0


def worker_weights(skills: Mapping[str, WorkerSkill]) -> tuple[dict[str, float], float]:
    """Each worker's vote weight (``WorkerSkill.reliability()``), and a newcomer's."""
    weights = {
        worker: min(max(skill.reliability(), MIN_WEIGHT), MAX_WEIGHT)
        for worker, skill in skills.items()
        if isinstance(skill, WorkerSkill)
    }
    return weights, WorkerSkill("").reliability()


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is consolidated.

    Consolidation allocates many small objects and no reference cycles; with
    the payload of a large batch alive, every automatic collection would walk
    all of it again. Reference counting still frees everything as usual.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
