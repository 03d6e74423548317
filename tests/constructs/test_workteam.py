"""PrivateWorkteam: a new workforce, an existing one, and an imported team.

One synth for the module (jsii start-up is per process): the new-workforce
stack, the existing-workforce stack and the import stack, nag-checked together.
"""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cognito as cognito
from aws_cdk.assertions import Match, Template

from gt_constructs import ConfigurationError, IWorkteam, PrivateWorkteam
from tests.support import DEFAULT_ENV, cfn_lint_findings, synth_stacks

WORKERS = ["ana@example.com", "Bo.Li@example.org"]
EXISTING_POOL_ID = "us-east-1_AbCdEf123"
EXISTING_CLIENT_ID = "1example23456789abcdefghij"
IMPORTED_ARN = "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/street-team"


def _build(app: cdk.App) -> list[cdk.Stack]:
    new = cdk.Stack(app, "NewWorkforce", env=DEFAULT_ENV)
    PrivateWorkteam(
        new,
        "Team",
        workteam_name="street-people",
        description="Workers labelling people in street scenes",
        worker_emails=WORKERS,
        source_ip_cidrs=["203.0.113.0/24", "198.51.100.0/24"],
    )
    existing = cdk.Stack(app, "ExistingWorkforce", env=DEFAULT_ENV)
    PrivateWorkteam(
        existing,
        "Team",
        workteam_name="street-people",
        user_pool=cognito.UserPool.from_user_pool_id(existing, "Pool", EXISTING_POOL_ID),
        user_pool_client_id=EXISTING_CLIENT_ID,
        worker_emails=["ana@example.com"],
        existing_worker_usernames=["veteran-worker"],
        notifications=False,
    )
    imported = cdk.Stack(app, "Imported", env=DEFAULT_ENV)
    team = PrivateWorkteam.from_workteam_arn(imported, "Team", IMPORTED_ARN)
    cdk.CfnOutput(imported, "Arn", value=team.workteam_arn)
    cdk.CfnOutput(imported, "Name", value=team.workteam_name)
    return [new, existing, imported]


@pytest.fixture(scope="module")
def templates() -> dict[str, Template]:
    return synth_stacks(_build)


@pytest.fixture(scope="module")
def new(templates: dict[str, Template]) -> Template:
    return templates["NewWorkforce"]


@pytest.fixture(scope="module")
def existing(templates: dict[str, Template]) -> Template:
    return templates["ExistingWorkforce"]


def _only(template: Template, resource_type: str) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(resource_type)
    assert len(found) == 1, f"{resource_type}: {sorted(found)}"
    return next(iter(found.items()))


# -- new workforce --------------------------------------------------------------------------


def test_user_pool_is_admin_only_with_a_strong_password_policy(new: Template) -> None:
    new.has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            "AdminCreateUserConfig": Match.object_like(
                {
                    "AllowAdminCreateUserOnly": True,
                    "InviteMessageTemplate": {
                        "EmailSubject": Match.string_like_regexp("street-people"),
                        "EmailMessage": Match.string_like_regexp(r"\{username\}.*\{####\}"),
                    },
                }
            ),
            "UsernameAttributes": ["email"],
            "AccountRecoverySetting": {
                "RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]
            },
            "Policies": {
                "PasswordPolicy": Match.object_like(
                    {
                        "MinimumLength": 12,
                        "RequireLowercase": True,
                        "RequireUppercase": True,
                        "RequireNumbers": True,
                        "RequireSymbols": True,
                    }
                )
            },
            "UserPoolTier": "PLUS",
            "LambdaConfig": {"CustomMessage": Match.any_value()},
        },
    )


def test_domain_prefix_is_derived_from_the_stack_id(new: Template) -> None:
    _, domain = _only(new, "AWS::Cognito::UserPoolDomain")
    join = domain["Properties"]["Domain"]["Fn::Join"]
    assert join[0] == "-"
    assert re.fullmatch(r"gt-[0-9a-f]{8}", join[1][0])
    assert join[1][1] == {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}


