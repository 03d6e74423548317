"""The labeling job as a custom resource: created on deploy, replaced when its
request changes, stopped on delete (see docs/lifecycle.md); and the job-name
rules and job-control grants the runner shares.

How a job is named and tagged is the contract's (``lambda_src/gt_resources/
job_contract.py``), shared with the custom resource's handler: one hash, one
name, at synth and at deploy.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct, IDependable

from ..functions import annotation_function
from ..lambda_src.gt_resources.job_contract import (
    JOB_NAME_PATTERN,
    MAX_PREFIX,
    job_name,
    request_hash,
)
from ..log_groups import JobLogs
from ..nag import acknowledge_wildcards
from ..validation import Problems

if TYPE_CHECKING:
    from ..dataset import DatasetBinding
    from ..workteam import IWorkteam
    from .construct import CustomLabelingJob

#: Hex digits of the construct's own hash in a default job-name prefix.
CONSTRUCT_KEY_LENGTH = 8


def construct_key(scope: IConstruct) -> str:
    """Eight hex digits unique to this construct where its jobs live (account, region).

    The hash of its path and its top-level stack's name: CloudFormation keeps
    stack names unique per account and region, and paths are unique in a stack,
    so two stacks, or two jobs of one stack, never share a default prefix.
    """
    stack = Stack.of(scope)
    while stack.nested_stack_parent is not None:
        stack = stack.nested_stack_parent
    name = "" if Token.is_unresolved(stack.stack_name) else stack.stack_name
    text = f"{name}\n{scope.node.path}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:CONSTRUCT_KEY_LENGTH]


def default_job_name_prefix(label_attribute_name: str, key: str) -> str:
    """``<label attribute name, cut>-<construct key>``: at most ``MAX_PREFIX`` characters."""
    room = MAX_PREFIX - 1 - len(key)
    return f"{label_attribute_name[:room].rstrip('-')}-{key}"


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
        start: bool = True,
    ) -> None:
        """
        :param request: the CreateLabelingJob request without ``LabelingJobName`` (may hold tokens).
        :param job_name_prefix: job names are ``<prefix>-<hash of the resolved request>``.
        :param execution_role: the role the job runs as (passed to SageMaker).
        :param stop_replaced_jobs: stop a job when a changed request replaces it, whatever
            ``removal_policy`` says. Default: true.
        :param removal_policy: when the resource is removed or its stack deleted: RETAIN leaves
            the job running, DESTROY stops it. A job made by a deploy that rolls back is
            stopped either way (docs/lifecycle.md). Default: RETAIN.
        :param dependencies: what the job needs before it starts (buckets, uploads, functions...).
        :param log_settings: retention and key of the handler's logs. Default: one month.
        :param start: false: create no job, only name the one a deploy would start (its
            attributes are computed at deploy from the resolved request). Default: true.
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
            description=(
                "Ground Truth labeling job lifecycle (create, replace, stop)"
                if start
                else "Ground Truth labeling job name (the job a deploy would start)"
            ),
            environment={},
            memory_size=256,
            timeout=Duration.minutes(2),
            log_retention=log_settings.retention,
            removal_policy=removal_policy,
            encryption_key=log_settings.encryption_key,
        )
        role = self.function.role
        assert role is not None
        if start:
            grant_job_control(
                role, job_name_prefix, execution_role, "sagemaker:ListTags", "sagemaker:DeleteTags"
            )
            # Why a delete happens: stack deleted, resource removed, replaced or rolled back.
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=[
                        "cloudformation:DescribeStacks",
                        "cloudformation:DescribeStackResource",
                    ],
                    resources=[stack.stack_id],
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
                **({} if start else {"Start": "false"}),
            },
        )
        self.resource.node.add_dependency(role)
        for dependency in dependencies:
            self.resource.node.add_dependency(dependency)
        self.labeling_job_name = self.resource.get_att_string("LabelingJobName")
        self.labeling_job_arn = self.resource.get_att_string("LabelingJobArn")
        self.output_manifest_s3_uri = self.resource.get_att_string("OutputManifestS3Uri")
        #: The request-hash tag's value (``job_contract.HASH_TAG``).
        self.request_hash = self.resource.get_att_string("RequestHash")


@dataclass(frozen=True)
class PlannedJob:
    """The job a deploy would start: its name, ARN, output manifest and request hash."""

    labeling_job_name: str
    labeling_job_arn: str
    output_manifest_s3_uri: str
    request_hash: str


def _is_literal(value: Any) -> bool:
    """No CloudFormation intrinsic left in a resolved value: known at synth."""
    if isinstance(value, Mapping):
        if any(key == "Ref" or str(key).startswith("Fn::") for key in value):
            return False
        return all(_is_literal(item) for item in value.values())
    if isinstance(value, list):
        return all(_is_literal(item) for item in value)
    return not (isinstance(value, str) and Token.is_unresolved(value))


def planned_job(
    scope: Construct,
    *,
    job_name_prefix: str,
    request: Mapping[str, Any],
    execution_role: iam.IRole,
    log_settings: JobLogs | None = None,
) -> PlannedJob:
    """The job a deploy would start (``start_on_deploy=False``), named by the contract's
    ``job_name`` from the *resolved* request, as the custom resource names it.

    A request known at synth is named at synth. One that holds deploy-time values
    (bucket names, ARNs: the usual case) is named at deploy by a custom resource
    (``JobName``) that runs the same handler without creating the job.
    """
    resolved = Stack.of(scope).resolve(request)
    if _is_literal(resolved):
        name = job_name(job_name_prefix, resolved)
        output = str(resolved["OutputConfig"]["S3OutputPath"]).rstrip("/")
        return PlannedJob(
            labeling_job_name=name,
            labeling_job_arn=labeling_job_arn(scope, name),
            output_manifest_s3_uri=f"{output}/{name}/manifests/output/output.manifest",
            request_hash=request_hash(resolved),
        )
    plan = LabelingJobResource(
        scope,
        "JobName",
        request=request,
        job_name_prefix=job_name_prefix,
        execution_role=execution_role,
        removal_policy=log_settings.removal_policy if log_settings else RemovalPolicy.RETAIN,
        log_settings=log_settings,
        start=False,
    )
    return PlannedJob(
        labeling_job_name=plan.labeling_job_name,
        labeling_job_arn=plan.labeling_job_arn,
        output_manifest_s3_uri=plan.output_manifest_s3_uri,
        request_hash=plan.request_hash,
    )


def labeling_job_arn(scope: IConstruct, name: str) -> str:
    """The ARN of a job of this name (SageMaker lower-cases job names in ARNs)."""
    return Stack.of(scope).format_arn(
        service="sagemaker", resource="labeling-job", resource_name=name.lower()
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
