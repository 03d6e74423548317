"""The labeling runtime's web application on one machine (Starlette, served by uvicorn).

Two origins, two ASGI apps, one server:

- the **portal origin** (``portal_app``): the portal's static files (``portal/``), its
  config, sign-in (one-time link, password), sign-out, the JSON API (``/api/...``,
  ``gt_runtime.api``) and the requester's report. Sessions are cookies (HttpOnly,
  SameSite=Lax, Secure on https); state-changing API calls need the session's CSRF
  token in ``X-CSRF-Token``, forms in the field ``csrf``; POSTs from another origin
  are refused.
- the **task origin** (``task_app``): the rendered task page, the Mechanical Turk submit
  endpoint and the signed data URLs. It reads no cookie: a task page, its submit and
  its data are authorised by tokens signed for that task (``gt_runtime.signing``).
  Pages are served with a content security policy that sandboxes them (opaque origin:
  no cookies, no storage, no access to the portal), allows framing by the portal only,
  and sends no referrer.

``serve(host, ...)`` listens on both ports with one uvicorn server (one event loop,
one process); ``OriginRouter`` hands each connection to its app by the local port.
Blocking engine calls run in Starlette's thread pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import json
import logging
import mimetypes
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from ..lambda_src.gt_runtime.api import Api, ApiRequest, Caller
from ..lambda_src.gt_runtime.model import (
    PROVIDER_OIDC,
    RuntimeApiError,
    Task,
    WorkerIdentity,
)
from ..lambda_src.gt_runtime.mturk import SUBMIT_PATH, SubmitError, page_query, parse_submit
from ..lambda_src.gt_runtime.signing import SignatureError, Signer
from ..template import CROWD_ELEMENTS_SCRIPT
from .auth import Account, Accounts, AuthError, Session, check_csrf
from .task_page import FRAME_SANDBOX, RenderError, TaskPage, content_security_policy, data_uris

log = logging.getLogger("gt_constructs.runtime")

SESSION_COOKIE = "gt_session"
CSRF_HEADER = "x-csrf-token"
#: The issuer of local workers' identities (``workerMetadata.identityData.issuer``).
LOCAL_ISSUER = "urn:gt-constructs:local"
#: A task page's token outlives the lease by this much (the engine refuses late submits
#: itself, with a clear 409, rather than the page failing to load).
TOKEN_GRACE_SECONDS = 120
PORTAL_DIR = Path(str(importlib.resources.files("gt_constructs.runtime") / "portal"))

PORTAL_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "frame-src {task_origin}"
)


def identity_of(account: Account) -> WorkerIdentity:
    """The ``WorkerIdentity`` of a local worker (issuer ``LOCAL_ISSUER``, provider Oidc)."""
    return WorkerIdentity(
        sub=account.sub,
        issuer=LOCAL_ISSUER,
        provider=PROVIDER_OIDC,
        teams=account.teams,
        name=account.email,
        email=account.email,
    )


@dataclass
class Host:
    """What the web app serves: the engine, the accounts, the signing key and the origins."""

    engine: Any
    accounts: Accounts
    signer: Signer
    portal_origin: str
    task_origin: str
    #: The real Crowd HTML Elements' script (``None``: offline, the stand-in only).
    elements_url: str | None = CROWD_ELEMENTS_SCRIPT
    #: Teams new workers join when the requester names none.
    default_teams: tuple[str, ...] = ()
    #: ``read_blob(uri) -> bytes`` (``FileNotFoundError`` when absent).
    read_blob: Callable[[str], bytes] | None = None
    #: ``report(job_name) -> html`` (the workbench's label-quality report).
    report: Callable[[str], str] | None = None
    #: Called after the requester added workers (the jobs' team members changed).
    on_workers_added: Callable[[], None] | None = None
    clock: Callable[[], float] = time.time
    _pages: dict[str, TaskPage] = field(default_factory=dict)

    @property
    def secure(self) -> bool:
        return self.portal_origin.startswith("https://")

    def task_page(self, job_name: str) -> TaskPage:
        """The job's parsed template (parsed once per job, then cached)."""
        page = self._pages.get(job_name)
        if page is None:
            text = self.engine.task_template(job_name)
            page = TaskPage(text, source=f"job {job_name}", elements_url=self.elements_url)
            self._pages[job_name] = page
        return page

    def task_token(self, task: Task, worker: WorkerIdentity) -> str:
        return self.signer.sign(
            "task",
            {"t": task.task_id, "s": worker.sub},
            expires=task.deadline + TOKEN_GRACE_SECONDS,
        )

    def task_url(self, task: Task, worker: WorkerIdentity) -> str:
        """The task page on the task origin, with the Mechanical Turk parameters."""
        token = self.task_token(task, worker)
        query = page_query(
            assignment_id=task.task_id,
            hit_id=f"{task.job_name}/{task.dataset_object_id}",
            worker_id=worker.worker_id(self.engine.region),
            submit_to=f"{self.task_origin}/submit/{token}",
        )
        return f"{self.task_origin}/task/{token}?{query}"

    def worker_of(self, sub: str) -> WorkerIdentity | None:
        account = self.accounts.by_sub(sub)
        if account is None or account.is_requester:
            return None
        return identity_of(account)