def test_client_generates_a_secret_and_the_workforce_uses_it(new: Template) -> None:
    client_id, client = _only(new, "AWS::Cognito::UserPoolClient")
    assert client["Properties"]["GenerateSecret"] is True
    pool_id, _ = _only(new, "AWS::Cognito::UserPool")
    new.has_resource_properties(
        "AWS::SageMaker::Workforce",
        {
            "WorkforceName": "default",
            "CognitoConfig": {"UserPool": {"Ref": pool_id}, "ClientId": {"Ref": client_id}},
            "SourceIpConfig": {"Cidrs": ["203.0.113.0/24", "198.51.100.0/24"]},
        },
    )


def test_workteam_has_a_cognito_member_definition_and_the_topic(new: Template) -> None:
    group_id, _ = _only(new, "AWS::Cognito::UserPoolGroup")
    topic_id, _ = _only(new, "AWS::SNS::Topic")
    workforce_id, _ = _only(new, "AWS::SageMaker::Workforce")
    _, workteam = _only(new, "AWS::SageMaker::Workteam")
    props = workteam["Properties"]
    assert props["WorkteamName"] == "street-people"
    assert props["WorkforceName"] == "default"
    assert props["MemberDefinitions"][0]["CognitoMemberDefinition"]["CognitoUserGroup"] == {
        "Ref": group_id
    }
    assert props["NotificationConfiguration"] == {"NotificationTopicArn": {"Ref": topic_id}}
    assert workforce_id in workteam["DependsOn"]


def test_client_configuration_runs_after_the_workforce(new: Template) -> None:
    workforce_id, _ = _only(new, "AWS::SageMaker::Workforce")
    client_id, _ = _only(new, "AWS::Cognito::UserPoolClient")
    _, resource = _only(new, "Custom::GtWorkforceClient")
    assert workforce_id in resource["DependsOn"]
    props = resource["Properties"]
    assert props["SubDomain"] == {"Fn::GetAtt": [workforce_id, "SubDomain"]}
    assert props["ClientId"] == {"Ref": client_id}
    assert len(props["ClientTemplateDigest"]) == 10


def test_configurator_may_only_touch_this_pools_clients(new: Template) -> None:
    pool_id, _ = _only(new, "AWS::Cognito::UserPool")
    new.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": [
                                "cognito-idp:DescribeUserPoolClient",
                                "cognito-idp:UpdateUserPoolClient",
                            ],
                            "Effect": "Allow",
                            "Resource": {"Fn::GetAtt": [pool_id, "Arn"]},
                        }
                    ]
                )
            }
        },
    )


def test_functions_run_on_the_library_runtime_with_week_long_logs(new: Template) -> None:
    functions = new.find_resources("AWS::Lambda::Function")
    handlers = sorted(f["Properties"]["Handler"] for f in functions.values())
    assert handlers == [
        "gt_resources.workforce_client.handler",
        "gt_resources.workforce_client.invitation_handler",
    ]
    for function in functions.values():
        assert function["Properties"]["Runtime"] == "python3.14"
        assert function["Properties"]["Architectures"] == ["arm64"]
    new.resource_count_is("AWS::Logs::LogGroup", 2)
    for group in new.find_resources("AWS::Logs::LogGroup").values():
        assert group["Properties"]["RetentionInDays"] == 7


def test_one_user_per_worker_in_the_teams_group_after_the_client_is_ready(new: Template) -> None:
    group_id, _ = _only(new, "AWS::Cognito::UserPoolGroup")
    (resource_id, _) = _only(new, "Custom::GtWorkforceClient")
    users = new.find_resources("AWS::Cognito::UserPoolUser")
    assert sorted(u["Properties"]["Username"] for u in users.values()) == sorted(WORKERS)
    for user_id, user in users.items():
        assert user["Properties"]["DesiredDeliveryMediums"] == ["EMAIL"]
        assert resource_id in user["DependsOn"]
        new.has_resource_properties(
            "AWS::Cognito::UserPoolUserToGroupAttachment",
            {"GroupName": {"Ref": group_id}, "Username": {"Ref": user_id}},
        )
    new.resource_count_is("AWS::Cognito::UserPoolUserToGroupAttachment", len(WORKERS))


