"""End-to-end tests of the ``gt-constructs`` workbench on real-shaped inputs.

Inputs under ``fixtures/``:

- ``pets.output.manifest``: an image classification job's output manifest in the
  original sample's format (``annotationsFromAllWorkers``, answers as JSON
  strings; line 5 carries them already parsed), three workers, images in ``pets/``;
- ``street.output.manifest``: instance segmentation, same format, two objects,
  three workers, palette PNG masks of bit depth 1 and 2 (images in ``street/``);
- ``worker-response/``: a text classification job's
  ``annotations/worker-response/iteration-1/<id>/<time>.json`` files, with the
  input manifest ``reviews.input.manifest``.
"""

from __future__ import annotations

import base64
import functools
import http.server
import importlib.util
import json
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from gt_constructs.cli import main
from gt_constructs.template import CROWD_ELEMENTS_SCRIPT
from gt_constructs.workbench.common import dump_dom, find_chromium
from gt_constructs.workbench.report import heatmap

FIXTURES = Path(__file__).parent / "fixtures"
PETS = FIXTURES / "pets.output.manifest"
STREET = FIXTURES / "street.output.manifest"
PET_LABELS = ["Bird", "Cat", "Dog"]

needs_chromium = pytest.mark.skipif(
    find_chromium() is None,
    reason="headless Chromium is not installed (apt-get install chromium); CI installs it",
)


def _has_consensus(module: str) -> bool:
    return importlib.util.find_spec(f"gt_annotation.consensus.{module}") is not None


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


