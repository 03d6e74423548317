"""The workforce a team belongs to: a new one built here, or the account's existing one.

A private workforce is one per account and region, backed by one Cognito user
pool and one app client. Both kinds offer the team the same small interface
(``Workforce``): the pool, the client id, the portal URL (or None), what the
workteam and the workers must wait for, and ``admit(group)``, called once the
team's group exists. The team chooses once; nothing else asks which kind it has.

``NewWorkforce`` creates its resources in the *team's* scope, with the construct
ids the team has always used (they make the logical ids, so they are part of the
public contract). It works in two steps because of the order CloudFormation
needs: the pool, its domain and its client first; the ``CfnWorkforce`` only
after the team's group (a workforce's pool needs a group), and then the custom
resource that gives the client the portal's OAuth settings.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence

from aws_cdk import Aws, CfnResource, CustomResource, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct, IConstruct

from ..functions import annotation_function
from ..nag import acknowledge
from .settings import WorkteamSettings, short_digest

WORKFORCE_CLIENT_HANDLER = "gt_resources.workforce_client.handler"
INVITATION_HANDLER = "gt_resources.workforce_client.invitation_handler"


class Workforce:
    """What a team needs of its workforce; see ``NewWorkforce`` and ``ExistingWorkforce``."""

    user_pool: cognito.IUserPool
    #: None: a self-hosted team's new pool (the runtime makes the portal's own client).
    user_pool_client_id: str | None
    #: The workforce's name as the workteam gives it; None: the account's existing one.
    workforce_name: str | None = None
    user_pool_domain: cognito.UserPoolDomain | None = None
    invitation_function: lambda_.IFunction | None = None
    resource: sagemaker.CfnWorkforce | None = None
    client_configuration: CustomResource | None = None
    portal_url: str | None = None

    def admit(self, group: cognito.UserPoolGroup) -> None:
        """Called once the team's group of ``user_pool`` exists."""

    @property
    def workteam_dependencies(self) -> Sequence[CfnResource]:
        """What the ``CfnWorkteam`` must be created after."""
        return [self.resource] if self.resource is not None else []

    @property
    def worker_dependencies(self) -> Sequence[IConstruct]:
        """What each invited worker must wait for: the portal, the ready client, the trigger."""
        parts = (self.resource, self.client_configuration, self.invitation_function)
        return [part for part in parts if part is not None]


class ExistingWorkforce(Workforce):
    """The account's workforce, known by its pool and app client; nothing is created."""

    def __init__(
        self,
        *,
        user_pool: cognito.IUserPool,
        user_pool_client: cognito.IUserPoolClient | None,
        user_pool_client_id: str | None,
    ) -> None:
        self.user_pool = user_pool
        self.user_pool_client_id = (
            user_pool_client.user_pool_client_id
            if user_pool_client is not None
            else user_pool_client_id
        )


