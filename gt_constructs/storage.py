"""S3 buckets with the settings a labeling job needs."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

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
