"""State-change notifications, alarms and a dashboard for a labeling job."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jsii
from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.interfaces import aws_events as events_refs
from constructs import Construct

from ..lambda_src.gt_annotation import contract
from ..nag import acknowledge

METRICS_NAMESPACE = contract.METRICS_NAMESPACE
STATE_CHANGE = "SageMaker Ground Truth Labeling Job State Change"


@jsii.implements(events.IRuleTarget)
class _TopicTarget:
    """The topic as the rule's target, without the unconditioned publish grant that
    ``targets.SnsTopic`` adds (the topic policy's statement names the rule instead)."""

    def __init__(self, topic: sns.ITopic) -> None:
        self.topic = topic

    def bind(self, rule: events_refs.IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(arn=self.topic.topic_arn)


class LabelingJobMonitoring(Construct):
    """State-change e-mails, alarms on the functions, consolidation errors and the runner,
    and a dashboard. Every alarm notifies the topic (whose policy lets exactly them publish)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        job_name_prefix: str,
        functions: Sequence[lambda_.IFunction],
        state_machine: sfn.IStateMachine,
        notification_emails: Sequence[str] = (),
        encryption_key: kms.IKey | None = None,
        post_annotation_function: lambda_.IFunction | None = None,
        event_source: str = "aws.sagemaker",
    ) -> None:
        """
        :param job_name_prefix: the jobs watched are ``<prefix>-*``.
        :param functions: the functions whose errors and throttles raise alarms.
        :param state_machine: the runner, whose failed executions raise an alarm.
        :param notification_emails: subscribed to the topic. Default: - none.
        :param encryption_key: encrypts the topic. Default: - a new key with rotation.
        :param post_annotation_function: the consolidation function, whose own metrics
            (objects consolidated, answers rejected, consolidation errors) the dashboard
            shows; its consolidation errors raise an alarm. Default: - none.
        :param event_source: the ``source`` of the jobs' state-change events (the
            self-hosted runtime's own). Default: ``aws.sagemaker`` (Ground Truth).
        """
        super().__init__(scope, construct_id)
        self.topic = self._topic(encryption_key, notification_emails)
        self.rule = self._state_change_rule(job_name_prefix, event_source)
        self._let_the_rule_publish()
        self.alarms: list[cloudwatch.Alarm] = []
        for index, function in enumerate(functions):
            for name, metric in (
                ("Errors", function.metric_errors()),
                ("Throttles", function.metric_throttles()),
            ):
                self._alarm(
                    f"Function{index}{name}",
                    metric.with_(period=Duration.minutes(5), statistic="Sum"),
                    f"{name} of an annotation function of the labeling job",
                )
        self._alarm(
            "RunnerFailed",
            state_machine.metric_failed(period=Duration.minutes(5)),
            "A runner execution (another labeling batch) failed",
        )
        if post_annotation_function is not None:
            # Any object whose consolidation failed (>= 1 of a count: > 0) in a period.
            self._alarm(
                "ConsolidationErrors",
                self.metric(
                    contract.METRIC_CONSOLIDATION_ERRORS, function=post_annotation_function
                ),
                "Objects of the labeling job got a failure instead of a label "
                "(their consolidation failed: see the post-annotation function's logs)",
            )
            self._alarm(
                "SkillStoreErrors",
                self.metric(contract.METRIC_SKILL_STORE_ERRORS, function=post_annotation_function),
                "The post-annotation function could not read or write the worker-skill table "
                "(skill learning stalls: see its logs; often a missing table or key permission)",
            )
        self._let_alarms_publish()
        self.dashboard = self._dashboard(functions, post_annotation_function, state_machine)

    # -- parts ----------------------------------------------------------------------------
    def _topic(self, key: kms.IKey | None, emails: Sequence[str]) -> sns.Topic:
        self.key = key or kms.Key(
            self,
            "TopicKey",
            enable_key_rotation=True,
            description="Encrypts the labeling job notification topic",
        )
        self._let_services_use_the_key()
        topic = sns.Topic(
            self,
            "Topic",
            master_key=self.key,
            enforce_ssl=True,
            display_name="Ground Truth labeling job",
        )
        for address in emails:
            topic.add_subscription(subscriptions.EmailSubscription(address))
        acknowledge(
            topic,
            "AwsSolutions-SNS3",
            "enforce_ssl adds the deny-insecure-transport statement to the topic policy",
        )
        return topic

    def _state_change_rule(self, job_name_prefix: str, source: str) -> events.Rule:
        return events.Rule(
            self,
            "StateChange",
            description="Ground Truth labeling jobs of this construct completed, failed or stopped",
            event_pattern=events.EventPattern(
                source=[source],
                detail_type=[STATE_CHANGE],
                resources=events.Match.prefix(
                    Stack.of(self).format_arn(
                        service="sagemaker",
                        resource="labeling-job",
                        resource_name=f"{job_name_prefix.lower()}-",
                    )
                ),
                detail={"LabelingJobStatus": ["Completed", "Failed", "Stopped"]},
            ),
            targets=[_TopicTarget(self.topic)],
        )

    def _let_services_use_the_key(self) -> None:
        """Let CloudWatch (alarms) and EventBridge (the rule) encrypt messages to the topic.

        Exact ARNs cannot be named here: the key policy is part of the key, which
        the topic, and through it the alarms and the rule, refer to (a cycle). The
        topic policy names them exactly (``_let_the_rule_publish``,
        ``_let_alarms_publish``); the key is limited to the stack's account, and
        to alarms and rules of its account and region. Whether CloudWatch and
        EventBridge pass ``aws:SourceAccount`` and ``aws:SourceArn`` on to KMS
        when they publish to an encrypted topic is not something their guides
        promise (for EventBridge they are reported unsupported): the
        ``...IfExists`` operators cannot lock the notifications out, and still
        refuse a request that names another account or resource.
        """
        stack = Stack.of(self)
        sources = {
            "cloudwatch.amazonaws.com": ("cloudwatch", "alarm", ArnFormat.COLON_RESOURCE_NAME),
            "events.amazonaws.com": ("events", "rule", ArnFormat.SLASH_RESOURCE_NAME),
        }
        for service, (arn_service, resource, arn_format) in sources.items():
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal(service)],
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    # In a key policy "*" means this key.
                    resources=["*"],
                    conditions={
                        "StringEqualsIfExists": {"aws:SourceAccount": stack.account},
                        "ArnLikeIfExists": {
                            "aws:SourceArn": stack.format_arn(
                                service=arn_service,
                                resource=resource,
                                resource_name="*",
                                arn_format=arn_format,
                            )
                        },
                    },
                )
            )

    def _let_the_rule_publish(self) -> None:
        """Let EventBridge publish this construct's rule's events to the topic, and no
        other rule's (of this account or another): ``aws:SourceArn`` is the rule,
        ``aws:SourceAccount`` the stack's account."""
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgeRuleOfTheLabelingJob",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Stack.of(self).account},
                    "ArnEquals": {"aws:SourceArn": self.rule.rule_arn},
                },
            )
        )

    def _let_alarms_publish(self) -> None:
        """Let CloudWatch publish this construct's alarms to the topic, and nothing else.

        ``enforce_ssl`` gives the topic a policy of its own, which replaces the
        default one (the account may publish): without this statement every
        alarm action is refused. ``aws:SourceArn`` names exactly the alarms
        above and ``aws:SourceAccount`` the stack's account, so no other
        alarm (of this account or another) can publish through it.
        """
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfTheLabelingJob",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Stack.of(self).account},
                    "ArnEquals": {"aws:SourceArn": [alarm.alarm_arn for alarm in self.alarms]},
                },
            )
        )

    def _alarm(self, alarm_id: str, metric: cloudwatch.Metric, description: str) -> None:
        alarm = metric.create_alarm(
            self,
            alarm_id,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        self.alarms.append(alarm)

    def _dashboard(
        self,
        functions: Sequence[lambda_.IFunction],
        post: lambda_.IFunction | None,
        state_machine: sfn.IStateMachine,
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard")
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Invocations", left=[f.metric_invocations() for f in functions]
            ),
            cloudwatch.GraphWidget(title="Errors", left=[f.metric_errors() for f in functions]),
            cloudwatch.GraphWidget(title="Duration", left=[f.metric_duration() for f in functions]),
        )
        if post is not None:
            dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Consolidation",
                    left=[
                        self.metric(contract.METRIC_OBJECTS_CONSOLIDATED, function=post),
                        self.metric(contract.METRIC_ANSWERS_REJECTED, function=post),
                    ],
                ),
                cloudwatch.GraphWidget(
                    title="Consolidation errors",
                    left=[self.metric(contract.METRIC_CONSOLIDATION_ERRORS, function=post)],
                ),
                cloudwatch.GraphWidget(
                    title="Skill store errors",
                    left=[self.metric(contract.METRIC_SKILL_STORE_ERRORS, function=post)],
                ),
            )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Runner executions",
                left=[
                    state_machine.metric_started(),
                    state_machine.metric_succeeded(),
                    state_machine.metric_failed(),
                ],
            )
        )
        return dashboard

    @staticmethod
    def metric(name: str, *, function: lambda_.IFunction, **kwargs: Any) -> cloudwatch.Metric:
        """A metric the post-annotation function emits (embedded metric format), summed."""
        return cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"Function": function.function_name},
            statistic=kwargs.pop("statistic", "Sum"),
            period=kwargs.pop("period", Duration.minutes(5)),
            **kwargs,
        )
