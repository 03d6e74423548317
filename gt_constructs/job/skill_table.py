"""The DynamoDB table where the post-annotation function keeps worker skill."""

from __future__ import annotations

import enum

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from ..lambda_src.gt_annotation import contract


class SkillScope(enum.Enum):
    """Over what worker skill is learned."""

    #: Per labeling job: each job learns its workers afresh.
    JOB = contract.SKILL_SCOPE_JOB
    #: Shared by every job with the same task type and labels (same table).
    LABEL_SET = contract.SKILL_SCOPE_LABEL_SET


def worker_skill_table(
    scope: Construct,
    construct_id: str,
    *,
    encryption_key: kms.IKey | None,
    removal_policy: RemovalPolicy,
) -> dynamodb.Table:
    """On-demand, encrypted, point-in-time recovery; key ``scope``/``worker``.

    Items hold soft counts updated with atomic ``ADD`` (see docs/architecture.md);
    the records of counted batches expire (time to live on ``expires``).
    """
    return dynamodb.Table(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name="scope", type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name="worker", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=(
            dynamodb.TableEncryption.CUSTOMER_MANAGED
            if encryption_key
            else dynamodb.TableEncryption.AWS_MANAGED
        ),
        encryption_key=encryption_key,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=contract.SKILL_TABLE_TTL_ATTRIBUTE,
        removal_policy=removal_policy,
    )
