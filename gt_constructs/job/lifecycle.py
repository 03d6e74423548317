"""The labeling job as a custom resource: created on deploy, replaced when its
request changes, stopped on delete (see docs/lifecycle.md); and the job-name
rules and job-control grants the runner shares.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct, IDependable

from ..functions import annotation_function
from ..log_groups import JobLogs
from ..nag import acknowledge_wildcards
from ..validation import Problems

if TYPE_CHECKING:
    from ..dataset import DatasetBinding
    from ..workteam import IWorkteam
    from .construct import CustomLabelingJob

JOB_NAME_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
#: ``<prefix>-`` plus a 10-character hash must stay within 63 characters.
MAX_PREFIX = 52


def validate_job_name_prefix(problems: Problems, prefix: str) -> None:
    if Token.is_unresolved(prefix):
        return
    if len(prefix) > MAX_PREFIX or not re.fullmatch(JOB_NAME_PATTERN, prefix):
        problems.add(
            f"job_name_prefix {prefix!r} is not allowed: 1–{MAX_PREFIX} letters, digits and "
            "hyphens, starting and ending with a letter or digit (the job name adds '-' and "
            "a 10-character hash; 63 at most)"
        )


def labeling_job_arn_pattern(scope: IConstruct, prefix: str) -> str:
    """ARNs of this prefix's jobs (SageMaker lower-cases job names in ARNs)."""
    return Stack.of(scope).format_arn(
        service="sagemaker", resource="labeling-job", resource_name=f"{prefix.lower()}-*"
    )


def _pass_role(role: iam.IRole) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=["iam:PassRole"],
        resources=[role.role_arn],
        conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    )


def grant_job_control(
    role: iam.IRole, prefix: str, execution_role: iam.IRole, *extra_actions: str
) -> None:
    """Create, describe, stop and tag this prefix's jobs, and pass only the execution role."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=[
                "sagemaker:CreateLabelingJob",
                "sagemaker:DescribeLabelingJob",
                "sagemaker:StopLabelingJob",
                "sagemaker:AddTags",
                *extra_actions,
            ],
            resources=[labeling_job_arn_pattern(role, prefix)],
        )
    )
    role.add_to_principal_policy(_pass_role(execution_role))


def _job_reasons(prefix: str) -> list[tuple[str, str]]:
    return [
        (
            re.escape(f"labeling-job/{prefix.lower()}-*") + "$",
            "Job names are <prefix>-<hash of the request>, known only at deploy: the statement "
            "covers this construct's jobs and no others",
        )
    ]


class LabelingJobResource(Construct):
    """The labeling job as a custom resource (CloudFormation has none)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        request: Mapping[str, Any],
        job_name_prefix: str,
        execution_role: iam.IRole,
        stop_replaced_jobs: bool = True,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        dependencies: Sequence[IDependable] = (),
        log_settings: JobLogs | None = None,
    ) -> None:
        """
        :param request: the CreateLabelingJob request without ``LabelingJobName`` (may hold tokens).
        :param job_name_prefix: job names are ``<prefix>-<hash of the resolved request>``.
        :param execution_role: the role the job runs as (passed to SageMaker).
        :param stop_replaced_jobs: stop a job when a changed request replaces it. Default: true.
        :param removal_policy: RETAIN leaves the job running when the resource is deleted.
        :param dependencies: what the job needs before it starts (buckets, uploads, functions...).
        :param log_settings: retention and key of the handler's logs. Default: one month.
        """
        super().__init__(scope, construct_id)
        problems = Problems(f"LabelingJobResource {self.node.path}")
        validate_job_name_prefix(problems, job_name_prefix)
        problems.raise_if_any()
        stack = Stack.of(self)
        log_settings = log_settings or JobLogs()
        self.function = annotation_function(
            self,
            "Handler",
            handler="gt_resources.labeling_job.handler",
            description="Ground Truth labeling job lifecycle (create, replace, stop)",
            environment={},
            memory_size=256,
            timeout=Duration.minutes(2),
            log_retention=log_settings.retention,
            removal_policy=removal_policy,
            encryption_key=log_settings.encryption_key,
        )
        role = self.function.role
        assert role is not None
        grant_job_control(role, job_name_prefix, execution_role, "sagemaker:ListTags")
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["cloudformation:DescribeStacks"], resources=[stack.stack_id]
            )
        )
        acknowledge_wildcards(role, _job_reasons(job_name_prefix))
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.function.function_arn,
            resource_type="Custom::GroundTruthLabelingJob",
            properties={
                "Request": stack.to_json_string(request),
                "JobNamePrefix": job_name_prefix,
                "StopReplacedJobs": "true" if stop_replaced_jobs else "false",
                "RemovalPolicy": "retain" if removal_policy == RemovalPolicy.RETAIN else "destroy",
            },
        )
        self.resource.node.add_dependency(role)
        for dependency in dependencies:
            self.resource.node.add_dependency(dependency)
        self.labeling_job_name = self.resource.get_att_string("LabelingJobName")
        self.labeling_job_arn = self.resource.get_att_string("LabelingJobArn")
        self.output_manifest_s3_uri = self.resource.get_att_string("OutputManifestS3Uri")


@dataclass(frozen=True)
class PlannedJob:
    """The job a deploy would start: its name, ARN and output manifest, known at synth."""

    labeling_job_name: str
    labeling_job_arn: str
    output_manifest_s3_uri: str


def planned_job(
    scope: IConstruct,
    *,
    job_name_prefix: str,
    request: Mapping[str, Any],
    output_bucket: s3.IBucket,
    output_prefix: str,
) -> PlannedJob:
    """The names a job of this request gets (``start_on_deploy=False``): the same
    ``<prefix>-<hash>`` the custom resource would choose, from the synthesized request."""
    resolved = Stack.of(scope).resolve(request)
    digest = hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()[:10]
    name = f"{job_name_prefix}-{digest}"
    return PlannedJob(
        labeling_job_name=name,
        labeling_job_arn=Stack.of(scope).format_arn(
            service="sagemaker", resource="labeling-job", resource_name=name.lower()
        ),
        output_manifest_s3_uri=(
            f"s3://{output_bucket.bucket_name}/{output_prefix}"
            f"{name}/manifests/output/output.manifest"
        ),
    )


def job_dependencies(
    job: CustomLabelingJob, workteam: IWorkteam, binding: DatasetBinding
) -> list[IDependable]:
    """What must exist before a ``CustomLabelingJob``'s job starts."""
    needs: list[IDependable] = [
        job.input_bucket,
        job.output_bucket,
        job.config_upload,
        *binding.dependables,
        job.pre_annotation_function,
        job.post_annotation_function,
        job.execution_role,
        job.skill_table,
    ]
    return [*needs, workteam] if isinstance(workteam, Construct) else needs
