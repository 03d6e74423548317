"""The HTTP API's Lambda handlers: API Gateway (HTTP API, payload 2.0) events to the runtime.

``handler``: ``/api/*`` behind the JWT authorizer on the workforce's user pool. The
caller is who the verified token says: ``sub`` and ``iss`` identify the worker
(``workerId`` ``private.<region>.<hex>``, ``identityProviderType`` ``Cognito``), the
pool's groups (``cognito:groups``) are their workteams, and members of the requester
group are the requester. Everything else is ``api.Api.handle``: the same routes, rules
and errors as on one machine. State-changing calls must carry ``X-CSRF-Token`` (given
by ``GET /api/me``), so a page elsewhere cannot post in a worker's name.

``task_handler``: the task origin (the API's own domain, no authorizer; every request
carries a token signed for one task and worker): ``GET /task/<token>`` renders the
job's template for that task (``gt_constructs.runtime.task_page``, the layer's
renderer), ``POST /submit/<token>/mturk/externalSubmit`` takes the Crowd HTML
Elements' Mechanical Turk submit, ``GET /data/<token>`` redirects to a presigned S3 URL
(``DATA_URL_SECONDS``) of one data object the task names, signed with the function's
own credentials, which can read the job's dataset and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from . import aws_contract as contract
from . import aws_host
from .api import Api, ApiRequest, ApiResponse, Caller
from .model import PROVIDER_COGNITO, RuntimeApiError, Task, WorkerIdentity
from .mturk import SUBMIT_PATH, SubmitError, page_query, parse_submit
from .signing import SignatureError, Signer

#: A task page's token outlives the lease by this much (late submits are refused anyway).
TOKEN_GRACE_SECONDS = 120
#: Parsed task pages by job name (per container; see ``TaskOrigin._page``).
_PAGES: dict[str, Any] = {}
_MAX_PAGES = 32
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


# ------------------------------------------------------------------------- identity
def groups_of(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """``cognito:groups`` as API Gateway passes it: a list, or ``"[a b]"`` (HTTP APIs
    render array claims as one bracketed string)."""
    value = claims.get("cognito:groups")
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return tuple(part for part in text.replace(",", " ").split() if part)


def caller_of(claims: Mapping[str, Any], *, requester_group: str, issuer: str) -> Caller:
    """Who calls: a worker of their groups' teams, the requester (the requester group), or
    both. A token of another issuer is nobody (the authorizer already refused it)."""
    sub = str(claims.get("sub") or "")
    if not sub or str(claims.get("iss") or "") != issuer:
        return Caller()
    groups = groups_of(claims)
    requester = requester_group in groups
    teams = tuple(group for group in groups if group != requester_group)
    email = claims.get("email")
    worker = WorkerIdentity(
        sub=sub,
        issuer=issuer,
        provider=PROVIDER_COGNITO,
        teams=teams,
        name=claims.get("name") or claims.get("cognito:username"),
        email=str(email) if email else None,
    )
    return Caller(
        worker=None if requester and not teams else worker,
        requester=requester,
        email=str(email) if email else None,
    )


def csrf_token(key: bytes, sub: str) -> str:
    return hmac.new(key, f"csrf.{sub}".encode(), hashlib.sha256).hexdigest()[:32]


# ------------------------------------------------------------------------- events
def _body(event: Mapping[str, Any]) -> bytes:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(raw)
    return str(raw).encode("utf-8")


def _headers(event: Mapping[str, Any]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}


def _method(event: Mapping[str, Any]) -> str:
    return str(event.get("requestContext", {}).get("http", {}).get("method", "GET")).upper()


def _response(
    status: int, body: Any, content_type: str, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"), default=str)
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_type, **_SECURITY_HEADERS, **(headers or {})},
        "body": text,
        "isBase64Encoded": False,
    }


def _error(status: int, code: str, message: str) -> dict[str, Any]:
    return _response(status, {"error": code, "message": message}, "application/json")


# ------------------------------------------------------------------------- the portal's API
class AwsApi:
    """``/api/*``: the JSON API over the engine, behind the JWT authorizer."""

    def __init__(
        self, engine: Any, *, key: bytes, task_origin: str, requester_group: str, issuer: str
    ) -> None:
        self.engine = engine
        self.key = key
        self.signer = Signer(key)
        self.task_origin = task_origin.rstrip("/")
        self.requester_group = requester_group
        self.issuer = issuer
        self.api = Api(engine, task_url=self.task_url)

    def task_url(self, task: Task, worker: WorkerIdentity) -> str:
        """The task page on the task origin, with the Mechanical Turk parameters."""
        token = self.signer.sign(
            "task",
            {"t": task.task_id, "s": worker.sub},
            expires=task.deadline + TOKEN_GRACE_SECONDS,
        )
        query = page_query(
            assignment_id=task.task_id,
            hit_id=f"{task.job_name}/{task.dataset_object_id}",
            worker_id=worker.worker_id(self.engine.region),
            submit_to=f"{self.task_origin}/submit/{token}",
        )
        return f"{self.task_origin}/task/{token}?{query}"

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        context = event.get("requestContext") or {}
        claims = ((context.get("authorizer") or {}).get("jwt") or {}).get("claims") or {}
        caller = caller_of(claims, requester_group=self.requester_group, issuer=self.issuer)
        method = _method(event)
        path = str(event.get("rawPath") or "/")
        if (method not in ("GET", "HEAD") and caller.worker is not None) or (
            method not in ("GET", "HEAD") and caller.requester
        ):
            sent = _headers(event).get("x-csrf-token", "")
            expected = csrf_token(self.key, str(claims.get("sub")))
            if not hmac.compare_digest(sent, expected):
                return _error(403, "Forbidden", "missing or wrong CSRF token (X-CSRF-Token)")
        body: Any = None
        raw = _body(event)
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return _error(400, "BadRequest", "the request body is not JSON")
        request = ApiRequest(
            method=method,
            path=path,
            query=dict(event.get("queryStringParameters") or {}),
            body=body,
            caller=caller,
        )
        response: ApiResponse = self.api.handle(request)
        payload = response.body
        if path == "/api/me" and response.status == 200 and isinstance(payload, dict):
            payload = {**payload, "csrfToken": csrf_token(self.key, str(claims.get("sub")))}
        if response.status == 204 or payload is None:
            return {"statusCode": response.status, "headers": dict(_SECURITY_HEADERS), "body": ""}
        return _response(response.status, payload, response.content_type, response.headers)


# ------------------------------------------------------------------------- the task origin
class TaskOrigin:
    """Task pages, the Mechanical Turk submit and data redirects (see the module docstring)."""

    def __init__(
        self,
        engine: Any,
        *,
        key: bytes,
        task_origin: str,
        portal_origin: str,
        issuer: str,
        presign: Any,
        elements_url: str | None = None,
    ) -> None:
        self.engine = engine
        self.signer = Signer(key)
        self.task_origin = task_origin.rstrip("/")
        self.portal_origin = portal_origin.rstrip("/")
        self.issuer = issuer
        self.presign = presign
        self.elements_url = elements_url

    def _headers(self) -> dict[str, str]:
        from gt_constructs.runtime.task_page import content_security_policy

        return {
            "Content-Security-Policy": content_security_policy(
                self.portal_origin, self.task_origin
            ),
            "Cross-Origin-Opener-Policy": "same-origin",
        }

    def _worker(self, sub: str) -> WorkerIdentity:
        return WorkerIdentity(sub=sub, issuer=self.issuer, provider=PROVIDER_COGNITO)

    def _page(self, job_name: str) -> Any:
        from gt_constructs.runtime.task_page import TaskPage
        from gt_constructs.template import CROWD_ELEMENTS_SCRIPT

        # A job's template never changes (a changed one is a new job): parsed once per
        # container, so a warm function reads it from S3 once.
        page = _PAGES.get(job_name)
        if page is None:
            page = TaskPage(
                self.engine.task_template(job_name),
                source=f"job {job_name}",
                elements_url=self.elements_url or CROWD_ELEMENTS_SCRIPT,
            )
            if len(_PAGES) >= _MAX_PAGES:
                _PAGES.pop(next(iter(_PAGES)))
            _PAGES[job_name] = page
        return page

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        method, path = _method(event), str(event.get("rawPath") or "/")
        parts = [part for part in path.split("/") if part]
        now = self.engine.clock()
        if method == "GET" and len(parts) == 2 and parts[0] == "task":
            return self.page(parts[1], now)
        if (
            method == "POST"
            and len(parts) == 4
            and parts[0] == "submit"
            and "/" + "/".join(parts[2:]) == SUBMIT_PATH
        ):
            return self.submit(parts[1], _body(event), now)
        if method == "GET" and len(parts) == 2 and parts[0] == "data":
            return self.data(parts[1], now)
        return _response(404, "no such page", "text/plain", self._headers())

    def page(self, token: str, now: float) -> dict[str, Any]:
        from gt_constructs.runtime.task_page import RenderError, data_uris

        headers = self._headers()
        try:
            claims = self.signer.verify("task", token, now=now)
            task = self.engine.get_task(claims["t"], self._worker(claims["s"]))
            page = self._page(task.job_name)
        except SignatureError as error:
            return _response(403, f"task page: {error}", "text/plain", headers)
        except RuntimeApiError as error:
            return _response(error.status, f"task page: {error.message}", "text/plain", headers)
        except RenderError as error:
            return _response(500, str(error), "text/plain", headers)
        allowed = set(data_uris(task.task_input))
        expires = min(task.deadline + TOKEN_GRACE_SECONDS, now + 8 * 3600)

        def grant(uri: str) -> str:
            if uri not in allowed:  # not this task's data: no URL
                return "about:blank#not-in-this-task"
            return (
                f"{self.task_origin}/data/{self.signer.sign('data', {'u': uri}, expires=expires)}"
            )

        try:
            html = page.render(task.task_input, grant_read_access=grant, title=task.title)
        except RenderError as error:
            return _response(500, f"task page: {error}", "text/plain", headers)
        return _response(200, html, "text/html; charset=utf-8", headers)

    def submit(self, token: str, raw: bytes, now: float) -> dict[str, Any]:
        headers = self._headers()
        try:
            claims = self.signer.verify("task", token, now=now)
        except SignatureError as error:
            return self._submitted(
                403, {"error": "Forbidden", "message": f"submit refused: {error}"}
            )
        fields = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        try:
            assignment, answer = parse_submit(fields)
        except SubmitError as error:
            return self._submitted(400, {"error": "BadRequest", "message": str(error)})
        if assignment != claims["t"]:
            return self._submitted(
                400,
                {
                    "error": "BadRequest",
                    "message": "the assignmentId is not the task this page was opened for",
                },
            )
        try:
            result = self.engine.submit(assignment, self._worker(claims["s"]), answer)
        except RuntimeApiError as error:
            return self._submitted(error.status, error.to_dict())
        del headers
        return self._submitted(200, {"submitted": True, "taskId": assignment, **(result or {})})

    def _submitted(self, status: int, result: dict[str, Any]) -> dict[str, Any]:
        """The page the frame shows after a submit; it tells the portal the outcome."""
        from html import escape

        message = "Your answer was saved." if status == 200 else str(result.get("message"))
        data = json.dumps({"type": "gt-task-result", "status": status, **result}).replace(
            "<", "\\u003c"
        )
        html = (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>'
            + ("Submitted" if status == 200 else "Not submitted")
            + f"</title></head><body><p>{escape(message)}</p><script>"
            f"parent.postMessage({data}, {json.dumps(self.portal_origin)});</script></body></html>"
        )
        return _response(status, html, "text/html; charset=utf-8", self._headers())

    def data(self, token: str, now: float) -> dict[str, Any]:
        try:
            claims = self.signer.verify("data", token, now=now)
        except SignatureError as error:
            return _response(403, f"data: {error}", "text/plain")
        url = self.presign(str(claims["u"]), contract.DATA_URL_SECONDS)
        return {
            "statusCode": 302,
            "headers": {"Location": url, **_SECURITY_HEADERS},
            "body": "",
            "isBase64Encoded": False,
        }


# ------------------------------------------------------------------------- entry points
def _settings() -> dict[str, str]:
    return {
        "task_origin": os.environ.get(contract.ENV_TASK_ORIGIN, ""),
        "issuer": os.environ.get(contract.ENV_ISSUER, ""),
    }


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point of ``/api/*``."""
    account = aws_host.account_of(getattr(context, "invoked_function_arn", None))
    settings = _settings()
    api = AwsApi(
        aws_host.engine(account=account),
        key=aws_host.signing_key(),
        task_origin=settings["task_origin"],
        requester_group=os.environ.get(
            contract.ENV_REQUESTER_GROUP, contract.DEFAULT_REQUESTER_GROUP
        ),
        issuer=settings["issuer"],
    )
    return api.handle(event)


def task_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point of the task origin."""
    from .s3_blobs import S3Blobs

    account = aws_host.account_of(getattr(context, "invoked_function_arn", None))
    settings = _settings()
    origin = TaskOrigin(
        aws_host.engine(account=account),
        key=aws_host.signing_key(),
        task_origin=settings["task_origin"],
        portal_origin=os.environ.get(contract.ENV_PORTAL_ORIGIN, ""),
        issuer=settings["issuer"],
        presign=S3Blobs(aws_host.client("s3")).presign,
    )
    return origin.handle(event)


__all__ = [
    "AwsApi",
    "TaskOrigin",
    "caller_of",
    "csrf_token",
    "groups_of",
    "handler",
    "task_handler",
]