class Page(HTMLParser):
    """Elements (tag, attributes, text) of an HTML page, and its text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self._stack: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())

    def find(self, tag: str, **attributes: str) -> list[dict[str, str]]:
        return [
            attrs
            for t, attrs in self.elements
            if t == tag and all(attrs.get(k.replace("_", "-")) == v for k, v in attributes.items())
        ]

    def with_class(self, tag: str, cls: str) -> list[dict[str, str]]:
        return [a for t, a in self.elements if t == tag and cls in a.get("class", "").split()]


# -- validate --------------------------------------------------------------------------


def test_validate_accepts_a_default_template(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", "default", "--task-type", "image-classification")
    assert code == 0
    assert "OK" in out and "'annotatedResult'" in out and "dawid-skene" in out


def test_validate_fails_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a template with an unknown filter on line 3 and an unnamed answer element on line 4
    template = tmp_path / "task.html"
    template.write_text(
        '<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>\n'
        "<crowd-form>\n"
        "  <p>{{ task.input.taskObject | presign }}</p>\n"
        '  <crowd-classifier categories="[]" header="Pick one">\n'
        "  </crowd-classifier>\n"
        "</crowd-form>\n",
        encoding="utf-8",
    )
    # WHEN it is validated
    code, _, err = run(capsys, "validate", str(template))
    # THEN each problem names the file and its line
    assert code == 1
    assert f"{template}:3: unknown Liquid filter 'presign'" in err
    assert f"{template}:4: <crowd-classifier> has no name attribute" in err


def test_fails_when_task_type_is_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "validate", "default", "--task-type", "VIDEO")
    assert code == 1
    assert "unknown task type 'VIDEO'" in err and "IMAGE_CLASSIFICATION" in err


# -- preview ---------------------------------------------------------------------------


def test_preview_renders_a_manifest_line_with_its_local_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN line 2 of an output manifest whose image exists next to the manifest
    out = tmp_path / "preview.html"
    # WHEN it is previewed with the default image classification template
    code, stdout, _ = run(
        capsys, "preview", "default", "--task-type", "IMAGE_CLASSIFICATION",
        "--manifest", str(PETS), "--line", "2", "--labels", *PET_LABELS, "--out", str(out),
    )  # fmt: skip
    # THEN the page is self-contained: the image inlined, the stand-in inline, no CDN script
    # tag (the real elements are tried by the page's loader, see the browser tests)
    assert code == 0 and str(out) in stdout
    html = out.read_text(encoding="utf-8")
    page = Page(html)
    classifier = page.find("crowd-image-classifier")[0]
    image = (FIXTURES / "pets" / "img-002.png").read_bytes()
    assert classifier["src"] == "data:image/png;base64," + base64.b64encode(image).decode()
    assert json.loads(classifier["categories"]) == PET_LABELS
    assert classifier["header"] == "Which category best describes this image?"
    assert not page.find("script", src=CROWD_ELEMENTS_SCRIPT)
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert "local stand-in for Crowd HTML Elements" in html  # the inline script
    assert "Image classification instructions" in html
    assert elements_settings(html) == {"url": CROWD_ELEMENTS_SCRIPT, "timeoutSeconds": 10}
    assert f"loading the real ones from {CROWD_ELEMENTS_SCRIPT}" in html  # the banner


def elements_settings(html: str) -> Any:
    found = re.search(r'<script type="application/json" id="gtw-elements">(.*?)</script>', html)
    assert found, "the page has no Crowd HTML Elements settings"
    return json.loads(found.group(1))


def test_preview_offline_uses_only_the_stand_in_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "preview.html"
    code, _, err = run(
        capsys, "preview", "default", "--task-type", "TEXT_CLASSIFICATION", "--offline",
        "--data-object", '{"source": "Fast delivery"}', "--labels", "Positive", "Negative",
        "--out", str(out),
    )  # fmt: skip
    assert code == 0
    assert "offline stand-in for Crowd HTML Elements (no drawing tools)" in err
    html = out.read_text(encoding="utf-8")
    assert elements_settings(html)["url"] is None
    assert '<style id="gtw-stand-in-style" media="all">' in html
    assert "Crowd HTML Elements: the workbench&#x27;s offline stand-in (--offline)." in html


def test_preview_elements_url_from_the_option_or_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "preview.html"
    given = ("preview", "default", "--task-type", "TEXT_CLASSIFICATION",
             "--data-object", '{"source": "x"}', "--out", str(out))  # fmt: skip
    monkeypatch.setenv("GT_CROWD_ELEMENTS_URL", "http://mirror.example/crowd.js")
    code, _, err = run(capsys, *given)
    assert code == 0 and "when it can load http://mirror.example/crowd.js" in err
    assert elements_settings(out.read_text(encoding="utf-8"))["url"] == (
        "http://mirror.example/crowd.js"
    )
    code, _, _ = run(capsys, *given, "--crowd-elements-url", "http://other.example/c.js")
    assert code == 0
    html = out.read_text(encoding="utf-8")
    assert elements_settings(html)["url"] == "http://other.example/c.js"
    # until the page knows, the stand-in's styles are off (they would restyle the real ones)
    assert '<style id="gtw-stand-in-style" media="not all">' in html


def test_preview_of_text_with_a_placeholder_for_missing_s3_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text_page, image_page = tmp_path / "text.html", tmp_path / "image.html"
    code, _, _ = run(
        capsys, "preview", "default", "--task-type", "TEXT_CLASSIFICATION",
        "--data-object", '{"source": "Fast delivery <b>and</b> great value"}',
        "--labels", "Positive", "Negative", "--out", str(text_page),
    )  # fmt: skip
    assert code == 0
    html = text_page.read_text(encoding="utf-8")
    # Auto-escaped, as Ground Truth renders it.
    assert "Fast delivery &lt;b&gt;and&lt;/b&gt; great value" in html
    code, _, _ = run(
        capsys, "preview", "default", "--task-type", "BOUNDING_BOX",
        "--data-object", '{"source-ref": "s3://nowhere/missing.jpg"}',
        "--labels", "Car", "--out", str(image_page),
    )  # fmt: skip
    assert code == 0
    src = Page(image_page.read_text(encoding="utf-8")).find("crowd-bounding-box")[0]["src"]
    assert src.startswith("data:image/svg+xml;base64,")
    assert "s3://nowhere/missing.jpg" in base64.b64decode(src.split(",", 1)[1]).decode()


def test_fails_when_the_data_object_has_no_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "preview", "default", "--task-type", "TEXT_CLASSIFICATION",
        "--data-object", '{"text": "hello"}', "--out", str(tmp_path / "p.html"),
    )  # fmt: skip
    assert code == 1
    assert "pre-annotation function rejects the data object" in err and "source" in err


@pytest.mark.slow
@needs_chromium
def test_preview_in_a_real_headless_browser(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a preview page of a classification task with a local image
    out = tmp_path / "preview.html"
    assert main(
        ["preview", "default", "--task-type", "IMAGE_CLASSIFICATION", "--manifest", str(PETS),
         "--labels", *PET_LABELS, "--out", str(out), "--offline"]
    ) == 0  # fmt: skip
    # WHEN Chromium loads it and runs its scripts
    dom = Page(dump_dom(out))
    # THEN the stand-in drew the task: header, one chip per label, the image, the instructions
    assert dom.find("html", data_gtw_ready="true", data_gtw_elements="stand-in")
    task = dom.with_class("div", "gtw-task")
    assert len(task) == 1 and task[0]["data-element"] == "crowd-image-classifier"
    assert "Which category best describes this image?" in dom.text
    assert [c["data-label"] for c in dom.with_class("button", "gtw-chip")] == PET_LABELS
    images = dom.with_class("img", "gtw-image")
    assert len(images) == 1 and images[0]["src"].startswith("data:image/png;base64,")
    assert "Image classification instructions" in dom.text
    assert "Submit" in dom.text


FAKE_CROWD_ELEMENTS = """
customElements.define("crowd-form", class extends HTMLElement {
  connectedCallback() { this.setAttribute("data-fake-crowd", "drawn"); }
});
"""


@pytest.fixture
def crowd_elements_server(tmp_path: Path) -> Iterator[str]:
    """A local stand-in for assets.crowd.aws: serves a fake "real" crowd-html-elements.js."""
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "crowd-html-elements.js").write_text(FAKE_CROWD_ELEMENTS, encoding="utf-8")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/crowd-html-elements.js"
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
@needs_chromium
def test_preview_uses_the_real_elements_when_they_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], crowd_elements_server: str
) -> None:
    # GIVEN a preview whose real-elements URL can be loaded
    out = tmp_path / "preview.html"
    code, _, _ = run(
        capsys, "preview", "default", "--task-type", "BOUNDING_BOX", "--labels", "Car",
        "--data-object", '{"source-ref": "s3://nowhere/street.jpg"}', "--out", str(out),
        "--crowd-elements-url", crowd_elements_server,
    )  # fmt: skip
    assert code == 0
    # WHEN Chromium opens it
    dom = Page(dump_dom(out))
    # THEN the real elements drew the task, the stand-in did not, and the banner says so
    assert dom.find("html", data_gtw_elements="real")
    assert dom.find("crowd-form", data_fake_crowd="drawn")
    assert not dom.with_class("div", "gtw-task")
    assert f"Crowd HTML Elements: the real ones, loaded from {crowd_elements_server}" in " ".join(
        dom.text
    )


@pytest.mark.slow
@needs_chromium
def test_preview_falls_back_to_the_stand_in_when_the_elements_cannot_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a preview whose real-elements URL cannot be reached
    url = f"http://127.0.0.1:{_closed_port()}/crowd-html-elements.js"
    out = tmp_path / "preview.html"
    code, _, _ = run(
        capsys, "preview", "default", "--task-type", "BOUNDING_BOX", "--labels", "Car",
        "--data-object", '{"source-ref": "s3://nowhere/street.jpg"}', "--out", str(out),
        "--crowd-elements-url", url,
    )  # fmt: skip
    assert code == 0
    # WHEN Chromium opens it
    dom = Page(dump_dom(out))
    # THEN the stand-in drew the task and the banner says it is the offline stand-in
    assert dom.find("html", data_gtw_elements="stand-in", data_gtw_ready="true")
    assert len(dom.with_class("div", "gtw-task")) == 1
    text = " ".join(dom.text)
    assert f"the workbench's offline stand-in ({url} could not be loaded)" in text
    assert "cannot draw, paint or highlight" in text


@pytest.fixture
def hanging_server() -> Iterator[str]:
    """A URL whose server accepts the connection and never answers (a stuck proxy)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/crowd-html-elements.js"
    finally:
        listener.close()


