"""cdk-nag acknowledgements, each with a specific reason.

cdk-nag 3 wants every finding acknowledged by its exact id, e.g.
``AwsSolutions-IAM5[Resource::<OutputBucket1234.Arn>/labeling-jobs/*]``, and
those ids hold logical ids only known once the tree is complete. The
``ExactReasons`` aspect computes the wildcard findings of the policies under a
construct the way AwsSolutions-IAM5 does and acknowledges each one that is
exactly a finding it was given (``Action::s3:GetObject*``, or
``Resource::<arn>`` of a resource value, tokens resolved as cdk-nag renders
them) with its reason; anything else stays a finding and stops synth, so a new
wildcard always needs a new reason, and a reason never covers a wildcard that
someone else adds. Acknowledgements go on the policies a construct makes
itself, never on a role it was given. ``WildcardReasons`` matches regular
expressions instead: only for aws-cdk-lib's own singletons, whose resource
names are not ours to know.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Finding:
    """One AwsSolutions-IAM5 finding: an action (``s3:List*``) or a resource value
    (a string or a token such as ``bucket.arn_for_objects("data/*")``)."""

    kind: str
    value: Any

    @staticmethod
    def action(name: str) -> Finding:
        return Finding("Action", name)

    @staticmethod
    def resource(value: Any) -> Finding:
        return Finding("Resource", value)

    def text(self, scope: IConstruct) -> str:
        """The finding as cdk-nag writes it (``Resource::<Bucket.Arn>/data/*``)."""
        return f"{self.kind}::{render(Stack.of(scope).resolve(self.value))}"


@jsii.implements(IAspect)
class ExactReasons:
    """Acknowledge exactly the given AwsSolutions-IAM5 findings under a construct.

    ``reasons`` may grow until synth (``add``): a grant made later brings its reason.
    """

    def __init__(self, reasons: Sequence[tuple[Finding, str]] = ()) -> None:
        self.reasons: list[tuple[Finding, str]] = list(reasons)

    def add(self, finding: Finding, reason: str) -> None:
        self.reasons.append((finding, reason))

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, iam.CfnPolicy):
            return
        known = {finding.text(node): reason for finding, reason in reversed(self.reasons)}
        resolved = Stack.of(node).resolve(node.policy_document)
        for finding in sorted(set(wildcard_findings(resolved))):
            if finding in known:
                acknowledge(node, f"AwsSolutions-IAM5[{finding}]", known[finding])


def acknowledge_findings(scope: IConstruct, reasons: Sequence[tuple[Finding, str]]) -> ExactReasons:
    """Attach ``ExactReasons`` to ``scope`` (a policy the caller made) and return it."""
    aspect = ExactReasons(reasons)
    Aspects.of(scope).add(aspect)
    return aspect


def bucket_deployment_singletons(stack: Stack) -> list[Construct]:
    """The stack-level provider functions aws-cdk-lib creates for ``BucketDeployment``."""
    return [
        child
        for child in stack.node.children
        if isinstance(child, Construct) and child.node.id.startswith("Custom::CDKBucketDeployment")
    ]


#: The action families aws-cdk-lib's grants write (``grant_read``, ``grant_read_write``).
CDK_GRANT_ACTIONS = (
    "s3:GetObject*",
    "s3:GetBucket*",
    "s3:List*",
    "s3:DeleteObject*",
    "s3:Abort*",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
)


def acknowledge_bucket_deployment_provider(stack: Stack, destinations: Sequence[Any] = ()) -> None:
    """The findings of aws-cdk-lib's own BucketDeployment provider, with reasons.

    ``destinations``: the buckets the library's deployments copy to; their
    object wildcards are acknowledged by their exact ARNs (another
    deployment's destination in the same stack stays a finding).
    """
    for provider in bucket_deployment_singletons(stack):
        if destinations:
            acknowledge_findings(
                provider,
                [
                    (
                        Finding.resource(bucket.arn_for_objects("*")),
                        "aws-cdk-lib grants its shared BucketDeployment provider read and write, "
                        "delete included, on every object of a destination bucket (it cannot be "
                        "scoped to a key prefix). The library's deployments use prune=False and "
                        "keep their files on delete: they only add files under their key prefix",
                    )
                    for bucket in destinations
                ],
            )
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
        acknowledge_findings(
            provider,
            [
                (
                    Finding.action(action),
                    "aws-cdk-lib's S3 grants name action families (Get*, List*, DeleteObject*); "
                    "the resources are the asset and destination buckets",
                )
                for action in CDK_GRANT_ACTIONS
            ],
        )
        acknowledge_wildcards(
            provider,
            [
                (
                    r"^Resource::arn:<AWS::Partition>:s3:::cdk-[a-z0-9]+-assets-[^/]+/\*$",
                    "Reads the CDK bootstrap assets bucket to copy the deployment's asset",
                ),
            ],
        )
