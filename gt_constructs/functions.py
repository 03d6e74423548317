"""The pre- and post-annotation Lambda functions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsii
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IValidation

from ._assets import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, lambda_code
from .lambda_src.gt_annotation.contract import MAX_ENVIRONMENT_BYTES, environment_size

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
    function = LibraryFunction(
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
    function.node.add_validation(EnvironmentSize(function))
    # Log streams of this function's own group only.
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    return function


def _known_text(value: Any) -> tuple[str, bool]:
    """The characters of a resolved value known at synth, and whether that is all of it
    (the literal parts of an ``Fn::Join``; nothing of another intrinsic)."""
    if isinstance(value, str):
        return value, True
    if isinstance(value, dict) and list(value) == ["Fn::Join"]:
        separator, parts = value["Fn::Join"]
        known = [_known_text(part) for part in parts]
        text = separator.join(part for part, _ in known) if isinstance(separator, str) else ""
        return text, all(whole for _, whole in known)
    return "", False


class LibraryFunction(lambda_.Function):
    """A ``lambda_.Function`` that knows its environment (aws-cdk-lib keeps it private),
    so that ``EnvironmentSize`` can judge it at synth, ``add_environment`` included."""

    def __init__(self, scope: Construct, construct_id: str, **props: Any) -> None:
        super().__init__(scope, construct_id, **props)
        self.environment_variables: dict[str, str] = dict(props.get("environment") or {})

    def add_environment(
        self, key: str, value: str, *, remove_in_edge: bool | None = None
    ) -> lambda_.Function:
        self.environment_variables[key] = value
        return super().add_environment(key, value, remove_in_edge=remove_in_edge)


@jsii.implements(IValidation)
class EnvironmentSize:
    """Synth fails when a function's environment is over Lambda's 4 KB (which would fail
    the deploy): an error naming the function and the size (a lower bound when some
    values are only known at deploy)."""

    def __init__(self, function: LibraryFunction) -> None:
        self.function = function

    def validate(self) -> list[str]:
        variables = Stack.of(self.function).resolve(self.function.environment_variables)
        known = {key: _known_text(value) for key, value in variables.items()}
        size = environment_size({key: text for key, (text, _) in known.items()})
        if size <= MAX_ENVIRONMENT_BYTES:
            return []
        exact = all(whole for _, whole in known.values())
        largest = max(known, key=lambda key: len(known[key][0]))
        return [
            f"function {self.function.node.path}: its environment is "
            f"{'' if exact else 'at least '}{size} bytes ({len(variables)} variables, the "
            f"largest {largest}); Lambda allows {MAX_ENVIRONMENT_BYTES} bytes in all and "
            "would refuse it at deploy: keep large values out of the environment (e.g. in S3)"
        ]
