"""The SageMaker execution role of a labeling job, with least-privilege grants."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence

from aws_cdk import Annotations, ArnFormat, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ..lambda_src.gt_annotation import contract
from ..nag import S3_GRANT_REASONS, acknowledge_wildcards


class PayloadAccess(enum.Enum):
    """How the post-annotation function reads the consolidation payload.

    ``ASSUME_EXECUTION_ROLE`` is the original blog post's way: the function
    assumes the job's execution role (``roleArn`` in the event), so the
    execution role trusts the function's role. ``DIRECT_READ`` is least
    privilege: the function's own role reads the job's output prefix and the
    execution role trusts only ``sagemaker.amazonaws.com``.
    """

    ASSUME_EXECUTION_ROLE = contract.PAYLOAD_ASSUME_EXECUTION_ROLE
    DIRECT_READ = contract.PAYLOAD_DIRECT_READ


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
    # Ground Truth reads the input and writes the output with the job's key: the
    # CreateLabelingJob reference names kms:Encrypt for OutputConfig.KmsKeyId, and
    # S3 asks for Decrypt (reads) and GenerateDataKey (writes). No ReEncrypt*: the
    # job never moves data from one key to another.
    for key in encryption_keys:
        key.grant(
            role,
            "kms:Decrypt",
            "kms:Encrypt",
            "kms:GenerateDataKey",
            "kms:DescribeKey",
        )


class JobAccess:
    """Who may do what in a labeling job: every grant, and every reason for a wildcard.

    The payload-access mode is decided here and nowhere else: the execution
    role's trust, the post-annotation role's ``sts:AssumeRole`` or its own reads
    of the job's output. ``execution_role`` comes first (the functions exist,
    the role may be given); ``grant`` once the buckets, dataset and table exist.
    """

    def __init__(
        self,
        scope: Construct,
        *,
        payload_access: PayloadAccess,
        post_annotation_role: iam.IRole | None,
    ) -> None:
        self.scope = scope
        self.payload_access = payload_access
        self.post_role = post_annotation_role

    def execution_role(self, given: iam.IRole | None) -> iam.IRole:
        """The given role, or a new one that trusts SageMaker (and, with
        ASSUME_EXECUTION_ROLE, the post-annotation function's role)."""
        if given is None:
            return execution_role(
                self.scope,
                "ExecutionRole",
                payload_access=self.payload_access,
                post_annotation_role=self.post_role,
            )
        if self.payload_access is PayloadAccess.ASSUME_EXECUTION_ROLE:
            Annotations.of(self.scope).add_warning_v2(
                "@gt-constructs/job:imported-role-trust",
                "role is given and payload_access is ASSUME_EXECUTION_ROLE: its trust policy "
                "must list the post-annotation function's role as an AWS principal, and that "
                "role needs sts:AssumeRole on it. Prefer PayloadAccess.DIRECT_READ.",
            )
            if self.post_role is not None:
                self.post_role.add_to_principal_policy(
                    iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[given.role_arn])
                )
        return given

    def grant(
        self,
        role: iam.IRole,
        *,
        read: Sequence[tuple[s3.IBucket, str]],
        output_bucket: s3.IBucket,
        output_prefix: str,
        functions: Sequence[lambda_.IFunction],
        encryption_keys: Sequence[kms.IKey],
        skill_table: dynamodb.ITable,
        output_key: kms.IKey | None = None,
        writes_masks: bool = False,
        writes_answers: bool = False,
    ) -> None:
        """The execution role's grants, the post-annotation role's, and their reasons.

        ``output_key`` encrypts what Ground Truth writes to the output (the
        request's ``KmsKeyId``); ``writes_masks``: the post-annotation function
        puts consolidated masks (``JobSettings.writes_masks``).
        """
        grant_job_permissions(
            role,
            read=read,
            output_bucket=output_bucket,
            output_prefix=output_prefix,
            functions=functions,
            encryption_keys=encryption_keys,
        )
        if self.post_role is not None:
            skill_table.grant(self.post_role, "dynamodb:BatchGetItem", "dynamodb:UpdateItem")
            if self.payload_access is PayloadAccess.DIRECT_READ:
                self._grant_direct_read(
                    self.post_role,
                    output_bucket,
                    output_prefix,
                    output_key=output_key,
                    writes_masks=writes_masks,
                    writes_answers=writes_answers,
                )
        reasons = wildcard_reasons(output_prefix, read)
        acknowledge_wildcards(role, reasons)
        if self.post_role is not None:
            acknowledge_wildcards(self.post_role, reasons)

    @staticmethod
    def _grant_direct_read(
        post_role: iam.IRole,
        output_bucket: s3.IBucket,
        output_prefix: str,
        *,
        output_key: kms.IKey | None,
        writes_masks: bool,
        writes_answers: bool = False,
    ) -> None:
        """What the post-annotation function itself does with DIRECT_READ, and no more.

        Every function reads its payload and the answers under the output
        prefix (``kms:Decrypt`` on the bucket's key, and on the job's key that
        Ground Truth writes them with). Only a segmentation consolidation puts
        objects, its masks, and only under ``consolidated-masks/``; one that keeps
        every worker's answer puts those of large batches under
        ``annotations-from-all-workers/`` (Lambda's 6 MB response). A single
        ``PutObject`` encrypted by the bucket's default key needs
        ``kms:GenerateDataKey`` and nothing else (no ``Encrypt``, no ``ReEncrypt*``).
        """
        output_bucket.grant_read(post_role, f"{output_prefix}*")
        bucket_key = output_bucket.encryption_key
        if output_key is not None and (
            bucket_key is None or bucket_key.node.path != output_key.node.path
        ):
            output_key.grant_decrypt(post_role)
        folders = [
            (sid, folder)
            for sid, folder, on in (
                ("WriteConsolidatedMasks", "consolidated-masks", writes_masks),
                # every worker's answers, by reference when inline they would pass 6 MB
                ("WriteAnswersByReference", "annotations-from-all-workers", writes_answers),
            )
            if on
        ]
        if not folders:
            return
        for sid, folder in folders:
            post_role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid=sid,
                    actions=["s3:PutObject"],
                    resources=[output_bucket.arn_for_objects(f"{output_prefix}*/{folder}/*")],
                )
            )
        if output_bucket.encryption_key is not None:
            output_bucket.encryption_key.grant(post_role, "kms:GenerateDataKey")


