"""The pre- and post-annotation Lambda functions."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from ._assets import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, lambda_code

PRE_ANNOTATION_HANDLER = "gt_annotation.pre_annotation.handler"
POST_ANNOTATION_HANDLER = "gt_annotation.post_annotation.handler"


def annotation_function(
    scope: Construct,
    construct_id: str,
    *,
    handler: str,
    description: str,
    environment: Mapping[str, str],
    memory_size: int,
    timeout: Duration,
    log_retention: logs.RetentionDays,
    removal_policy: RemovalPolicy,
    encryption_key: kms.IKey | None = None,
) -> lambda_.Function:
    """A function on the library's runtime, code straight from ``lambda_src``.

    Its role is created here with exactly the log permissions it needs (no
    AWS managed policy); callers add the rest. ``encryption_key`` encrypts its
    log group (the key must let the CloudWatch Logs service use it:
    ``log_groups.grant_log_encryption``).
    """
    log_group = logs.LogGroup(
        scope,
        f"{construct_id}Logs",
        retention=log_retention,
        removal_policy=removal_policy,
        encryption_key=encryption_key,
    )
    role = iam.Role(
        scope,
        f"{construct_id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"{description} (gt-constructs)",
    )
    function = lambda_.Function(
        scope,
        construct_id,
        runtime=LAMBDA_RUNTIME,
        architecture=LAMBDA_ARCHITECTURE,
        code=lambda_code(),
        handler=handler,
        description=description,
        environment=dict(environment),
        memory_size=memory_size,
        timeout=timeout,
        role=role,
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
    )
    # Log streams of this function's own group only.
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    return function
