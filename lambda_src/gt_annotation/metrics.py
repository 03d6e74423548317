"""CloudWatch metrics in embedded metric format (a JSON line on stdout, no API call)."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Mapping
from typing import TextIO

from .contract import (
    METRIC_ANSWERS_REJECTED,
    METRIC_CONSOLIDATION_ERRORS,
    METRIC_MEAN_CONFIDENCE,
    METRIC_OBJECTS_CONSOLIDATED,
    METRIC_SKILL_STORE_ERRORS,
    METRICS_NAMESPACE,
)

DEFAULT_NAMESPACE = METRICS_NAMESPACE


def emf_record(
    values: Mapping[str, float], *, job_name: str, units: Mapping[str, str], namespace: str
) -> dict[str, object]:
    """One EMF record: metrics by function, and by function and labeling job."""
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [["Function"], ["Function", "LabelingJob"]],
                    "Metrics": [{"Name": name, "Unit": units.get(name, "None")} for name in values],
                }
            ],
        },
        "Function": function,
        "LabelingJob": job_name,
        **values,
    }


def emit_consolidation_metrics(
    *,
    job_name: str,
    objects: int,
    rejected: int,
    mean_confidence: float | None,
    errors: int = 0,
    skill_store_errors: int = 0,
    namespace: str = METRICS_NAMESPACE,
    stream: TextIO | None = None,
) -> None:
    """ObjectsConsolidated, AnswersRejected, ConsolidationErrors, SkillStoreErrors and
    MeanConfidence of one batch.

    ConsolidationErrors counts the objects that got a failure (no label);
    SkillStoreErrors the worker-skill reads and writes that failed (skill
    learning stalls while it is not zero).

    MeanConfidence is left out when no label of the batch has a confidence
    (an average of nothing is not zero).
    """
    values: dict[str, float] = {
        METRIC_OBJECTS_CONSOLIDATED: objects,
        METRIC_ANSWERS_REJECTED: rejected,
        METRIC_CONSOLIDATION_ERRORS: errors,
        METRIC_SKILL_STORE_ERRORS: skill_store_errors,
    }
    if mean_confidence is not None and math.isfinite(mean_confidence):
        values[METRIC_MEAN_CONFIDENCE] = round(mean_confidence, 4)
    record = emf_record(
        values,
        job_name=job_name,
        units={
            METRIC_OBJECTS_CONSOLIDATED: "Count",
            METRIC_ANSWERS_REJECTED: "Count",
            METRIC_CONSOLIDATION_ERRORS: "Count",
            METRIC_SKILL_STORE_ERRORS: "Count",
        },
        namespace=namespace,
    )
    print(json.dumps(record), file=stream or sys.stdout, flush=True)