def grant_log_encryption(scope: Construct, key: kms.IKey) -> None:
    """Let CloudWatch Logs encrypt the job's log groups with the job's key.

    A log group with a customer key is refused unless the key's policy allows
    the regional logs service; the ``aws:logs:arn`` encryption context limits
    that to log groups of the job's account and region. The groups cannot be
    named one by one: CloudFormation generates their names, and they depend
    on the key (naming them in its policy would be a cycle). An imported key's
    policy cannot be changed here: a warning says what it must allow.
    """
    stack = Stack.of(scope)
    log_groups = stack.format_arn(
        service="logs",
        resource="log-group",
        resource_name="*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    service = f"logs.{stack.region}.amazonaws.com"
    statement = iam.PolicyStatement(
        sid="CloudWatchLogsEncryptsJobLogGroups",
        principals=[iam.ServicePrincipal(service)],
        # The actions CloudWatch Logs documents for a log group's key.
        actions=[
            "kms:Encrypt*",
            "kms:Decrypt*",
            "kms:ReEncrypt*",
            "kms:GenerateDataKey*",
            "kms:Describe*",
        ],
        resources=["*"],
        conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
    )
    if not key.add_to_resource_policy(statement).statement_added:
        Annotations.of(scope).add_warning_v2(
            "@gt-constructs/job:imported-key-logs",
            "encryption_key is imported: its key policy must allow the CloudWatch Logs service "
            f"({service}) to use it for the log groups of this account and region "
            "(kms:EncryptionContext:aws:logs:arn), or the job's log groups cannot be created.",
        )


def wildcard_reasons(
    output_prefix: str, read: Sequence[tuple[s3.IBucket, str]]
) -> list[tuple[str, str]]:
    """Why each wildcard of the job's roles cannot be narrower (cdk-nag AwsSolutions-IAM5)."""
    output_objects = (
        re.escape(output_prefix) + r"(\*/(consolidated-masks|annotations-from-all-workers)/)?\*$"
    )
    return [
        (
            output_objects,
            "Objects under the job's output prefix: Ground Truth names them per job, "
            "iteration and data object at run time",
        ),
        *[
            (
                re.escape(pattern) + "$",
                "Data objects of the dataset: the manifest may name any object under its prefix",
            )
            for _, pattern in read
            if pattern.endswith("*")
        ],
        (
            r"log-group:/aws/sagemaker/LabelingJobs\*$",
            "Ground Truth writes its logs to log groups under /aws/sagemaker/LabelingJobs",
        ),
        (
            r"^Resource::\*$",
            "cloudwatch:PutMetricData has no resource-level permissions; a condition limits "
            "it to the AWS/SageMaker namespace",
        ),
        *S3_GRANT_REASONS,
    ]


def job_keys(
    encryption_key: kms.IKey | None, given_buckets: Sequence[s3.IBucket | None]
) -> list[kms.IKey]:
    """The job's key and the keys of the buckets it was given (created ones use the job's)."""
    keys = [encryption_key] if encryption_key is not None else []
    return keys + [b.encryption_key for b in given_buckets if b is not None and b.encryption_key]
