"""The portal and task origins over a real engine (Starlette's TestClient, no sockets).

Every security rule of issue 18 is a test here: team 403, other worker's task 404,
requester-only routes, a worker's own answers only, CSRF, the task frame's isolation
(CSP sandbox, frame-ancestors, no cookie read on the task origin), signed data URLs
that expire and cannot reach outside the task, autoescaping, and bad input that changes
nothing.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from gt_constructs.runtime.local_job import from_flags
from gt_constructs.runtime.serve import open_runtime
from gt_constructs.runtime.server import SESSION_COOKIE, portal_app, task_app
from gt_constructs.runtime.task_page import TaskPage
from gt_constructs.task_type import TaskType

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "street-scenes"
PORTAL = "http://portal.test"
TASKS = "http://tasks.test"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def runtime(tmp_path, clock):
    images = tmp_path / "images"
    images.mkdir()
    lines = []
    for name in ("street-01.png", "street-02.png", "street-03.png"):
        shutil.copy(EXAMPLES / name, images / name)
        lines.append(json.dumps({"source-ref": name}))
    (images / "dataset.manifest").write_text("\n".join(lines) + "\n")
    job = from_flags(
        manifest=images / "dataset.manifest",
        template=None,
        task_type=TaskType.IMAGE_CLASSIFICATION,
        labels=["Person", "Nobody"],
        workers_per_object=2,
        worker_emails=["ana@example.com", "bo@example.com"],
        time_limit_seconds=60,
    )
    opened = open_runtime(
        job,
        tmp_path / "serve",
        portal_origin=PORTAL,
        task_origin=TASKS,
        elements_url=None,
        clock=clock,
        batch_wait_seconds=0,
    )
    opened.accounts.add_worker("outsider@example.com", ["another-team"])
    yield opened
    opened.close()


@pytest.fixture
def portal(runtime) -> TestClient:
    return TestClient(portal_app(runtime.host), base_url=PORTAL)


@pytest.fixture
def tasks(runtime) -> TestClient:
    return TestClient(task_app(runtime.host), base_url=TASKS)


def sign_in(runtime, email: str) -> TestClient:
    """A browser of ``email``: signed in through a one-time link; ``.csrf`` set."""
    client = TestClient(portal_app(runtime.host), base_url=PORTAL)
    token = runtime.accounts.new_link_token(email)
    assert client.get(f"/auth/link/{token}").status_code == 200
    response = client.post(
        f"/auth/link/{token}", headers={"Origin": PORTAL}, follow_redirects=False
    )
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    me = client.get("/api/me").json()
    client.csrf = me["csrfToken"]  # type: ignore[attr-defined]
    return client


def post(client: TestClient, path: str, body=None):
    return client.post(
        path,
        json=body,
        headers={"X-CSRF-Token": client.csrf, "Origin": PORTAL},  # type: ignore[attr-defined]
    )


def claim(client: TestClient, job: str) -> dict:
    response = post(client, f"/api/jobs/{job}/claim")
    assert response.status_code == 200, response.text
    return response.json()["task"]


def task_parts(task: dict) -> tuple[str, dict[str, str]]:
    url = urlsplit(task["taskUrl"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    return url.path, query


def mturk_submit(tasks: TestClient, task: dict, answer: dict | None):
    _path, query = task_parts(task)
    submit_to = urlsplit(query["turkSubmitTo"]).path
    fields = {"assignmentId": query["assignmentId"]}
    if answer is not None:
        fields["taskAnswers"] = json.dumps([answer])
    return tasks.post(submit_to + "/mturk/externalSubmit", data=fields)


ANSWER = {"annotatedResult": {"label": "Person"}}


def test_a_worker_labels_through_the_mechanical_turk_contract(runtime, tasks, clock) -> None:
    ana = sign_in(runtime, "ana@example.com")
    jobs = ana.get("/api/jobs").json()["jobs"]
    assert [j["LabelingJobName"] for j in jobs] == [runtime.job.name]
    task = claim(ana, runtime.job.name)
    path, query = task_parts(task)
    assert task["taskUrl"].startswith(TASKS + "/task/")
    assert query["assignmentId"] == task["task_id"]
    assert query["turkSubmitTo"].startswith(TASKS + "/submit/")
    assert query["workerId"].startswith("private.local.")
    page = tasks.get(path, params=query)
    assert page.status_code == 200
    assert "crowd-image-classifier" in page.text
    assert "offline stand-in" in page.text
    data_urls = re.findall(r'src="(http://tasks\.test/data/[^"]+)"', page.text)
    assert data_urls, "the image is granted through a signed URL on the task origin"
    image = tasks.get(urlsplit(data_urls[0]).path)
    assert image.status_code == 200 and image.content[:8] == b"\x89PNG\r\n\x1a\n"
    done = mturk_submit(tasks, task, ANSWER)
    assert done.status_code == 200, done.text
    assert '"gt-task-result"' in done.text
    assert ana.get("/api/jobs").json()["jobs"][0]["myCount"] == 1


def test_flattened_fields_are_accepted(runtime, tasks) -> None:
    ana = sign_in(runtime, "ana@example.com")
    task = claim(ana, runtime.job.name)
    _, query = task_parts(task)
    submit_to = urlsplit(query["turkSubmitTo"]).path
    response = tasks.post(
        submit_to + "/mturk/externalSubmit",
        data={"assignmentId": task["task_id"], "annotatedResult.label": "Nobody"},
    )
    assert response.status_code == 200, response.text
    answers = runtime.engine.object_answers(runtime.job.name)
    contents = [a["answerContent"] for row in answers for a in row["answers"]]
    assert contents == [{"annotatedResult": {"label": "Nobody"}}]


def test_the_whole_job_completes_with_the_output_manifest(runtime, tasks, clock) -> None:
    for email in ("ana@example.com", "bo@example.com"):
        worker = sign_in(runtime, email)
        for _ in range(3):
            assert mturk_submit(tasks, claim(worker, runtime.job.name), ANSWER).status_code == 200
        assert post(worker, f"/api/jobs/{runtime.job.name}/claim").status_code == 404
    for _ in range(5):
        clock.now += 5
        runtime.engine.tick()
    described = runtime.engine.describe_job(runtime.job.name)
    assert described["LabelingJobStatus"] == "Completed"
    manifest = runtime.data_dir / "output" / runtime.job.name / "manifests/output/output.manifest"
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert len(lines) == 3
    attribute = runtime.job.request["LabelAttributeName"]
    assert all(line[f"{attribute}-metadata"]["class-name"] == "Person" for line in lines)


def test_a_worker_outside_the_jobs_team_gets_403(runtime) -> None:
    outsider = sign_in(runtime, "outsider@example.com")
    assert outsider.get("/api/jobs").json()["jobs"] == []
    response = post(outsider, f"/api/jobs/{runtime.job.name}/claim")
    assert response.status_code == 403
    assert response.json()["error"] == "Forbidden"


def test_a_task_of_another_worker_is_404_everywhere(runtime, tasks) -> None:
    ana = sign_in(runtime, "ana@example.com")
    bo = sign_in(runtime, "bo@example.com")
    task = claim(ana, runtime.job.name)
    bo_task = claim(bo, runtime.job.name)
    task_id = task["task_id"]
    assert ana.get(f"/api/tasks/{task_id}").status_code == 200
    assert bo.get(f"/api/tasks/{task_id}").status_code == 404
    assert post(bo, f"/api/tasks/{task_id}/submit", {"answer": ANSWER}).status_code == 404
    assert post(bo, f"/api/tasks/{task_id}/decline").status_code == 404
    assert bo.get("/api/tasks/no-such-task").status_code == 404
    # Bo's page token with Ana's assignment id: refused, nothing counted.
    _, bo_query = task_parts(bo_task)
    forged = tasks.post(
        urlsplit(bo_query["turkSubmitTo"]).path + "/mturk/externalSubmit",
        data={"assignmentId": task_id, "taskAnswers": json.dumps([ANSWER])},
    )
    assert forged.status_code == 400
    assert all(not row["answers"] for row in runtime.engine.object_answers(runtime.job.name))


def test_requester_routes_answer_the_requester_alone(runtime, portal) -> None:
    ana = sign_in(runtime, "ana@example.com")
    job = runtime.job.name
    routes = [
        "/api/requester/jobs",
        f"/api/requester/jobs/{job}",
        f"/api/requester/jobs/{job}/answers",
        "/api/requester/workers",
    ]
    for route in routes:
        assert portal.get(route).status_code == 401, route
        assert ana.get(route).status_code == 403, route
        bearer = {"Authorization": f"Bearer {runtime.requester_token}"}
        assert portal.get(route, headers=bearer).status_code == 200, route
    assert ana.get(f"/requester/jobs/{job}/report").status_code == 403
    assert post(ana, f"/api/requester/jobs/{job}/stop").status_code == 403
    assert runtime.engine.describe_job(job)["LabelingJobStatus"] == "InProgress"


def test_the_requester_adds_workers_and_gets_one_time_links(runtime, portal) -> None:
    bearer = {"Authorization": f"Bearer {runtime.requester_token}"}
    response = portal.post(
        "/api/requester/workers", json={"emails": ["cy@example.com"]}, headers=bearer
    )
    assert response.status_code == 200, response.text
    (added,) = response.json()["workers"]
    assert added["teams"] == [runtime.job.team]
    token = added["signInLink"].rsplit("/", 1)[-1]
    client = TestClient(portal_app(runtime.host), base_url=PORTAL)
    assert client.post(f"/auth/link/{token}", follow_redirects=False).status_code == 303
    assert client.get("/api/jobs").json()["jobs"][0]["LabelingJobName"] == runtime.job.name
    assert client.post(f"/auth/link/{token}", follow_redirects=False).status_code == 401
    bad = portal.post("/api/requester/workers", json={"emails": ["nope"]}, headers=bearer)
    assert bad.status_code == 400 and "not an e-mail address" in bad.json()["message"]


def test_a_worker_sees_only_their_own_answers(runtime, tasks) -> None:
    ana = sign_in(runtime, "ana@example.com")
    bo = sign_in(runtime, "bo@example.com")
    mturk_submit(tasks, claim(ana, runtime.job.name), ANSWER)
    mine = ana.get("/api/jobs").json()["jobs"][0]["myCount"]
    theirs = bo.get("/api/jobs").json()["jobs"][0]["myCount"]
    assert (mine, theirs) == (1, 0)
    assert bo.get(f"/api/requester/jobs/{runtime.job.name}/answers").status_code == 403


def test_state_changing_calls_need_the_csrf_token_and_the_portal_origin(runtime) -> None:
    ana = sign_in(runtime, "ana@example.com")
    path = f"/api/jobs/{runtime.job.name}/claim"
    assert ana.post(path, headers={"Origin": PORTAL}).status_code == 403
    assert ana.post(path, headers={"X-CSRF-Token": "wrong", "Origin": PORTAL}).status_code == 403
    evil = {"X-CSRF-Token": ana.csrf, "Origin": "http://evil.test"}  # type: ignore[attr-defined]
    assert ana.post(path, headers=evil).status_code == 403
    assert runtime.engine.store.active_task(runtime.job.name, "none", runtime.host.clock()) is None
    # Nothing was claimed by the refused calls: the first real claim is the first task.
    assert claim(ana, runtime.job.name)["dataset_object_id"] == "0"
    signed_out = ana.post("/auth/sign-out", data={"csrf": "wrong"}, headers={"Origin": PORTAL})
    assert signed_out.status_code == 403


def test_sessions_expire(runtime, clock) -> None:
    ana = sign_in(runtime, "ana@example.com")
    assert ana.get("/api/jobs").status_code == 200
    clock.now += runtime.accounts.session_seconds + 1
    assert ana.get("/api/jobs").status_code == 401


def test_the_task_frame_is_isolated_from_the_portal(runtime, tasks) -> None:
    ana = sign_in(runtime, "ana@example.com")
    task = claim(ana, runtime.job.name)
    path, query = task_parts(task)
    # The portal's session cookie is worth nothing on the task origin, and the page
    # loads without it (it is authorised by its signed token alone).
    page = tasks.get(path, params=query)
    csp = page.headers["content-security-policy"]
    assert "sandbox allow-scripts allow-forms" in csp
    assert "allow-same-origin" not in csp
    assert f"frame-ancestors {PORTAL}" in csp
    assert f"form-action {TASKS}" in csp
    assert page.headers["referrer-policy"] == "no-referrer"
    assert SESSION_COOKIE not in page.headers.get("set-cookie", "")
    config = ana.get("/portal-config.json").json()
    assert config["frameSandbox"] == "allow-scripts allow-forms"
    assert config["taskOrigin"] == TASKS
    portal_page = ana.get("/")
    assert "frame-ancestors 'none'" in portal_page.headers["content-security-policy"]
    assert f"frame-src {TASKS}" in portal_page.headers["content-security-policy"]
    # A tampered token is refused.
    assert tasks.get(path[:-3] + "xyz", params=query).status_code == 403


def test_signed_data_urls_expire_and_cannot_reach_outside_the_task(runtime, tasks, clock) -> None:
    ana = sign_in(runtime, "ana@example.com")
    task = claim(ana, runtime.job.name)
    path, query = task_parts(task)
    page = tasks.get(path, params=query).text
    data_path = urlsplit(re.findall(r'src="(http://tasks\.test/data/[^"]+)"', page)[0]).path
    assert tasks.get(data_path).status_code == 200
    # A URL signed for another object, or a changed one, is refused.
    signer = runtime.host.signer
    token = data_path.rsplit("/", 1)[-1]
    _body, _, mac = token.partition(".")
    outside = signer.sign("data", {"u": "s3://input/../state/auth.sqlite3"}, expires=clock.now + 60)
    assert tasks.get("/data/" + outside).status_code == 404
    forged = signer.sign("data", {"u": "s3://output/x"}, expires=clock.now + 60).partition(".")[0]
    assert tasks.get(f"/data/{forged}.{mac}").status_code == 403
    # A task page token is not a data token.
    assert tasks.get("/data/" + path.rsplit("/", 1)[-1]).status_code == 403
    clock.now = task["deadline"] + 3600
    assert tasks.get(data_path).status_code == 403


def test_grant_read_access_signs_only_the_tasks_own_data() -> None:
    page = TaskPage(
        '<img src="{{ task.input.taskObject | grant_read_access }}">'
        '<img src="{{ "s3://input/state/secret" | grant_read_access }}">',
        source="t",
        elements_url=None,
    )
    allowed = {"s3://input/data/a.png"}

    def grant(uri: str) -> str:
        return f"https://signed/{uri}" if uri in allowed else "about:blank#not-in-this-task"

    html = page.render({"taskObject": "s3://input/data/a.png"}, grant_read_access=grant)
    assert "https://signed/s3://input/data/a.png" in html
    assert "about:blank#not-in-this-task" in html


def test_liquid_autoescapes_as_ground_truth_does() -> None:
    page = TaskPage(
        "<p>{{ task.input.note }}</p><p>{{ task.input.note | skip_autoescape }}</p>",
        source="t",
        elements_url=None,
    )
    html = page.render({"note": "<script>alert(1)</script>"}, grant_read_access=str)
    assert "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>" in html
    assert "<p><script>alert(1)</script></p>" in html


def test_a_submit_with_no_answer_is_400_and_changes_nothing(runtime, tasks) -> None:
    ana = sign_in(runtime, "ana@example.com")
    task = claim(ana, runtime.job.name)
    assert mturk_submit(tasks, task, None).status_code == 400
    assert mturk_submit(tasks, task, {}).status_code == 400
    response = post(ana, f"/api/tasks/{task['task_id']}/submit", {"answer": {}})
    assert response.status_code == 400 and "no answer" in response.json()["message"]
    assert all(not row["answers"] for row in runtime.engine.object_answers(runtime.job.name))
    assert mturk_submit(tasks, task, ANSWER).status_code == 200


def test_a_submit_after_the_lease_is_409_and_never_counted(runtime, tasks, clock) -> None:
    ana = sign_in(runtime, "ana@example.com")
    task = claim(ana, runtime.job.name)
    clock.now = task["deadline"] + 1
    response = mturk_submit(tasks, task, ANSWER)
    assert response.status_code == 409
    assert "Not submitted" in response.text
    assert all(not row["answers"] for row in runtime.engine.object_answers(runtime.job.name))


def test_decline_gives_the_task_back(runtime) -> None:
    ana = sign_in(runtime, "ana@example.com")
    first = claim(ana, runtime.job.name)
    assert post(ana, f"/api/tasks/{first['task_id']}/decline").status_code == 200
    second = claim(ana, runtime.job.name)
    assert second["dataset_object_id"] != first["dataset_object_id"]


def test_the_requester_sees_answers_output_and_report(runtime, tasks, clock) -> None:
    for email in ("ana@example.com", "bo@example.com"):
        worker = sign_in(runtime, email)
        for _ in range(3):
            mturk_submit(tasks, claim(worker, runtime.job.name), ANSWER)
    for _ in range(5):
        clock.now += 5
        runtime.engine.tick()
    requester = sign_in(runtime, "requester@localhost")
    job = runtime.job.name
    answers = requester.get(f"/api/requester/jobs/{job}/answers").json()["objects"]
    assert [row["agreement"] for row in answers] == [1.0, 1.0, 1.0]
    output = requester.get(f"/api/requester/jobs/{job}/output")
    assert output.status_code == 200 and len(output.text.splitlines()) == 3
    report = requester.get(f"/requester/jobs/{job}/report")
    assert report.status_code == 200 and "Label quality report" in report.text


def test_unknown_routes_and_methods_are_clear_errors(runtime) -> None:
    ana = sign_in(runtime, "ana@example.com")
    assert ana.get("/api/nothing").json()["error"] == "NotFound"
    assert ana.get(f"/api/jobs/{runtime.job.name}/claim").status_code == 405
    bad_json = ana.post(
        "/api/tasks/x/submit",
        content=b"{not json",
        headers={"Content-Type": "application/json", "X-CSRF-Token": ana.csrf},  # type: ignore[attr-defined]
    )
    assert bad_json.status_code == 400 and "not JSON" in bad_json.json()["message"]


def test_accepted_connections_send_at_once_tcp_nodelay():
    """asyncio sets TCP_NODELAY only on sockets whose proto is TCP; the runtime binds its
    own listening sockets, so they must say IPPROTO_TCP or every response split in two
    writes waits ~40 ms for the client's delayed ACK."""
    import asyncio
    import socket

    from gt_constructs.runtime.server import bind

    (listening,) = bind(["127.0.0.1"], 0)
    port = listening.getsockname()[1]
    seen: list[int] = []

    async def main() -> None:
        async def accepted(reader, writer):
            sock = writer.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(accepted, sock=listening)
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            for _ in range(100):
                if seen:
                    break
                await asyncio.sleep(0.01)
            writer.close()

    asyncio.run(main())
    assert seen == [1]
