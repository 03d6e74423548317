"""The SageMaker execution role of a labeling job, with least-privilege grants."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct


class PayloadAccess(enum.Enum):
    """How the post-annotation function reads the consolidation payload.

    ``ASSUME_EXECUTION_ROLE`` is the original blog post's way: the function
    assumes the job's execution role (``roleArn`` in the event), so the
    execution role trusts the function's role. ``DIRECT_READ`` is least
    privilege: the function's own role reads the job's output prefix and the
    execution role trusts only ``sagemaker.amazonaws.com``.
    """

    ASSUME_EXECUTION_ROLE = "ASSUME_EXECUTION_ROLE"
    DIRECT_READ = "DIRECT_READ"


def execution_role(
    scope: Construct,
    construct_id: str,
    *,
    payload_access: PayloadAccess,
    post_annotation_role: iam.IRole | None,
) -> iam.Role:
    """A role SageMaker assumes for the job (and, with ASSUME_EXECUTION_ROLE, the
    post-annotation function's role too)."""
    stack = Stack.of(scope)
    principals: list[iam.IPrincipal] = [
        iam.ServicePrincipal("sagemaker.amazonaws.com").with_conditions(
            {"StringEquals": {"aws:SourceAccount": stack.account}}
        )
    ]
    if payload_access is PayloadAccess.ASSUME_EXECUTION_ROLE and post_annotation_role is not None:
        principals.append(iam.ArnPrincipal(post_annotation_role.role_arn))
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=iam.CompositePrincipal(*principals),
        description="Ground Truth labeling job execution role (gt-constructs)",
    )
    if payload_access is PayloadAccess.ASSUME_EXECUTION_ROLE and post_annotation_role is not None:
        post_annotation_role.add_to_principal_policy(
            iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[role.role_arn])
        )
    return role


def grant_job_permissions(
    role: iam.IRole,
    *,
    read: Sequence[tuple[s3.IBucket, str]],
    output_bucket: s3.IBucket,
    output_prefix: str,
    functions: Sequence[lambda_.IFunction],
    encryption_keys: Sequence[kms.IKey],
) -> None:
    """What Ground Truth needs, and no more.

    ``read`` is a list of (bucket, key pattern) pairs: input data, manifest,
    template and label category file.
    """
    stack = Stack.of(role)
    buckets = {b.node.path: b for b, _ in read} | {output_bucket.node.path: output_bucket}
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="ListInputAndOutputBuckets",
            actions=["s3:ListBucket", "s3:GetBucketLocation"],
            resources=[b.bucket_arn for b in buckets.values()],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="ReadInputManifestTemplateCategories",
            actions=["s3:GetObject", "s3:GetObjectVersion"],
            resources=sorted({b.arn_for_objects(pattern) for b, pattern in read}, key=str),
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="ReadWriteJobOutput",
            actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            resources=[output_bucket.arn_for_objects(f"{output_prefix}*")],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="InvokeAnnotationFunctions",
            actions=["lambda:InvokeFunction"],
            resources=[f.function_arn for f in functions],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="LabelingJobLogs",
            actions=[
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ],
            resources=[
                stack.format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name="/aws/sagemaker/LabelingJobs*",
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
        )
    )
    # PutMetricData has no resource-level permissions: "*" is the only resource
    # it accepts; the namespace condition limits it to SageMaker's metrics.
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="LabelingJobMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": "AWS/SageMaker"}},
        )
    )
    for key in encryption_keys:
        key.grant(
            role,
            "kms:Decrypt",
            "kms:Encrypt",
            "kms:ReEncrypt*",
            "kms:GenerateDataKey*",
            "kms:DescribeKey",
        )
