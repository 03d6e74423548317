"""A deploy-time crawler that writes the input manifest of an S3 prefix."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ..functions import annotation_function
from ..log_groups import JobLogs
from ..nag import CDK_GRANT_ACTIONS, Finding, acknowledge_findings


class ManifestFromS3Prefix(Construct):
    """A manifest of the objects under an S3 prefix, written at deploy time."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source_bucket: s3.IBucket,
        prefix: str,
        extensions: Sequence[str],
        manifest_bucket: s3.IBucket,
        manifest_key: str,
        log_settings: JobLogs | None = None,
    ) -> None:
        """:param log_settings: retention and key of the crawler's logs. Default: one month."""
        super().__init__(scope, construct_id)
        log_settings = log_settings or JobLogs()
        self.function = annotation_function(
            self,
            "Crawler",
            handler="gt_resources.manifest_crawler.handler",
            description="Writes a Ground Truth input manifest for an S3 prefix",
            environment={},
            memory_size=512,
            timeout=Duration.minutes(15),
            log_retention=log_settings.retention,
            removal_policy=RemovalPolicy.DESTROY,
            encryption_key=log_settings.encryption_key,
        )
        role = self.function.role
        assert role is not None
        source_bucket.grant_read(role, f"{prefix}*")
        manifest_bucket.grant_put(role, manifest_key)
        acknowledge_findings(
            role,
            [
                (
                    Finding.resource(source_bucket.arn_for_objects(f"{prefix}*")),
                    "Lists and reads the objects under the dataset's prefix to write the manifest",
                ),
                *[
                    (Finding.action(action), "aws-cdk-lib's S3 grants name action families")
                    for action in CDK_GRANT_ACTIONS
                ],
            ],
        )
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.function.function_arn,
            resource_type="Custom::GroundTruthManifest",
            properties={
                "SourceBucket": source_bucket.bucket_name,
                "Prefix": prefix,
                "Extensions": list(extensions),
                "ManifestBucket": manifest_bucket.bucket_name,
                "ManifestKey": manifest_key,
            },
        )
        self.resource.node.add_dependency(role)
        self.manifest_s3_uri = self.resource.get_att_string("ManifestS3Uri")
