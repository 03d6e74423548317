"""The private workforce's Cognito side, closed in the same deploy as the workforce.

Two Lambda entry points:

``handler``
    CloudFormation custom resource (``Custom::GtWorkforceClient``). Once the
    SageMaker workforce exists, it gives the workforce's Cognito app client the
    OAuth settings the labeling portal needs (flows ``code`` and ``implicit``,
    scopes ``email openid profile``, identity provider ``COGNITO``, callback
    ``https://<SubDomain>/oauth2/idpresponse``, logout ``https://<SubDomain>/logout``).
    ``UpdateUserPoolClient`` resets every field it is not given, so the client
    is read first, the settings are merged in, and every writable field is
    written back. Create and Update are idempotent; Update moves the URLs
    when the portal's subdomain changes; Delete removes exactly the URLs this
    resource added (and switches OAuth off when no callback URL is left),
    leaving every other setting as it was.

``invitation_handler``
    Cognito *custom message* trigger: the invitation of an admin-created user
    names the team and links the labeling portal, whose address
    (``DescribeWorkforce``'s ``SubDomain``) only exists once the workforce does.
    Any problem leaves Cognito's own invitation (the pool's template) in place.

Standard library + boto3 only. Nothing here logs e-mail addresses, usernames,
passwords or the presigned CloudFormation response URL.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .cfn_response import response_body, send_response
from .contract import ENV_LOG_LEVEL, ENV_WORKFORCE_NAME, InvitationSettings

OAUTH_FLOWS = ("code", "implicit")
OAUTH_SCOPES = ("email", "openid", "profile")
IDENTITY_PROVIDER = "COGNITO"
#: Keys of the request that name the client rather than configure it.
_IDENTITY_KEYS = ("UserPoolId", "ClientId")


def _logger() -> logging.Logger:
    logger = logging.getLogger("gt_resources.workforce_client")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(os.environ.get(ENV_LOG_LEVEL) or "INFO")
    return logger


class _JsonFormatter(logging.Formatter):
    _STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"level": record.levelname, "message": record.getMessage()}
        entry.update({k: v for k, v in vars(record).items() if k not in self._STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


LOG = _logger()


class InvalidProperties(ValueError):
    """The custom resource was given properties it cannot work with."""


# -- the app client ---------------------------------------------------------------------


@dataclass(frozen=True)
class ClientTarget:
    """Which client to configure, for which portal."""

    user_pool_id: str
    client_id: str
    sub_domain: str

    @property
    def physical_id(self) -> str:
        """Stable while pool and client stay: a subdomain change is an in-place update."""
        return f"{self.user_pool_id}/{self.client_id}"

    @property
    def callback_url(self) -> str:
        return f"https://{self.sub_domain}/oauth2/idpresponse"

    @property
    def logout_url(self) -> str:
        return f"https://{self.sub_domain}/logout"


def parse_target(properties: Mapping[str, Any] | None) -> ClientTarget:
    """``UserPoolId``, ``ClientId`` and ``SubDomain`` (a host name, no scheme or path)."""
    props = properties or {}
    missing = [k for k in ("UserPoolId", "ClientId", "SubDomain") if not props.get(k)]
    if missing:
        raise InvalidProperties(
            f"missing resource properties {', '.join(missing)}; needed: UserPoolId, ClientId, "
            "SubDomain (the workforce's SubDomain attribute)"
        )
    sub_domain = str(props["SubDomain"]).strip().lower()
    sub_domain = sub_domain.removeprefix("https://").rstrip("/")
    if not sub_domain or "/" in sub_domain or " " in sub_domain:
        raise InvalidProperties(
            f"SubDomain {props['SubDomain']!r} is not a host name; expected e.g. "
            "abcd1234.labeling.us-east-1.sagemaker.aws"
        )
    return ClientTarget(str(props["UserPoolId"]), str(props["ClientId"]), sub_domain)


def writable_fields(cognito: Any) -> frozenset[str]:
    """Every field ``UpdateUserPoolClient`` accepts, from the SDK's own API model.

    Taken from the model rather than a list written here, so a field Cognito
    adds later is carried over as soon as the runtime's boto3 knows it.
    """
    shape = cognito.meta.service_model.operation_model("UpdateUserPoolClient").input_shape
    return frozenset(shape.members)


def update_request(described: Mapping[str, Any], writable: Iterable[str]) -> dict[str, Any]:
    """The client as described, reduced to what UpdateUserPoolClient takes (nothing reset)."""
    allowed = set(writable)
    return {k: v for k, v in described.items() if k in allowed}


def _union(existing: Iterable[str] | None, added: Iterable[str]) -> list[str]:
    result = list(existing or [])
    result.extend(item for item in added if item not in result)
    return result


def with_portal(request: Mapping[str, Any], target: ClientTarget) -> dict[str, Any]:
    """The request plus the portal's OAuth settings; every other setting is kept."""
    merged = dict(request)
    merged["CallbackURLs"] = _union(request.get("CallbackURLs"), [target.callback_url])
    merged["LogoutURLs"] = _union(request.get("LogoutURLs"), [target.logout_url])
    merged["AllowedOAuthFlows"] = _union(request.get("AllowedOAuthFlows"), OAUTH_FLOWS)
    merged["AllowedOAuthScopes"] = _union(request.get("AllowedOAuthScopes"), OAUTH_SCOPES)
    merged["SupportedIdentityProviders"] = _union(
        request.get("SupportedIdentityProviders"), [IDENTITY_PROVIDER]
    )
    merged["AllowedOAuthFlowsUserPoolClient"] = True
    return merged