@pytest.mark.slow
@needs_chromium
def test_preview_screenshot_when_the_elements_never_arrive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], hanging_server: str
) -> None:
    # GIVEN a page whose real-elements script hangs
    out, shot = tmp_path / "preview.html", tmp_path / "preview.png"
    # WHEN a screenshot is taken
    code, stdout, err = run(
        capsys, "preview", "default", "--task-type", "TEXT_CLASSIFICATION",
        "--data-object", '{"source": "x"}', "--labels", "A", "B", "--out", str(out),
        "--crowd-elements-url", hanging_server, "--screenshot", str(shot), "--width", "640",
        "--height", "400",
    )  # fmt: skip
    # THEN the stand-in takes over after its wait and Chromium still delivers the screenshot
    assert code == 0, err
    assert str(shot) in stdout and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
@needs_chromium
def test_preview_screenshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, shot = tmp_path / "preview.html", tmp_path / "preview.png"
    code, stdout, _ = run(
        capsys, "preview", "default", "--task-type", "NAMED_ENTITY",
        "--data-object", '{"source": "Ana Silva flew to Osaka."}', "--labels", "PER", "LOC",
        "--out", str(out), "--screenshot", str(shot),
    )  # fmt: skip
    assert code == 0 and str(shot) in stdout
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (1280, 900)


def test_screenshot_says_clearly_when_chromium_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GT_CHROMIUM", str(tmp_path / "no-such-browser"))
    code, _, err = run(
        capsys, "preview", "default", "--task-type", "TEXT_CLASSIFICATION",
        "--data-object", '{"source": "x"}', "--out", str(tmp_path / "p.html"),
        "--screenshot", str(tmp_path / "p.png"),
    )  # fmt: skip
    assert code == 1
    assert "Chromium is not installed" in err
    assert (tmp_path / "p.html").is_file()


# -- consolidate -----------------------------------------------------------------------


def test_consolidate_a_recipe_manifest_one_line_per_input_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, report = tmp_path / "consolidated.manifest", tmp_path / "report.html"
    code, stdout, _ = run(
        capsys, "consolidate", str(PETS), "--task-type", "IMAGE_CLASSIFICATION",
        "--label-attribute", "pets", "--labels", *PET_LABELS, "--out", str(out),
        "--report", str(report),
    )  # fmt: skip
    assert code == 0 and "wrote 6 consolidated line(s)" in stdout
    lines, given = read_jsonl(out), read_jsonl(PETS)
    assert len(lines) == len(given) == 6
    for line, original in zip(lines, given):
        assert line["source-ref"] == original["source-ref"]
        # The built-in image-classification shape: the class index, the rest in the metadata.
        label, meta = line["pets"], line["pets-metadata"]
        assert isinstance(label, int) and "annotationsFromAllWorkers" not in meta
        assert meta["workers"] == 3 and 0 <= meta["confidence"] <= 1
        assert meta["class-name"] == PET_LABELS[label]
        assert meta["type"] == "groundtruth/image-classification"
        assert meta["human-annotated"] == "yes"
        assert meta["job-name"] == "labeling-job/pets-2023"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", meta["creation-date"])
    # Unanimous answers win; the parsed-content line (5) counts like the others.
    assert [line["pets-metadata"]["class-name"] for line in lines][1] == "Dog"
    assert lines[4]["pets-metadata"]["class-name"] == "Cat"
    assert lines[0]["pets-metadata"]["class-name"] == "Cat"