def test_topic_is_encrypted_ssl_only_and_open_to_this_accounts_workteams(new: Template) -> None:
    key_id, _ = _only(new, "AWS::KMS::Key")
    new.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    )
    _, policy = _only(new, "AWS::SNS::TopicPolicy")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    (publish,) = [
        s for s in statements if s.get("Principal") == {"Service": "sagemaker.amazonaws.com"}
    ]
    assert publish["Action"] == "sns:Publish"
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source_arn = publish["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Join"][1]
    assert source_arn[-1].endswith(":sagemaker:us-east-1:111122223333:workteam/private-crowd/*")
    new.resource_count_is("AWS::SNS::Subscription", len(WORKERS))


def test_outputs_name_the_team_and_the_portal(new: Template) -> None:
    workforce_id, _ = _only(new, "AWS::SageMaker::Workforce")
    outputs = new.to_json()["Outputs"]
    (portal,) = [v for k, v in outputs.items() if "PortalUrl" in k]
    assert portal["Value"] == {
        "Fn::Join": ["", ["https://", {"Fn::GetAtt": [workforce_id, "SubDomain"]}]]
    }
    assert any("WorkteamArn" in k for k in outputs)
    assert any("NotificationTopicArn" in k for k in outputs)


# -- existing workforce ---------------------------------------------------------------------


def test_existing_workforce_gets_no_pool_no_workforce_no_custom_resource(
    existing: Template,
) -> None:
    for resource_type in (
        "AWS::Cognito::UserPool",
        "AWS::Cognito::UserPoolClient",
        "AWS::Cognito::UserPoolDomain",
        "AWS::SageMaker::Workforce",
        "Custom::GtWorkforceClient",
        "AWS::Lambda::Function",
        "AWS::SNS::Topic",
    ):
        existing.resource_count_is(resource_type, 0)


def test_existing_workforce_gets_a_group_a_workteam_and_the_workers(existing: Template) -> None:
    group_id, _ = _only(existing, "AWS::Cognito::UserPoolGroup")
    existing.has_resource_properties(
        "AWS::Cognito::UserPoolGroup",
        {"UserPoolId": EXISTING_POOL_ID, "GroupName": "street-people"},
    )
    _, workteam = _only(existing, "AWS::SageMaker::Workteam")
    assert workteam["Properties"]["MemberDefinitions"] == [
        {
            "CognitoMemberDefinition": {
                "CognitoUserPool": EXISTING_POOL_ID,
                "CognitoClientId": EXISTING_CLIENT_ID,
                "CognitoUserGroup": {"Ref": group_id},
            }
        }
    ]
    assert "NotificationConfiguration" not in workteam["Properties"]
    existing.has_resource_properties(
        "AWS::Cognito::UserPoolUser",
        {"UserPoolId": EXISTING_POOL_ID, "Username": "ana@example.com"},
    )
    existing.has_resource_properties(
        "AWS::Cognito::UserPoolUserToGroupAttachment",
        {"Username": "veteran-worker", "GroupName": {"Ref": group_id}},
    )


# -- import --------------------------------------------------------------------------------


def test_import_exposes_arn_and_name(templates: dict[str, Template]) -> None:
    outputs = templates["Imported"].to_json()["Outputs"]
    assert outputs["Arn"]["Value"] == IMPORTED_ARN
    assert outputs["Name"]["Value"] == "street-team"
    assert templates["Imported"].to_json().get("Resources", {}) == {}


def test_both_constructs_satisfy_iworkteam() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "S", env=DEFAULT_ENV)
    assert isinstance(PrivateWorkteam(stack, "New"), IWorkteam)
    assert isinstance(PrivateWorkteam.from_workteam_arn(stack, "Old", IMPORTED_ARN), IWorkteam)


# -- checks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["NewWorkforce", "ExistingWorkforce"])
def test_cfn_lint_is_clean(templates: dict[str, Template], name: str) -> None:
    assert cfn_lint_findings(templates[name].to_json()) == []


