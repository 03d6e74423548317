"""``gt-constructs preview``: the worker task as a self-contained HTML page.

The data object goes through the pre-annotation function's own code
(``build_task_input``), the template through ``WorkerTemplate.render`` with
Ground Truth's filters; ``grant_read_access`` maps ``s3://`` to a local copy or
a placeholder. The page loads the real Crowd HTML Elements when it can
(``--crowd-elements-url``, default Ground Truth's own script) and otherwise, e.g.
offline or with ``--offline``, uses a small stand-in (``crowd-stand-in.js`` beside
this module) that draws the common elements; a banner on the page says which.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from liquid.exceptions import LiquidError

from ..consolidation import Consolidation
from ..lambda_src.gt_annotation.pre_annotation import DataObjectError, build_task_input
from ..task_type import DataKind, TaskType
from ..template import CROWD_ELEMENTS_SCRIPT, TemplateError, WorkerTemplate
from .common import (
    LocalFiles,
    WorkbenchError,
    chromium_missing_message,
    find_chromium,
    parse_labels,
    parse_task_type,
    say,
    screenshot,
)

_SCRIPT_TAG = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*[\"']"
    + re.escape(CROWD_ELEMENTS_SCRIPT)
    + r"[\"'][^>]*>\s*</script>",
    re.IGNORECASE,
)
#: Stand-in for ``source-ref`` values that are local paths (the pre-annotation
#: function only takes ``s3://``); the local path is put back afterwards.
_LOCAL_BUCKET = "s3://local-file/"


#: Overrides the default of ``--crowd-elements-url`` (a mirror, or a local copy).
ELEMENTS_URL_VARIABLE = "GT_CROWD_ELEMENTS_URL"
#: How long the page waits for the real elements before it uses the stand-in.
ELEMENTS_TIMEOUT_SECONDS = 10


def _asset(name: str) -> str:
    return (importlib.resources.files("gt_constructs.workbench") / name).read_text(encoding="utf-8")


def stand_in_assets() -> tuple[str, str]:
    """The stand-in's (CSS, JavaScript)."""
    return _asset("crowd-stand-in.css"), _asset("crowd-stand-in.js")


def default_elements_url() -> str:
    """Where the page loads the real Crowd HTML Elements from (``GT_CROWD_ELEMENTS_URL`` overrides)."""
    return os.environ.get(ELEMENTS_URL_VARIABLE) or CROWD_ELEMENTS_SCRIPT


def load_template(spec: str, task_type: TaskType) -> WorkerTemplate:
    """``default`` (the task type's template) or a file path."""
    if spec == "default":
        if task_type.template_file is None:
            with_one = ", ".join(t.value for t in TaskType if t.template_file is not None)
            raise WorkbenchError(
                f"'default' is the library's template of a task type: give --task-type "
                f"({with_one}); {task_type.value} tasks have none, give your template's path"
            )
        return WorkerTemplate.for_task_type(task_type)
    path = Path(spec)
    if not path.is_file():
        raise WorkbenchError(
            f"template {spec!r} is not a file: give a template path or 'default' "
            "(the task type's template)"
        )
    return WorkerTemplate.from_file(path)


def infer_task_type(template: WorkerTemplate) -> TaskType:
    """The task type whose answer element the template holds (CUSTOM when none)."""
    for task_type in TaskType:
        element = task_type.element
        if element and re.search(rf"<{re.escape(element)}[\s>]", template.text):
            return task_type
    return TaskType.CUSTOM


def read_manifest_line(path: Path, number: int) -> dict[str, Any]:
    """Line ``number`` (1-based) of a JSON Lines manifest, as a data object."""
    if number < 1:
        raise WorkbenchError(f"--line must be 1 or more, got {number}")
    count = 0
    found: str | None = None
    try:
        with path.open(encoding="utf-8") as lines:
            for count, text in enumerate(lines, start=1):
                if count == number:
                    found = text
                    break
    except OSError as error:
        raise WorkbenchError(f"cannot read the manifest {path}: {error.strerror}") from None
    if found is None:
        raise WorkbenchError(f"--line {number}: {path} has only {count} line(s)")
    return parse_data_object(found, f"{path}:{number}")


