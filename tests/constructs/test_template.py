"""WorkerTemplate: synth-time checks with line numbers, and rendering like Ground Truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from gt_constructs.consolidation import Consolidation
from gt_constructs.task_type import TaskType
from gt_constructs.template import TemplateError, WorkerTemplate

SCRIPT = '<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>'
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "street-people.liquid.html"


@pytest.mark.parametrize("task_type", [t for t in TaskType if t is not TaskType.CUSTOM])
def test_every_default_template_validates_and_names_its_answer(task_type: TaskType) -> None:
    # GIVEN the library's template for the task type
    template = WorkerTemplate.for_task_type(task_type)
    # WHEN it is checked against the task type's default consolidation
    answer = template.validate(Consolidation.for_task_type(task_type))
    # THEN the answer element is found and the page holds short and full instructions
    assert answer == "annotatedResult"
    assert "<full-instructions" in template.text and "<short-instructions" in template.text


@pytest.mark.parametrize("task_type", [t for t in TaskType if t is not TaskType.CUSTOM])
def test_default_templates_render_labels_and_task_object(task_type: TaskType) -> None:
    template = WorkerTemplate.for_task_type(task_type)
    html = template.render(
        {
            "taskObject": "s3://bucket/a.jpg"
            if task_type.data_kind.value == "image"
            else "Ann met Bo",
            "labels": ["Cat", "Dog"],
        },
        grant_read_access=lambda uri: uri.replace("s3://", "https://signed.example/"),
    )
    assert "Cat" in html and "Dog" in html
    if task_type.data_kind.value == "image":
        assert 'src="https://signed.example/bucket/a.jpg"' in html
    else:
        assert "Ann met Bo" in html


def test_the_example_template_validates_for_instance_segmentation() -> None:
    template = WorkerTemplate.from_file(EXAMPLE)
    assert template.validate(Consolidation.instance_segmentation()) == "annotatedResult"


def test_output_is_auto_escaped_and_skip_autoescape_is_raw() -> None:
    template = WorkerTemplate.from_string(
        "<p>{{ task.input.a }}</p><p>{{ task.input.a | skip_autoescape }}</p>"
    )
    html = template.render({"a": "<b>x</b>"})
    assert "<p>&lt;b&gt;x&lt;/b&gt;</p>" in html
    assert "<p><b>x</b></p>" in html


def test_to_json_renders_json_escaped_for_attributes() -> None:
    html = WorkerTemplate.from_string('<x labels="{{ task.input.l | to_json }}">').render(
        {"l": ["a", "b"]}
    )
    assert html == '<x labels="[&#34;a&#34;, &#34;b&#34;]">'


def test_fails_when_liquid_does_not_parse_with_the_line() -> None:
    text = f"{SCRIPT}\n<crowd-form>\n{{% if %}}\n</crowd-form>"
    with pytest.raises(TemplateError) as error:
        WorkerTemplate.from_string(text, source="t.html").validate(Consolidation.all_annotations())
    assert "t.html:3: Liquid syntax error" in str(error.value)


def test_fails_when_a_filter_is_unknown_naming_the_allowed_ones() -> None:
    text = f"{SCRIPT}\n<crowd-form>\n\n{{{{ task.input.x | sign_url }}}}\n</crowd-form>"
    with pytest.raises(TemplateError) as error:
        WorkerTemplate.from_string(text, source="t.html").validate(Consolidation.all_annotations())
    message = str(error.value)
    assert "t.html:4: unknown Liquid filter 'sign_url'" in message
    assert "grant_read_access" in message


def test_fails_when_there_is_no_crowd_form() -> None:
    with pytest.raises(TemplateError, match="no <crowd-form> element"):
        WorkerTemplate.from_string(f"{SCRIPT}<p>hi</p>").validate(Consolidation.all_annotations())


def test_fails_when_the_crowd_elements_script_is_missing() -> None:
    with pytest.raises(TemplateError, match="Crowd HTML Elements script is not loaded"):
        WorkerTemplate.from_string("<crowd-form></crowd-form>").validate(
            Consolidation.all_annotations()
        )


def test_fails_when_the_answer_element_has_no_name_with_its_line() -> None:
    text = (
        f"{SCRIPT}\n<crowd-form>\n<crowd-bounding-box src='x'></crowd-bounding-box>\n</crowd-form>"
    )
    with pytest.raises(TemplateError) as error:
        WorkerTemplate.from_string(text, source="b.html").validate(Consolidation.bounding_boxes())
    assert "b.html:3: <crowd-bounding-box> has no name attribute" in str(error.value)


def test_fails_when_the_consolidation_reads_another_name() -> None:
    text = (
        f'{SCRIPT}\n<crowd-form><crowd-classifier name="category"></crowd-classifier></crowd-form>'
    )
    with pytest.raises(TemplateError, match=r"reads the answer 'label' but .*found: category"):
        WorkerTemplate.from_string(text).validate(Consolidation.dawid_skene(answer_name="label"))


def test_fails_when_two_answer_elements_are_ambiguous() -> None:
    text = (
        f'{SCRIPT}\n<crowd-form>\n<crowd-classifier name="a"></crowd-classifier>\n'
        '<crowd-classifier name="b"></crowd-classifier>\n</crowd-form>'
    )
    with pytest.raises(TemplateError, match=r"4: several .* say which one"):
        WorkerTemplate.from_string(text).validate(Consolidation.majority_vote())


def test_answer_name_picks_one_of_several_elements() -> None:
    text = (
        f'{SCRIPT}\n<crowd-form>\n<crowd-classifier name="a"></crowd-classifier>\n'
        '<crowd-classifier name="b"></crowd-classifier>\n</crowd-form>'
    )
    assert (
        WorkerTemplate.from_string(text).validate(Consolidation.majority_vote(answer_name="b"))
        == "b"
    )


def test_fails_when_a_template_file_is_missing(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="cannot read the file"):
        WorkerTemplate.from_file(tmp_path / "nope.html")


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(TemplateError) as error:
        WorkerTemplate.from_string("{{ x | nope }}").validate(Consolidation.dawid_skene())
    assert len(error.value.problems) == 4


# -- Liquid syntax errors name their real line (13.5) ---------------------------------------
@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("<p>a</p>\n\n{{ task.input.x | }}", 5),  # an expression that ends too early
        ("{% for x in %}{% endfor %}", 3),
        ("{% if task.input.a %}\nb\n{% if b == %}\n{% endif %}{% endif %}", 5),
        ("\n\n{% assign = 1 %}", 5),
    ],
)
def test_fails_when_liquid_has_a_syntax_error_naming_its_real_line(body: str, line: int) -> None:
    # GIVEN a template whose Liquid breaks below line 1
    text = f"{SCRIPT}\n<crowd-form>\n{body}\n</crowd-form>"
    # WHEN validated
    with pytest.raises(TemplateError) as error:
        WorkerTemplate.from_string(text, source="t.html").validate(Consolidation.all_annotations())
    # THEN the problem names the line of the broken markup, not line 1
    assert [p.split(":", 1)[0] for p in error.value.problems] == [str(line)]
    assert "Liquid syntax error" in error.value.problems[0]


# -- task.input keys the pre-annotation output will not have (item 4) -----------------------
def template_reading(*reads: str) -> WorkerTemplate:
    body = "\n".join(reads)
    return WorkerTemplate.from_string(
        f'{SCRIPT}\n<crowd-form>\n{body}\n<crowd-classifier name="c"></crowd-classifier>\n'
        "</crowd-form>",
        source="w.html",
    )


def test_warns_with_the_line_when_a_template_reads_a_key_the_task_input_lacks() -> None:
    # GIVEN a template that reads an attribute nobody said the manifest has
    template = template_reading(
        "<p>{{ task.input.taskObject }}</p>", "<p>{{ task.input.review }}</p>"
    )
    # WHEN validated with a warnings list
    warnings: list[str] = []
    answer = template.validate(Consolidation.majority_vote(), warnings=warnings)
    # THEN it is valid, and the one unknown read is a warning naming its line
    assert answer == "c"
    assert len(warnings) == 1 and warnings[0].startswith("4: the template reads task.input.review")
    assert "taskObject, labels, manifestLine" in warnings[0]


def test_known_keys_and_guarded_reads_are_not_warned_about() -> None:
    template = template_reading(
        "{{ task.input.taskObject }}{{ task.input.labels | to_json }}",
        "{{ task.input.manifestLine['pets-metadata']['class-map'] | to_json }}",
        "{{ task.input.source }}{{ task.input['source-ref'] }}",
        "{{ task.input.header | default: 'Classify' }}",
        "{% if task.input.hint %}{{ task.input.hint }}{% endif %}",
        "{{ task.input | to_json }}",
    )
    warnings = template.task_input_warnings()
    # The {% if %} test is guarded; the read inside it is not, and is warned about once.
    assert [w.split(":", 1)[0] for w in warnings] == ["7"]
    assert template.task_input_warnings(manifest_attributes=["hint"]) == []


def test_the_data_kind_decides_between_source_and_source_ref() -> None:
    template = template_reading("{{ task.input.source }}")
    assert template.task_input_warnings(task_type=TaskType.TEXT_CLASSIFICATION) == []
    (warning,) = template.task_input_warnings(task_type=TaskType.IMAGE_CLASSIFICATION)
    assert "IMAGE_CLASSIFICATION data object has 'source-ref', not 'source'" in warning


def test_manifest_attributes_given_are_known_and_named_in_the_warning() -> None:
    template = template_reading("{{ task.input.camera }}", "{{ task.input.lens }}")
    (warning,) = template.task_input_warnings(manifest_attributes=["camera", "source-ref"])
    assert warning.startswith("4: the template reads task.input.lens")
    assert "the manifest attributes are camera, source-ref" in warning


@pytest.mark.parametrize("task_type", [t for t in TaskType if t is not TaskType.CUSTOM])
def test_default_templates_read_only_what_the_task_input_has(task_type: TaskType) -> None:
    warnings: list[str] = []
    WorkerTemplate.for_task_type(task_type).validate(
        Consolidation.for_task_type(task_type), warnings=warnings, task_type=task_type
    )
    assert warnings == []
