"""Import path of the first release; the constructs live in ``gt_constructs.job``."""

from .job.lifecycle import LabelingJobResource, validate_job_name_prefix
from .job.manifest import ManifestFromS3Prefix
from .job.monitoring import METRICS_NAMESPACE, LabelingJobMonitoring
from .job.runner import LabelingJobRunner

__all__ = [
    "METRICS_NAMESPACE",
    "LabelingJobMonitoring",
    "LabelingJobResource",
    "LabelingJobRunner",
    "ManifestFromS3Prefix",
    "validate_job_name_prefix",
]
