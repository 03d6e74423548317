"""The labeling runtime's JSON API, free of any web framework.

``Api.handle(ApiRequest) -> ApiResponse``: the method, the path, the query, the JSON
body and the caller, whom the host has already authenticated (the local server: its
session cookie or bearer token; on AWS: API Gateway's JWT claims). Both hosts are
thin adapters over this one function; the routes are in ``ROUTES`` and in
docs/runtime.md ("Portal and API").

Rules every route keeps:

- a worker sees only the jobs of their teams, their own tasks and their own answers
  (the engine answers 403 for a job outside the worker's teams and 404 for a task id
  of another worker or job);
- ``/api/requester/...`` answers the requester alone (403 for anyone else);
- every error is ``{"error": <code>, "message": ...}`` with the status of its type
  (``model.RuntimeApiError``); nothing is changed by a refused call.

Standard library only (it runs in the AWS API Lambda too).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .model import (
    BadRequest,
    Forbidden,
    NotFound,
    RuntimeApiError,
    Task,
    WorkerIdentity,
)


@dataclass(frozen=True)
class Caller:
    """Who calls, as the host authenticated them: a worker, the requester, or both
    (a requester who also labels); ``None`` worker and ``requester=False``: nobody."""

    worker: WorkerIdentity | None = None
    requester: bool = False
    email: str | None = None


@dataclass(frozen=True)
class ApiRequest:
    method: str
    #: The path below the host's mount point, starting with ``/api/``.
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    #: The parsed JSON body (``None`` when there is none).
    body: Any = None
    caller: Caller = field(default_factory=Caller)


@dataclass
class ApiResponse:
    status: int
    #: JSON-able value; or ``str`` with ``content_type`` set (the report's HTML, the
    #: manifest's JSON Lines).
    body: Any = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    def json_bytes(self) -> bytes:
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        if self.body is None:
            return b""
        return json.dumps(self.body, separators=(",", ":"), default=str).encode("utf-8")


class WorkerDirectory(Protocol):
    """How the host keeps workers (local accounts, or Cognito on AWS)."""

    def list_workers(self) -> list[dict[str, Any]]:
        """``[{"email", "teams", ...}]``."""

    def add_workers(self, emails: Sequence[str], teams: Sequence[str]) -> list[dict[str, Any]]:
        """Add workers to teams; ``[{"email", "teams", "signInLink"?}]`` (a one-time link
        where the host makes them)."""


class Unauthorized(RuntimeApiError):
    """Nobody is signed in: 401."""

    status = 401


class MethodNotAllowed(RuntimeApiError):
    status = 405


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: str
    #: ``worker``: a signed-in worker; ``requester``: the requester; ``any``: either.
    who: str
    summary: str


def _route(method: str, path: str, handler: str, who: str, summary: str) -> Route:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
    return Route(method, re.compile(f"^{regex}$"), handler, who, summary)


#: Every route of the API (docs/runtime.md's table is written from these).
ROUTES: tuple[Route, ...] = (
    _route("GET", "/api/me", "me", "any", "who is signed in (e-mail, teams, requester or not)"),
    _route("GET", "/api/jobs", "jobs", "worker", "the jobs of my teams, with counts"),
    _route(
        "POST",
        "/api/jobs/{job}/claim",
        "claim",
        "worker",
        "take the next task (or get back the one I hold); 404 NoTaskAvailable when none",
    ),
    _route("GET", "/api/tasks/{task}", "task", "worker", "one of my tasks (404 for others')"),
    _route(
        "POST",
        "/api/tasks/{task}/submit",
        "submit",
        "worker",
        'submit {"answer": {...}} (the JSON twin of /mturk/externalSubmit); 409 after the lease',
    ),
    _route("POST", "/api/tasks/{task}/decline", "decline", "worker", "give the task back"),
    _route("GET", "/api/requester/jobs", "requester_jobs", "requester", "every job"),
    _route(
        "GET",
        "/api/requester/jobs/{job}",
        "requester_job",
        "requester",
        "DescribeLabelingJob's shape: status, LabelCounters, output",
    ),
    _route(
        "GET",
        "/api/requester/jobs/{job}/answers",
        "requester_answers",
        "requester",
        "per object, every worker's answer and the agreement",
    ),
    _route(
        "GET",
        "/api/requester/jobs/{job}/output",
        "requester_output",
        "requester",
        "the output manifest (final, else intermediate) as JSON Lines",
    ),
    _route(
        "POST", "/api/requester/jobs/{job}/stop", "requester_stop", "requester", "StopLabelingJob"
    ),
    _route("GET", "/api/requester/workers", "workers", "requester", "the workers"),
    _route(
        "POST",
        "/api/requester/workers",
        "add_workers",
        "requester",
        'add {"emails": [...], "teams": [...]}; answers each with a one-time sign-in link',
    ),
)


def agreement(answers: Sequence[Any]) -> float | None:
    """Share of the object's answers equal to its most common answer (exact, as JSON);
    ``None`` below two answers. The workbench report has the task type's own measure."""
    if len(answers) < 2:
        return None
    keys = [json.dumps(a, sort_keys=True, default=str) for a in answers]
    top = max(keys.count(k) for k in set(keys))
    return round(top / len(keys), 4)


