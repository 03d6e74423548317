"""Worker UI templates: load, validate at synth time, render locally.

A Ground Truth worker template is HTML with Liquid and Crowd HTML Elements.
``WorkerTemplate`` checks what would otherwise fail only when a worker opens a
task: the Liquid parses (with Ground Truth's filters registered), the filters
used exist, a ``crowd-form`` is there, and the answer element the
consolidation reads exists with a ``name``. Every problem names its line.

It also warns (``task_input_warnings``, or ``validate(..., warnings=[...])``)
when the template reads ``task.input.<key>`` that the pre-annotation output
will not have. That output is the manifest line's attributes plus the keys of
the contract's ``TASK_INPUT_KEYS`` (``taskObject``, ``labels``,
``manifestLine``). ``source-ref`` / ``source`` are known manifest attributes
(only the one of the task type's data kind, when the task type is given); any
other key is known only when it is among the ``manifest_attributes`` given.
A read guarded by ``| default: ...`` or an ``{% if %}`` / ``{% unless %}`` test
is never warned about: it works without the key.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from liquid import Environment, Markup
from liquid.exceptions import LiquidError

from .consolidation import Consolidation
from .lambda_src.gt_annotation.contract import SOURCE_ATTRIBUTES, TASK_INPUT_KEYS
from .task_type import DataKind, TaskType

CROWD_ELEMENTS_SCRIPT = "https://assets.crowd.aws/crowd-html-elements.js"

#: Filters Ground Truth adds to standard Liquid.
GROUND_TRUTH_FILTERS = ("grant_read_access", "to_json", "escape", "escape_once", "skip_autoescape")


class TemplateError(ValueError):
    """A worker template that Ground Truth would not render or consolidate."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {source}:{p}" for p in problems)
        super().__init__(f"worker template {source} has {len(problems)} problem(s):\n{lines}")


def _to_json(value: Any) -> str:
    return json.dumps(value, default=str)


def _skip_autoescape(value: Any) -> Markup:
    return Markup(str(value))


def make_environment(grant_read_access: Callable[[str], str] | None = None) -> Environment:
    """A python-liquid environment that renders like Ground Truth.

    ``grant_read_access`` turns an ``s3://`` URI into a URL a browser can load;
    Ground Truth presigns it, the local workbench maps it to a file or a
    placeholder. Output is auto-escaped, as in Ground Truth.
    """
    env = Environment(autoescape=True)
    env.filters["grant_read_access"] = grant_read_access or (lambda uri: str(uri))
    env.filters["to_json"] = _to_json
    env.filters["skip_autoescape"] = _skip_autoescape
    # ``escape`` and ``escape_once`` are standard Liquid filters already.
    return env


@dataclass(frozen=True)
class Element:
    tag: str
    attributes: dict[str, str]
    line: int


class _ElementCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {k: v or "" for k, v in attrs}, self.getpos()[0]))

    handle_startendtag = handle_starttag


def _line_of(source: str, index: int) -> int:
    return source.count("\n", 0, max(index, 0)) + 1


#: One Liquid markup block: ``{{ ... }}`` or ``{% ... %}`` (whitespace control included).
_MARKUP = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_TAG_NAME = re.compile(r"\{%-?\s*(\w+)")
#: Block tags, closed when a markup block is parsed alone to find a syntax error's line.
_BLOCK_TAGS = ("if", "unless", "for", "case", "capture", "tablerow", "comment", "raw")
_GUARD_TAGS = ("if", "unless", "elsif")


def _error_message(error: LiquidError) -> str:
    message = getattr(error, "message", None)
    return str(message) if message else str(error).splitlines()[0]


def _syntax_error_line(text: str, error: LiquidError, env: Environment) -> int:
    """The template line of a Liquid syntax error.

    python-liquid gives the position of the token it stopped at; for an
    expression that ends too early (``{{ x | }}``) that token is synthetic and
    has none. Then the markup blocks are parsed one by one, each alone (block
    tags closed), and the first that fails with the same message is the line.
    """
    token = getattr(error, "token", None)
    if token is not None and token.start_index >= 0:
        source = getattr(token, "source", "") or text
        base = 0 if source == text else text.find(source)
        if base >= 0:
            return _line_of(text, base + token.start_index)
    wanted = _error_message(error)
    for block in _MARKUP.finditer(text):
        markup = block.group(0)
        name = _TAG_NAME.match(markup)
        if name and name.group(1) in _BLOCK_TAGS:
            markup += f"{{% end{name.group(1)} %}}"
        try:
            env.from_string(markup)
        except LiquidError as alone:
            if _error_message(alone) == wanted:
                return _line_of(text, block.start())
    return 1


