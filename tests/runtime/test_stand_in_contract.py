"""The workbench's stand-in submits through the Mechanical Turk contract, in Chromium.

A task page (``TaskPage``, offline) is served at a fake task origin through Playwright's
routing; the page URL carries assignmentId and turkSubmitTo as the real elements expect,
and the POST to ``<turkSubmitTo>/mturk/externalSubmit`` is captured and parsed with the
server's own parser: ``taskAnswers`` from a ``<crowd-form>``, dotted fields with
``answer-format="flatten-objects"``, and an answer element with no ``<crowd-form>``
(it submits itself).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from gt_constructs.lambda_src.gt_runtime.mturk import parse_submit

from gt_constructs.runtime.task_page import TaskPage
from gt_constructs.workbench.common import find_chromium

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        find_chromium() is None,
        reason="headless Chromium is not installed (apt-get install chromium); CI installs it",
    ),
]
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ORIGIN = "http://tasks.test"
QUERY = (
    f"?assignmentId=task-1&hitId=job/0&workerId=private.local.w&turkSubmitTo={ORIGIN}/submit/tok"
)
CLASSIFIER = (
    '<crowd-image-classifier name="annotatedResult" src="{{ task.input.taskObject }}" '
    'categories=\'["Cat", "Dog"]\' header="Pick"></crowd-image-classifier>'
)


def submitted(template: str, choose: str = "Dog") -> list[tuple[str, str]]:
    from playwright.sync_api import sync_playwright

    html = TaskPage(template, source="t", elements_url=None).render(
        {"taskObject": "data:,"}, grant_read_access=str
    )
    posts: list[str] = []

    def handle(route) -> None:
        request = route.request
        if request.method == "POST":
            assert request.url == f"{ORIGIN}/submit/tok/mturk/externalSubmit"
            posts.append(request.post_data or "")
            route.fulfill(status=200, body="ok", content_type="text/plain")
        else:
            route.fulfill(status=200, body=html, content_type="text/html")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=ARGS)
        try:
            page = browser.new_page()
            page.route(f"{ORIGIN}/**", handle)
            page.goto(f"{ORIGIN}/task/tok{QUERY}")
            page.wait_for_selector("html[data-gtw-ready='true']", state="attached")
            page.click(f"button.gtw-chip[data-label='{choose}']")
            page.click("button.gtw-submit")
            page.wait_for_function("() => document.body.innerText.trim() === 'ok'")
        finally:
            browser.close()
    assert len(posts) == 1
    return parse_qsl(posts[0])


def test_crowd_form_posts_task_answers() -> None:
    fields = submitted(f"<crowd-form>{CLASSIFIER}</crowd-form>")
    assert parse_submit(fields) == ("task-1", {"annotatedResult": {"label": "Dog"}})
    assert [name for name, _ in fields] == ["assignmentId", "taskAnswers"]


def test_flatten_objects_posts_dotted_fields() -> None:
    fields = submitted(f'<crowd-form answer-format="flatten-objects">{CLASSIFIER}</crowd-form>')
    assert ("annotatedResult.label", "Dog") in fields
    assert parse_submit(fields) == ("task-1", {"annotatedResult": {"label": "Dog"}})


def test_an_element_without_crowd_form_submits_itself() -> None:
    fields = submitted(CLASSIFIER, choose="Cat")
    assert parse_submit(fields) == ("task-1", {"annotatedResult": {"label": "Cat"}})
