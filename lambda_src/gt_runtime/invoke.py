"""How the engine calls a job's pre- and post-annotation Lambdas.

``Invoker`` is the protocol; ``InProcessInvoker`` runs the library's own
Python handlers (``gt_annotation.pre_annotation.handler`` and
``gt_annotation.post_annotation.handler``: the very files the Lambda runs)
in this process, with the exact Ground Truth events and the environment the
construct gives the functions. What they would do with AWS goes elsewhere,
through the handlers' documented injection points:

- S3 (the payload, ``annotationData.s3Uri``, consolidated masks):
  ``gt_annotation.payload.route_s3_to`` → the runtime's ``Blobs``;
- the worker-skill table (``GT_SKILL_TABLE``):
  ``gt_annotation.skill.route_skill_store_to`` → a persistent local store
  (``sqlite_store.SqliteSkillStore``), or memory when none is given.

A Lambda ARN the invoker does not know (a function of your own, another
language) is refused when the job is created: only the AWS runtime runs it.
The AWS runtime adds an invoker that calls Lambda with boto3.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ._annotation import contract, payload, post_annotation, pre_annotation, skill
from .blobs import Blobs

#: Handler names of the library's functions (as the construct sets them).
PRE_ANNOTATION_HANDLER = "gt_annotation.pre_annotation.handler"
POST_ANNOTATION_HANDLER = "gt_annotation.post_annotation.handler"
_HANDLERS: dict[str, Callable[[Any, Any], Any]] = {
    PRE_ANNOTATION_HANDLER: pre_annotation.handler,
    POST_ANNOTATION_HANDLER: post_annotation.handler,
}
#: Environment variables of the functions' contract (cleared before each call, then set
#: from the function's own environment).
_CONTRACT_VARIABLES = tuple(
    value
    for name, value in vars(contract).items()
    if name.startswith("ENV_") and isinstance(value, str)
)


@runtime_checkable
class Invoker(Protocol):
    """Calls the Lambdas of a job, as Ground Truth does."""

    def problem(self, arn: str) -> str | None:
        """Why this function cannot be run here (one sentence), or ``None``."""
        ...

    def pre_annotation(self, arn: str, event: dict[str, Any]) -> Any:
        """Invoke the pre-annotation function with Ground Truth's event; its response."""
        ...

    def post_annotation(self, arn: str, event: dict[str, Any]) -> Any:
        """Invoke the post-annotation function with Ground Truth's event; its response."""
        ...


@dataclass(frozen=True)
class LocalFunction:
    """One of the library's functions: its handler and the environment the construct sets.

    ``LocalFunction.pre(settings)`` / ``.post(settings)`` take the construct's
    contract settings (``CustomLabelingJob.pre_annotation_contract`` /
    ``post_annotation_contract``, or ``PreAnnotationSettings`` /
    ``PostAnnotationSettings`` built from flags).
    """

    handler: str
    environment: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.handler not in _HANDLERS:
            raise ValueError(
                f"handler {self.handler!r} is not one of the library's functions; allowed: "
                f"{', '.join(_HANDLERS)}"
            )

    @staticmethod
    def pre(settings: Any) -> LocalFunction:
        return LocalFunction(PRE_ANNOTATION_HANDLER, dict(settings.to_environment()))

    @staticmethod
    def post(settings: Any) -> LocalFunction:
        return LocalFunction(POST_ANNOTATION_HANDLER, dict(settings.to_environment()))


@dataclass(frozen=True)
class LambdaContext:
    """The parts of Lambda's context object a handler may read."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str = "local"
    memory_limit_in_mb: int = 1024

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


class _BlobsAsS3:
    """What ``route_s3_to`` expects, over a ``Blobs``."""

    def __init__(self, blobs: Blobs) -> None:
        self.blobs = blobs

    def read(self, uri: str) -> bytes:
        return self.blobs.read(uri)

    def write(self, uri: str, data: bytes, content_type: str | None = None) -> None:
        self.blobs.write(uri, data, content_type)


class InProcessInvoker:
    """Runs the library's own Python handlers in this process (see the module docstring).

    ``functions`` maps each Lambda ARN of the job's request to its
    ``LocalFunction``. ``skill_store(table_name)`` gives the worker-skill
    store of a ``GT_SKILL_TABLE`` (default: one in memory per table, lost on
    restart; the local host passes ``SqliteSkillStore``, which persists).

    Calls are serialized: a handler reads its settings from ``os.environ``
    (the environment the construct gives it), which is set for the call and
    restored afterwards, as Lambda gives each function its own environment.
    """

    _lock = threading.RLock()

    def __init__(
        self,
        functions: Mapping[str, LocalFunction],
        blobs: Blobs,
        *,
        skill_store: Callable[[str], Any] | None = None,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.functions = dict(functions)
        self.blobs = blobs
        #: Where the functions' own output goes (their log lines and metric records, what
        #: CloudWatch Logs gets in Lambda): a file appended to, or ``None``: stdout.
        self.log_path = log_path
        memory: dict[str, Any] = {}

        def in_memory(table: str) -> Any:
            return memory.setdefault(table, skill.MemorySkillStore())

        self.skill_store = skill_store or in_memory

    def problem(self, arn: str) -> str | None:
        if arn in self.functions:
            return None
        known = ", ".join(sorted(self.functions)) or "none"
        return (
            f"the Lambda function {arn} is not one of the library's own Python handlers this "
            f"runtime was given (known: {known}): only the AWS runtime runs it (a function "
            "of your own, or one in another language)"
        )

    def pre_annotation(self, arn: str, event: dict[str, Any]) -> Any:
        return self._invoke(arn, event, PRE_ANNOTATION_HANDLER)

    def post_annotation(self, arn: str, event: dict[str, Any]) -> Any:
        return self._invoke(arn, event, POST_ANNOTATION_HANDLER)

    def _invoke(self, arn: str, event: dict[str, Any], expected: str) -> Any:
        function = self.functions.get(arn)
        if function is None:
            raise LookupError(self.problem(arn))
        if function.handler != expected:
            raise LookupError(f"the Lambda function {arn} runs {function.handler}, not {expected}")
        context = LambdaContext(arn.rsplit(":", 1)[-1], arn)
        with (
            self._lock,
            _environment(function.environment),
            payload.route_s3_to(_BlobsAsS3(self.blobs)),
            skill.route_skill_store_to(self.skill_store),
            _function_output(self.log_path),
        ):
            return _HANDLERS[function.handler](event, context)


@contextmanager
def _function_output(path: str | os.PathLike[str] | None) -> Iterator[None]:
    """The function's stdout appended to ``path`` (the invocations are serialised by the
    invoker's lock, as Lambda runs one event per environment); ``None``: left alone."""
    if path is None:
        yield
        return
    with open(path, "a", encoding="utf-8") as log, redirect_stdout(log):
        yield


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` holds exactly the function's contract variables during the call."""
    saved = {name: os.environ.get(name) for name in (*_CONTRACT_VARIABLES, *values)}
    try:
        for name in _CONTRACT_VARIABLES:
            os.environ.pop(name, None)
        os.environ.update({k: str(v) for k, v in values.items()})
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def local_function_arn(region: str, account: str, name: str) -> str:
    """A Lambda-ARN-shaped name for a local function (what a request built from flags
    names)."""
    return f"arn:aws:lambda:{region}:{account}:function:{name}"


__all__ = [
    "POST_ANNOTATION_HANDLER",
    "PRE_ANNOTATION_HANDLER",
    "InProcessInvoker",
    "Invoker",
    "LambdaContext",
    "LocalFunction",
    "local_function_arn",
]