def without_portal(request: Mapping[str, Any], target: ClientTarget) -> dict[str, Any]:
    """The request minus this portal's URLs; OAuth is switched off when no callback is left."""
    merged = dict(request)
    callbacks = [u for u in request.get("CallbackURLs") or [] if u != target.callback_url]
    logouts = [u for u in request.get("LogoutURLs") or [] if u != target.logout_url]
    merged["CallbackURLs"] = callbacks
    merged["LogoutURLs"] = logouts
    if merged.get("DefaultRedirectURI") == target.callback_url:
        del merged["DefaultRedirectURI"]
    if not callbacks:
        # Cognito refuses code/implicit flows without a callback URL. Empty lists rather
        # than absent keys: explicit whatever the service does with an omitted field.
        merged["AllowedOAuthFlows"] = []
        merged["AllowedOAuthScopes"] = []
        merged.pop("DefaultRedirectURI", None)
        merged["AllowedOAuthFlowsUserPoolClient"] = False
    return merged


def _describe(cognito: Any, target: ClientTarget) -> dict[str, Any]:
    response = cognito.describe_user_pool_client(
        UserPoolId=target.user_pool_id, ClientId=target.client_id
    )
    return dict(response["UserPoolClient"])


def configure_client(
    cognito: Any, target: ClientTarget, previous: ClientTarget | None = None
) -> None:
    """Read, merge, write: the client gets the portal's settings and keeps all others.

    ``previous``: the target of the last deploy; when it is the same client with
    another subdomain, its URLs are removed in the same write.
    """
    request = update_request(_describe(cognito, target), writable_fields(cognito))
    if (
        previous is not None
        and previous.physical_id == target.physical_id
        and previous.sub_domain != target.sub_domain
    ):
        request = without_portal(request, previous)
    cognito.update_user_pool_client(**with_portal(request, target))


def release_client(cognito: Any, target: ClientTarget) -> None:
    """Remove this portal's URLs from the client; a client or pool already gone is fine."""
    try:
        described = _describe(cognito, target)
    except cognito.exceptions.ResourceNotFoundException:
        LOG.info("client already gone", extra={"userPoolId": target.user_pool_id})
        return
    request = update_request(described, writable_fields(cognito))
    cognito.update_user_pool_client(**without_portal(request, target))


# -- the CloudFormation custom resource ----------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    physical_id: str
    data: dict[str, str]


def on_event(event: Mapping[str, Any], cognito: Any) -> Outcome:
    """Do what the request asks; raises on failure (the handler reports it)."""
    request_type = event["RequestType"]
    if request_type == "Delete":
        try:
            target = parse_target(event.get("ResourceProperties"))
        except InvalidProperties:
            # A create that failed before it did anything: nothing to undo.
            return Outcome(str(event.get("PhysicalResourceId", "")), {})
        if event.get("PhysicalResourceId") == target.physical_id:
            release_client(cognito, target)
        return Outcome(target.physical_id, {})

    target = parse_target(event.get("ResourceProperties"))
    previous: ClientTarget | None = None
    if request_type == "Update":
        try:
            previous = parse_target(event.get("OldResourceProperties"))
        except InvalidProperties:
            previous = None
    elif request_type != "Create":
        raise InvalidProperties(f"unknown RequestType {request_type!r}")
    configure_client(cognito, target, previous)
    return Outcome(
        target.physical_id,
        {"CallbackUrl": target.callback_url, "LogoutUrl": target.logout_url},
    )


