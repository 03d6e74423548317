"""WorkteamSettings: every rule PrivateWorkteam checks, judged without a stack or a synth."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from aws_cdk import Fn

from gt_constructs import ConfigurationError
from gt_constructs.workteam import MAX_SOURCE_IP_CIDRS, WorkteamSettings
from gt_constructs.workteam.settings import validate_workteam_arn

CONSTRUCT = "PrivateWorkteam Stack/Team"
CLIENT_ID = "1example23456789abcdefghij"


def _settings(**props: Any) -> WorkteamSettings:
    props.setdefault("workteam_name", "street-people")
    return WorkteamSettings(**props)


def _existing(**props: Any) -> WorkteamSettings:
    """An existing workforce, its pool given with a client id unless told otherwise."""
    props.setdefault("user_pool_client_id", CLIENT_ID)
    return _settings(existing_workforce=True, **props)


# -- valid settings -------------------------------------------------------------------------


def test_a_new_workforce_with_every_option_is_valid() -> None:
    # GIVEN settings for a new workforce using every option it has
    settings = _settings(
        description="Workers labelling people in street scenes",
        display_name="Street People",
        worker_emails=("ana@example.com", "Bo.Li@example.org"),
        workforce_name="my-Workforce-1",
        source_ip_cidrs=("203.0.113.0/24", "198.51.100.0/24", "2001:db8::/32"),
        domain_prefix="street-people-42",
    )
    # WHEN judged THEN nothing is wrong
    assert settings.problems() == []
    settings.validate(CONSTRUCT)


def test_an_existing_workforce_with_a_client_object_or_id_is_valid() -> None:
    assert _existing(existing_worker_usernames=("veteran",)).problems() == []
    assert _existing(user_pool_client_id=None, user_pool_client_given=True).problems() == []


def test_defaults_are_valid_and_name_the_default_workforce() -> None:
    settings = _settings()
    assert settings.problems() == []
    assert settings.workforce_name == "default"
    assert settings.description == "Private labeling workteam (gt-constructs)"


def test_unresolved_tokens_are_not_judged() -> None:
    # GIVEN values only known at deploy time
    token = Fn.import_value("Somewhere")
    settings = _settings(
        workteam_name=token,
        workforce_name=token,
        description=token,
        worker_emails=(token,),
        source_ip_cidrs=(token,),
        domain_prefix=token,
    )
    # THEN none of them is a problem
    assert settings.problems() == []
    validate_workteam_arn(token, CONSTRUCT)


# -- derived values -------------------------------------------------------------------------


def test_the_team_label_is_the_display_name_else_the_workteam_name() -> None:
    assert _settings().team_label == "street-people"
    assert _settings(display_name="Street People").team_label == "Street People"


def test_the_invitation_names_the_workforce_and_the_team() -> None:
    settings = _settings(display_name="Street People", workforce_name="crowd")
    assert settings.invitation_subject == "Invitation to the Street People labeling team"
    assert settings.invitation.to_environment() == {
        "GT_WORKFORCE_NAME": "crowd",
        "GT_TEAM_NAME": "Street People",
        "GT_INVITATION_SUBJECT": "Invitation to the Street People labeling team",
    }


def test_the_group_description_names_the_workteam() -> None:
    assert _settings().group_description == "Members of the street-people Ground Truth workteam"


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        _settings().workteam_name = "other"  # type: ignore[misc]


def test_every_problem_is_reported_at_once() -> None:
    # GIVEN settings with three unrelated problems
    settings = _settings(
        workteam_name="street people", description="", source_ip_cidrs=("not-a-cidr",)
    )
    # WHEN validated THEN one error lists all three, in the order of the rules
    with pytest.raises(ConfigurationError, match=r"Stack/Team: 3 invalid setting\(s\)") as raised:
        settings.validate(CONSTRUCT)
    problems = raised.value.problems
    assert [p.split()[0] for p in problems] == ["workteam_name", "description", "source_ip_cidrs"]
    assert settings.problems() == problems


# -- names and description --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["street people", "-street", "street-", "a" * 64, "street_people"])
def test_fails_when_workteam_name_is_invalid(name: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"workteam_name '{name}' is not allowed"):
        _settings(workteam_name=name).validate(CONSTRUCT)


@pytest.mark.parametrize("name", ["-bad", "bad_name", "a" * 64, ""])
def test_fails_when_workforce_name_is_invalid(name: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"workforce_name '{name}' is not allowed"):
        _settings(workforce_name=name).validate(CONSTRUCT)


def test_fails_when_description_is_empty() -> None:
    with pytest.raises(ConfigurationError, match=r"description has 0 characters; allowed: 1–200"):
        _settings(description="").validate(CONSTRUCT)


def test_fails_when_description_is_too_long() -> None:
    with pytest.raises(ConfigurationError, match=r"description has 201 characters"):
        _settings(description="x" * 201).validate(CONSTRUCT)


# -- workers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address", ["ana@localhost", "ana", "ana @example.com", "a@b@example.com", "@example.com"]
)
def test_fails_when_an_email_is_invalid(address: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"'{address}' is not an e-mail address"):
        _settings(worker_emails=(address,)).validate(CONSTRUCT)


def test_fails_when_an_email_is_longer_than_a_cognito_username() -> None:
    address = "a" * 120 + "@example.com"
    with pytest.raises(ConfigurationError, match=r"at most 128 characters"):
        _settings(worker_emails=(address,)).validate(CONSTRUCT)


def test_fails_when_an_email_is_listed_twice() -> None:
    with pytest.raises(
        ConfigurationError, match=r"'ANA@example.com' is listed twice \(addresses ignore case\)"
    ):
        _settings(worker_emails=("ana@example.com", "ANA@example.com")).validate(CONSTRUCT)


def test_fails_when_existing_usernames_without_existing_pool() -> None:
    with pytest.raises(
        ConfigurationError, match=r"existing_worker_usernames names users of an existing pool"
    ):
        _settings(existing_worker_usernames=("veteran",)).validate(CONSTRUCT)


# -- new or existing workforce --------------------------------------------------------------


def test_fails_when_user_pool_has_no_client() -> None:
    with pytest.raises(ConfigurationError, match=r"user_pool is given without its app client"):
        _existing(user_pool_client_id=None).validate(CONSTRUCT)


def test_fails_when_user_pool_client_id_is_empty() -> None:
    with pytest.raises(ConfigurationError, match=r"user_pool is given without its app client"):
        _existing(user_pool_client_id="").validate(CONSTRUCT)


def test_fails_when_both_client_and_client_id_are_given() -> None:
    with pytest.raises(
        ConfigurationError, match=r"give user_pool_client or user_pool_client_id, not both"
    ):
        _existing(user_pool_client_given=True).validate(CONSTRUCT)


@pytest.mark.parametrize(
    "client", [{"user_pool_client_id": CLIENT_ID}, {"user_pool_client_given": True}]
)
def test_fails_when_client_has_no_user_pool(client: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match=r"app client is given without user_pool"):
        _settings(**client).validate(CONSTRUCT)


def test_fails_when_cidrs_are_given_for_an_existing_workforce() -> None:
    with pytest.raises(ConfigurationError, match=r"source_ip_cidrs applies to a new workforce"):
        _existing(source_ip_cidrs=("10.0.0.0/8",)).validate(CONSTRUCT)


def test_fails_when_domain_prefix_is_given_for_an_existing_workforce() -> None:
    with pytest.raises(ConfigurationError, match=r"domain_prefix applies to a new workforce only"):
        _existing(domain_prefix="street-people").validate(CONSTRUCT)


# -- source networks ----------------------------------------------------------------------------


def test_fails_when_more_than_ten_cidrs() -> None:
    cidrs = tuple(f"10.0.{i}.0/24" for i in range(MAX_SOURCE_IP_CIDRS + 1))
    with pytest.raises(
        ConfigurationError, match=r"source_ip_cidrs has 11 entries; allowed: at most 10"
    ):
        _settings(source_ip_cidrs=cidrs).validate(CONSTRUCT)


@pytest.mark.parametrize("cidr", ["10.0.0.1/24", "10.0.0.0", "not-a-cidr", "10.0.0.0/33"])
def test_fails_when_a_cidr_is_invalid(cidr: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"'{cidr}' is not a CIDR block"):
        _settings(source_ip_cidrs=(cidr,)).validate(CONSTRUCT)


# -- domain prefix ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prefix", ["my-aws-team", "amazonians", "cognito1", "Street", "-street", "street-", "a" * 64]
)
def test_fails_when_domain_prefix_is_invalid(prefix: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"domain_prefix '{prefix}' is not allowed"):
        _settings(domain_prefix=prefix).validate(CONSTRUCT)


# -- imported workteam ARN ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/street-team",
        "arn:aws:sagemaker:eu-west-1:111122223333:workteam/vendor-crowd/vendor-1",
    ],
)
def test_a_workteam_arn_is_valid(arn: str) -> None:
    validate_workteam_arn(arn, "PrivateWorkteam.from_workteam_arn Stack/Team")


def test_fails_when_the_arn_is_not_a_workteam() -> None:
    arn = "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/x"
    with pytest.raises(ConfigurationError, match=r"'arn:.*labeling-job/x' is not a workteam ARN"):
        validate_workteam_arn(arn, "PrivateWorkteam.from_workteam_arn Stack/Team")
