"""``PrivateWorkteam``: a private Ground Truth workteam, its group, workers and notifications.

Each workteam is a Cognito group of its workforce's user pool. The workforce is
chosen once (``workforce.py``): a new one (pool, domain, app client,
``CfnWorkforce``, OAuth custom resource) or the account's existing one, known
by its pool and client. Find those with ``aws sagemaker describe-workforce
--workforce-name default`` (or ``aws sagemaker list-workforces``):
``Workforce.CognitoConfig.UserPool`` and ``Workforce.CognitoConfig.ClientId``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Aws, CfnOutput, CustomResource, Names, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from ..log_groups import grant_log_encryption
from ..runtime.aws.kind import Runtime
from .imported import ImportedWorkteam, IWorkteam
from .settings import DEFAULT_DESCRIPTION, DEFAULT_WORKFORCE_NAME, WorkteamSettings, short_digest
from .workforce import ExistingWorkforce, NewWorkforce, Workforce


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

    ``runtime=Runtime.SELF_HOSTED``: pool, domain, group and workers only (no SageMaker
    resource; ``workteam_arn`` names the group for the self-hosted runtime).

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
        description: str = DEFAULT_DESCRIPTION,
        display_name: str | None = None,
        worker_emails: Sequence[str] = (),
        existing_worker_usernames: Sequence[str] = (),
        user_pool: cognito.IUserPool | None = None,
        user_pool_client: cognito.IUserPoolClient | None = None,
        user_pool_client_id: str | None = None,
        workforce_name: str = DEFAULT_WORKFORCE_NAME,
        source_ip_cidrs: Sequence[str] = (),
        domain_prefix: str | None = None,
        mfa: cognito.Mfa = cognito.Mfa.OPTIONAL,
        feature_plan: cognito.FeaturePlan = cognito.FeaturePlan.PLUS,
        email: cognito.UserPoolEmail | None = None,
        notifications: bool = True,
        subscribe_workers: bool = True,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_WEEK,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        encryption_key: kms.IKey | None = None,
        runtime: Runtime = Runtime.GROUND_TRUTH,
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
        :param encryption_key: customer key for the log groups of the team's helper functions
            (new workforce) and its notification topic; its key policy gets the statements
            letting CloudWatch Logs (this account's log groups) and SageMaker (this account's
            workteams) use it (an imported key's policy must allow that itself: synth warns).
            Default: - CloudWatch Logs' own encryption, and a new key for the topic.
        :param runtime: SELF_HOSTED: no SageMaker workforce, workteam or topic; an existing
            pool needs no app client. Default: GROUND_TRUTH.
        """
        super().__init__(scope, construct_id)
        settings = WorkteamSettings(
            workteam_name=workteam_name or _default_workteam_name(self),
            description=description,
            display_name=display_name,
            worker_emails=tuple(worker_emails),
            existing_worker_usernames=tuple(existing_worker_usernames),
            existing_workforce=user_pool is not None,
            user_pool_client_given=user_pool_client is not None,
            user_pool_client_id=user_pool_client_id,
            workforce_name=workforce_name,
            source_ip_cidrs=tuple(source_ip_cidrs),
            domain_prefix=domain_prefix,
            self_hosted=runtime is Runtime.SELF_HOSTED,
        )
        settings.validate(f"PrivateWorkteam {self.node.path}")
        self.workteam_name: str = settings.workteam_name
        self.encryption_key = encryption_key
        self.runtime = runtime

        workforce = self._workforce(
            settings,
            user_pool=user_pool,
            user_pool_client=user_pool_client,
            user_pool_client_id=user_pool_client_id,
            mfa=mfa,
            feature_plan=feature_plan,
            email=email,
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        self.group = self._group(settings, workforce.user_pool)
        workforce.admit(self.group)
        self._expose(workforce)
        self.notification_topic: sns.ITopic | None = None
        self.notification_key: kms.IKey | None = None
        self.workteam: sagemaker.CfnWorkteam | None = None
        if runtime is Runtime.SELF_HOSTED:
            self.workteam_arn: str = _self_hosted_arn(self, settings.workteam_name)
        else:
            if notifications:
                self.notification_topic, self.notification_key = _notifications(
                    self, settings.workteam_name, removal_policy, encryption_key
                )
            self.workteam = self._workteam(settings, workforce)
            self.workteam_arn = self.workteam.attr_workteam_arn
        self.workers: list[cognito.CfnUserPoolUser] = self._workers(
            settings, workforce, subscribe=subscribe_workers
        )
        _team_outputs(self)

    # -- factory --------------------------------------------------------------------------------

    @staticmethod
    def from_workteam_arn(scope: Construct, construct_id: str, workteam_arn: str) -> IWorkteam:
        """Import a workteam made elsewhere by its ARN (checked at synth unless a token)."""
        return ImportedWorkteam(scope, construct_id, workteam_arn=workteam_arn)

    # -- steps ----------------------------------------------------------------------------------

    def _workforce(
        self,
        settings: WorkteamSettings,
        *,
        user_pool: cognito.IUserPool | None,
        user_pool_client: cognito.IUserPoolClient | None,
        user_pool_client_id: str | None,
        mfa: cognito.Mfa,
        feature_plan: cognito.FeaturePlan,
        email: cognito.UserPoolEmail | None,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> Workforce:
        """The one choice between a new workforce and the existing one."""
        if user_pool is not None:
            return ExistingWorkforce(
                user_pool=user_pool,
                user_pool_client=user_pool_client,
                user_pool_client_id=user_pool_client_id,
            )
        if self.encryption_key is not None:
            grant_log_encryption(self, self.encryption_key)
        return NewWorkforce(
            self,
            settings,
            mfa=mfa,
            feature_plan=feature_plan,
            email=email,
            log_retention=log_retention,
            removal_policy=removal_policy,
            encryption_key=self.encryption_key,
        )

    def _group(
        self, settings: WorkteamSettings, user_pool: cognito.IUserPool
    ) -> cognito.UserPoolGroup:
        return cognito.UserPoolGroup(
            self,
            "Group",
            user_pool=user_pool,
            group_name=settings.workteam_name,
            description=settings.group_description,
        )

    def _expose(self, workforce: Workforce) -> None:
        """The workforce's parts as the team's attributes (None where an existing one has none)."""
        self.user_pool: cognito.IUserPool = workforce.user_pool
        self.user_pool_client_id: str | None = workforce.user_pool_client_id
        self.user_pool_domain: cognito.UserPoolDomain | None = workforce.user_pool_domain
        self.workforce: sagemaker.CfnWorkforce | None = workforce.resource
        self.client_configuration: CustomResource | None = workforce.client_configuration
        self.invitation_function: lambda_.IFunction | None = workforce.invitation_function
        self.portal_url: str | None = workforce.portal_url

    def _workteam(self, settings: WorkteamSettings, workforce: Workforce) -> sagemaker.CfnWorkteam:
        assert self.user_pool_client_id is not None
        workteam = sagemaker.CfnWorkteam(
            self,
            "Resource",
            workteam_name=settings.workteam_name,
            description=settings.description,
            workforce_name=workforce.workforce_name,
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
        for dependency in workforce.workteam_dependencies:
            workteam.add_resource_dependency(dependency)
        return workteam

    def _workers(
        self, settings: WorkteamSettings, workforce: Workforce, *, subscribe: bool
    ) -> list[cognito.CfnUserPoolUser]:
        """New workers invited by e-mail, then existing users of the pool, all in the group."""
        invited = [
            self._invite(address, workforce, subscribe=subscribe)
            for address in settings.worker_emails
        ]
        for username in settings.existing_worker_usernames:
            cognito.CfnUserPoolUserToGroupAttachment(
                self,
                f"Member{short_digest(username)}",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=self.group.group_name,
                username=username,
            )
        return invited

    def _invite(
        self, address: str, workforce: Workforce, *, subscribe: bool
    ) -> cognito.CfnUserPoolUser:
        digest = short_digest(address.lower())
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
        for dependency in workforce.worker_dependencies:
            user.node.add_dependency(dependency)
        attachment = cognito.CfnUserPoolUserToGroupAttachment(
            self,
            f"Worker{digest}Membership",
            user_pool_id=self.user_pool.user_pool_id,
            group_name=self.group.group_name,
            username=user.ref,
        )
        attachment.node.add_dependency(self.group)
        if subscribe and self.notification_topic is not None:
            sns.Subscription(
                self,
                f"Worker{digest}Notifications",
                topic=self.notification_topic,
                protocol=sns.SubscriptionProtocol.EMAIL,
                endpoint=address,
            )
        return user


def _team_outputs(team: PrivateWorkteam) -> None:
    """The team's stack outputs: workteam, pool, portal and topic, as far as they exist."""
    if team.workteam is not None:
        CfnOutput(team, "WorkteamArn", value=team.workteam_arn, description="Workteam ARN")
    CfnOutput(team, "WorkteamName", value=team.workteam_name, description="Workteam name")
    CfnOutput(team, "UserPoolId", value=team.user_pool.user_pool_id, description="Workers' pool")
    if team.portal_url is not None:
        CfnOutput(team, "PortalUrl", value=team.portal_url, description="Labeling portal")
    if team.notification_topic is not None:
        CfnOutput(
            team,
            "NotificationTopicArn",
            value=team.notification_topic.topic_arn,
            description="Where SageMaker announces waiting tasks",
        )


def _self_hosted_arn(scope: Construct, name: str) -> str:
    """The team's name in an ARN of the shape jobs expect; the runtime reads its last part
    (the group). No SageMaker workteam of that name is made."""
    return Stack.of(scope).format_arn(
        service="sagemaker", resource="workteam", resource_name=f"private-crowd/{name}"
    )


def _default_workteam_name(scope: Construct) -> str:
    name = Names.unique_resource_name(scope, max_length=63, separator="-")
    name = re.sub(r"[^a-zA-Z0-9-]", "", name).strip("-")
    return name or "gt-workteam"


def _notifications(
    team: Construct,
    workteam_name: str,
    removal_policy: RemovalPolicy,
    encryption_key: kms.IKey | None = None,
) -> tuple[sns.Topic, kms.IKey]:
    """The topic SageMaker announces waiting tasks on (encrypted, SSL only), and its key
    (``encryption_key``, or a new one)."""
    stack = Stack.of(team)
    team_arns = stack.format_arn(
        service="sagemaker", resource="workteam", resource_name="private-crowd/*"
    )
    key = encryption_key or kms.Key(
        team,
        "NotificationKey",
        description=f"Encrypts the {workteam_name} workteam's task notifications",
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
    topic = sns.Topic(
        team,
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
    return topic, key
