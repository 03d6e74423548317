"""Worker UI templates: load, validate at synth time, render locally.

A Ground Truth worker template is HTML with Liquid and Crowd HTML Elements.
``WorkerTemplate`` checks what would otherwise fail only when a worker opens a
task: the Liquid parses (with Ground Truth's filters registered), the filters
used exist, something submits the answer (a ``crowd-form``, or an element that
submits itself, such as ``crowd-entity-annotation``), the Crowd HTML Elements
script (v1 or the generative-AI v2) is loaded and defines the elements used,
and the answer element the consolidation reads exists with a ``name``. Every
problem names its line.

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
#: The generative-AI elements' script (Crowd HTML Elements V2).
CROWD_ELEMENTS_V2_SCRIPT = "https://assets.crowd.aws/crowd-html-elements-v2.js"
#: Either script makes a template's Crowd HTML Elements work.
CROWD_ELEMENTS_SCRIPTS = (CROWD_ELEMENTS_SCRIPT, CROWD_ELEMENTS_V2_SCRIPT)

#: Elements with their own form and Submit button. The SageMaker developer guide
#: (Crowd HTML Elements reference) marks ``crowd-entity-annotation`` "Self-contained
#: Widget: do not use it with the crowd-form element", and AWS's named-entity
#: templates put it at the top level. The only element the reference says that of.
SELF_SUBMITTING_ELEMENTS = ("crowd-entity-annotation",)
#: Elements only the V2 script defines (developer guide, "Crowd HTML Elements V2").
V2_ONLY_ELEMENTS = ("crowd-text-ranking", "crowd-question-answer-generation")
#: Elements the reference names as working beside the V2 elements.
V2_COMPATIBLE_ELEMENTS = (
    "crowd-form",
    "short-instructions",
    "crowd-button",
    "crowd-tabs",
    "crowd-tab",
)

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
    unclosed = _unclosed_block(text, _error_message(error))
    if unclosed is not None:
        return _line_of(text, unclosed[1])
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


#: What python-liquid says when the template ends inside a block.
_UNCLOSED = re.compile(r"expected tag end(\w+)|end of expression|never closed")
#: Blocks whose body is not Liquid: the parser looks only for their end tag.
_VERBATIM_TAGS = ("raw", "comment")


def _open_blocks(text: str) -> list[tuple[str, int]]:
    """The block tags still open at the end of ``text``, outermost first: ``(name, index)``."""
    stack: list[tuple[str, int]] = []
    verbatim: str | None = None
    for block in _MARKUP.finditer(text):
        if not block.group(0).startswith("{%"):
            continue
        found = _TAG_NAME.match(block.group(0))
        if not found:
            continue
        name = found.group(1)
        if verbatim is not None:
            if name == f"end{verbatim}":
                stack.pop()
                verbatim = None
            continue
        if name in _BLOCK_TAGS:
            stack.append((name, block.start()))
            verbatim = name if name in _VERBATIM_TAGS else None
        elif name.startswith("end") and name[3:] in _BLOCK_TAGS:
            for depth in range(len(stack) - 1, -1, -1):
                if stack[depth][0] == name[3:]:
                    del stack[depth:]
                    break
    return stack


def _unclosed_block(text: str, message: str) -> tuple[str, int] | None:
    """The block tag a "template ended inside a block" error is about: the innermost open
    one (of the kind the message names, when it names one), or ``None``."""
    wanted = _UNCLOSED.search(message)
    if wanted is None:
        return None
    open_blocks = _open_blocks(text)
    if wanted.group(1):
        open_blocks = [b for b in open_blocks if b[0] == wanted.group(1)] or open_blocks
    return open_blocks[-1] if open_blocks else None


def _syntax_problem(text: str, error: LiquidError, env: Environment) -> str:
    """``"<line>: Liquid syntax error: ..."`` for a template that does not parse."""
    message = _error_message(error)
    unclosed = _unclosed_block(text, message)
    if unclosed is not None:
        name, index = unclosed
        return (
            f"{_line_of(text, index)}: Liquid syntax error: the {{% {name} %}} tag opened "
            f"here is never closed (add {{% end{name} %}}; python-liquid: {message})"
        )
    return f"{_syntax_error_line(text, error, env)}: Liquid syntax error: {message}"


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
            data = file.read_bytes()
        except OSError as error:
            raise TemplateError(
                str(file), [f"1: cannot read the file ({error.strerror})"]
            ) from error
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            raise TemplateError(
                str(file),
                [
                    f"{line}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
                    f"{error.start}): Ground Truth reads templates as UTF-8; save it as UTF-8"
                ],
            ) from None
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
        answer_name_setting: str = "the consolidation's answer_name",
    ) -> str | None:
        """Check the template; return the answer element's name (``None``: any, raw answers).

        Raises ``TemplateError`` listing every problem with its line. When
        ``warnings`` is given, what works but probably shows an empty task is
        appended to it (``"<line>: <message>"``, see ``task_input_warnings``);
        the construct turns each into ``Annotations.add_warning_v2``.
        ``answer_name_setting`` is how the messages name the setting that picks the
        answer element (the command line says ``--answer-name``).
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
        self._check_submission(elements, problems, warnings)
        self._check_scripts(elements, problems, warnings)
        answer_name = self._answer_name(
            elements, consolidation, problems, answer_name_setting=answer_name_setting
        )
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
            problems.append(_syntax_problem(self.text, error, env))
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

    def _check_submission(
        self, elements: list[Element], problems: list[str], warnings: list[str] | None
    ) -> None:
        """A ``crowd-form``, or an element that submits itself, sends the worker's answer."""
        forms = [e for e in elements if e.tag == "crowd-form"]
        own = [e for e in elements if e.tag in SELF_SUBMITTING_ELEMENTS]
        if not forms and not own:
            problems.append(
                "1: no <crowd-form> element: Ground Truth submits only what a <crowd-form> "
                "wraps (or an element with its own Submit button: "
                f"{', '.join(f'<{t}>' for t in SELF_SUBMITTING_ELEMENTS)})"
            )
        if forms and own and warnings is not None:
            warnings.append(
                f"{own[0].line}: <{own[0].tag}> submits itself (its own form and Submit "
                "button; AWS documents it as a self-contained widget, not to be used with "
                "<crowd-form>), and the template also has a <crowd-form> "
                f"(line {forms[0].line}): workers see two Submit buttons"
            )

    def _check_scripts(
        self, elements: list[Element], problems: list[str], warnings: list[str] | None
    ) -> None:
        """One of the Crowd HTML Elements scripts is loaded, and it defines the elements used."""
        scripts = {e.attributes.get("src") for e in elements if e.tag == "script"} & set(
            CROWD_ELEMENTS_SCRIPTS
        )
        if not scripts:
            problems.append(
                f"1: the Crowd HTML Elements script is not loaded: add "
                f'<script src="{CROWD_ELEMENTS_SCRIPT}"></script> (or '
                f"{CROWD_ELEMENTS_V2_SCRIPT} for the generative-AI elements)"
            )
            return
        v2_elements = [e for e in elements if e.tag in V2_ONLY_ELEMENTS]
        if v2_elements and CROWD_ELEMENTS_V2_SCRIPT not in scripts:
            first = v2_elements[0]
            problems.append(
                f"{first.line}: <{first.tag}> is a Crowd HTML Elements V2 element, which only "
                f'<script src="{CROWD_ELEMENTS_V2_SCRIPT}"></script> defines'
            )
        if v2_elements and warnings is not None:
            others = sorted(
                {
                    e.tag
                    for e in elements
                    if e.tag.startswith("crowd-")
                    and e.tag not in V2_ONLY_ELEMENTS
                    and e.tag not in V2_COMPATIBLE_ELEMENTS
                }
            )
            if others:
                warnings.append(
                    f"{v2_elements[0].line}: AWS documents the V2 elements as working beside "
                    f"{', '.join(f'<{t}>' for t in V2_COMPATIBLE_ELEMENTS)} only; this "
                    f"template also uses {', '.join(f'<{t}>' for t in others)}"
                )

    def _answer_name(
        self,
        elements: list[Element],
        consolidation: Consolidation,
        problems: list[str],
        *,
        answer_name_setting: str,
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
                f"with {answer_name_setting}"
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