_CLIENTS: dict[str, Any] = {}


def _client(service: str) -> Any:
    if service not in _CLIENTS:
        import boto3
        from botocore.config import Config

        config = Config(connect_timeout=3, read_timeout=3, retries={"max_attempts": 2})
        _CLIENTS[service] = boto3.client(service, config=config)  # type: ignore[call-overload]
    return _CLIENTS[service]


def handler(event: dict[str, Any], context: Any) -> None:
    """Custom resource entry point: always answers CloudFormation, even on failure."""
    request_type = event.get("RequestType")
    fallback_id = str(event.get("PhysicalResourceId") or "")
    try:
        outcome = on_event(event, _client("cognito-idp"))
        body = response_body(event, "SUCCESS", outcome.physical_id, "", outcome.data)
        LOG.info("workforce client configured", extra={"requestType": request_type})
    except Exception as error:
        LOG.exception("workforce client update failed", extra={"requestType": request_type})
        with contextlib.suppress(InvalidProperties):
            fallback_id = fallback_id or parse_target(event.get("ResourceProperties")).physical_id
        body = response_body(event, "FAILED", fallback_id, f"{type(error).__name__}: {error}", {})
    send_response(event["ResponseURL"], body)


# -- the invitation e-mail ------------------------------------------------------------------

_PORTALS: dict[str, str] = {}


def portal_url(sagemaker: Any, workforce_name: str) -> str | None:
    """``https://<SubDomain>`` of the workforce, cached for the container's life."""
    if workforce_name not in _PORTALS:
        workforce = sagemaker.describe_workforce(WorkforceName=workforce_name)["Workforce"]
        sub_domain = workforce.get("SubDomain")
        if not sub_domain:
            return None
        _PORTALS[workforce_name] = f"https://{sub_domain}"
    return _PORTALS[workforce_name]


def invitation_message(team: str, portal: str, username_parameter: str, code_parameter: str) -> str:
    """The invitation e-mail (HTML); Cognito fills in the username and temporary password."""
    team_html = html.escape(team)
    portal_html = html.escape(portal, quote=True)
    return (
        f"<p>You have been invited to the <b>{team_html}</b> labeling team "
        "(Amazon SageMaker Ground Truth).</p>"
        f'<p>Labeling portal: <a href="{portal_html}">{portal_html}</a><br>'
        f"Username: {username_parameter}<br>"
        f"Temporary password: {code_parameter}</p>"
        "<p>Sign in at the portal with these; you will choose your own password. "
        "The temporary password expires, ask your team lead for a new invitation if it did.</p>"
    )


def customize_invitation(
    event: dict[str, Any], *, team: str, subject: str, portal: str | None
) -> dict[str, Any]:
    """Write the message into the trigger's response; other trigger sources pass unchanged."""
    if event.get("triggerSource") != "CustomMessage_AdminCreateUser" or not portal:
        return event
    request = event.get("request") or {}
    username_parameter = request.get("usernameParameter") or "{username}"
    code_parameter = request.get("codeParameter") or "{####}"
    response = event.setdefault("response", {})
    response["emailSubject"] = subject
    response["emailMessage"] = invitation_message(team, portal, username_parameter, code_parameter)
    return event


def invitation_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Cognito custom message trigger; never fails the user's creation."""
    source = event.get("triggerSource")
    if source != "CustomMessage_AdminCreateUser":
        return event
    settings = InvitationSettings.from_environment()
    team, subject = settings.team_name, settings.invitation_subject
    try:
        if settings.workforce_name is None:
            raise KeyError(ENV_WORKFORCE_NAME)
        portal = portal_url(_client("sagemaker"), settings.workforce_name)
    except Exception:
        LOG.exception("portal address not found; Cognito's own invitation is sent")
        return event
    LOG.info("invitation written", extra={"triggerSource": source, "portalFound": bool(portal)})
    return customize_invitation(event, team=team, subject=subject, portal=portal)
