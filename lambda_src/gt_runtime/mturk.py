"""The Mechanical Turk submit contract that ``<crowd-form>`` follows outside Ground Truth.

The Crowd HTML Elements read ``assignmentId``, ``hitId``, ``workerId`` and
``turkSubmitTo`` from the page's URL and post the form to
``<turkSubmitTo>/mturk/externalSubmit`` (spec §4), either as

- ``assignmentId`` + ``taskAnswers``: a JSON string holding an array with one object
  keyed by element ``name``; the answer content is that object (``taskAnswers[0]``), or
- ``answer-format="flatten-objects"``: ``assignmentId`` + one field per leaf, the names
  dotted (``annotatedResult.inputImageProperties.height``), arrays and objects as JSON
  strings. They are nested back; a value under a dotted name that parses as JSON is
  taken as that JSON (numbers, arrays), a top-level field stays the string it was.

Standard library only: both hosts (the local server and the AWS task Lambda) use it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

#: Fields of the contract itself, never part of the answer.
CONTRACT_FIELDS = frozenset({"assignmentId", "hitId", "workerId", "turkSubmitTo"})
#: The assignment id the elements see in preview mode (no submit possible).
PREVIEW_ASSIGNMENT = "ASSIGNMENT_ID_NOT_AVAILABLE"
SUBMIT_PATH = "/mturk/externalSubmit"


class SubmitError(ValueError):
    """A submit that carries no usable answer (the message says what was expected)."""


def page_query(*, assignment_id: str, hit_id: str, worker_id: str, submit_to: str) -> str:
    """The task page's query string, as the elements expect it."""
    return urlencode(
        {
            "assignmentId": assignment_id,
            "hitId": hit_id,
            "workerId": worker_id,
            "turkSubmitTo": submit_to,
        }
    )


def _leaf(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _unflatten(fields: list[tuple[str, str]]) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    for name, value in fields:
        parts = name.split(".")
        if any(not part for part in parts):
            raise SubmitError(f"field name {name!r} has an empty segment")
        node = answer
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise SubmitError(f"field {name!r} nests under {part!r}, which has a value")
            node = child
        if isinstance(node.get(parts[-1]), dict):
            raise SubmitError(f"field {name!r} is also the prefix of other fields")
        node[parts[-1]] = _leaf(value) if len(parts) > 1 else value
    return answer


def parse_submit(fields: Iterable[tuple[str, str]]) -> tuple[str, dict[str, Any]]:
    """``(assignmentId, answer content)`` of a posted form; ``SubmitError`` when unusable.

    Both shapes are accepted (``taskAnswers``, or flattened fields); an answer that is
    missing or holds nothing is refused.
    """
    items = list(fields)
    named = {name: value for name, value in items}
    assignment = named.get("assignmentId", "").strip()
    if not assignment:
        raise SubmitError("the submit has no assignmentId (the task page's URL gives it)")
    if assignment == PREVIEW_ASSIGNMENT:
        raise SubmitError("this is a preview (assignmentId ASSIGNMENT_ID_NOT_AVAILABLE)")
    if "taskAnswers" in named:
        try:
            answers = json.loads(named["taskAnswers"])
        except ValueError as error:
            raise SubmitError(f"taskAnswers is not JSON ({error})") from None
        if isinstance(answers, list):
            if not answers:
                raise SubmitError("taskAnswers is an empty array: the submit holds no answer")
            answers = answers[0]
        if not isinstance(answers, dict):
            raise SubmitError(
                "taskAnswers must be a JSON array holding one object keyed by element name, "
                f"got {type(answers).__name__}"
            )
        answer = answers
    else:
        answer = _unflatten(
            [(k, v) for k, v in items if k not in CONTRACT_FIELDS and k != "taskAnswers"]
        )
    if not answer:
        raise SubmitError(
            "the submit holds no answer: expected taskAnswers (a JSON array with one object) "
            "or the answer's fields (answer-format flatten-objects)"
        )
    return assignment, answer
