"""How a ``CustomLabelingJob`` takes its runtime: the ``runtime`` prop judged, the shared
runtime found or made, and the job's grants, resource and runner on it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct

from ...validation import ConfigurationError
from .kind import Runtime

if TYPE_CHECKING:
    from ...dataset import DatasetBinding
    from ...job.construct import CustomLabelingJob
    from .construct import SelfHostedRuntime
    from .job import SelfHostedJobResource, SelfHostedRunner


def _is_runtime_construct(value: Any) -> bool:
    from .construct import SelfHostedRuntime

    return isinstance(value, SelfHostedRuntime)


def self_hosted_runtime(job: Construct, props: Mapping[str, Any]) -> SelfHostedRuntime | None:
    """The job's self-hosted runtime (``props``: the job's, by name), or ``None`` on Ground
    Truth; one clear error for a ``runtime`` that is neither, and for a team the runtime
    cannot use."""
    runtime, workteam = props.get("runtime", Runtime.GROUND_TRUTH), props["workteam"]
    where = f"CustomLabelingJob {job.node.path}"
    if runtime is Runtime.GROUND_TRUTH:
        if getattr(workteam, "runtime", Runtime.GROUND_TRUTH) is Runtime.SELF_HOSTED:
            raise ConfigurationError(
                where,
                [
                    "the workteam was made with runtime=Runtime.SELF_HOSTED (no SageMaker "
                    "workteam exists) and the job runs on Ground Truth; pass "
                    "runtime=Runtime.SELF_HOSTED to the job too, or make the team without it"
                ],
            )
        from ...job.construct import warn_closed_to_new_customers

        warn_closed_to_new_customers(job)
        return None
    if runtime is not Runtime.SELF_HOSTED and not _is_runtime_construct(runtime):
        raise ConfigurationError(
            where,
            [
                f"runtime is {runtime!r}; allowed: Runtime.GROUND_TRUTH (default), "
                "Runtime.SELF_HOSTED (the stack's shared runtime), or a SelfHostedRuntime"
            ],
        )
    from .construct import SelfHostedRuntime, missing_pool_message

    if getattr(workteam, "user_pool", None) is None:
        raise ConfigurationError(where, [missing_pool_message(workteam)])
    if getattr(workteam, "runtime", None) is Runtime.GROUND_TRUTH:
        raise ConfigurationError(
            where,
            [
                "runtime=Runtime.SELF_HOSTED, but the workteam was made for Ground Truth (it "
                "creates a SageMaker workforce and workteam, which an account Ground Truth "
                "refuses may be refused too); pass runtime=Runtime.SELF_HOSTED to "
                "PrivateWorkteam as well"
            ],
        )
    if isinstance(runtime, SelfHostedRuntime):
        return runtime
    return SelfHostedRuntime.of(
        job,
        workteam,
        encryption_key=props.get("encryption_key"),
        removal_policy=props.get("removal_policy", RemovalPolicy.RETAIN),
        log_retention=props.get("log_retention", logs.RetentionDays.ONE_MONTH),
    )


def run_on(
    runtime: SelfHostedRuntime,
    job: CustomLabelingJob,
    binding: DatasetBinding,
    props: Mapping[str, Any],
) -> SelfHostedJobResource | None:
    """Give the runtime exactly this job's objects, prefixes, keys and functions; then
    (``start_on_deploy``) the job's custom resource on it. ``props``: the job's."""
    given_buckets = (props.get("input_bucket"), props.get("output_bucket"))
    from ...job.lifecycle import job_dependencies
    from ...job.role import job_keys
    from .job import SelfHostedJobResource

    settings = job.settings
    runtime.add_job(
        read=[
            *binding.read,
            (job.input_bucket, settings.label_categories_key),
            (job.input_bucket, f"{settings.batches_prefix}*"),  # the runner's batches
        ],
        template=(job.input_bucket, settings.template_key),
        output_bucket=job.output_bucket,
        output_prefix=job.output_prefix,
        functions=[job.pre_annotation_function, job.post_annotation_function],
        encryption_keys=job_keys(job.encryption_key, list(given_buckets)),
    )
    if not props.get("start_on_deploy", True):
        return None
    return SelfHostedJobResource(
        job,
        "Job",
        runtime=runtime,
        request=job.create_labeling_job_request,
        job_name_prefix=job.job_name_prefix,
        stop_replaced_jobs=props.get("stop_replaced_jobs", True),
        removal_policy=props.get("removal_policy", RemovalPolicy.RETAIN),
        dependencies=job_dependencies(job, props["workteam"], binding),
    )


def self_hosted_runner(runtime: SelfHostedRuntime, job: CustomLabelingJob) -> SelfHostedRunner:
    """The job's runner for further batches, on the runtime's state machine."""
    from .job import SelfHostedRunner

    return SelfHostedRunner(
        job,
        "Runner",
        runtime=runtime,
        request=job.request,
        job_name_prefix=job.job_name_prefix,
        log_settings=job.log_settings,
    )
