"""The log groups of a job's parts: one retention, and the job's customer key when it has one."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Annotations, ArnFormat, CfnResource, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

#: Construct id (at stack level) of the log group of aws-cdk-lib's BucketDeployment provider.
BUCKET_DEPLOYMENT_LOGS = "GtConstructsBucketDeploymentLogs"
#: Memory of the library's BucketDeployments; aws-cdk-lib makes one provider per size.
BUCKET_DEPLOYMENT_MEMORY = 512
#: Construct id (at stack level) of the log group of aws-cdk-lib's S3 auto-delete provider.
AUTO_DELETE_LOGS = "GtConstructsAutoDeleteObjectsLogs"
#: aws-cdk-lib's provider that empties ``auto_delete_objects`` buckets (one per stack).
AUTO_DELETE_PROVIDER = "Custom::S3AutoDeleteObjectsCustomResourceProvider"


@dataclass(frozen=True)
class JobLogs:
    """How a job's parts log: for how long, what happens on delete, and with which key.

    Every log group the job creates is made with these settings, so a customer
    key encrypts all of them (its key policy must let CloudWatch Logs use it:
    ``log_groups.grant_log_encryption``).
    """

    retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    encryption_key: kms.IKey | None = None

    def bucket_deployment_log_group(self, scope: Construct) -> logs.ILogGroup | None:
        """The log group for aws-cdk-lib's BucketDeployment provider in ``scope``'s stack.

        Without ``log_group`` the provider logs to a group that never expires.
        The provider is one function per stack (and memory size) shared by
        every BucketDeployment, and only the first deployment's ``log_group``
        reaches it: so its group is one per stack too, made by the first job
        that asks (its retention and key; later jobs get the same group).
        When the provider already exists without it (a BucketDeployment of
        512 MiB made before the job), nothing can change its logging: a
        warning says so and ``None`` is returned.
        """
        stack = Stack.of(scope)
        existing = stack.node.try_find_child(BUCKET_DEPLOYMENT_LOGS)
        if isinstance(existing, logs.LogGroup):
            return existing
        if _bucket_deployment_provider(stack) is not None:
            Annotations.of(scope).add_warning_v2(
                "@gt-constructs/job:bucket-deployment-logs",
                "a BucketDeployment of 512 MiB was added to this stack before the job: its "
                "provider function (shared) keeps aws-cdk-lib's default log group, which never "
                "expires. Create the job first, or give that deployment a log_group.",
            )
            return None
        return logs.LogGroup(
            stack,
            BUCKET_DEPLOYMENT_LOGS,
            retention=self.retention,
            removal_policy=self.removal_policy,
            encryption_key=self.encryption_key,
        )

    def auto_delete_log_group(self, scope: Construct) -> logs.ILogGroup | None:
        """The log group of aws-cdk-lib's S3 auto-delete provider in ``scope``'s stack.

        ``auto_delete_objects`` (the job's buckets with ``RemovalPolicy.DESTROY``)
        brings a provider function per stack that logs to a group Lambda makes
        itself, which never expires and ignores the customer key. Its
        ``LoggingConfig`` is pointed at a group made here once per stack (the
        first job's retention and key; later jobs get the same group), which
        also exists before the function runs. ``None`` when the stack has no
        such provider (yet), or its logging was configured by someone else.
        """
        stack = Stack.of(scope)
        existing = stack.node.try_find_child(AUTO_DELETE_LOGS)
        if isinstance(existing, logs.LogGroup):
            return existing
        provider = stack.node.try_find_child(AUTO_DELETE_PROVIDER)
        handler = provider.node.try_find_child("Handler") if provider is not None else None
        if (
            not isinstance(handler, CfnResource)
            or handler.cfn_resource_type != "AWS::Lambda::Function"
        ):
            return None
        group = logs.LogGroup(
            stack,
            AUTO_DELETE_LOGS,
            retention=self.retention,
            removal_policy=self.removal_policy,
            encryption_key=self.encryption_key,
        )
        handler.add_property_override("LoggingConfig.LogGroup", group.log_group_name)
        return group


def _bucket_deployment_provider(stack: Stack) -> Construct | None:
    """aws-cdk-lib's BucketDeployment provider of the library's memory size, if made yet."""
    for child in stack.node.children:
        name = child.node.id
        if name.startswith("Custom::CDKBucketDeployment") and name.endswith(
            f"{BUCKET_DEPLOYMENT_MEMORY}MiB"
        ):
            return child  # type: ignore[return-value]
    return None


def grant_log_encryption(scope: Construct, key: kms.IKey) -> None:
    """Let CloudWatch Logs encrypt the log groups of a job (or a team) with its key.

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
            "(kms:EncryptionContext:aws:logs:arn), or the log groups cannot be created.",
        )