def _is_guarded(text: str, index: int) -> bool:
    """Whether the variable read at ``index`` works without its key: tested by an
    ``if``/``unless``/``elsif`` tag, or followed by a ``default`` filter."""
    start = max(text.rfind("{{", 0, index), text.rfind("{%", 0, index))
    if start < 0:
        return False
    end = text.find("}}" if text.startswith("{{", start) else "%}", index)
    markup = text[start : end if end >= 0 else len(text)]
    name = _TAG_NAME.match(markup)
    if name and name.group(1) in _GUARD_TAGS:
        return True
    return re.search(r"\|\s*default\b", text[index : end if end >= 0 else len(text)]) is not None


class WorkerTemplate:
    """A worker UI template. Create with ``from_file``, ``from_string`` or ``for_task_type``."""

    def __init__(self, text: str, *, source: str) -> None:
        self.text = text
        self.source = source

    @staticmethod
    def from_file(path: str | Path) -> WorkerTemplate:
        """A template read from a file (UTF-8)."""
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as error:
            raise TemplateError(
                str(file), [f"1: cannot read the file ({error.strerror})"]
            ) from error
        return WorkerTemplate(text, source=str(file))

    @staticmethod
    def from_string(text: str, *, source: str = "<inline template>") -> WorkerTemplate:
        """A template given as a string."""
        return WorkerTemplate(text, source=source)

    @staticmethod
    def for_task_type(task_type: TaskType) -> WorkerTemplate:
        """The library's default template for a non-custom task type."""
        if task_type.template_file is None:
            raise ValueError(
                f"task type {task_type.value} has no default template: pass "
                "template=WorkerTemplate.from_file(...) (CUSTOM tasks need your own)"
            )
        resource = importlib.resources.files("gt_constructs.templates") / task_type.template_file
        return WorkerTemplate(
            resource.read_text(encoding="utf-8"),
            source=f"default template {task_type.template_file}",
        )

    # -- validation ----------------------------------------------------------------
    def validate(
        self,
        consolidation: Consolidation,
        *,
        warnings: list[str] | None = None,
        task_type: TaskType | None = None,
        manifest_attributes: Collection[str] | None = None,
    ) -> str | None:
        """Check the template; return the answer element's name (``None``: any, raw answers).

        Raises ``TemplateError`` listing every problem with its line. When
        ``warnings`` is given, what works but probably shows an empty task is
        appended to it (``"<line>: <message>"``, see ``task_input_warnings``);
        the construct turns each into ``Annotations.add_warning_v2``.
        """
        if warnings is not None:
            with contextlib.suppress(LiquidError):  # reported below as a syntax error
                warnings.extend(
                    self.task_input_warnings(
                        task_type=task_type, manifest_attributes=manifest_attributes
                    )
                )
        problems: list[str] = []
        self._check_liquid(problems)
        elements = self._elements(problems)
        if not any(e.tag == "crowd-form" for e in elements):
            problems.append(
                "1: no <crowd-form> element: Ground Truth submits only what a <crowd-form> wraps"
            )
        if not any(
            e.tag == "script" and e.attributes.get("src") == CROWD_ELEMENTS_SCRIPT for e in elements
        ):
            problems.append(
                f"1: the Crowd HTML Elements script is not loaded: add "
                f'<script src="{CROWD_ELEMENTS_SCRIPT}"></script>'
            )
        answer_name = self._answer_name(elements, consolidation, problems)
        if problems:
            raise TemplateError(self.source, problems)
        return answer_name

    def task_input_warnings(
        self,
        *,
        task_type: TaskType | None = None,
        manifest_attributes: Collection[str] | None = None,
    ) -> list[str]:
        """``"<line>: ..."`` for every ``task.input.<key>`` the pre-annotation output lacks.

        Known keys: ``TASK_INPUT_KEYS``, the data object's attribute (``source-ref``
        for image task types, ``source`` for text ones, either for ``CUSTOM`` or
        no task type), and ``manifest_attributes`` when given. Guarded reads
        (``| default``, ``{% if %}``) are fine. Raises ``LiquidError`` when the
        template does not parse.
        """
        sources: tuple[str, ...] = SOURCE_ATTRIBUTES
        if task_type is not None and task_type is not TaskType.CUSTOM:
            sources = ("source-ref",) if task_type.data_kind is DataKind.IMAGE else ("source",)
        known = {*TASK_INPUT_KEYS, *sources, *(manifest_attributes or ())}
        parsed = make_environment().from_string(self.text)
        warnings = []
        for variable in parsed.analyze().variables.get("task", []):
            segments = list(variable.segments)
            if len(segments) < 3 or segments[1] != "input":
                continue
            key = segments[2]
            if not isinstance(key, str) or key in known:
                continue
            index = variable.span.index
            if _is_guarded(self.text, index):
                continue
            if manifest_attributes is not None:
                where = f"the manifest attributes are {', '.join(sorted(manifest_attributes))}"
            else:
                where = f"'{key}' must then be an attribute of every manifest line"
            if key in SOURCE_ATTRIBUTES and task_type is not None:
                where = f"a {task_type.value} data object has {sources[0]!r}, not {key!r}"
            warnings.append(
                f"{_line_of(self.text, index)}: the template reads task.input.{key}, which the "
                f"pre-annotation output may not have: it holds the manifest line's attributes "
                f"and {', '.join(TASK_INPUT_KEYS)} ({where}); the task would show nothing "
                f"there. Guard it (| default: ... or {{% if %}}) or add it to the manifest"
            )
        return warnings

    def _check_liquid(self, problems: list[str]) -> None:
        env = make_environment()
        try:
            parsed = env.from_string(self.text)
        except LiquidError as error:
            line = _syntax_error_line(self.text, error, env)
            problems.append(f"{line}: Liquid syntax error: {_error_message(error)}")
            return
        for name, spans in parsed.analyze().filters.items():
            if name not in env.filters:
                for span in spans:
                    problems.append(
                        f"{_line_of(self.text, span.index)}: unknown Liquid filter '{name}' "
                        f"(Ground Truth adds {', '.join(GROUND_TRUTH_FILTERS)} to the standard ones)"
                    )

    def _elements(self, problems: list[str]) -> list[Element]:
        collector = _ElementCollector()
        try:
            collector.feed(self.text)
            collector.close()
        except Exception as error:  # html.parser is lenient; anything here is worth saying
            problems.append(f"{collector.getpos()[0]}: cannot parse the HTML ({error})")
        return collector.elements

    def _answer_name(
        self, elements: list[Element], consolidation: Consolidation, problems: list[str]
    ) -> str | None:
        wanted = consolidation.elements
        if not wanted:  # raw answers: any element, no name needed
            return consolidation.answer_name
        candidates = [e for e in elements if e.tag in wanted]
        allowed = " or ".join(f"<{t}>" for t in wanted)
        if not candidates:
            problems.append(
                f"1: no {allowed} element, which the '{consolidation.method}' consolidation reads"
            )
            return None
        for element in candidates:
            if not element.attributes.get("name"):
                problems.append(
                    f"{element.line}: <{element.tag}> has no name attribute: the "
                    "worker's answer is stored under that name"
                )
        names = {e.attributes["name"] for e in candidates if e.attributes.get("name")}
        if consolidation.answer_name is not None:
            if consolidation.answer_name not in names:
                found = ", ".join(sorted(names)) or "none"
                problems.append(
                    f"1: the consolidation reads the answer '{consolidation.answer_name}' "
                    f"but no {allowed} element has that name (found: {found})"
                )
            return consolidation.answer_name
        if len(names) > 1:
            problems.append(
                f"{candidates[1].line}: several {allowed} elements "
                f"({', '.join(sorted(names))}): say which one holds the answer "
                "with the consolidation's answer_name"
            )
            return None
        return next(iter(names), None)

    # -- rendering -----------------------------------------------------------------
    def render(
        self,
        task_input: Mapping[str, Any],
        *,
        grant_read_access: Callable[[str], str] | None = None,
    ) -> str:
        """Render as Ground Truth would show it to a worker (``task.input`` = ``task_input``)."""
        env = make_environment(grant_read_access)
        return env.from_string(self.text).render(task={"input": dict(task_input)})