class Api:
    """The API over one engine.

    ``task_url(task, worker)``: where the task page is (the host's task origin, with
    the Mechanical Turk parameters); ``directory``: the host's workers (``None``: the
    requester's worker routes answer 404).
    """

    def __init__(
        self,
        engine: Any,
        *,
        task_url: Callable[[Task, WorkerIdentity], str] | None = None,
        directory: WorkerDirectory | None = None,
        default_teams: Sequence[str] = (),
    ) -> None:
        self.engine = engine
        self.task_url = task_url
        self.directory = directory
        self.default_teams = tuple(default_teams)

    # -- dispatch ----------------------------------------------------------------------
    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one request; never raises for a caller's mistake."""
        try:
            route, params = self._match(request.method.upper(), request.path)
            self._admit(route, request.caller)
            handler: Callable[..., ApiResponse] = getattr(self, "_" + route.handler)
            return handler(request, **params)
        except RuntimeApiError as error:
            return ApiResponse(error.status, error.to_dict())

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        allowed = []
        for route in ROUTES:
            found = route.pattern.match(path)
            if found:
                if route.method == method:
                    return route, found.groupdict()
                allowed.append(route.method)
        if allowed:
            raise MethodNotAllowed(f"{method} {path}: allowed methods are {', '.join(allowed)}")
        raise NotFound(f"no API route {path}")

    @staticmethod
    def _admit(route: Route, caller: Caller) -> None:
        if caller.worker is None and not caller.requester:
            raise Unauthorized("sign in first")
        if route.who == "requester" and not caller.requester:
            raise Forbidden("only the job's requester may use this")
        if route.who == "worker" and caller.worker is None:
            raise Forbidden("only a worker may use this (the requester is not a worker)")

    @staticmethod
    def _worker(request: ApiRequest) -> WorkerIdentity:
        assert request.caller.worker is not None
        return request.caller.worker

    # -- worker routes ---------------------------------------------------------------------
    def _me(self, request: ApiRequest) -> ApiResponse:
        caller = request.caller
        worker = caller.worker
        return ApiResponse(
            200,
            {
                "email": caller.email,
                "requester": caller.requester,
                "worker": worker is not None,
                "teams": list(worker.teams) if worker else [],
                "workerId": worker.worker_id(self.engine.region) if worker else None,
            },
        )

    def _jobs(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse(200, {"jobs": self.engine.jobs_for(self._worker(request))})

    def _task_body(self, task: Task, worker: WorkerIdentity) -> dict[str, Any]:
        body = task.to_dict()
        body["secondsLeft"] = max(0, int(task.deadline - self.engine.clock()))
        if self.task_url is not None:
            body["taskUrl"] = self.task_url(task, worker)
        return body

    def _claim(self, request: ApiRequest, job: str) -> ApiResponse:
        worker = self._worker(request)
        task = self.engine.claim(job, worker)
        return ApiResponse(200, {"task": self._task_body(task, worker)})

    def _task(self, request: ApiRequest, task: str) -> ApiResponse:
        worker = self._worker(request)
        return ApiResponse(
            200, {"task": self._task_body(self.engine.get_task(task, worker), worker)}
        )

    def _submit(self, request: ApiRequest, task: str) -> ApiResponse:
        body = request.body if isinstance(request.body, Mapping) else {}
        answer = body.get("answer")
        if not isinstance(answer, Mapping) or not answer:
            raise BadRequest(
                'the submit holds no answer: send {"answer": {<element name>: <value>}}'
            )
        result = self.engine.submit(task, self._worker(request), dict(answer))
        return ApiResponse(200, {"submitted": True, **(result or {})})

    def _decline(self, request: ApiRequest, task: str) -> ApiResponse:
        self.engine.decline(task, self._worker(request))
        return ApiResponse(200, {"declined": True})

    # -- requester routes --------------------------------------------------------------------
    def _requester_jobs(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse(200, {"jobs": self.engine.list_jobs()})

    def _requester_job(self, request: ApiRequest, job: str) -> ApiResponse:
        return ApiResponse(200, self.engine.describe_job(job))

    def _requester_answers(self, request: ApiRequest, job: str) -> ApiResponse:
        objects = self.engine.object_answers(job)
        for item in objects:
            answers = [a.get("answerContent") for a in item.get("answers", [])]
            item["agreement"] = agreement(answers)
        return ApiResponse(200, {"objects": objects})

    def _requester_output(self, request: ApiRequest, job: str) -> ApiResponse:
        uri = self.engine.output_manifest_uri(job)
        if uri is None:
            raise NotFound(f"job {job} has no output manifest yet")
        text = self.engine.blobs.read(uri).decode("utf-8")
        return ApiResponse(
            200, text, content_type="application/x-ndjson", headers={"X-S3-Uri": uri}
        )

    def _requester_stop(self, request: ApiRequest, job: str) -> ApiResponse:
        self.engine.stop_job(job)
        return ApiResponse(200, self.engine.describe_job(job))

    def _workers(self, request: ApiRequest) -> ApiResponse:
        if self.directory is None:
            raise NotFound("this host keeps no worker list")
        return ApiResponse(200, {"workers": self.directory.list_workers()})

    def _add_workers(self, request: ApiRequest) -> ApiResponse:
        if self.directory is None:
            raise NotFound("this host keeps no worker list")
        body = request.body if isinstance(request.body, Mapping) else {}
        emails = body.get("emails")
        teams = body.get("teams") or list(self.default_teams)
        if (
            not isinstance(emails, list)
            or not emails
            or not all(isinstance(e, str) and e.strip() for e in emails)
        ):
            raise BadRequest('send {"emails": ["name@example.com", ...], "teams": [...]}')
        if not isinstance(teams, list) or not teams or not all(isinstance(t, str) for t in teams):
            raise BadRequest('"teams" must be a non-empty list of team names')
        return ApiResponse(200, {"workers": self.directory.add_workers(emails, teams)})
