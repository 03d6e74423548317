"""A chained (adjustment) job reads our bounding-box output the way AWS's templates do."""

from __future__ import annotations

import json
from typing import Any

from gt_annotation.post_annotation import Settings, consolidate_batch
from gt_annotation.pre_annotation import build_task_input

from gt_constructs.consolidation import Consolidation
from gt_constructs.template import WorkerTemplate

# The lookup AWS's adjustment templates make: class_id captured as a string, then
# manifestLine["<attr>-metadata"]["class-map"][class_id].
ADJUSTMENT = """<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <crowd-bounding-box name="annotatedResult" src="{{ task.input.taskObject | grant_read_access }}"
    labels="{{ task.input.labels | to_json | escape }}"
    initial-value="[{% for box in task.input.manifestLine['street-cars'].annotations %}{% capture class_id %}{{ box.class_id }}{% endcapture %}{% assign name = task.input.manifestLine['street-cars-metadata']['class-map'][class_id] %}{label: {{ name | to_json }}, left: {{ box.left }}, top: {{ box.top }}, width: {{ box.width }}, height: {{ box.height }}}{% unless forloop.last %}, {% endunless %}{% endfor %}]">
  </crowd-bounding-box>
</crowd-form>
"""


def box(label: str, left: int, top: int) -> dict[str, Any]:
    return {"label": label, "left": left, "top": top, "width": 40, "height": 30}


def test_an_adjustment_template_renders_the_class_names_of_our_box_output() -> None:
    # GIVEN our bounding-box consolidation of one image
    answer = {
        "boundingBoxes": [box("Bus", 10, 10), box("Car", 100, 50)],
        "inputImageProperties": {"width": 640, "height": 480},
    }
    payload = [
        {
            "datasetObjectId": "0",
            "dataObject": {"s3Uri": "s3://in/street-1.jpg"},
            "annotations": [
                {"workerId": w, "annotationData": {"content": json.dumps({"b": answer})}}
                for w in ("w1", "w2")
            ],
        }
    ]
    response, _, _ = consolidate_batch(
        payload,
        Settings(task_type="BOUNDING_BOX", answer_name="b", method="bounding-box"),
        labels=["Car", "Bus"],
        label_attribute_name="street-cars",
        scope="s",
        job="street-cars",
    )
    # AND the output manifest line Ground Truth writes from it
    line = {
        "source-ref": "s3://in/street-1.jpg",
        **response[0]["consolidatedAnnotation"]["content"],
    }
    # WHEN the adjustment job's pre-annotation function and template take that line
    task_input = build_task_input(line, ["Car", "Bus"])["taskInput"]
    template = WorkerTemplate.from_string(ADJUSTMENT)
    warnings: list[str] = []
    template.validate(
        Consolidation.bounding_boxes(), warnings=warnings, manifest_attributes=list(line)
    )
    html = template.render(task_input)
    # THEN every box shows its class name, none is left undefined
    assert "{label: &#34;Bus&#34;, left: 10, top: 10" in html
    assert "{label: &#34;Car&#34;, left: 100, top: 50" in html
    assert "label: ," not in html and "undefined" not in html
    assert warnings == []
