"""gt-constructs: Amazon SageMaker Ground Truth custom labeling jobs as AWS CDK constructs.

Names are re-exported lazily: importing ``aws_cdk`` starts a jsii runtime (seconds),
which the local workbench (``gt-constructs`` command) does not need.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ConfigurationError": "validation",
    "Consolidation": "consolidation",
    "CustomLabelingJob": "job",
    "DataKind": "task_type",
    "Dataset": "dataset",
    "IWorkteam": "workteam",
    "LabelingJobMonitoring": "job.monitoring",
    "LabelingJobResource": "job.lifecycle",
    "LabelingJobRunner": "job.runner",
    "ManifestFromS3Prefix": "job.manifest",
    "PayloadAccess": "job.role",
    "PrivateWorkteam": "workteam",
    "Runtime": "runtime.aws.kind",
    "SelfHostedRuntime": "runtime.aws",
    "SkillScope": "job.skill_table",
    "TaskType": "task_type",
    "TemplateError": "template",
    "WorkerTemplate": "template",
}
__all__ = [
    "ConfigurationError",
    "Consolidation",
    "CustomLabelingJob",
    "DataKind",
    "Dataset",
    "IWorkteam",
    "LabelingJobMonitoring",
    "LabelingJobResource",
    "LabelingJobRunner",
    "ManifestFromS3Prefix",
    "PayloadAccess",
    "PrivateWorkteam",
    "Runtime",
    "SelfHostedRuntime",
    "SkillScope",
    "TaskType",
    "TemplateError",
    "WorkerTemplate",
]


#: Modules that work without the AWS CDK (and so without Node.js).
_WITHOUT_CDK = ("consolidation", "task_type", "template")


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gt_constructs' has no attribute {name!r}")
    if module not in _WITHOUT_CDK and "aws_cdk" not in sys.modules:
        # Importing aws_cdk starts Node.js; without it, one line instead of jsii's traceback.
        from ._node import require_node

        require_node()
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from .consolidation import Consolidation
    from .dataset import Dataset
    from .job import CustomLabelingJob
    from .job.lifecycle import LabelingJobResource
    from .job.manifest import ManifestFromS3Prefix
    from .job.monitoring import LabelingJobMonitoring
    from .job.role import PayloadAccess
    from .job.runner import LabelingJobRunner
    from .job.skill_table import SkillScope
    from .runtime.aws import Runtime, SelfHostedRuntime
    from .task_type import DataKind, TaskType
    from .template import TemplateError, WorkerTemplate
    from .validation import ConfigurationError
    from .workteam import IWorkteam, PrivateWorkteam
