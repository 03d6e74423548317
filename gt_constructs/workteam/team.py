"""Workteams: who labels. ``PrivateWorkteam`` makes one; ``from_workteam_arn`` imports one.

A private workforce is one per account and region, backed by one Cognito user
pool and one app client; each workteam is a Cognito group of that pool.
``PrivateWorkteam`` covers both situations:

* **new workforce** (the account has none in this region yet): the user pool,
  its domain, an app client with a secret, the ``CfnWorkforce``, a group and
  the ``CfnWorkteam``. The workforce needs the client's id, and the client
  needs the workforce's portal address: a custom resource closes that loop
  after the workforce exists (read, merge, write the client's OAuth settings).
* **existing workforce**: pass its pool and client, and only a group and a
  workteam (plus the workers) are added. Find them with
  ``aws sagemaker describe-workforce --workforce-name default`` (or
  ``aws sagemaker list-workforces``): ``Workforce.CognitoConfig.UserPool`` and
  ``Workforce.CognitoConfig.ClientId``.
"""

from __future__ import annotations

import hashlib
import html
import ipaddress
import json
import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from aws_cdk import (
    Arn,
    ArnFormat,
    Aws,
    CfnOutput,
    CfnResource,
    CustomResource,
    Duration,
    Fn,
    Names,
    RemovalPolicy,
    Stack,
    Token,
)
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from ..functions import annotation_function
from ..lambda_src.gt_resources.contract import InvitationSettings, default_invitation_subject
from ..nag import acknowledge
from ..validation import Problems

WORKFORCE_CLIENT_HANDLER = "gt_resources.workforce_client.handler"
INVITATION_HANDLER = "gt_resources.workforce_client.invitation_handler"

_WORKTEAM_ARN = re.compile(
    r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:workteam/(private-crowd|vendor-crowd)/"
    r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
)
_WORKFORCE_NAME = r"[a-zA-Z0-9]([a-zA-Z0-9\-]){0,62}"
_WORKTEAM_NAME = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
_DOMAIN_PREFIX = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_RESERVED_IN_DOMAIN = ("aws", "amazon", "cognito")
# Pragmatic address check: one @, a dot in the domain, no spaces; Cognito usernames ≤ 128.
_EMAIL = r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+"
MAX_SOURCE_IP_CIDRS = 10


@runtime_checkable
class IWorkteam(Protocol):
    """A Ground Truth workteam a labeling job sends its tasks to."""

    @property
    def workteam_arn(self) -> str: ...

    @property
    def workteam_name(self) -> str: ...


class ImportedWorkteam(Construct):
    """A workteam made elsewhere (console, another stack, a vendor), known by its ARN."""

    def __init__(self, scope: Construct, construct_id: str, *, workteam_arn: str) -> None:
        super().__init__(scope, construct_id)
        if not Token.is_unresolved(workteam_arn) and not _WORKTEAM_ARN.fullmatch(workteam_arn):
            problems = Problems(f"PrivateWorkteam.from_workteam_arn {self.node.path}")
            problems.add(
                f"workteam ARN {workteam_arn!r} is not a workteam ARN; allowed: "
                "arn:aws:sagemaker:<region>:<account>:workteam/private-crowd/<name> "
                "(or vendor-crowd/<name>)"
            )
            problems.raise_if_any()
        self._arn = workteam_arn
        self._name = Arn.split(workteam_arn, ArnFormat.SLASH_RESOURCE_NAME).resource_name or ""

    @property
    def workteam_arn(self) -> str:
        return self._arn

    @property
    def workteam_name(self) -> str:
        """The last part of the ARN (``private-crowd/<name>`` → ``<name>``)."""
        return self._name.split("/")[-1] if not Token.is_unresolved(self._name) else self._name


