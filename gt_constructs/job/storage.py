"""S3 buckets with the settings a labeling job needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_cdk import Annotations, Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from ..log_groups import BUCKET_DEPLOYMENT_MEMORY, JobLogs
from ..nag import acknowledge

if TYPE_CHECKING:
    from .settings import JobSettings

#: The rule workers' browsers need to load task data from an input bucket
#: (the console adds it; the API does not).
GROUND_TRUTH_CORS_RULE = s3.CorsRule(
    allowed_methods=[s3.HttpMethods.GET],
    allowed_origins=["*"],
    allowed_headers=[],
    exposed_headers=["Access-Control-Allow-Origin"],
)


def secure_bucket(
    scope: Construct,
    construct_id: str,
    *,
    encryption_key: kms.IKey | None,
    removal_policy: RemovalPolicy,
    cors: bool,
    access_logs_bucket: s3.IBucket | None,
    access_logs_prefix: str,
) -> s3.Bucket:
    """An encrypted, versioned, SSL-only bucket with public access blocked.

    S3-managed encryption unless a customer key is given. ``DESTROY`` also
    empties the bucket on delete, so ``cdk destroy`` cleans up.
    """
    return s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.KMS if encryption_key else s3.BucketEncryption.S3_MANAGED,
        encryption_key=encryption_key,
        bucket_key_enabled=encryption_key is not None,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        cors=[GROUND_TRUTH_CORS_RULE] if cors else None,
        server_access_logs_bucket=access_logs_bucket,
        server_access_logs_prefix=access_logs_prefix if access_logs_bucket else None,
        lifecycle_rules=[
            s3.LifecycleRule(
                id="expire-old-versions",
                noncurrent_version_expiration=Duration.days(90),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )
        ],
        removal_policy=removal_policy,
        auto_delete_objects=removal_policy == RemovalPolicy.DESTROY,
    )


@dataclass(frozen=True)
class JobStorage:
    """The job's buckets and the configuration (template, label categories) in them."""

    input_bucket: s3.IBucket
    output_bucket: s3.IBucket
    config_upload: s3deploy.BucketDeployment
    template_s3_uri: str
    label_category_s3_uri: str
    #: Where another batch's manifest (and data) may go: the execution role reads it.
    batches_s3_uri: str


def job_storage(
    scope: Construct,
    settings: JobSettings,
    *,
    template_text: str,
    input_bucket: s3.IBucket | None,
    output_bucket: s3.IBucket | None,
    encryption_key: kms.IKey | None,
    removal_policy: RemovalPolicy,
    access_logs_bucket: s3.IBucket | None,
    deployment_log_group: logs.ILogGroup | None,
    log_settings: JobLogs | None = None,
) -> JobStorage:
    """The given buckets or new secure ones, and the job's configuration uploaded to input.

    ``deployment_log_group`` is where the upload's (aws-cdk-lib) provider logs
    (``JobLogs.bucket_deployment_log_group``); ``log_settings`` give the log
    group of the provider that empties the created buckets on delete
    (``RemovalPolicy.DESTROY``).
    """

    def new_bucket(construct_id: str, *, cors: bool, logs_prefix: str) -> s3.Bucket:
        return secure_bucket(
            scope,
            construct_id,
            encryption_key=encryption_key,
            removal_policy=removal_policy,
            cors=cors,
            access_logs_bucket=access_logs_bucket,
            access_logs_prefix=logs_prefix,
        )

    inputs = input_bucket or new_bucket("InputBucket", cors=True, logs_prefix="input/")
    outputs = output_bucket or new_bucket("OutputBucket", cors=False, logs_prefix="output/")
    if removal_policy == RemovalPolicy.DESTROY and log_settings is not None:
        log_settings.auto_delete_log_group(scope)
    if input_bucket is not None:
        Annotations.of(scope).add_warning_v2(
            "@gt-constructs/job:imported-bucket-cors",
            "input_bucket is imported: make sure it carries the CORS rule Ground Truth "
            "workers' browsers need (GET from any origin, exposing "
            "Access-Control-Allow-Origin), or tasks will not load their data.",
        )
    upload = s3deploy.BucketDeployment(
        scope,
        "ConfigUpload",
        sources=[
            s3deploy.Source.data("worker-template.liquid.html", template_text),
            s3deploy.Source.data("label-categories.json", settings.label_categories_json()),
        ],
        destination_bucket=inputs,
        destination_key_prefix=settings.config_prefix,
        memory_limit=BUCKET_DEPLOYMENT_MEMORY,
        prune=False,
        log_group=deployment_log_group,
    )
    if access_logs_bucket is None:
        for created in (b for b in (inputs, outputs) if isinstance(b, s3.Bucket)):
            acknowledge(
                created,
                "AwsSolutions-S1",
                "S3 server access logging is opt-in: pass access_logs_bucket to "
                "write logs there (the job's own actions are in CloudTrail)",
            )
    return JobStorage(
        input_bucket=inputs,
        output_bucket=outputs,
        config_upload=upload,
        template_s3_uri=f"s3://{inputs.bucket_name}/{settings.template_key}",
        label_category_s3_uri=f"s3://{inputs.bucket_name}/{settings.label_categories_key}",
        batches_s3_uri=f"s3://{inputs.bucket_name}/{settings.batches_prefix}",
    )