class Directory:
    """The API's ``WorkerDirectory`` over the local accounts: adding a worker answers with
    a one-time sign-in link."""

    def __init__(self, host: Host) -> None:
        self.host = host

    def list_workers(self) -> list[dict[str, Any]]:
        return [
            {"email": a.email, "teams": list(a.teams), "hasPassword": a.has_password}
            for a in self.host.accounts.workers()
        ]

    def add_workers(self, emails: Any, teams: Any) -> list[dict[str, Any]]:
        added = []
        for email in emails:
            try:
                account = self.host.accounts.add_worker(email, teams)
                token = self.host.accounts.new_link_token(account.email)
            except AuthError as error:
                raise _AuthApiError(str(error), error.status) from None
            added.append(
                {
                    "email": account.email,
                    "teams": list(account.teams),
                    "signInLink": f"{self.host.portal_origin}/auth/link/{token}",
                }
            )
        if self.host.on_workers_added is not None:
            self.host.on_workers_added()
        return added


class _AuthApiError(RuntimeApiError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status

    @property
    def code(self) -> str:
        return "BadRequest" if self.status == 400 else "AuthError"


# -- helpers -------------------------------------------------------------------------------
def _page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    html = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<title>{escape(title)}</title><link rel="stylesheet" href="/static/portal.css">'
        f'</head><body class="plain"><main class="card"><h1>{escape(title)}</h1>{body}</main>'
        "</body></html>"
    )
    return HTMLResponse(html, status_code=status)


def _error(error: RuntimeApiError) -> JSONResponse:
    return JSONResponse(error.to_dict(), status_code=error.status)


def _same_origin(request: Request, origin: str) -> bool:
    """A POST from the browser carries ``Origin``; one from another site is refused.
    (Scripts without an ``Origin`` header are not browsers and may post.)"""
    given = request.headers.get("origin")
    return given is None or given == origin


