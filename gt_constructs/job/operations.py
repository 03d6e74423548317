"""A ``CustomLabelingJob``'s last steps: the names of its job, and its operations (the
runner for further batches, monitoring), on Ground Truth or the job-hosted runtime."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aws_cdk import aws_kms as kms

from ..runtime.aws.binding import self_hosted_runner
from .lifecycle import planned_job
from .monitoring import LabelingJobMonitoring
from .runner import LabelingJobRunner

if TYPE_CHECKING:
    from .construct import CustomLabelingJob


def name_the_job(job: CustomLabelingJob) -> None:
    """The started job's names, or (not started on deploy) the names it would get."""
    named = job.job or planned_job(
        job,
        job_name_prefix=job.job_name_prefix,
        request=job.create_labeling_job_request,
        execution_role=job.execution_role,
        log_settings=job.log_settings,
    )
    job.labeling_job_name = named.labeling_job_name
    job.labeling_job_arn = named.labeling_job_arn
    job.output_manifest_s3_uri = named.output_manifest_s3_uri
    job.labeling_job_request_hash = named.request_hash


def add_job_operations(job: CustomLabelingJob, emails: Sequence[str], key: kms.IKey | None) -> None:
    """Another batch on demand (the runner), and watching the job (monitoring)."""
    runtime = job.self_hosted_runtime  # None: Ground Truth runs the job
    job.runner = (
        self_hosted_runner(runtime, job)
        if runtime
        else LabelingJobRunner(
            job,
            "Runner",
            request=job.request,
            job_name_prefix=job.job_name_prefix,
            execution_role=job.execution_role,
            log_settings=job.log_settings,
        )
    )
    job.monitoring = LabelingJobMonitoring(
        job,
        "Monitoring",
        job_name_prefix=job.job_name_prefix,
        functions=[job.pre_annotation_function, job.post_annotation_function],
        post_annotation_function=job.post_annotation_function,
        state_machine=job.runner.state_machine,
        notification_emails=list(emails),
        encryption_key=key,
        **({"event_source": runtime.event_source} if runtime is not None else {}),
    )