def test_consolidate_reads_its_own_new_output_with_kept_answers_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the old-format manifest (answers under <attr>) consolidated keeping every answer
    first, second = tmp_path / "first.manifest", tmp_path / "second.manifest"
    args = ["--task-type", "IMAGE_CLASSIFICATION", "--label-attribute", "pets",
            "--labels", *PET_LABELS, "--keep-all-annotations"]  # fmt: skip
    code, _, _ = run(capsys, "consolidate", str(PETS), *args, "--out", str(first))
    assert code == 0
    written = read_jsonl(first)
    assert all(isinstance(line["pets-metadata"]
               ["annotationsFromAllWorkers"], list) for line in written)  # fmt: skip
    # WHEN the new-format output (answers in <attr>-metadata) is consolidated again
    code, stdout, _ = run(capsys, "consolidate", str(first), *args, "--out", str(second))
    # THEN every line consolidates again, to the same labels, in the same shape
    assert code == 0 and "wrote 6 consolidated line(s)" in stdout
    again = read_jsonl(second)
    assert [line["pets"] for line in again] == [line["pets"] for line in written]
    assert [line["pets-metadata"]["class-name"] for line in again] == [
        line["pets-metadata"]["class-name"] for line in written
    ]
    assert {line["pets-metadata"]["job-name"] for line in again} == {"labeling-job/pets-2023"}


def test_consolidate_reports_a_bad_line_by_its_number_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the manifest with a broken line 3 and a line without the label attribute (line 5)
    lines = PETS.read_text(encoding="utf-8").splitlines()
    broken = tmp_path / "broken.manifest"
    shutil.copytree(FIXTURES / "pets", tmp_path / "pets")
    content = [*lines[:2], '{"source-ref": "s3://my-bucket/pets/img-x.png", "pets": ', lines[2],
               '{"source-ref": "s3://my-bucket/pets/img-y.png"}', *lines[3:]]  # fmt: skip
    broken.write_text("\n".join(content) + "\n", encoding="utf-8")
    out = tmp_path / "out.manifest"
    # WHEN it is consolidated
    code, stdout, err = run(
        capsys, "consolidate", str(broken), "--task-type", "IMAGE_CLASSIFICATION",
        "--label-attribute", "pets", "--labels", *PET_LABELS, "--out", str(out),
    )  # fmt: skip
    # THEN both are reported with their line numbers, the other six are consolidated
    assert code == 0
    assert f"{broken}:3: not JSON" in err
    assert f"{broken}:5: no 'pets' attribute with an annotationsFromAllWorkers list" in err
    assert "2 input line(s) skipped" in stdout
    assert len(read_jsonl(out)) == 6
    # --strict turns skipped lines into a failure
    assert main(["consolidate", str(broken), "--task-type", "IMAGE_CLASSIFICATION",
                 "--label-attribute", "pets", "--out", str(out), "--strict"]) == 1  # fmt: skip


def test_consolidate_infers_labels_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.manifest"
    code, _, err = run(
        capsys, "consolidate", str(PETS), "--task-type", "IMAGE_CLASSIFICATION",
        "--label-attribute", "pets", "--method", "majority-vote", "--out", str(out),
    )  # fmt: skip
    assert code == 0
    assert "labels inferred from the answers: ['Bird', 'Cat', 'Dog']" in err
    lines = read_jsonl(out)
    assert {line["pets-metadata"]["method"] for line in lines} == {"majority-vote"}
    assert lines[1]["pets"] == 2
    assert lines[1]["pets-metadata"] == {
        **lines[1]["pets-metadata"],
        "class-name": "Dog",
        "confidence": 1.0,
    }


def test_fails_when_the_label_attribute_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "consolidate", str(PETS), "--task-type", "IMAGE_CLASSIFICATION",
        "--label-attribute", "animals", "--labels", *PET_LABELS, "--out", str(tmp_path / "o"),
    )  # fmt: skip
    # no line could be consolidated: a failure, not "wrote 0 line(s)"
    assert code == 1 and out == ""
    assert "nothing to consolidate: none of the 6 line(s)" in err
    assert f"{PETS}:1: no 'animals' attribute" in err
    assert "attributes holding annotationsFromAllWorkers: pets (use --label-attribute)" in err
    assert "expected JSON Lines whose 'animals' attribute holds an annotationsFromAllWorkers" in err
    assert not (tmp_path / "o").exists()


