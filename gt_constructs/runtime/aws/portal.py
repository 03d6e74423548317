"""The worker portal on AWS: its static files in S3 behind CloudFront (origin access
control), the JSON API under ``/api/*`` of the same origin, and the portal's sign-in
client on the workforce's user pool (authorization code with PKCE, no secret).

The portal's files are the one-machine runtime's (``gt_constructs/runtime/portal/``);
``config.json`` beside them tells the portal it signs in through Cognito's hosted UI
and where the task pages live (the HTTP API's own domain: an origin of their own).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Annotations, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from ...job.storage import secure_bucket
from ...log_groups import JobLogs
from ...nag import (
    Finding,
    acknowledge,
    acknowledge_bucket_deployment_provider,
    acknowledge_findings,
    acknowledge_wildcards,
    bucket_deployment_singletons,
)

#: The portal's static files (HTML, JS, CSS), shared with the one-machine runtime.
PORTAL_FILES = Path(__file__).resolve().parents[1] / "portal"
#: The sign-in page (authorization code + PKCE with the pool's hosted UI).
SIGN_IN_FILES = Path(__file__).resolve().parent / "signin"
#: The cookie the sign-in page keeps the ID token in, and the header CloudFront moves it
#: to for the API's JWT authorizer.
TOKEN_COOKIE = "gt_id_token"
TOKEN_HEADER = "X-Gt-Authorization"
#: Viewer-request function of ``/api/*``: the token cookie becomes the JWT header.
TOKEN_FUNCTION = f"""function handler(event) {{
  var request = event.request;
  var cookie = request.cookies["{TOKEN_COOKIE}"];
  delete request.headers["{TOKEN_HEADER.lower()}"];
  if (cookie && cookie.value) {{
    request.headers["{TOKEN_HEADER.lower()}"] = {{ value: "Bearer " + cookie.value }};
  }}
  return request;
}}
"""
#: Scopes the portal asks for.
PORTAL_SCOPES = (cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE)


class Portal(Construct):
    """Static portal behind CloudFront, ``/api/*`` forwarded to the HTTP API."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: apigw.HttpApi,
        user_pool: cognito.IUserPool,
        sign_in_domain: str,
        encryption_key: kms.IKey | None,
        removal_policy: RemovalPolicy,
        log_settings: JobLogs,
        access_logs_bucket: s3.IBucket | None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.bucket = secure_bucket(
            self,
            "Files",
            encryption_key=None,  # CloudFront reads it through OAC: S3-managed keys
            removal_policy=RemovalPolicy.DESTROY,
            cors=False,
            access_logs_bucket=access_logs_bucket,
            access_logs_prefix="portal-files/",
        )
        if access_logs_bucket is None:
            acknowledge(
                self.bucket,
                "AwsSolutions-S1",
                "The portal's files are the library's static assets, replaced on every "
                "deploy; pass access_logs_bucket to log their reads",
            )
        api_domain = f"{api.api_id}.execute-api.{stack.region}.{stack.url_suffix}"
        headers = cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="Labeling portal (gt-constructs self-hosted runtime)",
            default_root_object="index.html",
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                response_headers_policy=headers,
            ),
            additional_behaviors={
                "/api/*": cloudfront.BehaviorOptions(
                    function_associations=[
                        cloudfront.FunctionAssociation(
                            event_type=cloudfront.FunctionEventType.VIEWER_REQUEST,
                            function=cloudfront.Function(
                                self,
                                "TokenToHeader",
                                code=cloudfront.FunctionCode.from_inline(TOKEN_FUNCTION),
                                runtime=cloudfront.FunctionRuntime.JS_2_0,
                                comment="The portal's token cookie to the API's JWT header",
                            ),
                        )
                    ],
                    origin=origins.HttpOrigin(api_domain),
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    origin_request_policy=(
                        cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER
                    ),
                    response_headers_policy=headers,
                )
            },
        )
        self.url = f"https://{self.distribution.distribution_domain_name}"
        self.client = user_pool.add_client(
            "PortalClient",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=list(PORTAL_SCOPES),
                callback_urls=[f"{self.url}/signin.html"],
                logout_urls=[f"{self.url}/"],
            ),
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(1),
        )
        self._upload(api, sign_in_domain, log_settings)
        _acknowledge_distribution(self.distribution)

    def _upload(self, api: apigw.HttpApi, sign_in_domain: str, log_settings: JobLogs) -> None:
        """The portal's files, the sign-in page and ``portal-config.json``, then a cache
        invalidation."""
        from ..task_page import FRAME_SANDBOX

        #: ``/portal-config.json``: what the portal's script reads first.
        self.config = {
            "auth": "cognito",
            "apiBase": "/api",
            "taskOrigin": api.api_endpoint,
            "frameSandbox": FRAME_SANDBOX,
            "crowdElements": "real, else the offline stand-in",
            "signInUrl": "/signin.html",
            "cognito": {
                "domain": sign_in_domain,
                "clientId": self.client.user_pool_client_id,
                "scopes": [scope.scope_name for scope in PORTAL_SCOPES],
            },
        }
        sources = [
            s3deploy.Source.asset(str(SIGN_IN_FILES)),
            s3deploy.Source.json_data("portal-config.json", self.config),
        ]
        if PORTAL_FILES.is_dir():
            sources.insert(0, s3deploy.Source.asset(str(PORTAL_FILES)))
        else:
            Annotations.of(self).add_warning_v2(
                "@gt-constructs/runtime:portal-files-missing",
                f"the portal's static files were not found at {PORTAL_FILES}; only "
                "the sign-in page and portal-config.json are deployed",
            )
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Upload",
            destination_bucket=self.bucket,
            sources=sources,
            distribution=self.distribution,
            distribution_paths=["/*"],
            memory_limit=512,
            log_group=log_settings.bucket_deployment_log_group(self),
        )
        acknowledge_bucket_deployment_provider(Stack.of(self))
        for provider in bucket_deployment_singletons(Stack.of(self)):
            acknowledge_findings(
                provider,
                [
                    (
                        Finding.resource(self.bucket.arn_for_objects("*")),
                        "The portal's own bucket: each deploy replaces its static files "
                        "(aws-cdk-lib grants its BucketDeployment provider every object of a "
                        "destination bucket)",
                    )
                ],
            )
            acknowledge_wildcards(
                provider,
                [
                    (
                        r"^Resource::\*$",
                        "aws-cdk-lib's BucketDeployment provider invalidates the portal's "
                        "distribution after an upload (cloudfront:CreateInvalidation and "
                        "GetInvalidation, which aws-cdk-lib grants on any distribution)",
                    )
                ],
            )


def _acknowledge_distribution(distribution: cloudfront.Distribution) -> None:
    for rule, reason in (
        (
            "AwsSolutions-CFR1",
            "Workers sign in from wherever they work; restrict countries with a WAF web ACL "
            "when a team needs it",
        ),
        (
            "AwsSolutions-CFR2",
            "The portal serves static files and an API behind a Cognito JWT authorizer; "
            "attach a WAF web ACL to the distribution when a deployment needs one",
        ),
        (
            "AwsSolutions-CFR3",
            "The API's stage logs every request; the portal's files are static assets",
        ),
        (
            "AwsSolutions-CFR4",
            "The default CloudFront certificate (*.cloudfront.net) cannot pin a minimum TLS "
            "version; a custom domain with its own certificate can (TLSv1.2_2021 is set)",
        ),
    ):
        acknowledge(distribution, rule, reason)
