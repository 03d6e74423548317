"""The workforce client custom resource and invitation trigger, against moto's Cognito API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from gt_resources import cfn_response, workforce_client
from gt_resources.workforce_client import (
    ClientTarget,
    InvalidProperties,
    customize_invitation,
    on_event,
    parse_target,
    update_request,
    with_portal,
    without_portal,
)
from moto import mock_aws

SUB_DOMAIN = "abcd1234.labeling.us-east-1.sagemaker.aws"
NEW_SUB_DOMAIN = "wxyz9876.labeling.us-east-1.sagemaker.aws"

#: Settings the portal's OAuth update must not touch.
CUSTOM_SETTINGS: dict[str, Any] = {
    "RefreshTokenValidity": 7,
    "AccessTokenValidity": 2,
    "IdTokenValidity": 3,
    "TokenValidityUnits": {"AccessToken": "hours", "IdToken": "hours", "RefreshToken": "days"},
    "ReadAttributes": ["email", "name"],
    "WriteAttributes": ["name"],
    "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    "PreventUserExistenceErrors": "ENABLED",
    "EnableTokenRevocation": True,
}


@pytest.fixture
def cognito() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("cognito-idp", region_name="us-east-1")


@pytest.fixture
def client_ids(cognito: Any) -> tuple[str, str]:
    pool_id = cognito.create_user_pool(PoolName="workers")["UserPool"]["Id"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="workforce", GenerateSecret=True, **CUSTOM_SETTINGS
    )["UserPoolClient"]
    return pool_id, client["ClientId"]


def _event(request_type: str, pool_id: str, client_id: str, sub_domain: str, **extra: Any) -> dict:
    return {
        "RequestType": request_type,
        "ResponseURL": "https://cloudformation-custom-resource-response.example/presigned",
        "StackId": "arn:aws:cloudformation:us-east-1:111122223333:stack/S/uuid",
        "RequestId": "req-1",
        "LogicalResourceId": "TeamClientConfiguration",
        "ResourceType": "Custom::GtWorkforceClient",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:111122223333:function:f",
            "UserPoolId": pool_id,
            "ClientId": client_id,
            "SubDomain": sub_domain,
        },
        **extra,
    }


def _described(cognito: Any, pool_id: str, client_id: str) -> dict[str, Any]:
    return cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)[
        "UserPoolClient"
    ]


def _assert_custom_settings_kept(client: dict[str, Any]) -> None:
    for key, value in CUSTOM_SETTINGS.items():
        actual = client.get(key)
        if isinstance(value, list):
            assert sorted(actual) == sorted(value), key
        else:
            assert actual == value, key


def test_create_sets_the_portal_oauth_settings_and_keeps_the_rest(cognito, client_ids) -> None:
    # GIVEN a client with custom token validity, flows and attributes
    pool_id, client_id = client_ids
    secret_before = _described(cognito, pool_id, client_id)["ClientSecret"]
    # WHEN the custom resource is created
    outcome = on_event(_event("Create", pool_id, client_id, SUB_DOMAIN), cognito)
    # THEN the portal's OAuth settings are on the client ...
    client = _described(cognito, pool_id, client_id)
    assert client["CallbackURLs"] == [f"https://{SUB_DOMAIN}/oauth2/idpresponse"]
    assert client["LogoutURLs"] == [f"https://{SUB_DOMAIN}/logout"]
    assert sorted(client["AllowedOAuthFlows"]) == ["code", "implicit"]
    assert sorted(client["AllowedOAuthScopes"]) == ["email", "openid", "profile"]
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    # ... and everything else is as it was
    _assert_custom_settings_kept(client)
    assert client["ClientName"] == "workforce"
    assert client["ClientSecret"] == secret_before
    assert outcome.physical_id == f"{pool_id}/{client_id}"
    assert outcome.data["CallbackUrl"] == f"https://{SUB_DOMAIN}/oauth2/idpresponse"


def test_the_update_request_carries_every_setting(cognito, client_ids) -> None:
    # UpdateUserPoolClient resets what it is not given (moto merges instead), so the
    # request itself must name every setting of the client.
    pool_id, client_id = client_ids
    requests: list[dict[str, Any]] = []
    update = cognito.update_user_pool_client

    def spy(**kwargs: Any) -> Any:
        requests.append(kwargs)
        return update(**kwargs)

    cognito.update_user_pool_client = spy
    on_event(_event("Create", pool_id, client_id, SUB_DOMAIN), cognito)
    (request,) = requests
    for key, value in CUSTOM_SETTINGS.items():
        assert request[key] == value, key
    assert request["ClientName"] == "workforce"
    assert "ClientSecret" not in request and "CreationDate" not in request


def test_create_twice_is_idempotent(cognito, client_ids) -> None:
    pool_id, client_id = client_ids
    on_event(_event("Create", pool_id, client_id, SUB_DOMAIN), cognito)
    first = _described(cognito, pool_id, client_id)
    on_event(_event("Create", pool_id, client_id, SUB_DOMAIN), cognito)
    second = _described(cognito, pool_id, client_id)
    for key in ("CallbackURLs", "LogoutURLs", "AllowedOAuthFlows", "AllowedOAuthScopes"):
        assert second[key] == first[key], key
    assert len(second["CallbackURLs"]) == 1
    _assert_custom_settings_kept(second)


def test_update_with_a_new_subdomain_moves_the_urls(cognito, client_ids) -> None:
    pool_id, client_id = client_ids
    created = _event("Create", pool_id, client_id, SUB_DOMAIN)
    on_event(created, cognito)
    # WHEN the workforce's subdomain changes
    update = _event(
        "Update",
        pool_id,
        client_id,
        NEW_SUB_DOMAIN,
        PhysicalResourceId=f"{pool_id}/{client_id}",
        OldResourceProperties=created["ResourceProperties"],
    )
    outcome = on_event(update, cognito)
    # THEN only the new portal's URLs remain, under the same physical id
    client = _described(cognito, pool_id, client_id)
    assert client["CallbackURLs"] == [f"https://{NEW_SUB_DOMAIN}/oauth2/idpresponse"]
    assert client["LogoutURLs"] == [f"https://{NEW_SUB_DOMAIN}/logout"]
    assert outcome.physical_id == f"{pool_id}/{client_id}"
    _assert_custom_settings_kept(client)


def test_delete_removes_the_portal_urls_and_keeps_the_rest(cognito, client_ids) -> None:
    pool_id, client_id = client_ids
    on_event(_event("Create", pool_id, client_id, SUB_DOMAIN), cognito)
    # WHEN the custom resource is deleted
    on_event(
        _event(
            "Delete", pool_id, client_id, SUB_DOMAIN, PhysicalResourceId=f"{pool_id}/{client_id}"
        ),
        cognito,
    )
    # THEN the portal's URLs and OAuth are gone, the other settings stay
    client = _described(cognito, pool_id, client_id)
    assert not client.get("CallbackURLs")
    assert not client.get("LogoutURLs")
    assert not client.get("AllowedOAuthFlowsUserPoolClient")
    assert not client.get("AllowedOAuthFlows")
    assert not client.get("AllowedOAuthScopes")
    _assert_custom_settings_kept(client)


def test_delete_of_a_client_already_gone_succeeds(cognito, client_ids) -> None:
    pool_id, client_id = client_ids
    cognito.delete_user_pool_client(UserPoolId=pool_id, ClientId=client_id)
    outcome = on_event(
        _event(
            "Delete", pool_id, client_id, SUB_DOMAIN, PhysicalResourceId=f"{pool_id}/{client_id}"
        ),
        cognito,
    )
    assert outcome.physical_id == f"{pool_id}/{client_id}"


def test_delete_after_a_create_that_never_parsed_does_nothing(cognito) -> None:
    event = {
        "RequestType": "Delete",
        "PhysicalResourceId": "TeamClientConfiguration",
        "ResourceProperties": {"ServiceToken": "arn"},
    }
    assert on_event(event, cognito).physical_id == "TeamClientConfiguration"


def test_handler_reports_success_to_cloudformation(cognito, client_ids, monkeypatch) -> None:
    pool_id, client_id = client_ids
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        workforce_client, "send_response", lambda url, body: sent.append((url, body))
    )
    monkeypatch.setitem(workforce_client._CLIENTS, "cognito-idp", cognito)
    workforce_client.handler(_event("Create", pool_id, client_id, SUB_DOMAIN), None)
    ((url, body),) = sent
    assert url.endswith("/presigned")
    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == f"{pool_id}/{client_id}"
    assert body["Data"]["LogoutUrl"] == f"https://{SUB_DOMAIN}/logout"


def test_handler_reports_failure_instead_of_raising(cognito, monkeypatch, capsys) -> None:
    sent: list[dict] = []
    monkeypatch.setattr(workforce_client, "send_response", lambda url, body: sent.append(body))
    monkeypatch.setitem(workforce_client._CLIENTS, "cognito-idp", cognito)
    event = _event("Create", "us-east-1_Missing", "nosuchclient", SUB_DOMAIN)
    workforce_client.handler(event, None)
    (body,) = sent
    assert body["Status"] == "FAILED"
    assert "ResourceNotFoundException" in body["Reason"]
    assert body["PhysicalResourceId"] == "us-east-1_Missing/nosuchclient"
    # The presigned response URL never reaches the logs.
    assert "presigned" not in capsys.readouterr().err


def test_send_response_puts_json(monkeypatch) -> None:
    captured: dict[str, Any] = {}

    class _Reply:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self) -> bytes:
            return b""

    def fake_urlopen(request, timeout):
        captured.update(method=request.get_method(), data=request.data, timeout=timeout)
        return _Reply()

    monkeypatch.setattr(cfn_response.urllib.request, "urlopen", fake_urlopen)
    workforce_client.send_response("https://example.invalid/r", {"Status": "SUCCESS"})
    assert captured["method"] == "PUT"
    assert json.loads(captured["data"]) == {"Status": "SUCCESS"}


# -- pure functions -------------------------------------------------------------------------


def test_parse_target_accepts_a_url_and_rejects_missing_properties() -> None:
    target = parse_target(
        {"UserPoolId": "p", "ClientId": "c", "SubDomain": f"https://{SUB_DOMAIN}/"}
    )
    assert target.sub_domain == SUB_DOMAIN
    with pytest.raises(InvalidProperties, match="SubDomain"):
        parse_target({"UserPoolId": "p", "ClientId": "c"})
    with pytest.raises(InvalidProperties, match="not a host name"):
        parse_target({"UserPoolId": "p", "ClientId": "c", "SubDomain": "a.b/c"})


def test_update_request_drops_read_only_fields() -> None:
    described = {
        "ClientId": "c",
        "UserPoolId": "p",
        "ClientSecret": "s",
        "CreationDate": 1,
        "IdTokenValidity": 3,
    }
    writable = {"ClientId", "UserPoolId", "IdTokenValidity", "CallbackURLs"}
    assert update_request(described, writable) == {
        "ClientId": "c",
        "UserPoolId": "p",
        "IdTokenValidity": 3,
    }


def test_merge_keeps_other_urls_and_delete_keeps_oauth_for_them() -> None:
    target = ClientTarget("p", "c", SUB_DOMAIN)
    other = "https://other.example/callback"
    request = {"CallbackURLs": [other], "AllowedOAuthFlows": ["code"], "DefaultRedirectURI": other}
    merged = with_portal(request, target)
    assert merged["CallbackURLs"] == [other, target.callback_url]
    assert merged["AllowedOAuthFlows"] == ["code", "implicit"]
    released = without_portal(merged, target)
    assert released["CallbackURLs"] == [other]
    assert released["AllowedOAuthFlowsUserPoolClient"] is True
    assert released["DefaultRedirectURI"] == other


# -- the invitation trigger ------------------------------------------------------------------


def _trigger_event(source: str = "CustomMessage_AdminCreateUser") -> dict[str, Any]:
    return {
        "triggerSource": source,
        "request": {"usernameParameter": "{username}", "codeParameter": "{####}"},
        "response": {"emailSubject": None, "emailMessage": None},
    }


def test_invitation_names_team_and_portal_and_keeps_the_codes() -> None:
    event = customize_invitation(
        _trigger_event(), team="Street <people>", subject="Join", portal=f"https://{SUB_DOMAIN}"
    )
    message = event["response"]["emailMessage"]
    assert f'href="https://{SUB_DOMAIN}"' in message
    assert "Street &lt;people&gt;" in message
    assert "{username}" in message and "{####}" in message
    assert event["response"]["emailSubject"] == "Join"


def test_invitation_leaves_other_messages_and_missing_portal_alone() -> None:
    forgot = customize_invitation(
        _trigger_event("CustomMessage_ForgotPassword"), team="t", subject="s", portal="https://x"
    )
    assert forgot["response"]["emailMessage"] is None
    no_portal = customize_invitation(_trigger_event(), team="t", subject="s", portal=None)
    assert no_portal["response"]["emailMessage"] is None


def test_invitation_handler_falls_back_when_sagemaker_fails(monkeypatch) -> None:
    class _Failing:
        def describe_workforce(self, **kwargs):
            raise RuntimeError("no workforce")

    monkeypatch.setenv("GT_WORKFORCE_NAME", "default")
    monkeypatch.setitem(workforce_client._CLIENTS, "sagemaker", _Failing())
    monkeypatch.setattr(workforce_client, "_PORTALS", {})
    event = workforce_client.invitation_handler(_trigger_event(), None)
    assert event["response"]["emailMessage"] is None


def test_invitation_handler_uses_the_workforce_subdomain(monkeypatch) -> None:
    calls: list[str] = []

    class _SageMaker:
        def describe_workforce(self, WorkforceName: str) -> dict:
            calls.append(WorkforceName)
            return {"Workforce": {"WorkforceName": WorkforceName, "SubDomain": SUB_DOMAIN}}

    monkeypatch.setenv("GT_WORKFORCE_NAME", "default")
    monkeypatch.setenv("GT_TEAM_NAME", "Street people")
    monkeypatch.setitem(workforce_client._CLIENTS, "sagemaker", _SageMaker())
    monkeypatch.setattr(workforce_client, "_PORTALS", {})
    first = workforce_client.invitation_handler(_trigger_event(), None)
    workforce_client.invitation_handler(_trigger_event(), None)
    assert f"https://{SUB_DOMAIN}" in first["response"]["emailMessage"]
    assert calls == ["default"]  # cached for the container's life