def test_fails_when_the_manifest_is_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "output.manifest"
    empty.write_text("\n", encoding="utf-8")
    code, out, err = run(
        capsys, "consolidate", str(empty), "--task-type", "IMAGE_CLASSIFICATION",
        "--label-attribute", "pets", "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert code == 1 and out == ""
    assert f"nothing to consolidate: {empty} has no manifest line" in err
    assert "`gt-constructs simulate --out DIR` writes one to DIR/output.manifest" in err


def test_consolidate_runs_on_what_simulate_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the README's way to get an output manifest with every worker's answer
    sim = tmp_path / "gt-simulation"
    code, _, _ = run(
        capsys, "simulate", "--task-type", "IMAGE_CLASSIFICATION", "--objects", "30",
        "--workers", "5", "--spammers", "1", "--out", str(sim),
    )  # fmt: skip
    assert code == 0
    assert all("annotationsFromAllWorkers" in line["simulated-metadata"]
               for line in read_jsonl(sim / "output.manifest"))  # fmt: skip
    # WHEN the README's consolidate command runs on it
    out, report = tmp_path / "consolidated.manifest", tmp_path / "report.html"
    code, stdout, _ = run(
        capsys, "consolidate", str(sim / "output.manifest"), "--task-type",
        "IMAGE_CLASSIFICATION", "--label-attribute", "simulated", "--out", str(out),
        "--report", str(report),
    )  # fmt: skip
    # THEN every object gets its label again
    assert code == 0
    assert f"wrote 30 consolidated line(s) to {out}" in stdout
    assert len(read_jsonl(out)) == 30 and report.is_file()


def test_consolidate_a_worker_response_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reviews.manifest"
    code, stdout, _ = run(
        capsys, "consolidate", str(FIXTURES / "worker-response"), "--task-type",
        "TEXT_CLASSIFICATION", "--label-attribute", "sentiment", "--labels", "Negative",
        "Neutral", "Positive", "--input-manifest", str(FIXTURES / "reviews.input.manifest"),
        "--job-name", "reviews", "--out", str(out),
    )  # fmt: skip
    assert code == 0 and "wrote 3 consolidated line(s)" in stdout
    lines = read_jsonl(out)
    texts = read_jsonl(FIXTURES / "reviews.input.manifest")
    assert [line["source"] for line in lines] == [t["source"] for t in texts]
    assert [line["sentiment"] for line in lines][:2] == [0, 2]
    metadata = [line["sentiment-metadata"] for line in lines]
    assert [m["class-name"] for m in metadata][:2] == ["Negative", "Positive"]
    assert {m["type"] for m in metadata} == {"groundtruth/text-classification"}
    assert all(m["job-name"] == "labeling-job/reviews" for m in metadata)


def _png_size_and_depth(path: Path) -> tuple[int, int, int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height, depth, color = struct.unpack(">IIBB", data[16:26])
    return width, height, depth, color


def test_instance_segmentation_fixture_is_real_shaped() -> None:
    # The sample's format: content is a JSON string; masks are palette PNGs of bit depth 1 or 2.
    depths = []
    for line in read_jsonl(STREET):
        answers = line["street-people"]["annotationsFromAllWorkers"]
        assert len(answers) == 3
        for answer in answers:
            value = json.loads(answer["annotationData"]["content"])["annotatedResult"]
            png = base64.b64decode(value["labeledImage"]["pngImageData"])
            width, height, depth, color = struct.unpack(">IIBB", png[16:26])
            assert (width, height, color) == (64, 48, 3)
            depths.append(depth)
    assert sorted(set(depths)) == [1, 2]


@pytest.mark.skipif(
    not _has_consensus("instance"),
    reason="the instance-segmentation consensus module (consensus/instance.py) is not there yet",
)
def test_consolidate_instance_segmentation_from_the_sample_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN two objects, three workers each; on the first, one worker saw nobody
    out, report = tmp_path / "street.manifest", tmp_path / "street.html"
    # WHEN consolidated
    code, stdout, _ = run(
        capsys, "consolidate", str(STREET), "--task-type", "INSTANCE_SEGMENTATION",
        "--label-attribute", "street-people", "--labels", "Person", "Car",
        "--out", str(out), "--report", str(report),
    )  # fmt: skip
    # THEN one line per input line, each with its consolidated mask written next to the output
    assert code == 0 and "wrote 2 consolidated line(s)" in stdout
    lines = read_jsonl(out)
    assert len(lines) == 2
    for line, expected in zip(lines, (["Person"], ["Car", "Person"])):
        label = line["street-people"]
        assert line["street-people-metadata"]["workers"] == 3
        assert line["street-people-metadata"]["type"] == "gt-constructs/instance-segmentation"
        assert sorted(i["label"] for i in label["instances"]) == expected
        mask = Path(label["label-ref"])
        assert mask.parent == (tmp_path / "street-masks").resolve() and mask.is_file()
        width, height, _, color = _png_size_and_depth(mask)
        assert (width, height, color) == (64, 48, 3)
        assert line["street-people-metadata"]["job-name"] == "labeling-job/street-people"
    assert "<svg" in report.read_text(encoding="utf-8")


# -- report ----------------------------------------------------------------------------


def test_report_is_a_self_contained_page_with_plots_and_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.html"
    code, _, _ = run(
        capsys, "consolidate", str(PETS), "--task-type", "IMAGE_CLASSIFICATION",
        "--label-attribute", "pets", "--labels", *PET_LABELS,
        "--out", str(tmp_path / "out.manifest"), "--report", str(report),
    )  # fmt: skip
    assert code == 0
    html = report.read_text(encoding="utf-8")
    page = Page(html)
    svgs = [a for t, a in page.elements if t == "svg"]
    labels = [a["aria-label"] for a in svgs]
    assert "consolidated labels" in labels and "confidence of consolidated objects" in labels
    # one confusion matrix per worker
    assert sum(1 for name in labels if name.startswith("private.us-east-1.")) == 3
    assert {a.get("id") for t, a in page.elements if t == "table"} >= {
        "summary", "worker-table", "review-table",
    }  # fmt: skip
    for worker in ("private.us-east-1.ana", "private.us-east-1.bo", "private.us-east-1.cy"):
        assert worker in page.text
    # The lowest-confidence objects come with their images where local (3 of the 6 are).
    thumbs = page.with_class("img", "thumb")
    assert len(thumbs) == 3 and all(t["src"].startswith("data:image/png;base64,") for t in thumbs)
    # Nothing is fetched from elsewhere.
    assert not re.search(r"""(src|href)=["']https?://""", html)


LONG_WORKER_ID = "private.us-east-1.3f1c6a2e-91b4-4d0e-b7a5-0c2f9e8d7b6a"
WIDE_WORKER_ID = "public.us-east-1.WWWWWWWWWWWWWWWWWWWWWWWWWWWWWW"


def test_confusion_matrix_titles_hold_the_whole_worker_id() -> None:
    figure = heatmap([[2.0, 1.0], [0.0, 3.0]], ["Cat", "Dog"], title=LONG_WORKER_ID)
    # the whole id, as a caption (HTML wraps it), not shortened with "…" inside the SVG
    assert f"<figcaption>{LONG_WORKER_ID}</figcaption>" in figure
    assert "…" not in figure


@pytest.mark.slow
@needs_chromium
def test_confusion_matrix_titles_are_not_clipped_in_a_browser(tmp_path: Path) -> None:
    # GIVEN a report of a job whose workers have long ids
    manifest = tmp_path / "pets.output.manifest"
    manifest.write_text(
        PETS.read_text(encoding="utf-8")
        .replace("private.us-east-1.ana", LONG_WORKER_ID)
        .replace("private.us-east-1.bo", WIDE_WORKER_ID),
        encoding="utf-8",
    )
    report = tmp_path / "report.html"
    assert main(["consolidate", str(manifest), "--task-type", "IMAGE_CLASSIFICATION",
                 "--label-attribute", "pets", "--labels", *PET_LABELS,
                 "--out", str(tmp_path / "o.manifest"), "--report", str(report)]) == 0  # fmt: skip
    # AND a script that measures each matrix title once the page is laid out
    report.write_text(
        report.read_text(encoding="utf-8").replace(
            "</body>",
            "<script>var seen = [];"
            "document.querySelectorAll('figure.matrix figcaption').forEach(function (c) {"
            "  seen.push({text: c.textContent, clipped: c.scrollWidth > c.clientWidth});"
            "});"
            "document.body.setAttribute('data-titles', JSON.stringify(seen));</script></body>",
        ),
        encoding="utf-8",
    )
    # WHEN Chromium opens it
    dom = Page(dump_dom(report))
    # THEN every title is there whole, and none overflows its box
    titles = json.loads(dom.find("body")[0]["data-titles"])
    assert {t["text"] for t in titles} == {LONG_WORKER_ID, WIDE_WORKER_ID, "private.us-east-1.cy"}
    assert not [t for t in titles if t["clipped"]]


@pytest.mark.slow
@needs_chromium
def test_report_opens_in_a_browser(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    assert main(["consolidate", str(PETS), "--task-type", "IMAGE_CLASSIFICATION",
                 "--label-attribute", "pets", "--out", str(tmp_path / "o.manifest"),
                 "--report", str(report)]) == 0  # fmt: skip
    dom = Page(dump_dom(report))
    assert "Label quality report" in dom.text
    assert len([a for t, a in dom.elements if t == "svg"]) >= 5


# -- simulate --------------------------------------------------------------------------


def test_simulate_classification_recovers_the_workers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "simulate", "--task-type", "IMAGE_CLASSIFICATION", "--objects", "150",
        "--workers", "6", "--spammers", "1", "--seed", "7", "--out", str(tmp_path),
        "--report", str(tmp_path / "report.html"),
    )  # fmt: skip
    assert code == 0
    accuracy = float(re.search(r"against the synthetic truth: accuracy ([0-9.]+)", out)[1])  # type: ignore[index]
    assert accuracy >= 0.8
    assert "spammers flagged: 1 of 1; other workers flagged: 0" in out
    assert len(read_jsonl(tmp_path / "output.manifest")) == 150
    assert len(read_jsonl(tmp_path / "input.manifest")) == 150
    truth = read_jsonl(tmp_path / "truth.jsonl")
    right = sum(
        line["simulated-metadata"]["class-name"] == t["truth"]
        for line, t in zip(read_jsonl(tmp_path / "output.manifest"), truth)
    )
    assert right / 150 == pytest.approx(accuracy, abs=0.001)
    # Recovered agreement per worker: within 0.15 of the true accuracy.
    for row in re.findall(r"sim\d+\s+\d+\s+(0\.\d+)\s+(0\.\d+)", out):
        assert abs(float(row[0]) - float(row[1])) < 0.15
    assert "crowd-image-classifier" in (tmp_path / "task-preview.html").read_text()


def test_simulate_bounding_boxes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "simulate", "--task-type", "BOUNDING_BOX", "--objects", "60", "--workers", "5",
        "--spammers", "1", "--seed", "3", "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0
    precision = float(re.search(r"precision ([0-9.]+)", out)[1])  # type: ignore[index]
    assert precision >= 0.8
    assert "spammers flagged: 1 of 1" in out
    lines = read_jsonl(tmp_path / "output.manifest")
    assert len(lines) == 60
    assert all(line["simulated"]["image_size"][0]["width"] == 640 for line in lines)


@pytest.mark.skipif(
    not _has_consensus("multilabel"),
    reason="the multi-label consensus module (consensus/multilabel.py) is not there yet",
)
def test_simulate_multi_label(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "simulate", "--task-type", "TEXT_MULTI_LABEL", "--objects", "80", "--workers", "5",
        "--seed", "2", "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0
    decisions = float(re.search(r"label decisions right ([0-9.]+)", out)[1])  # type: ignore[index]
    assert decisions >= 0.8
    assert len(read_jsonl(tmp_path / "output.manifest")) == 80


def test_fails_when_simulate_gets_more_spammers_than_workers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "simulate", "--task-type", "IMAGE_CLASSIFICATION", "--objects", "5",
        "--workers", "3", "--spammers", "4", "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 1 and "--spammers must be between 0 and --workers (3), got 4" in err


def test_python_dash_m_runs_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gt_constructs", "validate", "default", "--task-type", "BOUNDING_BOX"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "bounding-box" in result.stdout


def test_preview_of_a_template_with_problems_is_written_with_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template, out = tmp_path / "draft.html", tmp_path / "draft-preview.html"
    template.write_text(
        '<crowd-form>\n  <crowd-classifier categories="{{ task.input.labels | to_json | escape }}"'
        ' header="Tone?">\n    <classification-target>{{ task.input.taskObject }}'
        "</classification-target>\n  </crowd-classifier>\n</crowd-form>\n",
        encoding="utf-8",
    )
    code, _, err = run(
        capsys, "preview", str(template), "--data-object", '{"source": "Nice!"}',
        "--labels", "Happy", "Sad", "--out", str(out),
    )  # fmt: skip
    assert code == 0
    assert f"warning: {template}:2: <crowd-classifier> has no name attribute" in err
    assert f"warning: {template}:1: the Crowd HTML Elements script is not loaded" in err
    page = Page(out.read_text(encoding="utf-8"))
    assert json.loads(page.find("crowd-classifier")[0]["categories"]) == ["Happy", "Sad"]
    assert "Nice!" in page.text


# -- messages, not tracebacks; exit codes as documented (issue 17.20, 17.21) -----------------


def test_fails_when_the_input_manifest_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "input.manifest"
    code, out, err = run(
        capsys, "consolidate", str(FIXTURES / "worker-response"), "--task-type",
        "TEXT_CLASSIFICATION", "--label-attribute", "sentiment", "--input-manifest",
        str(missing), "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert code == 1 and out == ""
    assert err.strip() == (
        f"gt-constructs consolidate: --input-manifest {missing}: cannot read it "
        "(No such file or directory)"
    )


@pytest.mark.parametrize("command", ["validate", "preview"])
def test_fails_when_a_template_is_not_utf8_naming_its_line(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a template saved in Latin-1, with an é on line 3
    template = tmp_path / "latin1.html"
    template.write_bytes(
        b'<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>\n'
        b"<crowd-form>\n<p>Caf\xe9</p>\n</crowd-form>\n"
    )
    extra = ["--data-object", '{"source": "x"}', "--out", str(tmp_path / "p.html")]
    # WHEN the command reads it
    code, _, err = run(capsys, command, str(template), *(extra if command == "preview" else []))
    # THEN one message names the file, the line and the byte, and no traceback
    assert code == 1
    assert f"{template}:3: not UTF-8 text (byte 0xe9 at offset 91)" in err
    assert "Traceback" not in err


def test_fails_when_a_template_file_is_not_utf8_at_synth(tmp_path: Path) -> None:
    from gt_constructs.template import TemplateError, WorkerTemplate

    template = tmp_path / "t.html"
    template.write_bytes(b"<p>\xff</p>")
    with pytest.raises(TemplateError, match=r"t.html:1: not UTF-8 text \(byte 0xff at offset 3\)"):
        WorkerTemplate.from_file(template)


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["--answer-name", "label"], "answer has no 'label' element (keys: annotatedResult)"),
        (["--task-type", "BOUNDING_BOX"], "left out: "),
    ],
)
def test_fails_when_no_answer_at_all_is_usable_and_writes_nothing(
    args: list[str], why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN answers read under the wrong answer name, or as the wrong task type
    out = tmp_path / "consolidated.manifest"
    options = {"--task-type": "IMAGE_CLASSIFICATION", **dict(zip(args[::2], args[1::2]))}
    # WHEN consolidate runs
    code, stdout, err = run(
        capsys, "consolidate", str(PETS), "--label-attribute", "pets", "--labels", *PET_LABELS,
        "--out", str(out), *[item for pair in options.items() for item in pair],
    )  # fmt: skip
    # THEN it fails as docs/workbench.md says: exit 1, nothing written, the first reason
    assert code == 1 and stdout == ""
    message = err.strip().splitlines()[-1]
    assert message.startswith("gt-constructs consolidate: nothing consolidated: not one of the")
    assert why in message and "nothing was written" in message
    assert not out.exists() and not list(tmp_path.iterdir())


def test_fails_when_simulate_does_not_support_the_task_type_before_anything_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "simulate", "--task-type", "INSTANCE_SEGMENTATION", "--objects", "5",
        "--workers", "3", "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 1
    assert err.strip() == (
        "gt-constructs simulate: simulate does not support INSTANCE_SEGMENTATION yet; "
        "supported: IMAGE_CLASSIFICATION, TEXT_CLASSIFICATION, IMAGE_MULTI_LABEL, "
        "TEXT_MULTI_LABEL, BOUNDING_BOX, NAMED_ENTITY"
    )


def test_fails_when_the_label_category_file_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "p.html"
    code, _, err = run(
        capsys, "preview", "default", "--task-type", "TEXT_CLASSIFICATION",
        "--data-object", '{"source": "x"}', "--labels", "missing.json", "--out", str(out),
    )  # fmt: skip
    assert code == 1
    assert "--labels missing.json: no such label category file" in err
    assert not out.exists()


def test_validate_says_which_flag_picks_the_answer_element(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = tmp_path / "two.html"
    template.write_text(
        '<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>\n<crowd-form>\n'
        '<crowd-classifier name="a"></crowd-classifier>\n'
        '<crowd-classifier name="b"></crowd-classifier>\n</crowd-form>\n',
        encoding="utf-8",
    )
    code, _, err = run(capsys, "validate", str(template))
    assert code == 1
    assert "say which one holds the answer with --answer-name" in err
    assert "answer_name" not in err.replace("--answer-name", "")
    code, stdout, _ = run(capsys, "validate", str(template), "--answer-name", "b")
    assert code == 0 and "answer element 'b'" in stdout


@pytest.mark.parametrize("command", ["validate", "preview"])
def test_default_without_a_task_type_names_the_flag(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = ["--data-object", '{"source": "x"}', "--out", str(tmp_path / "p.html")]
    code, _, err = run(capsys, command, "default", *(extra if command == "preview" else []))
    assert code == 1
    assert "give --task-type (" in err and "IMAGE_CLASSIFICATION" in err
    assert "WorkerTemplate" not in err and "template=" not in err


def test_report_shows_counts_as_whole_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.html"
    code, _, _ = run(
        capsys, "consolidate", str(PETS), "--task-type", "IMAGE_CLASSIFICATION",
        "--label-attribute", "pets", "--labels", *PET_LABELS, "--out", str(tmp_path / "o"),
        "--report", str(report),
    )  # fmt: skip
    assert code == 0
    html = report.read_text(encoding="utf-8")
    table = html[html.index('<table id="worker-table">') :]
    table = table[: table.index("</table>")]
    cells = re.findall(r"<td class=num>([^<]*?)\s*(?:<span|</td>)", table)
    counts = cells[0::4] + cells[1::4]  # answers, scored
    assert counts and all(re.fullmatch(r"\d+", c) for c in counts), counts
    assert not re.search(r"answered [^:<]+: \d+\.0 ", html)


@pytest.mark.slow
@needs_chromium
def test_preview_gives_a_top_level_entity_annotation_its_submit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the default named-entity template: crowd-entity-annotation without a crowd-form
    out = tmp_path / "ner.html"
    code, _, _ = run(
        capsys, "preview", "default", "--task-type", "NAMED_ENTITY", "--data-object",
        '{"source": "Ana Silva flew to Osaka."}', "--labels", "PER", "LOC", "--out", str(out),
        "--offline",
    )  # fmt: skip
    assert code == 0
    # WHEN the stand-in draws it
    dom = Page(dump_dom(out))
    # THEN the element has the Submit button the real element brings
    assert len(dom.with_class("button", "gtw-submit")) == 1
    assert "Ana Silva flew to Osaka." in " ".join(dom.text)
