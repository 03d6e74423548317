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


# -- templates AWS publishes (issue 17.15) ----------------------------------------------------
V2_SCRIPT = '<script src="https://assets.crowd.aws/crowd-html-elements-v2.js"></script>'

#: Written for these tests in the structure of AWS's named-entity template: the
#: self-contained <crowd-entity-annotation> at the top level, no <crowd-form>.
TOP_LEVEL_ENTITIES = f"""{SCRIPT}

<crowd-entity-annotation
  name="entities"
  header="Mark the people and places"
  labels="{{{{ task.input.labels | to_json | escape }}}}"
  text="{{{{ task.input.taskObject | escape }}}}"
>
  <full-instructions header="How to mark">Choose a type, then select the words.</full-instructions>
  <short-instructions>Mark every person and place.</short-instructions>
</crowd-entity-annotation>
"""

#: In the structure of AWS's generative-AI templates: the V2 script and a V2 element.
V2_RANKING = f"""{V2_SCRIPT}
<crowd-form>
  <crowd-text-ranking
    name="ranking"
    ordinal-ranking-dimensions='[{{"name": "Helpfulness", "allowTie": false}}]'
    text="{{{{ task.input.taskObject | escape }}}}"
    responses="{{{{ task.input.manifestLine.responses | to_json | escape }}}}"
  >
    <short-instructions>Rank the answers, most helpful first.</short-instructions>
  </crowd-text-ranking>
</crowd-form>
"""


def test_a_self_submitting_element_needs_no_crowd_form() -> None:
    # GIVEN a named-entity template laid out as AWS publishes it (no <crowd-form>)
    template = WorkerTemplate.from_string(TOP_LEVEL_ENTITIES, source="ner.html")
    # WHEN validated for the named-entity consolidation
    warnings: list[str] = []
    answer = template.validate(
        Consolidation.named_entities(), warnings=warnings, task_type=TaskType.NAMED_ENTITY
    )
    # THEN it is valid, with nothing to warn about
    assert answer == "entities"
    assert warnings == []


def test_a_self_submitting_element_inside_a_crowd_form_is_warned_about() -> None:
    text = TOP_LEVEL_ENTITIES.replace(
        "\n<crowd-entity-annotation", "\n<crowd-form>\n<crowd-entity-annotation"
    )
    text = text.replace("</crowd-entity-annotation>", "</crowd-entity-annotation>\n</crowd-form>")
    warnings: list[str] = []
    WorkerTemplate.from_string(text).validate(Consolidation.named_entities(), warnings=warnings)
    assert len(warnings) == 1
    assert warnings[0].startswith("4: <crowd-entity-annotation> submits itself")
    assert "(line 3)" in warnings[0]


def test_fails_when_nothing_submits_the_answer_naming_what_would() -> None:
    # A classifier submits nothing by itself: without a <crowd-form> the answer never leaves.
    text = f'{SCRIPT}\n<crowd-classifier name="c" categories="[]"></crowd-classifier>'
    with pytest.raises(TemplateError) as error:
        WorkerTemplate.from_string(text).validate(Consolidation.majority_vote())
    (problem,) = error.value.problems
    assert problem.startswith("1: no <crowd-form> element")
    assert "<crowd-entity-annotation>" in problem


def test_the_generative_ai_script_and_elements_validate() -> None:
    # GIVEN a template in the structure of AWS's generative-AI templates (V2 script)
    template = WorkerTemplate.from_string(V2_RANKING, source="rank.html")
    # WHEN validated (raw answers: the ranking is kept as the workers gave it)
    warnings: list[str] = []
    answer = template.validate(Consolidation.all_annotations(), warnings=warnings)
    # THEN it passes, with no warning
    assert answer is None
    assert warnings == []


def test_fails_when_a_v2_element_is_used_with_the_v1_script_only() -> None:
    text = V2_RANKING.replace(V2_SCRIPT, SCRIPT)
    with pytest.raises(TemplateError) as error:
        WorkerTemplate.from_string(text).validate(Consolidation.all_annotations())
    (problem,) = error.value.problems
    assert problem.startswith("3: <crowd-text-ranking> is a Crowd HTML Elements V2 element")
    assert "crowd-html-elements-v2.js" in problem


def test_v1_widgets_beside_v2_elements_are_warned_about() -> None:
    text = V2_RANKING.replace(
        "</crowd-form>",
        '<crowd-classifier name="c" categories="[]"></crowd-classifier>\n</crowd-form>',
    )
    warnings: list[str] = []
    WorkerTemplate.from_string(text).validate(Consolidation.all_annotations(), warnings=warnings)
    assert len(warnings) == 1 and "also uses <crowd-classifier>" in warnings[0]


def test_fails_when_no_crowd_elements_script_is_loaded_naming_both() -> None:
    text = V2_RANKING.replace(V2_SCRIPT, '<script src="https://example.com/crowd.js"></script>')
    with pytest.raises(TemplateError) as error:
        WorkerTemplate.from_string(text).validate(Consolidation.all_annotations())
    (problem,) = error.value.problems
    assert "crowd-html-elements.js" in problem and "crowd-html-elements-v2.js" in problem


def test_the_default_named_entity_template_follows_aws_layout() -> None:
    # AWS documents <crowd-entity-annotation> as a self-contained widget: no <crowd-form>.
    template = WorkerTemplate.for_task_type(TaskType.NAMED_ENTITY)
    warnings: list[str] = []
    template.validate(Consolidation.named_entities(), warnings=warnings)
    assert "<crowd-form" not in template.text
    assert warnings == []


# -- an unclosed block names the line of its opening tag (issue 17.16) ------------------------
@pytest.mark.parametrize(
    ("body", "tag", "line"),
    [
        ("{% if task.input.a %}\n<p>a</p>", "if", 3),
        ("<p>a</p>\n{% for x in task.input.labels %}\n{{ x }}", "for", 4),
        ("{% if a %}\n{% if b %}b{% endif %}\n<p>c</p>", "if", 3),
        ("{% if a %}{% endif %}\n{% capture c %}\nx", "capture", 4),
        ("{% case a %}\n{% when 1 %}one", "case", 3),
        ("{% if a %}{% raw %}{% endif %}{% endraw %}\n", "if", 3),
    ],
)
def test_fails_when_a_block_is_never_closed_naming_the_line_that_opens_it(
    body: str, tag: str, line: int
) -> None:
    # GIVEN a template whose block tag opened below line 1 is never closed
    text = f"{SCRIPT}\n<crowd-form>\n{body}\n</crowd-form>"
    # WHEN validated
    with pytest.raises(TemplateError) as error:
        WorkerTemplate.from_string(text, source="t.html").validate(Consolidation.all_annotations())
    # THEN the one problem names the line of the opening tag and the end tag to add
    (problem,) = error.value.problems
    assert problem.startswith(f"{line}: Liquid syntax error: the {{% {tag} %}} tag opened here")
    assert f"{{% end{tag} %}}" in problem