class PrivateWorkteam(Construct):
    """A private Ground Truth workteam, its Cognito group and workers; the workforce if needed.

    New workforce (default)::

        team = PrivateWorkteam(self, "Team", worker_emails=["ana@example.com"])

    Existing workforce (one per account and region; ``aws sagemaker
    describe-workforce --workforce-name default`` shows its pool and client)::

        team = PrivateWorkteam(
            self, "Team",
            user_pool=cognito.UserPool.from_user_pool_id(self, "Pool", "us-east-1_AbCdEf"),
            user_pool_client_id="1example23456789",
            worker_emails=["ana@example.com"],
        )

    Workers: each address in ``worker_emails`` becomes a Cognito user (username =
    the address, invitation e-mailed with a temporary password) in the team's
    group; an address removed from the list leaves the group on the next deploy
    (its user is deleted too). People already in an existing pool join the team
    through ``existing_worker_usernames``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        workteam_name: str | None = None,
        description: str = "Private labeling workteam (gt-constructs)",
        display_name: str | None = None,
        worker_emails: Sequence[str] = (),
        existing_worker_usernames: Sequence[str] = (),
        user_pool: cognito.IUserPool | None = None,
        user_pool_client: cognito.IUserPoolClient | None = None,
        user_pool_client_id: str | None = None,
        workforce_name: str = "default",
        source_ip_cidrs: Sequence[str] = (),
        domain_prefix: str | None = None,
        mfa: cognito.Mfa = cognito.Mfa.OPTIONAL,
        feature_plan: cognito.FeaturePlan = cognito.FeaturePlan.PLUS,
        email: cognito.UserPoolEmail | None = None,
        notifications: bool = True,
        subscribe_workers: bool = True,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_WEEK,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """
        :param workteam_name: the workteam's name, unique in the account and region
            (``^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$``); also the Cognito group's name.
            Default: - derived from the construct path.
        :param description: the workteam's description (1–200 characters).
        :param display_name: how the invitation e-mail names the team. Default: - the workteam name.
        :param worker_emails: one Cognito user per address, invited by e-mail, in the team's group.
            Default: - no workers (add them in the Cognito console).
        :param existing_worker_usernames: users already in ``user_pool`` to add to the team's group.
        :param user_pool: the existing workforce's user pool. Default: - a new pool and workforce.
        :param user_pool_client: the existing workforce's app client (with ``user_pool``).
        :param user_pool_client_id: the existing workforce's app client id, instead of
            ``user_pool_client``.
        :param workforce_name: name of the new workforce (``^[a-zA-Z0-9]([a-zA-Z0-9\\-]){0,62}$``).
            Default: ``default``, as the console names it.
        :param source_ip_cidrs: new workforce only: the only networks (at most 10 CIDRs)
            workers may reach the portal from. Default: - anywhere.
        :param domain_prefix: new workforce only: the Cognito domain prefix of the sign-in pages
            (lowercase letters, digits, hyphens; no ``aws``, ``amazon``, ``cognito``; ≤ 63).
            Default: - ``gt-<hash of the construct path>-<stack UUID>``, unique per stack.
        :param mfa: new workforce only: multi-factor sign-in (TOTP). Default: OPTIONAL.
        :param feature_plan: new workforce only: Cognito feature plan; PLUS adds threat
            protection (blocks risky and compromised-credential sign-ins). Default: PLUS.
        :param email: new workforce only: how Cognito sends invitations.
            Default: - Cognito's own sender (a daily quota; use SES for large teams).
        :param notifications: an SNS topic (KMS-encrypted, SSL only) on which SageMaker
            announces waiting tasks to the team. Default: true.
        :param subscribe_workers: subscribe each of ``worker_emails`` to that topic by e-mail
            (each confirms once). Default: true.
        :param log_retention: retention of the helper functions' logs. Default: one week.
        :param removal_policy: of the user pool and the topic's key. Default: RETAIN.
        """
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.workteam_name: str = workteam_name or _default_workteam_name(self)
        emails = list(worker_emails)
        self._validate(
            workteam_name=self.workteam_name,
            description=description,
            worker_emails=emails,
            user_pool=user_pool,
            user_pool_client=user_pool_client,
            user_pool_client_id=user_pool_client_id,
            workforce_name=workforce_name,
            source_ip_cidrs=list(source_ip_cidrs),
            domain_prefix=domain_prefix,
            existing_worker_usernames=existing_worker_usernames,
        )
        team_label = display_name or self.workteam_name
        invitation_subject = default_invitation_subject(team_label)

        # -- Cognito: a new pool + domain + client + workforce, or the existing ones ----------
        self.workforce: sagemaker.CfnWorkforce | None = None
        self.user_pool_domain: cognito.UserPoolDomain | None = None
        self.client_configuration: CustomResource | None = None
        self.invitation_function: lambda_.IFunction | None = None
        self.portal_url: str | None = None
        if user_pool is None:
            self.invitation_function = annotation_function(
                self,
                "InvitationMessage",
                handler=INVITATION_HANDLER,
                description="Cognito custom message: the invitation names the team and portal",
                environment=InvitationSettings(
                    workforce_name, team_label, invitation_subject
                ).to_environment(),
                memory_size=256,
                timeout=Duration.seconds(5),
                log_retention=log_retention,
                removal_policy=RemovalPolicy.DESTROY,
            )
            self.invitation_function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["sagemaker:DescribeWorkforce"],
                    resources=[
                        stack.format_arn(
                            service="sagemaker",
                            resource="workforce",
                            resource_name=workforce_name,
                        )
                    ],
                )
            )
            pool = self._new_user_pool(
                team_label=team_label,
                invitation_subject=invitation_subject,
                mfa=mfa,
                feature_plan=feature_plan,
                email=email,
                removal_policy=removal_policy,
            )
            self.user_pool: cognito.IUserPool = pool
            self.user_pool_domain = pool.add_domain(
                "Domain",
                cognito_domain=cognito.CognitoDomainOptions(
                    domain_prefix=domain_prefix or _default_domain_prefix(self)
                ),
            )
            client = pool.add_client(
                "WorkforceClient",
                generate_secret=True,
                # The portal's OAuth settings need its address: the custom resource below
                # writes them once the workforce exists.
                disable_o_auth=True,
                auth_flows=cognito.AuthFlow(user_srp=True),
                prevent_user_existence_errors=True,
                enable_token_revocation=True,
                supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            )
            self.user_pool_client_id: str = client.user_pool_client_id
        else:
            self.user_pool = user_pool
            self.user_pool_client_id = (
                user_pool_client.user_pool_client_id
                if user_pool_client is not None
                else str(user_pool_client_id)
            )

        self.group = cognito.UserPoolGroup(
            self,
            "Group",
            user_pool=self.user_pool,
            group_name=self.workteam_name,
            description=f"Members of the {self.workteam_name} Ground Truth workteam"[:2048],
        )

        if user_pool is None:
            self.workforce = sagemaker.CfnWorkforce(
                self,
                "Workforce",
                workforce_name=workforce_name,
                cognito_config=sagemaker.CfnWorkforce.CognitoConfigProperty(
                    user_pool=self.user_pool.user_pool_id, client_id=self.user_pool_client_id
                ),
                source_ip_config=(
                    sagemaker.CfnWorkforce.SourceIpConfigProperty(cidrs=list(source_ip_cidrs))
                    if source_ip_cidrs
                    else None
                ),
            )
            # The pool needs its domain and a group before a workforce can use it.
            assert self.user_pool_domain is not None
            self.workforce.node.add_dependency(self.user_pool_domain, self.group)
            self.portal_url = f"https://{self.workforce.attr_sub_domain}"
            self.client_configuration = self._close_the_loop(
                client=client, log_retention=log_retention
            )

        # -- notifications --------------------------------------------------------------------
        self.notification_topic: sns.ITopic | None = None
        self.notification_key: kms.IKey | None = None
        if notifications:
            self.notification_topic = self._notification_topic(removal_policy)

        # -- the workteam -------------------------------------------------------------------------
        self.workteam = sagemaker.CfnWorkteam(
            self,
            "Resource",
            workteam_name=self.workteam_name,
            description=description,
            workforce_name=workforce_name if self.workforce is not None else None,
            member_definitions=[
                sagemaker.CfnWorkteam.MemberDefinitionProperty(
                    cognito_member_definition=sagemaker.CfnWorkteam.CognitoMemberDefinitionProperty(
                        cognito_user_pool=self.user_pool.user_pool_id,
                        cognito_client_id=self.user_pool_client_id,
                        cognito_user_group=self.group.group_name,
                    )
                )
            ],
            notification_configuration=(
                sagemaker.CfnWorkteam.NotificationConfigurationProperty(
                    notification_topic_arn=self.notification_topic.topic_arn
                )
                if self.notification_topic is not None
                else None
            ),
        )
        if self.workforce is not None:
            self.workteam.add_resource_dependency(self.workforce)
        self.workteam_arn: str = self.workteam.attr_workteam_arn

        # -- workers --------------------------------------------------------------------------
        self.workers: list[cognito.CfnUserPoolUser] = []
        for address in emails:
            self._add_worker(address, subscribe=subscribe_workers)
        for username in existing_worker_usernames:
            digest = _digest(username)
            cognito.CfnUserPoolUserToGroupAttachment(
                self,
                f"Member{digest}",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=self.group.group_name,
                username=username,
            )

        # -- outputs ------------------------------------------------------------------------
        CfnOutput(self, "WorkteamArn", value=self.workteam_arn, description="Workteam ARN")
        CfnOutput(self, "WorkteamName", value=self.workteam_name, description="Workteam name")
        CfnOutput(
            self, "UserPoolId", value=self.user_pool.user_pool_id, description="Workers' pool"
        )
        if self.portal_url is not None:
            CfnOutput(self, "PortalUrl", value=self.portal_url, description="Labeling portal")
        if self.notification_topic is not None:
            CfnOutput(
                self,
                "NotificationTopicArn",
                value=self.notification_topic.topic_arn,
                description="Where SageMaker announces waiting tasks",
            )

    # -- factory --------------------------------------------------------------------------------

    @staticmethod
    def from_workteam_arn(scope: Construct, construct_id: str, workteam_arn: str) -> IWorkteam:
        """Import a workteam made elsewhere by its ARN (checked at synth unless a token)."""
        return ImportedWorkteam(scope, construct_id, workteam_arn=workteam_arn)

    # -- parts ----------------------------------------------------------------------------------

    def _validate(
        self,
        *,
        workteam_name: str,
        description: str,
        worker_emails: list[str],
        user_pool: cognito.IUserPool | None,
        user_pool_client: cognito.IUserPoolClient | None,
        user_pool_client_id: str | None,
        workforce_name: str,
        source_ip_cidrs: list[str],
        domain_prefix: str | None,
        existing_worker_usernames: Sequence[str],
    ) -> None:
        problems = Problems(f"PrivateWorkteam {self.node.path}")
        problems.check_pattern(
            "workteam_name",
            workteam_name,
            _WORKTEAM_NAME,
            "1–63 letters and digits, single or repeated hyphens inside "
            "(^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$)",
        )
        problems.check_pattern(
            "workforce_name",
            workforce_name,
            _WORKFORCE_NAME,
            "1–63 letters, digits and hyphens, starting with a letter or digit "
            "(^[a-zA-Z0-9]([a-zA-Z0-9\\-]){0,62}$)",
        )
        problems.check_length("description", description, 1, 200)
        seen: set[str] = set()
        for address in worker_emails:
            if Token.is_unresolved(address):
                continue
            if len(address) > 128 or not re.fullmatch(_EMAIL, address):
                problems.add(
                    f"worker e-mail {address!r} is not an e-mail address; allowed: "
                    "name@domain.tld, at most 128 characters"
                )
            elif address.lower() in seen:
                problems.add(f"worker e-mail {address!r} is listed twice (addresses ignore case)")
            seen.add(address.lower())
        if user_pool is not None and user_pool_client is None and not user_pool_client_id:
            problems.add(
                "user_pool is given without its app client; give user_pool_client or "
                "user_pool_client_id too (aws sagemaker describe-workforce --workforce-name "
                "default shows Workforce.CognitoConfig.ClientId)"
            )
        if user_pool_client is not None and user_pool_client_id:
            problems.add("give user_pool_client or user_pool_client_id, not both")
        if user_pool is None and (user_pool_client is not None or user_pool_client_id):
            problems.add(
                "an app client is given without user_pool; an existing workforce needs both "
                "(or neither, for a new workforce)"
            )
        if user_pool is not None and source_ip_cidrs:
            problems.add(
                "source_ip_cidrs applies to a new workforce only; the existing one keeps its "
                "own (aws sagemaker update-workforce --source-ip-config)"
            )
        if user_pool is None and existing_worker_usernames:
            problems.add(
                "existing_worker_usernames names users of an existing pool; give user_pool "
                "(and its client) too, or list new workers in worker_emails"
            )
        if user_pool is not None and domain_prefix:
            problems.add("domain_prefix applies to a new workforce only")
        if len(source_ip_cidrs) > MAX_SOURCE_IP_CIDRS:
            problems.add(
                f"source_ip_cidrs has {len(source_ip_cidrs)} entries; allowed: at most "
                f"{MAX_SOURCE_IP_CIDRS}"
            )
        for cidr in source_ip_cidrs:
            if Token.is_unresolved(cidr):
                continue
            try:
                ipaddress.ip_network(cidr, strict=True)
                if "/" not in cidr:
                    raise ValueError("no prefix length")
            except ValueError:
                problems.add(
                    f"source_ip_cidrs entry {cidr!r} is not a CIDR block; allowed: a network "
                    "address with prefix length, e.g. 203.0.113.0/24 (host bits zero)"
                )
        if domain_prefix is not None and not Token.is_unresolved(domain_prefix):
            reserved = [word for word in _RESERVED_IN_DOMAIN if word in domain_prefix]
            if not re.fullmatch(_DOMAIN_PREFIX, domain_prefix) or reserved:
                problems.add(
                    f"domain_prefix {domain_prefix!r} is not allowed: 1–63 lowercase letters, "
                    "digits and hyphens, not starting or ending with a hyphen, without the "
                    "words aws, amazon or cognito"
                )
        problems.raise_if_any()

    def _new_user_pool(
        self,
        *,
        team_label: str,
        invitation_subject: str,
        mfa: cognito.Mfa,
        feature_plan: cognito.FeaturePlan,
        email: cognito.UserPoolEmail | None,
        removal_policy: RemovalPolicy,
    ) -> cognito.UserPool:
        assert self.invitation_function is not None
        pool = cognito.UserPool(
            self,
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
                email_subject=invitation_subject,
                # Sent as is only when the invitation trigger cannot reach SageMaker.
                email_body=(
                    f"<p>You have been invited to the <b>{html.escape(team_label)}</b> labeling team "
                    "(Amazon SageMaker Ground Truth).</p>"
                    "<p>Username: {username}<br>Temporary password: {####}</p>"
                    "<p>Your team lead sends you the labeling portal's address (the stack "
                    "output PortalUrl); sign in there and choose your own password.</p>"
                ),
            ),
            email=email,
            lambda_triggers=cognito.UserPoolTriggers(custom_message=self.invitation_function),
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
            removal_policy=removal_policy,
        )
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
        return pool

    def _close_the_loop(
        self, *, client: cognito.UserPoolClient, log_retention: logs.RetentionDays
    ) -> CustomResource:
        """Give the app client the portal's OAuth settings once the workforce exists."""
        assert self.workforce is not None
        function = annotation_function(
            self,
            "ClientConfigurator",
            handler=WORKFORCE_CLIENT_HANDLER,
            description="Gives the workforce's Cognito app client the labeling portal's URLs",
            environment={},
            memory_size=256,
            timeout=Duration.minutes(1),
            log_retention=log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["cognito-idp:DescribeUserPoolClient", "cognito-idp:UpdateUserPoolClient"],
                resources=[self.user_pool.user_pool_arn],
            )
        )
        cfn_client = client.node.default_child
        assert isinstance(cfn_client, cognito.CfnUserPoolClient)
        resource = CustomResource(
            self,
            "ClientConfiguration",
            service_token=function.function_arn,
            resource_type="Custom::GtWorkforceClient",
            properties={
                "UserPoolId": self.user_pool.user_pool_id,
                "ClientId": client.user_pool_client_id,
                "SubDomain": self.workforce.attr_sub_domain,
                # CloudFormation rewrites the whole client whenever its template changes,
                # which resets the OAuth settings: re-run then too.
                "ClientTemplateDigest": _template_digest(cfn_client),
            },
        )
        # Explicitly after the workforce (the SubDomain reference orders it too).
        resource.node.add_dependency(self.workforce)
        return resource

    def _notification_topic(self, removal_policy: RemovalPolicy) -> sns.Topic:
        stack = Stack.of(self)
        team_arns = stack.format_arn(
            service="sagemaker", resource="workteam", resource_name="private-crowd/*"
        )
        key = kms.Key(
            self,
            "NotificationKey",
            description=f"Encrypts the {self.workteam_name} workteam's task notifications",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        # SageMaker publishes to the encrypted topic: SNS needs a data key on its behalf.
        # (The AWS managed key alias/aws/sns cannot be used by service publishers.)
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("sagemaker.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                # In a key policy "*" means this key.
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        self.notification_key = key
        topic = sns.Topic(
            self,
            "Notifications",
            display_name="Labeling tasks"[:100],
            master_key=key,
            enforce_ssl=True,
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="SageMakerWorkteamsPublish",
                principals=[iam.ServicePrincipal("sagemaker.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": team_arns},
                },
            )
        )
        return topic

    def _add_worker(self, address: str, *, subscribe: bool) -> None:
        digest = _digest(address.lower())
        user = cognito.CfnUserPoolUser(
            self,
            f"Worker{digest}",
            user_pool_id=self.user_pool.user_pool_id,
            username=address,
            desired_delivery_mediums=["EMAIL"],
            user_attributes=[
                cognito.CfnUserPoolUser.AttributeTypeProperty(name="email", value=address),
                cognito.CfnUserPoolUser.AttributeTypeProperty(name="email_verified", value="true"),
            ],
        )
        # Invited once the portal exists and the client is ready, so the invitation's link
        # works; the trigger (and its invoke permission) must exist first.
        for dependency in (self.workforce, self.client_configuration, self.invitation_function):
            if dependency is not None:
                user.node.add_dependency(dependency)
        attachment = cognito.CfnUserPoolUserToGroupAttachment(
            self,
            f"Worker{digest}Membership",
            user_pool_id=self.user_pool.user_pool_id,
            group_name=self.group.group_name,
            username=user.ref,
        )
        attachment.node.add_dependency(self.group)
        self.workers.append(user)
        if subscribe and self.notification_topic is not None:
            sns.Subscription(
                self,
                f"Worker{digest}Notifications",
                topic=self.notification_topic,
                protocol=sns.SubscriptionProtocol.EMAIL,
                endpoint=address,
            )


def _template_digest(resource: CfnResource) -> str:
    """A digest of a resource's CloudFormation properties as they stand now."""
    properties = Stack.of(resource).resolve(resource._cfn_properties)
    return _digest(json.dumps(properties, sort_keys=True, default=str))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def _default_workteam_name(scope: Construct) -> str:
    name = Names.unique_resource_name(scope, max_length=63, separator="-")
    name = re.sub(r"[^a-zA-Z0-9-]", "", name).strip("-")
    return name or "gt-workteam"


def _default_domain_prefix(scope: Construct) -> str:
    """``gt-<8 hex of the construct path>-<stack UUID>``: unique per stack, known at deploy.

    Cognito domain prefixes are global per region; the stack's UUID (from its id)
    keeps two deployments of the same app apart without exposing the account id.
    """
    path_hash = hashlib.sha256(scope.node.path.encode("utf-8")).hexdigest()[:8]
    stack_uuid = Fn.select(2, Fn.split("/", Aws.STACK_ID))
    return Fn.join("-", ["gt", path_hash, stack_uuid])
