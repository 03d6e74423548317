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
import importlib.util
import json
import re
import shutil
import struct
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from gt_constructs._workbench_common import dump_dom, find_chromium
from gt_constructs.cli import main
from gt_constructs.template import CROWD_ELEMENTS_SCRIPT

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
         "--labels", *PET_LABELS, "--out", str(out)]
    ) == 0  # fmt: skip
    # WHEN Chromium loads it and runs its scripts
    dom = Page(dump_dom(out))
    # THEN the stand-in drew the task: header, one chip per label, the image, the instructions
    assert dom.find("html", data_gtw_ready="true")
    task = dom.with_class("div", "gtw-task")
    assert len(task) == 1 and task[0]["data-element"] == "crowd-image-classifier"
    assert "Which category best describes this image?" in dom.text
    assert [c["data-label"] for c in dom.with_class("button", "gtw-chip")] == PET_LABELS
    images = dom.with_class("img", "gtw-image")
    assert len(images) == 1 and images[0]["src"].startswith("data:image/png;base64,")
    assert "Image classification instructions" in dom.text
    assert "Submit" in dom.text


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
    code, _, err = run(
        capsys, "consolidate", str(PETS), "--task-type", "IMAGE_CLASSIFICATION",
        "--label-attribute", "animals", "--labels", *PET_LABELS, "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert code == 0  # every line is reported and skipped, none silently
    assert err.count("no 'animals' attribute") == 6
    assert "attributes holding annotationsFromAllWorkers: pets (use --label-attribute)" in err


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