def _team(**props: Any) -> PrivateWorkteam:
    stack = cdk.Stack(cdk.App(), "S", env=DEFAULT_ENV)
    if props.pop("existing_pool", False):
        props["user_pool"] = cognito.UserPool.from_user_pool_id(stack, "Pool", EXISTING_POOL_ID)
    return PrivateWorkteam(stack, "Team", **props)


def test_fails_when_more_than_ten_cidrs() -> None:
    cidrs = [f"10.0.{i}.0/24" for i in range(11)]
    with pytest.raises(
        ConfigurationError, match=r"source_ip_cidrs has 11 entries; allowed: at most 10"
    ):
        _team(source_ip_cidrs=cidrs)


def test_fails_when_a_cidr_is_invalid() -> None:
    with pytest.raises(ConfigurationError, match=r"'10.0.0.1/24' is not a CIDR block") as raised:
        _team(source_ip_cidrs=["10.0.0.1/24", "not-a-cidr", "10.0.0.0/8"])
    assert len(raised.value.problems) == 2


def test_fails_when_an_email_is_invalid() -> None:
    with pytest.raises(ConfigurationError, match=r"'ana@localhost' is not an e-mail address"):
        _team(worker_emails=["ana@localhost"])


def test_fails_when_an_email_is_listed_twice() -> None:
    with pytest.raises(ConfigurationError, match=r"listed twice"):
        _team(worker_emails=["ana@example.com", "ANA@example.com"])


def test_fails_when_user_pool_has_no_client() -> None:
    with pytest.raises(ConfigurationError, match=r"user_pool is given without its app client"):
        _team(existing_pool=True)


def test_fails_when_client_has_no_user_pool() -> None:
    with pytest.raises(ConfigurationError, match=r"app client is given without user_pool"):
        _team(user_pool_client_id=EXISTING_CLIENT_ID)


def test_fails_when_cidrs_are_given_for_an_existing_workforce() -> None:
    with pytest.raises(ConfigurationError, match=r"source_ip_cidrs applies to a new workforce"):
        _team(
            existing_pool=True,
            user_pool_client_id=EXISTING_CLIENT_ID,
            source_ip_cidrs=["10.0.0.0/8"],
        )


def test_fails_when_workforce_name_is_invalid() -> None:
    with pytest.raises(ConfigurationError, match=r"workforce_name '-bad_name' is not allowed"):
        _team(workforce_name="-bad_name")


def test_fails_when_workteam_name_is_invalid() -> None:
    with pytest.raises(ConfigurationError, match=r"workteam_name 'street people' is not allowed"):
        _team(workteam_name="street people")


def test_fails_when_description_is_empty_or_too_long() -> None:
    with pytest.raises(ConfigurationError, match=r"description has 0 characters; allowed: 1–200"):
        _team(description="")
    with pytest.raises(ConfigurationError, match=r"description has 201 characters"):
        _team(description="x" * 201)


def test_fails_when_domain_prefix_names_aws() -> None:
    with pytest.raises(ConfigurationError, match=r"domain_prefix 'my-aws-team' is not allowed"):
        _team(domain_prefix="my-aws-team")


def test_fails_when_existing_usernames_without_existing_pool() -> None:
    with pytest.raises(ConfigurationError, match=r"existing_worker_usernames"):
        _team(existing_worker_usernames=["veteran"])


def test_fails_when_the_arn_is_not_a_workteam() -> None:
    stack = cdk.Stack(cdk.App(), "S", env=DEFAULT_ENV)
    with pytest.raises(ConfigurationError, match=r"is not a workteam ARN"):
        PrivateWorkteam.from_workteam_arn(
            stack, "Team", "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/x"
        )


def test_unresolved_tokens_are_not_judged() -> None:
    stack = cdk.Stack(cdk.App(), "S", env=DEFAULT_ENV)
    param = cdk.CfnParameter(stack, "Cidr").value_as_string
    PrivateWorkteam(stack, "Team", source_ip_cidrs=[param])
    PrivateWorkteam.from_workteam_arn(stack, "Imported", cdk.Fn.import_value("TeamArn"))