# -- the portal origin -------------------------------------------------------------------------
class Portal:
    """The portal origin's endpoints (methods are Starlette endpoints)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.json_api = Api(
            host.engine,
            task_url=host.task_url,
            directory=Directory(host),
            default_teams=host.default_teams,
        )
        self.csp = PORTAL_CSP.format(task_origin=host.task_origin)

    def _headers(self, response: Response) -> Response:
        response.headers["Content-Security-Policy"] = self.csp
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        return response

    def _set_session(self, response: Response, session: Session) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            session.id,
            max_age=max(1, int(session.expires - self.host.clock())),
            httponly=True,
            samesite="lax",
            secure=self.host.secure,
            path="/",
        )

    async def _session(self, request: Request) -> Session | None:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        return await run_in_threadpool(self.host.accounts.session, cookie)

    # pages
    async def index(self, request: Request) -> Response:
        return self._headers(FileResponse(PORTAL_DIR / "index.html"))

    async def config(self, request: Request) -> Response:
        return self._headers(
            JSONResponse(
                {
                    "auth": "local",
                    "apiBase": "/api",
                    "taskOrigin": self.host.task_origin,
                    "frameSandbox": FRAME_SANDBOX,
                    "crowdElements": "real, else the offline stand-in"
                    if self.host.elements_url
                    else "the offline stand-in",
                }
            )
        )

    async def link_page(self, request: Request) -> Response:
        token = request.path_params["token"]
        account = await run_in_threadpool(self.host.accounts.link_account, token)
        if account is None:
            return self._headers(
                _page(
                    "Sign-in link not valid",
                    "<p>This link was used already, has expired, or was mistyped. "
                    "Ask the requester for a new one.</p>",
                    status=401,
                )
            )
        # A button, not an automatic sign-in: mail scanners that open links do not use it up.
        body = (
            f"<p>Sign in as <strong>{escape(account.email)}</strong>.</p>"
            f'<form method="post" action="/auth/link/{escape(token)}">'
            '<button type="submit" id="sign-in">Sign in</button></form>'
        )
        return self._headers(_page("Sign in", body))

    async def link_sign_in(self, request: Request) -> Response:
        if not _same_origin(request, self.host.portal_origin):
            return self._headers(PlainTextResponse("cross-origin sign-in refused", 403))
        try:
            session = await run_in_threadpool(
                self.host.accounts.redeem_link, request.path_params["token"]
            )
        except AuthError as error:
            return self._headers(
                _page("Cannot sign in", f"<p>{escape(str(error))}</p>", status=401)
            )
        response = RedirectResponse("/", status_code=303)
        self._set_session(response, session)
        return self._headers(response)

    async def password_sign_in(self, request: Request) -> Response:
        if not _same_origin(request, self.host.portal_origin):
            return self._headers(PlainTextResponse("cross-origin sign-in refused", 403))
        form = await request.form()
        try:
            session = await run_in_threadpool(
                self.host.accounts.sign_in_password,
                str(form.get("email", "")),
                str(form.get("password", "")),
            )
        except AuthError as error:
            body = f'<p>{escape(str(error))}.</p><p><a href="/">Try again</a></p>'
            return self._headers(_page("Cannot sign in", body, status=401))
        response = RedirectResponse("/", status_code=303)
        self._set_session(response, session)
        return self._headers(response)

    async def set_password(self, request: Request) -> Response:
        session = await self._session(request)
        if session is None:
            return self._headers(_error(_AuthApiError("sign in first", 401)))
        body = await _json_body(request)
        if not check_csrf(session, request.headers.get(CSRF_HEADER)):
            return self._headers(_error(_AuthApiError("missing or wrong CSRF token", 403)))
        password = body.get("password") if isinstance(body, dict) else None
        if not isinstance(password, str):
            return self._headers(_error(_AuthApiError('send {"password": "..."}', 400)))
        try:
            await run_in_threadpool(
                self.host.accounts.set_password, session.account.email, password
            )
        except AuthError as error:
            return self._headers(_error(_AuthApiError(str(error), error.status)))
        return self._headers(JSONResponse({"passwordSet": True}))

    async def sign_out(self, request: Request) -> Response:
        session = await self._session(request)
        if session is not None:
            form = await request.form()
            given = form.get("csrf") or request.headers.get(CSRF_HEADER)
            if not check_csrf(session, str(given) if given else None):
                return self._headers(PlainTextResponse("missing or wrong CSRF token", 403))
            await run_in_threadpool(self.host.accounts.sign_out, session.id)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return self._headers(response)

    # the API
    async def _caller(self, request: Request) -> tuple[Caller, Session | None]:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            account = await run_in_threadpool(self.host.accounts.bearer, header[7:].strip())
            return self._caller_of(account), None
        session = await self._session(request)
        return self._caller_of(session.account if session else None), session

    @staticmethod
    def _caller_of(account: Account | None) -> Caller:
        if account is None:
            return Caller()
        if account.is_requester:
            return Caller(requester=True, email=account.email)
        return Caller(worker=identity_of(account), email=account.email)

    async def api(self, request: Request) -> Response:
        caller, session = await self._caller(request)
        if request.method not in ("GET", "HEAD"):
            if not _same_origin(request, self.host.portal_origin):
                return self._headers(_error(_AuthApiError("cross-origin request refused", 403)))
            if session is not None and not check_csrf(session, request.headers.get(CSRF_HEADER)):
                return self._headers(
                    _error(_AuthApiError(f"missing or wrong CSRF token ({CSRF_HEADER})", 403))
                )
        body = await _json_body(request)
        if isinstance(body, _BadJson):
            return self._headers(_error(_AuthApiError(body.message, 400)))
        api_request = ApiRequest(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            body=body,
            caller=caller,
        )
        result = await run_in_threadpool(self.json_api.handle, api_request)
        if request.url.path == "/api/me" and result.status == 200 and session is not None:
            result.body["csrfToken"] = session.csrf
        response = Response(
            result.json_bytes(),
            status_code=result.status,
            media_type=result.content_type,
            headers=result.headers,
        )
        return self._headers(response)

    async def report(self, request: Request) -> Response:
        caller, _ = await self._caller(request)
        if not caller.requester:
            status = 401 if caller.worker is None and not caller.requester else 403
            return self._headers(PlainTextResponse("only the job's requester may see this", status))
        if self.host.report is None:
            return self._headers(PlainTextResponse("no report on this host", 404))
        try:
            html = await run_in_threadpool(self.host.report, request.path_params["job"])
        except RuntimeApiError as error:
            return self._headers(_error(error))
        response = HTMLResponse(html)
        self._headers(response)
        # The report is our own page, with inline styles and SVG; no script.
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
        )
        return response


class _BadJson:
    def __init__(self, message: str) -> None:
        self.message = message


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    if "json" not in request.headers.get("content-type", "application/json"):
        return None
    try:
        return json.loads(raw)
    except ValueError as error:
        return _BadJson(f"the body is not JSON ({error})")


def portal_app(host: Host, *, lifespan: Any = None) -> Starlette:
    """The portal origin's app."""
    portal = Portal(host)
    routes = [
        Route("/", portal.index),
        Route("/portal-config.json", portal.config),
        Route("/auth/link/{token}", portal.link_page, methods=["GET"]),
        Route("/auth/link/{token}", portal.link_sign_in, methods=["POST"]),
        Route("/auth/password", portal.password_sign_in, methods=["POST"]),
        Route("/auth/set-password", portal.set_password, methods=["POST"]),
        Route("/auth/sign-out", portal.sign_out, methods=["POST"]),
        Route("/requester/jobs/{job}/report", portal.report),
        Route("/api/{rest:path}", portal.api, methods=["GET", "POST", "PUT", "DELETE"]),
        Mount("/static", StaticFiles(directory=PORTAL_DIR), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.portal = portal
    return app


# -- the task origin -----------------------------------------------------------------------------
_SUBMITTED_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="referrer" content="no-referrer"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:40px;color:#16191f}}
.ok{{color:#1d8102}}.bad{{color:#d13212}}</style></head>
<body><h1 class="{kind}">{title}</h1><p>{message}</p>
<script type="application/json" id="gt-result">{result}</script>
<script>
(function () {{
  var result = JSON.parse(document.getElementById("gt-result").textContent);
  if (window.parent !== window) {{ window.parent.postMessage(result, {portal}); }}
}})();
</script></body></html>"""


class TaskOrigin:
    """The task origin's endpoints."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.csp = content_security_policy(host.portal_origin, host.task_origin)

    def _verify(self, token: str) -> dict[str, Any]:
        return self.host.signer.verify("task", token, now=self.host.clock())

    def _task_headers(self, response: Response) -> Response:
        response.headers["Content-Security-Policy"] = self.csp
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        return response

    def _plain(self, message: str, status: int) -> Response:
        return self._task_headers(PlainTextResponse(message, status_code=status))

    def _render(self, token: str) -> tuple[int, str]:
        """(status, page) of a task page: runs in the thread pool."""
        try:
            claims = self._verify(token)
        except SignatureError as error:
            return 403, f"task page: {error}"
        worker = self.host.worker_of(claims["s"])
        if worker is None:
            return 403, "task page: the worker no longer exists"
        try:
            task = self.host.engine.get_task(claims["t"], worker)
            page = self.host.task_page(task.job_name)
        except RuntimeApiError as error:
            return error.status, f"task page: {error.message}"
        except RenderError as error:
            return 500, str(error)
        allowed = set(data_uris(task.task_input))
        expires = min(task.deadline + TOKEN_GRACE_SECONDS, self.host.clock() + 8 * 3600)

        def grant(uri: str) -> str:
            if uri not in allowed:
                # Not this task's data: no URL (the page cannot reach outside the dataset).
                return "about:blank#not-in-this-task"
            signed = self.host.signer.sign("data", {"u": uri}, expires=expires)
            return f"{self.host.task_origin}/data/{signed}"

        try:
            return 200, page.render(task.task_input, grant_read_access=grant, title=task.title)
        except RenderError as error:
            log.warning("task %s: %s", task.task_id, error)
            return 500, f"task page: {error}"

    async def page(self, request: Request) -> Response:
        status, html = await run_in_threadpool(self._render, request.path_params["token"])
        if status != 200:
            return self._plain(html, status)
        return self._task_headers(HTMLResponse(html))

    def _submit(self, token: str, fields: list[tuple[str, str]]) -> tuple[int, dict[str, Any]]:
        try:
            claims = self._verify(token)
        except SignatureError as error:
            return 403, {"error": "Forbidden", "message": f"submit refused: {error}"}
        try:
            assignment, answer = parse_submit(fields)
        except SubmitError as error:
            return 400, {"error": "BadRequest", "message": str(error)}
        if assignment != claims["t"]:
            return 400, {
                "error": "BadRequest",
                "message": "the assignmentId is not the task this page was opened for",
            }
        worker = self.host.worker_of(claims["s"])
        if worker is None:
            return 403, {"error": "Forbidden", "message": "the worker no longer exists"}
        try:
            result = self.host.engine.submit(assignment, worker, answer)
        except RuntimeApiError as error:
            return error.status, error.to_dict()
        return 200, {"submitted": True, "taskId": assignment, **(result or {})}

    async def submit(self, request: Request) -> Response:
        form = await request.form()
        fields = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        status, result = await run_in_threadpool(self._submit, request.path_params["token"], fields)
        # ``status`` is the HTTP status (the engine's own task status is ``taskStatus``).
        engine_status = result.pop("status", None)
        result = {**result, "type": "gt-task-result", "status": status}
        if engine_status is not None:
            result["taskStatus"] = engine_status
        ok = status == 200
        html = _SUBMITTED_PAGE.format(
            title="Submitted" if ok else "Not submitted",
            kind="ok" if ok else "bad",
            message=escape("Your answer was saved." if ok else str(result.get("message"))),
            result=json.dumps(result).replace("<", "\\u003c"),
            portal=json.dumps(self.host.portal_origin),
        )
        response = HTMLResponse(html, status_code=status)
        return self._task_headers(response)

    def _data(self, token: str) -> tuple[int, bytes | str, str]:
        try:
            claims = self.host.signer.verify("data", token, now=self.host.clock())
        except SignatureError as error:
            return 403, f"data: {error}", "text/plain"
        if self.host.read_blob is None:
            return 404, "data: not served here", "text/plain"
        uri = str(claims["u"])
        try:
            data = self.host.read_blob(uri)
        except (FileNotFoundError, ValueError):
            return 404, "data: no such object", "text/plain"
        kind = mimetypes.guess_type(uri)[0] or "application/octet-stream"
        return 200, data, kind

    async def data(self, request: Request) -> Response:
        status, data, kind = await run_in_threadpool(self._data, request.path_params["token"])
        response = Response(data, status_code=status, media_type=kind)
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        # The page's origin is opaque (sandboxed): the elements draw images on canvases,
        # which needs CORS; the signed URL is the capability, so any origin may read it.
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Cache-Control"] = "private, max-age=300"
        return response


def task_app(host: Host) -> Starlette:
    """The task origin's app."""
    origin = TaskOrigin(host)
    routes = [
        Route("/task/{token}", origin.page, methods=["GET"]),
        Route("/submit/{token}" + SUBMIT_PATH, origin.submit, methods=["POST"]),
        Route("/data/{token}", origin.data, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.task_origin = origin
    return app


# -- both, on one server -------------------------------------------------------------------------
class OriginRouter:
    """One ASGI app over both origins: a connection goes to the app of its local port."""

    def __init__(self, portal: ASGIApp, task: ASGIApp, *, task_port: int) -> None:
        self.portal = portal
        self.task = task
        self.task_port = task_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.portal(scope, receive, send)
            return
        server = scope.get("server") or ("", 0)
        app = self.task if server[1] == self.task_port else self.portal
        await app(scope, receive, send)


#: Threads for blocking engine and store calls (see ``ticker``).
ENGINE_THREADS = 8


def ticker(host: Host, *, interval: float = 1.0) -> Callable[[Starlette], Any]:
    """A lifespan that advances the engine (``engine.tick``) every ``interval`` seconds."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Blocking engine calls share a few threads (anyio's default is 40): on a GIL
        # interpreter more threads only queue for it, each with its own SQLite connection
        # and page cache; writes are serialised by SQLite anyway.
        anyio.to_thread.current_default_thread_limiter().total_tokens = ENGINE_THREADS
        stop = asyncio.Event()

        async def loop() -> None:
            while not stop.is_set():
                try:
                    await run_in_threadpool(host.engine.tick)
                except Exception:  # keep serving; the next tick retries (tick is idempotent)
                    log.exception("engine tick failed")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval)

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            stop.set()
            await task

    return lifespan


def _socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
    # and accepted connections inherit it. Without it, a response written in two parts
    # waits for the client's delayed ACK (about 40 ms a request).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def bind(hosts: list[str], port: int) -> list[socket.socket]:
    """Listening sockets on ``port`` of each address (an address that cannot be bound,
    e.g. ``::1`` on a machine without IPv6, is skipped unless it is the only one)."""
    sockets = []
    for index, address in enumerate(hosts):
        try:
            sockets.append(_socket(address, port))
        except OSError:
            if index == 0:
                raise
    return sockets


def build_server(
    host: Host,
    *,
    addresses: list[str],
    port: int,
    task_port: int,
    tick_interval: float = 1.0,
    log_level: str = "warning",
) -> tuple[Any, list[socket.socket]]:
    """A uvicorn server over both origins and its listening sockets (not started)."""
    import uvicorn

    app = OriginRouter(
        portal_app(host, lifespan=ticker(host, interval=tick_interval)),
        task_app(host),
        task_port=task_port,
    )
    sockets = bind(addresses, port) + bind(addresses, task_port)
    config = uvicorn.Config(
        app, log_level=log_level, access_log=False, lifespan="on", timeout_keep_alive=30
    )
    return uvicorn.Server(config), sockets


def serve_forever(
    host: Host,
    *,
    addresses: list[str],
    port: int,
    task_port: int,
    tick_interval: float = 1.0,
    log_level: str = "warning",
) -> None:
    """Serve both origins until interrupted (Ctrl+C)."""
    server, sockets = build_server(
        host,
        addresses=addresses,
        port=port,
        task_port=task_port,
        tick_interval=tick_interval,
        log_level=log_level,
    )
    try:
        server.run(sockets=sockets)  # uvicorn picks its loop (uvloop when installed)
    finally:
        for sock in sockets:
            sock.close()


def new_secret_key(path: Path) -> bytes:
    """The signing key in ``path`` (made with 32 random bytes, mode 0600, on first use)."""
    from .auth import write_secret_file

    if path.is_file():
        key = bytes.fromhex(path.read_text(encoding="utf-8").strip())
        if len(key) >= 32:
            return key
    key = secrets.token_bytes(32)
    write_secret_file(path, key.hex() + "\n")
    return key


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


__all__ = [
    "Host",
    "OriginRouter",
    "build_server",
    "identity_of",
    "new_secret_key",
    "portal_app",
    "serve_forever",
    "task_app",
]