def parse_data_object(text: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise WorkbenchError(f"{where}: not JSON ({error})") from None
    if not isinstance(value, dict):
        raise WorkbenchError(
            f'{where}: a data object is a JSON object with "source-ref" or "source", '
            f"got {type(value).__name__}"
        )
    return value


@dataclass
class Preview:
    html: str
    task_input: dict[str, Any]
    answer_name: str | None
    human_required: bool
    #: Template problems (``file:line: message``); the page is written anyway.
    problems: list[str] = field(default_factory=list)


def task_input_for(
    data_object: Mapping[str, Any], labels: Sequence[str] | None
) -> tuple[dict[str, Any], bool]:
    """The pre-annotation function's taskInput for a data object (local paths allowed)."""
    source = data_object.get("source-ref")
    local_path = isinstance(source, str) and not source.startswith("s3://")
    given = dict(data_object)
    if local_path:
        given["source-ref"] = _LOCAL_BUCKET + str(source).lstrip("/")
    try:
        response = build_task_input(given, list(labels) if labels is not None else None)
    except DataObjectError as error:
        raise WorkbenchError(
            f"the pre-annotation function rejects the data object: {error}"
        ) from None
    task_input: dict[str, Any] = response["taskInput"]
    if local_path:
        task_input["taskObject"] = source
    return task_input, bool(response["isHumanAnnotationRequired"])


def render_preview(
    template: WorkerTemplate,
    task_type: TaskType,
    data_object: Mapping[str, Any],
    *,
    labels: Sequence[str] | None,
    files: LocalFiles,
    elements_url: str | None = CROWD_ELEMENTS_SCRIPT,
) -> Preview:
    """The worker task page: images inlined, the real Crowd HTML Elements or the stand-in.

    ``elements_url`` is the real elements' script the page tries first; ``None``
    (``--offline``): the stand-in only, and the page fetches nothing.
    """
    consolidation = Consolidation.for_task_type(task_type)
    problems: list[str] = []
    try:
        answer_name = template.validate(consolidation)
    except TemplateError as error:  # still worth looking at: shown, and reported
        answer_name, problems = None, [f"{error.source}:{p}" for p in error.problems]
    task_input, required = task_input_for(data_object, labels)
    try:
        body = template.render(task_input, grant_read_access=files.url)
    except LiquidError as error:
        raise WorkbenchError(f"{template.source}: the template does not render: {error}") from None
    css, stand_in = stand_in_assets()
    body, replaced = _SCRIPT_TAG.subn("", body)
    title = f"Preview: {template.source}"
    kind = "text" if task_type.data_kind is DataKind.TEXT else "image"
    if elements_url:
        # What the page says until its script knows (and if scripts do not run).
        status = (
            f"Crowd HTML Elements: loading the real ones from {elements_url}; if they "
            "cannot be loaded, the workbench's offline stand-in draws the task."
        )
    else:
        status = "Crowd HTML Elements: the workbench's offline stand-in (--offline)."
    banner = (
        '<div class="gtw-banner"'
        + ("" if elements_url else ' data-gtw-elements="stand-in"')
        + ">Local preview of <code>"
        + escape(template.source)
        + f"</code> ({escape(task_type.value)}, {kind} task)"
        + ("" if replaced else " (the template does not load crowd-html-elements.js)")
        + (
            ". Pre-annotation: <strong>this object would be skipped</strong> (already labelled)"
            if not required
            else ""
        )
        + f'.<span class="gtw-elements" id="gtw-elements-status">{escape(status)}</span>'
        + "</div>"
    )
    settings = {"url": elements_url or None, "timeoutSeconds": ELEMENTS_TIMEOUT_SECONDS}
    # The stand-in's styles restyle the page: on only when the stand-in is used.
    media = "not all" if elements_url else "all"
    html = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>\n{_asset('preview.css')}\n</style>\n"
        f'<style id="gtw-stand-in-style" media="{media}">\n{css}\n</style>\n'
        "</head>\n<body>\n"
        f"{banner}\n{body}\n"
        f'<script type="application/json" id="gtw-task-input">{_script_json(task_input)}</script>\n'
        f'<script type="application/json" id="gtw-elements">{_script_json(settings)}</script>\n'
        f"<script>\n{stand_in}\n</script>\n"
        f"<script>\n{_asset('crowd-loader.js')}\n</script>\n"
        "</body>\n</html>\n"
    )
    return Preview(html, task_input, answer_name, required, problems)


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(value, default=str).replace("<", "\\u003c").replace(">", "\\u003e")


# -- the command ----------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    task_type = parse_task_type(args.task_type) if args.task_type else None
    template = load_template(args.template, task_type or TaskType.CUSTOM)
    task_type = task_type or infer_task_type(template)
    manifest = Path(args.manifest) if args.manifest else None
    if manifest is not None:
        data_object = read_manifest_line(manifest, args.line)
    else:
        data_object = parse_data_object(args.data_object, "--data-object")
    files = LocalFiles.around(manifest)
    labels = parse_labels(args.labels)
    if labels is None and "labels" not in data_object:
        say("note: no --labels given and the data object has none: the task shows no labels")
    elements_url = None if args.offline else (args.crowd_elements_url or default_elements_url())
    preview = render_preview(
        template, task_type, data_object, labels=labels, files=files, elements_url=elements_url
    )
    for problem in preview.problems:
        say(f"warning: {problem}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(preview.html, encoding="utf-8")
    print(f"wrote {out} ({task_type.value}, answer element {preview.answer_name!r})")
    if elements_url:
        say(
            f"the page uses the real Crowd HTML Elements when it can load {elements_url}, "
            "else the offline stand-in (no drawing tools); its banner says which"
        )
    else:
        say("the page uses the offline stand-in for Crowd HTML Elements (no drawing tools)")
    if args.screenshot:
        if find_chromium() is None:
            say(f"no screenshot: {chromium_missing_message()}")
            return 1
        shot = Path(args.screenshot)
        screenshot(out, shot, width=args.width, height=args.height)
        print(f"wrote {shot} (headless Chromium, {args.width}x{args.height})")
    return 0
