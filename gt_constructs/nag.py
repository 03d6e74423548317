"""cdk-nag acknowledgements, each with a specific reason.

cdk-nag 3 wants every finding acknowledged by its exact id, e.g.
``AwsSolutions-IAM5[Resource::<OutputBucket1234.Arn>/labeling-jobs/*]``, and
those ids hold logical ids only known once the tree is complete. The
``WildcardReasons`` aspect computes the wildcard findings of the policies under
a construct the way AwsSolutions-IAM5 does and acknowledges each one whose
action or resource matches a pattern with its reason; anything unmatched stays
a finding and stops synth, so a new wildcard always needs a new reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

import jsii
from aws_cdk import Acknowledgment, Aspects, IAspect, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct

PACK = "AwsSolutions::"
_MARKER = "GtConstructsNagAcknowledged"


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one AwsSolutions finding (``rule`` like ``AwsSolutions-S1`` or with ``[...]``)."""
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{PACK}{rule}", reason=reason))


def render(value: Any) -> str:
    """A resolved CloudFormation value as cdk-nag writes it in finding ids."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return f"<{arg}>"
        if fn == "Fn::GetAtt":
            return f"<{arg[0]}.{arg[1]}>" if isinstance(arg, list) else f"<{arg}>"
        if fn == "Fn::Sub" and isinstance(arg, str):
            return re.sub(r"\$\{([^}]+)\}", r"<\1>", arg)
        if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
            return str(arg[0]).join(render(part) for part in arg[1])
    if isinstance(value, dict | list):
        # Any other intrinsic (Fn::Select, Fn::Split...): cdk-nag writes its compact JSON.
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def wildcard_findings(document: dict[str, Any]) -> Iterator[str]:
    """``Action::...`` and ``Resource::...`` parts of a policy document that hold a ``*``."""
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        for key, kind in (("Action", "Action"), ("Resource", "Resource")):
            values = statement.get(key, [])
            for value in values if isinstance(values, list) else [values]:
                text = render(value)
                if "*" in text:
                    yield f"{kind}::{text}"


@jsii.implements(IAspect)
class WildcardReasons:
    """Acknowledge AwsSolutions-IAM5 findings under a construct, each with its reason.

    ``reasons``: (regular expression searched in the finding, reason) pairs; the
    first match wins.
    """

    def __init__(self, reasons: Sequence[tuple[str, str]]) -> None:
        self.reasons = [(re.compile(pattern), reason) for pattern, reason in reasons]

    def visit(self, node: IConstruct) -> None:
        documents: list[Any] = []
        if isinstance(node, iam.CfnPolicy):
            documents.append(node.policy_document)
        elif isinstance(node, iam.CfnRole) and node.policies:
            documents.extend(p.policy_document for p in node.policies)  # type: ignore[union-attr]
        for document in documents:
            resolved = Stack.of(node).resolve(document)
            for finding in sorted(set(wildcard_findings(resolved))):
                for pattern, reason in self.reasons:
                    if pattern.search(finding):
                        acknowledge(node, f"AwsSolutions-IAM5[{finding}]", reason)
                        break


def acknowledge_wildcards(scope: IConstruct, reasons: Sequence[tuple[str, str]]) -> None:
    """Attach ``WildcardReasons`` to ``scope``: its policies' wildcards get those reasons."""
    Aspects.of(scope).add(WildcardReasons(reasons))


#: Reasons shared by every grant that CDK writes with ``grant_read``/``grant_put``.
S3_GRANT_REASONS: list[tuple[str, str]] = [
    (
        r"^Action::s3:(GetObject|GetBucket|List|Abort|DeleteObject|PutObject)\*?",
        "CDK's S3 grant helpers name action families (Get*, List*); the resources they apply "
        "to are scoped to the job's buckets and prefixes",
    ),
    (
        r"^Action::kms:(ReEncrypt|GenerateDataKey)\*",
        "KMS action families needed to read and write objects encrypted with the job's key; "
        "the resource is that one key",
    ),
]


def bucket_deployment_singletons(stack: Stack) -> list[Construct]:
    """The stack-level provider functions aws-cdk-lib creates for ``BucketDeployment``."""
    return [
        child
        for child in stack.node.children
        if isinstance(child, Construct) and child.node.id.startswith("Custom::CDKBucketDeployment")
    ]


def acknowledge_bucket_deployment_provider(stack: Stack) -> None:
    """The findings of aws-cdk-lib's own BucketDeployment provider, with reasons."""
    for provider in bucket_deployment_singletons(stack):
        if provider.node.try_find_child(_MARKER) is not None:
            continue
        Construct(provider, _MARKER)  # acknowledged once, however many deployments share it
        acknowledge(
            provider,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
            "aws-cdk-lib's BucketDeployment provider uses the basic execution policy for its "
            "own logs only",
        )
        acknowledge(
            provider,
            "AwsSolutions-L1",
            "The runtime of aws-cdk-lib's BucketDeployment provider is chosen by aws-cdk-lib "
            "and moves with its releases",
        )
        acknowledge_wildcards(
            provider,
            [
                (
                    r"cdk-[a-z0-9]+-assets-",
                    "Reads the CDK bootstrap assets bucket to copy the deployment's asset",
                ),
                *S3_GRANT_REASONS,
                (
                    r"^Resource::.*/\*$",
                    "Copies the uploaded files to their key prefix in the destination bucket",
                ),
            ],
        )
