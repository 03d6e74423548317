"""The SageMaker execution role of a labeling job, with least-privilege grants."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from aws_cdk import Annotations, ArnFormat, Aspects, Stack, Token
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ..lambda_src.gt_annotation import contract
from ..log_groups import grant_log_encryption
from ..nag import ExactReasons, Finding, acknowledge_findings
from ..validation import Problems, has_attribute

__all__ = [
    "JobAccess",
    "PayloadAccess",
    "execution_role",
    "grant_job_permissions",
    "grant_log_encryption",
    "job_keys",
]


#: Where Ground Truth writes a labeling job's logs.
LABELING_JOB_LOG_GROUPS = "/aws/sagemaker/LabelingJobs*"


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
    post-annotation function's role too, which gets ``sts:AssumeRole`` on it)."""
    assumes = payload_access is PayloadAccess.ASSUME_EXECUTION_ROLE
    trusted = post_annotation_role if assumes else None
    role = new_execution_role(scope, construct_id, trusted=trusted)
    if trusted is not None:
        trusted.add_to_principal_policy(
            iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[role.role_arn])
        )
    return role


def new_execution_role(
    scope: Construct, construct_id: str, *, trusted: iam.IRole | None
) -> iam.Role:
    """The execution role and its trust: SageMaker (``sagemaker_trust_conditions``), and
    ``trusted`` (the post-annotation function's role with ASSUME_EXECUTION_ROLE)."""
    principals: list[iam.IPrincipal] = [
        iam.ServicePrincipal("sagemaker.amazonaws.com").with_conditions(
            sagemaker_trust_conditions(scope)
        )
    ]
    if trusted is not None:
        principals.append(iam.ArnPrincipal(trusted.role_arn))
    return iam.Role(
        scope,
        construct_id,
        assumed_by=iam.CompositePrincipal(*principals),
        description="Ground Truth labeling job execution role (gt-constructs)",
    )


def sagemaker_trust_conditions(scope: Construct) -> dict[str, dict[str, str]]:
    """The conditions on SageMaker's trust: confused-deputy protection that cannot lock
    Ground Truth out.

    SageMaker documents ``aws:SourceAccount`` and ``aws:SourceArn`` on its
    ``sts:AssumeRole`` for training, processing, inference and other features,
    not for labeling jobs. If Ground Truth sends neither key, a plain
    ``StringEquals`` fails and no job can assume the role. The ``...IfExists``
    operators hold when the key is absent and bind it when it is present:
    another account's request, or one of another resource, is refused either way.
    """
    stack = Stack.of(scope)
    return {
        "StringEqualsIfExists": {"aws:SourceAccount": stack.account},
        # Any SageMaker resource of this account and region (a labeling job's ARN, or
        # whatever Ground Truth names): never another account's.
        "ArnLikeIfExists": {"aws:SourceArn": stack.format_arn(service="sagemaker", resource="*")},
    }


def _add(target: iam.Policy | iam.IRole, statement: iam.PolicyStatement) -> None:
    """A statement into the construct's own policy (or, for the old API, a role's)."""
    if isinstance(target, iam.Policy):
        target.add_statements(statement)
    else:
        target.add_to_principal_policy(statement)


def grant_job_permissions(
    role: iam.Policy | iam.IRole,
    *,
    read: Sequence[tuple[s3.IBucket, str]],
    output_bucket: s3.IBucket,
    output_prefix: str,
    functions: Sequence[lambda_.IFunction],
    encryption_keys: Sequence[kms.IKey],
) -> None:
    """What Ground Truth needs, and no more, into ``role`` (the job's own policy
    attached to the execution role; a role for callers of the old API).

    ``read`` is a list of (bucket, key pattern) pairs: input data, manifest,
    template and label category file.
    """
    stack = Stack.of(role)
    buckets = {b.node.path: b for b, _ in read} | {output_bucket.node.path: output_bucket}
    _add(
        role,
        iam.PolicyStatement(
            sid="ListInputAndOutputBuckets",
            actions=["s3:ListBucket", "s3:GetBucketLocation"],
            resources=[b.bucket_arn for b in buckets.values()],
        ),
    )
    _add(
        role,
        iam.PolicyStatement(
            sid="ReadInputManifestTemplateCategories",
            actions=["s3:GetObject", "s3:GetObjectVersion"],
            resources=sorted({b.arn_for_objects(pattern) for b, pattern in read}, key=str),
        ),
    )
    _add(
        role,
        iam.PolicyStatement(
            sid="ReadWriteJobOutput",
            actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            resources=[output_bucket.arn_for_objects(f"{output_prefix}*")],
        ),
    )
    _add(
        role,
        iam.PolicyStatement(
            sid="InvokeAnnotationFunctions",
            actions=["lambda:InvokeFunction"],
            resources=[f.function_arn for f in functions],
        ),
    )
    _add(
        role,
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
                    resource_name=LABELING_JOB_LOG_GROUPS,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
        ),
    )
    # PutMetricData has no resource-level permissions: "*" is the only resource
    # it accepts; the namespace condition limits it to SageMaker's metrics.
    _add(
        role,
        iam.PolicyStatement(
            sid="LabelingJobMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": "AWS/SageMaker"}},
        ),
    )
    # Ground Truth reads the input and writes the output with the job's key: the
    # CreateLabelingJob reference names kms:Encrypt for OutputConfig.KmsKeyId, and
    # S3 asks for Decrypt (reads) and GenerateDataKey (writes). No ReEncrypt*: the
    # job never moves data from one key to another.
    keys = {k.node.path: k for k in encryption_keys}
    if keys:
        _add(
            role,
            iam.PolicyStatement(
                sid="JobKeys",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[k.key_arn for k in keys.values()],
            ),
        )