class NewWorkforce(Workforce):
    """A new workforce: invitation function, user pool, domain, app client; then, on
    ``admit``, the ``CfnWorkforce`` and the client's OAuth configuration."""

    def __init__(
        self,
        team: Construct,
        settings: WorkteamSettings,
        *,
        mfa: cognito.Mfa,
        feature_plan: cognito.FeaturePlan,
        email: cognito.UserPoolEmail | None,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        self._team = team
        self._settings = settings
        self._log_retention = log_retention
        self._encryption_key = encryption_key
        # Self-hosted: the pool, its domain and the team's group only. No SageMaker
        # workforce, no invitation trigger (it reads the SageMaker workforce), and no
        # app client (the runtime makes the portal's own, with its callback address).
        self._sagemaker = not settings.self_hosted
        self.workforce_name = settings.workforce_name if self._sagemaker else None
        self.invitation_function = self._invitation_function() if self._sagemaker else None
        pool = self._user_pool(
            self.invitation_function,
            mfa=mfa,
            feature_plan=feature_plan,
            email=email,
            removal_policy=removal_policy,
        )
        self.user_pool = pool
        self.user_pool_domain = pool.add_domain(
            "Domain",
            cognito_domain=cognito.CognitoDomainOptions(
                domain_prefix=settings.domain_prefix or default_domain_prefix(team)
            ),
        )
        if not self._sagemaker:
            self.user_pool_client_id = None
            return
        self._client = pool.add_client(
            "WorkforceClient",
            generate_secret=True,
            # The portal's OAuth settings need its address: the custom resource made on
            # admit writes them once the workforce exists.
            disable_o_auth=True,
            auth_flows=cognito.AuthFlow(user_srp=True),
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
        )
        self.user_pool_client_id = self._client.user_pool_client_id

    def admit(self, group: cognito.UserPoolGroup) -> None:
        """Create the workforce over the pool (now with its domain and group), then close the loop."""
        if not self._sagemaker:
            return
        assert self.user_pool_client_id is not None
        cidrs = list(self._settings.source_ip_cidrs)
        workforce = sagemaker.CfnWorkforce(
            self._team,
            "Workforce",
            workforce_name=self._settings.workforce_name,
            cognito_config=sagemaker.CfnWorkforce.CognitoConfigProperty(
                user_pool=self.user_pool.user_pool_id, client_id=self.user_pool_client_id
            ),
            source_ip_config=(
                sagemaker.CfnWorkforce.SourceIpConfigProperty(cidrs=cidrs) if cidrs else None
            ),
        )
        # The pool needs its domain and a group before a workforce can use it.
        assert self.user_pool_domain is not None
        workforce.node.add_dependency(self.user_pool_domain, group)
        self.resource = workforce
        self.portal_url = f"https://{workforce.attr_sub_domain}"
        self.client_configuration = self._close_the_loop(workforce)

    # -- parts ----------------------------------------------------------------------------------

    def _invitation_function(self) -> lambda_.Function:
        """The Cognito custom-message trigger: the invitation names the team and the portal."""
        function = annotation_function(
            self._team,
            "InvitationMessage",
            handler=INVITATION_HANDLER,
            description="Cognito custom message: the invitation names the team and portal",
            environment=self._settings.invitation.to_environment(),
            memory_size=256,
            timeout=Duration.seconds(5),
            log_retention=self._log_retention,
            removal_policy=RemovalPolicy.DESTROY,
            encryption_key=self._encryption_key,
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["sagemaker:DescribeWorkforce"],
                resources=[
                    Stack.of(self._team).format_arn(
                        service="sagemaker",
                        resource="workforce",
                        resource_name=self._settings.workforce_name,
                    )
                ],
            )
        )
        return function

    def _user_pool(
        self,
        invitation_function: lambda_.IFunction | None,
        *,
        mfa: cognito.Mfa,
        feature_plan: cognito.FeaturePlan,
        email: cognito.UserPoolEmail | None,
        removal_policy: RemovalPolicy,
    ) -> cognito.UserPool:
        team_label = self._settings.team_label
        pool = cognito.UserPool(
            self._team,
            "UserPool",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True, username=False),
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(7),
            ),
            mfa=mfa,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            feature_plan=feature_plan,
            standard_threat_protection_mode=(
                cognito.StandardThreatProtectionMode.FULL_FUNCTION
                if feature_plan == cognito.FeaturePlan.PLUS
                else None
            ),
            user_invitation=cognito.UserInvitationConfig(
                email_subject=self._settings.invitation_subject,
                # Sent as is only when the invitation trigger cannot reach SageMaker.
                email_body=(
                    f"<p>You have been invited to the <b>{html.escape(team_label)}</b> labeling team"
                    f"{' (Amazon SageMaker Ground Truth)' if self._sagemaker else ''}.</p>"
                    "<p>Username: {username}<br>Temporary password: {####}</p>"
                    "<p>Your team lead sends you the labeling portal's address (the stack "
                    "output PortalUrl); sign in there and choose your own password.</p>"
                ),
            ),
            email=email,
            lambda_triggers=(
                cognito.UserPoolTriggers(custom_message=invitation_function)
                if invitation_function is not None
                else None
            ),
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
            removal_policy=removal_policy,
        )
        _acknowledge_pool_choices(pool, mfa=mfa, feature_plan=feature_plan)
        return pool

    def _close_the_loop(self, workforce: sagemaker.CfnWorkforce) -> CustomResource:
        """Give the app client the portal's OAuth settings once the workforce exists."""
        function = annotation_function(
            self._team,
            "ClientConfigurator",
            handler=WORKFORCE_CLIENT_HANDLER,
            description="Gives the workforce's Cognito app client the labeling portal's URLs",
            environment={},
            memory_size=256,
            timeout=Duration.minutes(1),
            log_retention=self._log_retention,
            removal_policy=RemovalPolicy.DESTROY,
            encryption_key=self._encryption_key,
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["cognito-idp:DescribeUserPoolClient", "cognito-idp:UpdateUserPoolClient"],
                resources=[self.user_pool.user_pool_arn],
            )
        )
        cfn_client = self._client.node.default_child
        assert isinstance(cfn_client, cognito.CfnUserPoolClient)
        resource = CustomResource(
            self._team,
            "ClientConfiguration",
            service_token=function.function_arn,
            resource_type="Custom::GtWorkforceClient",
            properties={
                "UserPoolId": self.user_pool.user_pool_id,
                "ClientId": self.user_pool_client_id,
                "SubDomain": workforce.attr_sub_domain,
                # CloudFormation rewrites the whole client whenever its template changes,
                # which resets the OAuth settings: re-run then too.
                "ClientTemplateDigest": _template_digest(cfn_client),
            },
        )
        # Explicitly after the workforce (the SubDomain reference orders it too).
        resource.node.add_dependency(workforce)
        return resource


def _acknowledge_pool_choices(
    pool: cognito.UserPool, *, mfa: cognito.Mfa, feature_plan: cognito.FeaturePlan
) -> None:
    """cdk-nag: optional MFA and a plan other than PLUS are deliberate, each for its reason."""
    if mfa != cognito.Mfa.REQUIRED:
        acknowledge(
            pool,
            "AwsSolutions-COG2",
            "Workers sign in to the SageMaker labeling portal through Cognito's hosted "
            "pages; TOTP MFA is offered to each of them and threat protection (Plus plan) "
            "challenges risky sign-ins. Pass mfa=Mfa.REQUIRED to make it mandatory.",
        )
    if feature_plan != cognito.FeaturePlan.PLUS:
        acknowledge(
            pool,
            "AwsSolutions-COG8",
            f"feature_plan={feature_plan.value} was chosen explicitly for this workforce "
            "pool; the default is PLUS with full-function threat protection.",
        )


def _template_digest(resource: CfnResource) -> str:
    """A digest of a resource's CloudFormation properties as they stand now."""
    properties = Stack.of(resource).resolve(resource._cfn_properties)
    return short_digest(json.dumps(properties, sort_keys=True, default=str))


def default_domain_prefix(scope: Construct) -> str:
    """``gt-<8 hex of the construct path>-<stack UUID>``: unique per stack, known at deploy.

    Cognito domain prefixes are global per region; the stack's UUID (from its id)
    keeps two deployments of the same app apart without exposing the account id.
    """
    path_hash = short_digest(scope.node.path)[:8]
    stack_uuid = Fn.select(2, Fn.split("/", Aws.STACK_ID))
    return Fn.join("-", ["gt", path_hash, stack_uuid])
