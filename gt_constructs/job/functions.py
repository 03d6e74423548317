"""The job's pre- and post-annotation functions, configured through the Lambda contract."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from ..functions import POST_ANNOTATION_HANDLER, PRE_ANNOTATION_HANDLER, annotation_function
from ..lambda_src.gt_annotation.contract import PostAnnotationSettings, PreAnnotationSettings
from ..log_groups import JobLogs


def new_pre_annotation_function(
    scope: Construct, settings: PreAnnotationSettings, *, log_settings: JobLogs
) -> lambda_.Function:
    """Manifest line → worker task input (one call per data object: small and quick)."""
    return annotation_function(
        scope,
        "PreAnnotation",
        handler=PRE_ANNOTATION_HANDLER,
        description="Ground Truth pre-annotation: manifest line to worker task input",
        environment=settings.to_environment(),
        memory_size=256,
        timeout=Duration.seconds(30),
        log_retention=log_settings.retention,
        removal_policy=log_settings.removal_policy,
        encryption_key=log_settings.encryption_key,
    )


def new_post_annotation_function(
    scope: Construct, settings: PostAnnotationSettings, *, heavy: bool, log_settings: JobLogs
) -> lambda_.Function:
    """Workers' answers → one label per object; ``heavy`` (segmentation) gets more memory
    and Lambda's longest timeout (15 minutes; 5 for the others)."""
    return annotation_function(
        scope,
        "PostAnnotation",
        handler=POST_ANNOTATION_HANDLER,
        description="Ground Truth annotation consolidation: workers' answers to one label",
        environment=settings.to_environment(),
        memory_size=2048 if heavy else 1024,
        # Segmentation decodes every worker's mask and writes PNGs: Lambda's maximum.
        timeout=Duration.minutes(15) if heavy else Duration.minutes(5),
        log_retention=log_settings.retention,
        removal_policy=log_settings.removal_policy,
        encryption_key=log_settings.encryption_key,
    )
