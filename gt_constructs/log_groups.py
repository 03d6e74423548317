"""The log groups of a job's parts: one retention, and the job's customer key when it has one."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Annotations, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

#: Construct id (at stack level) of the log group of aws-cdk-lib's BucketDeployment provider.
BUCKET_DEPLOYMENT_LOGS = "GtConstructsBucketDeploymentLogs"
#: Memory of the library's BucketDeployments; aws-cdk-lib makes one provider per size.
BUCKET_DEPLOYMENT_MEMORY = 512


@dataclass(frozen=True)
class JobLogs:
    """How a job's parts log: for how long, what happens on delete, and with which key.

    Every log group the job creates is made with these settings, so a customer
    key encrypts all of them (its key policy must let CloudWatch Logs use it:
    ``job.role.grant_log_encryption``).
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


def _bucket_deployment_provider(stack: Stack) -> Construct | None:
    """aws-cdk-lib's BucketDeployment provider of the library's memory size, if made yet."""
    for child in stack.node.children:
        name = child.node.id
        if name.startswith("Custom::CDKBucketDeployment") and name.endswith(
            f"{BUCKET_DEPLOYMENT_MEMORY}MiB"
        ):
            return child  # type: ignore[return-value]
    return None
