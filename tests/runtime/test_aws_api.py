"""The HTTP API's handlers with real API Gateway (HTTP API, payload 2.0) event shapes.

GIVEN a running job on moto and JWT claims as API Gateway's authorizer passes them,
WHEN workers, the requester and strangers call the API and the task origin, THEN each
rule of access holds: team 403, another's task 404, requester routes for the requester
alone, CSRF on state changes, signed task and data tokens.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from gt_constructs.lambda_src.gt_runtime import aws_contract
from gt_constructs.lambda_src.gt_runtime.aws_api import caller_of, groups_of
from moto import mock_aws

from .aws_support import ISSUER, TEAM, api_event, aws_runtime, claims_of, job_request

REQUESTERS = aws_contract.DEFAULT_REQUESTER_GROUP


@pytest.fixture(scope="module")
def running():
    with mock_aws(), aws_runtime(3) as job:
        state = job.run_machine_start(job_request("pets-api", 2))
        yield job, state["job"]["jobName"]


def _csrf(job, claims):
    return json.loads(job.api(api_event("GET", "/api/me", claims))["body"])["csrfToken"]


def _post(job, path, claims, *, csrf=True, body=None):
    headers = {"x-csrf-token": _csrf(job, claims)} if csrf else {}
    data = json.dumps(body).encode() if body is not None else None
    return job.api(api_event("POST", path, claims, headers=headers, body=data))


# -- claims --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "groups"),
    [
        ("[labelers labeling-requesters]", ("labelers", "labeling-requesters")),
        (["labelers"], ("labelers",)),
        ("[]", ()),
        (None, ()),
        ("labelers", ("labelers",)),
    ],
)
def test_groups_are_read_in_every_shape_api_gateway_passes_them(value, groups):
    claims = {} if value is None else {"cognito:groups": value}
    assert groups_of(claims) == groups


def test_a_token_of_another_issuer_is_nobody():
    claims = claims_of("ana")
    claims["iss"] = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"
    caller = caller_of(claims, requester_group=REQUESTERS, issuer=ISSUER)
    assert caller.worker is None and not caller.requester


def test_the_requester_group_makes_the_requester_and_is_no_team():
    only = caller_of(
        claims_of("req", groups=(REQUESTERS,)), requester_group=REQUESTERS, issuer=ISSUER
    )
    assert only.requester and only.worker is None
    both = caller_of(
        claims_of("lead", groups=(REQUESTERS, TEAM)), requester_group=REQUESTERS, issuer=ISSUER
    )
    assert both.requester and both.worker is not None and both.worker.teams == (TEAM,)
    assert both.worker.provider == "Cognito" and both.worker.issuer == ISSUER


# -- the API -------------------------------------------------------------------------------------
def test_without_claims_the_api_answers_401(running):
    job, _ = running
    assert job.api(api_event("GET", "/api/jobs", {}))["statusCode"] == 401


def test_a_worker_sees_the_jobs_of_their_team_only(running):
    job, name = running
    mine = json.loads(job.api(api_event("GET", "/api/jobs", claims_of("ana")))["body"])["jobs"]
    assert [j["LabelingJobName"] for j in mine] == [name]
    other = claims_of("eve", groups=("other-team",))
    assert json.loads(job.api(api_event("GET", "/api/jobs", other))["body"])["jobs"] == []


def test_a_worker_outside_the_team_cannot_claim(running):
    job, name = running
    refused = _post(job, f"/api/jobs/{name}/claim", claims_of("eve", groups=("other-team",)))
    assert refused["statusCode"] == 403


def test_state_changes_without_the_csrf_token_are_refused(running):
    job, name = running
    assert _post(job, f"/api/jobs/{name}/claim", claims_of("ana"), csrf=False)["statusCode"] == 403
    wrong = job.api(
        api_event(
            "POST", f"/api/jobs/{name}/claim", claims_of("ana"), headers={"x-csrf-token": "x" * 32}
        )
    )
    assert wrong["statusCode"] == 403
    # another worker's token is wrong for this worker too
    stolen = job.api(
        api_event(
            "POST",
            f"/api/jobs/{name}/claim",
            claims_of("ana"),
            headers={"x-csrf-token": _csrf(job, claims_of("ben"))},
        )
    )
    assert stolen["statusCode"] == 403


def test_another_workers_task_is_not_found(running):
    job, name = running
    claimed = _post(job, f"/api/jobs/{name}/claim", claims_of("ana"))
    assert claimed["statusCode"] == 200
    task_id = json.loads(claimed["body"])["task"]["task_id"]
    assert job.api(api_event("GET", f"/api/tasks/{task_id}", claims_of("ana")))["statusCode"] == 200
    assert job.api(api_event("GET", f"/api/tasks/{task_id}", claims_of("ben")))["statusCode"] == 404
    assert (
        _post(job, f"/api/tasks/{task_id}/submit", claims_of("ben"), body={"answer": {"a": 1}})[
            "statusCode"
        ]
        == 404
    )


def test_requester_routes_answer_the_requester_alone(running):
    job, name = running
    worker = job.api(api_event("GET", "/api/requester/jobs", claims_of("ana")))
    assert worker["statusCode"] == 403
    requester = claims_of("lead", groups=(REQUESTERS,))
    listed = job.api(api_event("GET", "/api/requester/jobs", requester))
    assert listed["statusCode"] == 200
    described = json.loads(
        job.api(api_event("GET", f"/api/requester/jobs/{name}", requester))["body"]
    )
    assert described["LabelingJobStatus"] == "InProgress"
    assert set(described["LabelCounters"]) >= {"TotalLabeled", "HumanLabeled", "Unlabeled"}


# -- the task origin -------------------------------------------------------------------------------
def _task_url(job, name, worker):
    claimed = _post(job, f"/api/jobs/{name}/claim", claims_of(worker))
    assert claimed["statusCode"] == 200, claimed["body"]
    return urlsplit(json.loads(claimed["body"])["task"]["taskUrl"])


def test_the_task_page_is_rendered_on_its_own_origin_with_a_content_security_policy(running):
    job, name = running
    url = _task_url(job, name, "chi")
    assert url.netloc.endswith(".execute-api.us-east-1.amazonaws.com")
    page = job.task_origin(api_event("GET", f"{url.path}?{url.query}"))
    assert page["statusCode"] == 200
    csp = page["headers"]["Content-Security-Policy"]
    assert "frame-ancestors https://d111111abcdef8.cloudfront.net" in csp and "sandbox" in csp
    assert "crowd-image-classifier" in page["body"]
    assert "/data/" in page["body"]


def test_a_forged_task_token_is_refused(running):
    job, _ = running
    page = job.task_origin(api_event("GET", "/task/eyJ0IjoieCJ9.forged"))
    assert page["statusCode"] == 403


def test_data_urls_redirect_to_a_short_lived_presigned_url_of_that_object(running):
    job, name = running
    url = _task_url(job, name, "dee")
    page = job.task_origin(api_event("GET", f"{url.path}?{url.query}"))["body"]
    start = page.index("/data/")
    token = page[start + len("/data/") : page.index("'", start)].split('"')[0]
    redirect = job.task_origin(api_event("GET", f"/data/{token}"))
    assert redirect["statusCode"] == 302
    location = urlsplit(redirect["headers"]["Location"])
    assert location.path.startswith("/images/") or "job-input" in location.netloc + location.path
    query = parse_qs(location.query)
    assert query.get("X-Amz-Expires") == [str(aws_contract.DATA_URL_SECONDS)] or query.get(
        "Expires"
    )
    # a data token is no task token, and the reverse
    assert job.task_origin(api_event("GET", f"/task/{token}"))["statusCode"] == 403