class JobAccess:
    """Who may do what in a labeling job: every grant, and every reason for a wildcard.

    The payload-access mode is decided here and nowhere else: the execution
    role's trust, the post-annotation role's ``sts:AssumeRole`` or its own reads
    of the job's output. ``execution_role`` comes first (the functions exist,
    the role may be given); ``grant`` once the buckets, dataset and table exist.

    Every grant goes into a policy of the job's own (``execution_policy``,
    ``post_annotation_policy``), attached to the role, whether the job made the
    role or was given it; the cdk-nag acknowledgements name exactly the wildcards
    of those policies. A role you pass keeps its own statements, unexcused.
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
        #: The job's grants to the execution role (made by ``execution_role``).
        self.execution_policy: iam.Policy | None = None
        #: The job's grants to the post-annotation function's role (when it has one).
        self.post_annotation_policy: iam.Policy | None = None
        if post_annotation_role is not None:
            self.post_annotation_policy = _own_policy(
                scope, "PostAnnotationRolePolicy", post_annotation_role
            )
        #: Why each wildcard of the execution role's policy cannot be narrower; grants
        #: made later (``grant_batch_input``) add theirs.
        self.execution_reasons = ExactReasons()

    @property
    def policies(self) -> list[iam.Policy]:
        """The job's policies (what the job's start must wait for)."""
        return [p for p in (self.execution_policy, self.post_annotation_policy) if p]

    def execution_role(self, given: iam.IRole | None) -> iam.IRole:
        """The given role, or a new one that trusts SageMaker (and, with
        ASSUME_EXECUTION_ROLE, the post-annotation function's role)."""
        if given is None:
            role: iam.IRole = new_execution_role(
                self.scope, "ExecutionRole", trusted=self.post_role if self._assumes() else None
            )
        else:
            role = given
            if self.payload_access is PayloadAccess.ASSUME_EXECUTION_ROLE:
                Annotations.of(self.scope).add_warning_v2(
                    "@gt-constructs/job:imported-role-trust",
                    "role is given and payload_access is ASSUME_EXECUTION_ROLE: its trust "
                    "policy must list the post-annotation function's role as an AWS principal "
                    "(its permission to assume the role is granted). Prefer "
                    "PayloadAccess.DIRECT_READ.",
                )
        if self._assumes():
            assert self.post_annotation_policy is not None
            self.post_annotation_policy.add_statements(
                iam.PolicyStatement(
                    sid="AssumeExecutionRole",
                    actions=["sts:AssumeRole"],
                    resources=[role.role_arn],
                )
            )
        self.execution_policy = _own_policy(self.scope, "ExecutionRolePolicy", role)
        Aspects.of(self.execution_policy).add(self.execution_reasons)
        return role

    def _assumes(self) -> bool:
        return (
            self.payload_access is PayloadAccess.ASSUME_EXECUTION_ROLE
            and self.post_role is not None
        )

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
        puts consolidated masks (``JobSettings.writes_masks``); ``writes_answers``:
        it puts every worker's answers of large batches by reference.
        """
        policy = self.execution_policy
        assert policy is not None, "execution_role() comes first"
        grant_job_permissions(
            policy,
            read=read,
            output_bucket=output_bucket,
            output_prefix=output_prefix,
            functions=functions,
            encryption_keys=encryption_keys,
        )
        for finding, reason in execution_findings(self.scope, output_bucket, output_prefix, read):
            self.execution_reasons.add(finding, reason)
        post = self.post_annotation_policy
        if post is None:
            return
        grant_skill_table(post, skill_table)
        if self.payload_access is PayloadAccess.DIRECT_READ:
            self._grant_direct_read(
                post,
                output_bucket,
                output_prefix,
                output_key=output_key,
                writes_masks=writes_masks,
                writes_answers=writes_answers,
            )
            acknowledge_findings(
                post,
                [
                    (
                        Finding.resource(output_bucket.arn_for_objects(f"{output_prefix}*")),
                        OUTPUT_OBJECTS_REASON,
                    ),
                    (
                        Finding.resource(
                            output_bucket.arn_for_objects(f"{output_prefix}*/consolidated-masks/*")
                        ),
                        "Consolidated masks of any job and object under the job's output "
                        "prefix: their names are known at run time",
                    ),
                    (
                        Finding.resource(
                            output_bucket.arn_for_objects(
                                f"{output_prefix}*/annotations-from-all-workers/*"
                            )
                        ),
                        "Every worker's answers of a batch too large for Lambda's 6 MB "
                        "response, under the job's output prefix: named at run time",
                    ),
                ],
            )

    def grant_batch_input(self, bucket: s3.IBucket, prefix: str, *, owner: str = "") -> None:
        """Let the execution role read manifests and data objects under ``prefix`` of
        ``bucket`` (another batch through the runner), with the bucket's key if any:
        ``grant_batch_input(bucket, "batches/")`` makes ``s3://<bucket>/batches/2.manifest``
        a valid ``manifestS3Uri``. ``prefix``: the literal start of the keys (no ``*``,
        not a URI). Bad arguments: one ``ConfigurationError`` (``owner`` names the job).
        """
        problems = Problems(f"CustomLabelingJob {owner}: grant_batch_input")
        if not has_attribute(bucket, "arn_for_objects"):
            problems.add(
                f"bucket is {type(bucket).__name__} {bucket!r:.60}; allowed: an s3.IBucket"
            )
        if not isinstance(prefix, str):
            problems.add(
                f"prefix is {type(prefix).__name__} {prefix!r:.60}; allowed: a key prefix "
                "string such as 'batches/'"
            )
        elif not Token.is_unresolved(prefix) and ("*" in prefix or "://" in prefix):
            problems.add(
                f"prefix {prefix!r} is not allowed: the literal start of the keys (no '*', "
                "not an s3:// URI), e.g. 'batches/'"
            )
        problems.raise_if_any()
        policy = self.execution_policy
        assert policy is not None, "execution_role() comes first"
        objects = bucket.arn_for_objects(f"{prefix}*")
        policy.add_statements(
            iam.PolicyStatement(
                actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=[bucket.bucket_arn]
            ),
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[objects]
            ),
        )
        if bucket.encryption_key is not None:
            policy.add_statements(
                iam.PolicyStatement(
                    actions=["kms:Decrypt"], resources=[bucket.encryption_key.key_arn]
                )
            )
        self.execution_reasons.add(
            Finding.resource(objects),
            "Batch manifests and their data objects under a prefix granted with "
            "grant_batch_input: the runner's input names them at run time",
        )

    @staticmethod
    def _grant_direct_read(
        post: iam.Policy,
        output_bucket: s3.IBucket,
        output_prefix: str,
        *,
        output_key: kms.IKey | None,
        writes_masks: bool,
        writes_answers: bool = False,
    ) -> None:
        """What the post-annotation function itself does with DIRECT_READ, and no more.

        Every function reads its payload and the answers under the output
        prefix (``s3:GetObject`` only: it never lists; ``kms:Decrypt`` on the
        bucket's key, and on the job's key that Ground Truth writes them with).
        Only a segmentation consolidation puts objects, its masks, and only
        under ``consolidated-masks/``; one that keeps every worker's answer puts
        those of large batches under ``annotations-from-all-workers/`` (Lambda's
        6 MB response). A single ``PutObject`` encrypted by the bucket's default
        key needs ``kms:GenerateDataKey`` and nothing else (no ``Encrypt``, no
        ``ReEncrypt*``).
        """
        post.add_statements(
            iam.PolicyStatement(
                sid="ReadJobOutput",
                actions=["s3:GetObject"],
                resources=[output_bucket.arn_for_objects(f"{output_prefix}*")],
            )
        )
        keys = {k.node.path: k for k in (output_bucket.encryption_key, output_key) if k}
        if keys:
            post.add_statements(
                iam.PolicyStatement(
                    sid="DecryptJobOutput",
                    actions=["kms:Decrypt"],
                    resources=[k.key_arn for k in keys.values()],
                )
            )
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
            post.add_statements(
                iam.PolicyStatement(
                    sid=sid,
                    actions=["s3:PutObject"],
                    resources=[output_bucket.arn_for_objects(f"{output_prefix}*/{folder}/*")],
                )
            )
        if output_bucket.encryption_key is not None:
            post.add_statements(
                iam.PolicyStatement(
                    sid="EncryptPostAnnotationOutput",
                    actions=["kms:GenerateDataKey"],
                    resources=[output_bucket.encryption_key.key_arn],
                )
            )


def _own_policy(scope: Construct, construct_id: str, role: iam.IRole) -> iam.Policy:
    """A policy of the job's own, attached the way the role allows: an immutable role
    (``Role.from_role_arn(..., mutable=False)``) takes none, and the policy, never
    attached, is left out of the template (as grants to such a role always were)."""
    policy = iam.Policy(scope, construct_id)
    role.attach_inline_policy(policy)
    return policy


def grant_skill_table(policy: iam.Policy, table: dynamodb.ITable) -> None:
    """What ``DynamoSkillStore`` does, and no more: ``BatchGetItem``, ``UpdateItem``, and
    ``PutItem`` of a batch record inside ``TransactWriteItems`` only.

    ``Table.grant`` adds no KMS permission: with a customer key (the job's, or
    the one of a table you pass) DynamoDB decrypts the table key and makes data
    keys on the caller's behalf, so the role needs ``kms:Decrypt`` and
    ``kms:GenerateDataKey`` on that key, through DynamoDB only (``kms:ViaService``).
    """
    policy.add_statements(
        iam.PolicyStatement(
            sid="WorkerSkill",
            actions=["dynamodb:BatchGetItem", "dynamodb:UpdateItem"],
            resources=[table.table_arn],
        ),
        iam.PolicyStatement(
            sid="WorkerSkillBatchRecords",
            actions=["dynamodb:PutItem"],
            resources=[table.table_arn],
            conditions={
                "ForAnyValue:StringEquals": {"dynamodb:EnclosingOperation": ["TransactWriteItems"]}
            },
        ),
    )
    if table.encryption_key is not None:
        policy.add_statements(
            iam.PolicyStatement(
                sid="WorkerSkillKey",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[table.encryption_key.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"dynamodb.{Stack.of(policy).region}.amazonaws.com"
                    }
                },
            )
        )


OUTPUT_OBJECTS_REASON = (
    "Objects under the job's output prefix: Ground Truth names them per job, "
    "iteration and data object at run time"
)


def execution_findings(
    scope: Construct,
    output_bucket: s3.IBucket,
    output_prefix: str,
    read: Sequence[tuple[s3.IBucket, str]],
) -> list[tuple[Finding, str]]:
    """Why each wildcard of the execution role's policy cannot be narrower
    (cdk-nag AwsSolutions-IAM5), finding by finding."""
    stack = Stack.of(scope)
    return [
        (
            Finding.resource(output_bucket.arn_for_objects(f"{output_prefix}*")),
            OUTPUT_OBJECTS_REASON,
        ),
        *[
            (
                Finding.resource(bucket.arn_for_objects(pattern)),
                "Manifests and data objects under a prefix the job reads (its dataset's, its "
                "batches'): a manifest may name any object under it"
                if pattern != "*"
                else "Data objects of the dataset: the manifest may name any object of its bucket "
                "(Dataset.from_manifest without data_prefix)",
            )
            for bucket, pattern in read
            if pattern.endswith("*")
        ],
        (
            Finding.resource(
                stack.format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=LABELING_JOB_LOG_GROUPS,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ),
            "Ground Truth writes its logs to log groups under /aws/sagemaker/LabelingJobs",
        ),
        (
            Finding.resource("*"),
            "cloudwatch:PutMetricData has no resource-level permissions; a condition limits "
            "it to the AWS/SageMaker namespace",
        ),
    ]


def job_keys(
    encryption_key: kms.IKey | None, given_buckets: Sequence[s3.IBucket | None]
) -> list[kms.IKey]:
    """The job's key and the keys of the buckets it was given (created ones use the job's)."""
    keys = [encryption_key] if encryption_key is not None else []
    return keys + [b.encryption_key for b in given_buckets if b is not None and b.encryption_key]
