"""Parse the post-annotation event and its payload into typed structures.

Nothing here raises for a single bad worker answer: it becomes a
``Rejection`` with a reason, and the object keeps its place in the batch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .model import AnswerError, ObjectAnswers, Rejection, WorkerAnswer


class EventError(ValueError):
    """The event itself is unusable (not a single answer): the message says what is wrong."""


@dataclass(frozen=True)
class ConsolidationRequest:
    """The fields of a post-annotation event, typed (see the module docstring)."""

    version: str | None
    labeling_job_arn: str
    job_name: str
    label_attribute_name: str
    label_categories: list[str] | None
    role_arn: str | None
    payload_uri: str | None
    inline_payload: list[Any] | None
    output_config: str | None


def parse_request(event: Any) -> ConsolidationRequest:
    """The fields of a post-annotation event Ground Truth sends."""
    if not isinstance(event, Mapping):
        raise EventError(f"the event must be a JSON object, got {type(event).__name__}")
    arn = event.get("labelingJobArn")
    attribute = event.get("labelAttributeName")
    problems = []
    if not isinstance(arn, str) or ":labeling-job/" not in arn:
        problems.append("labelingJobArn must be a labeling job ARN")
    if not isinstance(attribute, str) or not attribute:
        problems.append("labelAttributeName must be a non-empty string")
    categories = event.get("labelCategories")
    if categories is not None and (
        not isinstance(categories, list) or not all(isinstance(c, str) for c in categories)
    ):
        problems.append("labelCategories must be null or a list of strings")
    payload = event.get("payload")
    uri = payload.get("s3Uri") if isinstance(payload, Mapping) else None
    inline = payload.get("content") if isinstance(payload, Mapping) else None
    if isinstance(inline, str):
        try:
            inline = json.loads(inline)
        except ValueError:
            problems.append("payload.content is not JSON")
    if not isinstance(uri, str) and not isinstance(inline, list):
        problems.append("payload must hold s3Uri (an s3:// URI) or content (a JSON list)")
    if problems:
        raise EventError("unusable post-annotation event: " + "; ".join(problems))
    assert isinstance(arn, str) and isinstance(attribute, str)
    role = event.get("roleArn")
    output = event.get("outputConfig")
    version = event.get("version")
    return ConsolidationRequest(
        version=version if isinstance(version, str) else None,
        labeling_job_arn=arn,
        job_name=arn.rsplit("/", 1)[-1],
        label_attribute_name=attribute,
        label_categories=list(categories) if categories is not None else None,
        role_arn=role if isinstance(role, str) else None,
        payload_uri=uri if isinstance(uri, str) else None,
        inline_payload=inline if isinstance(inline, list) else None,
        output_config=output if isinstance(output, str) else None,
    )


def _reject_constant(name: str) -> Any:
    raise AnswerError(f"answer content holds {name}, which JSON does not allow")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise AnswerError("answer content holds a number too large for a float")
    return number


def load_json(text: str) -> Any:
    """``json.loads`` that refuses NaN and infinities (they would make the response invalid JSON)."""
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except AnswerError:
        raise
    except RecursionError:
        raise AnswerError("answer content is nested too deeply") from None
    except ValueError as error:  # JSONDecodeError, or an integer with too many digits
        raise AnswerError(f"answer content is not JSON ({error})") from None


def _fetch_failure(error: Exception) -> str:
    """A short reason for an ``annotationData.s3Uri`` that could not be read (no URI, no data)."""
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, Mapping) else None
    return f"annotationData.s3Uri could not be read ({code or type(error).__name__})"


@dataclass(frozen=True)
class AnswerParser:
    """Turns one annotation of the payload into a typed answer or a rejection.

    Whatever is wrong with an annotation (shape, JSON, the element, the
    consolidator's ``parse_answer``, a fetch that fails), the result is a
    ``Rejection`` with a short reason: never an exception, never the data.
    """

    answer_name: str | None
    labels: Sequence[str]
    parse: Callable[[Any, Sequence[str]], Any]
    #: Fetches ``annotationData.s3Uri`` contents (large answers); None: not allowed.
    fetch: Callable[[str], str] | None = None

    def element_value(self, content: Any) -> tuple[Any, Any]:
        """(the answer element's value, the whole parsed form output)."""
        if isinstance(content, str | bytes):
            content = load_json(
                content.decode("utf-8", "replace") if isinstance(content, bytes) else content
            )
        if self.answer_name:
            if not isinstance(content, Mapping):
                raise AnswerError(
                    f"answer content is a JSON {_json_type(content)}, expected an object "
                    f"with the '{self.answer_name}' element"
                )
            if self.answer_name not in content:
                keys = ", ".join(sorted(map(str, content))[:5]) or "none"
                raise AnswerError(f"answer has no '{self.answer_name}' element (keys: {keys})")
            return content[self.answer_name], content
        return content, content

    def _content(self, data: Mapping[str, Any]) -> Any:
        if "content" in data:
            return data["content"]
        uri = data.get("s3Uri")
        if uri is None:
            raise AnswerError("annotationData has neither content nor s3Uri")
        if not isinstance(uri, str) or not uri.startswith("s3://"):
            raise AnswerError("annotationData.s3Uri is not an s3:// URI")
        if self.fetch is None:
            raise AnswerError("annotationData.s3Uri cannot be read here (no S3 access)")
        try:
            return self.fetch(uri)
        except Exception as error:  # S3 errors, bad URI, undecodable bytes: this answer only
            raise AnswerError(_fetch_failure(error)) from None

    def __call__(self, object_id: str, annotation: Any) -> WorkerAnswer | Rejection:
        worker = "unknown"
        try:
            if not isinstance(annotation, Mapping):
                raise AnswerError(f"annotation is a JSON {_json_type(annotation)}, not an object")
            raw_worker = annotation.get("workerId")
            if not isinstance(raw_worker, str) or not raw_worker:
                raise AnswerError("annotation has no workerId (a non-empty string)")
            worker = raw_worker
            data = annotation.get("annotationData")
            if not isinstance(data, Mapping):
                raise AnswerError("annotation has no annotationData object")
            value, whole = self.element_value(self._content(data))
            return WorkerAnswer(worker, self.parse(value, self.labels), whole)
        except AnswerError as error:
            return Rejection(object_id, worker, str(error))
        except Exception as error:
            # A consolidator's parser met a shape it did not expect (TypeError, OverflowError,
            # RecursionError, ...): still just this answer. The type says enough; the message
            # might quote the data.
            return Rejection(object_id, worker, f"unusable answer ({type(error).__name__})")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return "object" if isinstance(value, Mapping) else type(value).__name__


def parse_objects(
    payload: Any, parser: AnswerParser
) -> tuple[list[ObjectAnswers], list[Rejection]]:
    """Every identifiable dataset object of the payload, in order, with its answers.

    Entries without a ``datasetObjectId`` cannot be answered for and are
    reported as rejections with object id ``?``.
    """
    if not isinstance(payload, list):
        raise EventError(f"the payload must be a JSON list, got {type(payload).__name__}")
    objects: list[ObjectAnswers] = []
    orphans: list[Rejection] = []
    seen: set[str] = set()
    for position, entry in enumerate(payload):
        raw_id = entry.get("datasetObjectId") if isinstance(entry, Mapping) else None
        if not isinstance(raw_id, str | int) or isinstance(raw_id, bool):
            orphans.append(Rejection("?", "-", f"payload entry {position} has no datasetObjectId"))
            continue
        object_id = str(raw_id)
        if object_id in seen:
            orphans.append(Rejection(object_id, "-", "duplicate datasetObjectId; first kept"))
            continue
        seen.add(object_id)
        assert isinstance(entry, Mapping)
        data_object = entry.get("dataObject")
        item = ObjectAnswers(object_id, data_object if isinstance(data_object, Mapping) else {})
        annotations = entry.get("annotations")
        if not isinstance(annotations, list):
            item.rejections.append(Rejection(object_id, "-", "annotations is not a list"))
            annotations = []
        workers: set[str] = set()
        for annotation in annotations:
            result = parser(object_id, annotation)
            if isinstance(result, Rejection):
                item.rejections.append(result)
            elif result.worker_id in workers:
                item.rejections.append(
                    Rejection(object_id, result.worker_id, "second answer of the same worker")
                )
            else:
                workers.add(result.worker_id)
                item.answers.append(result)
        objects.append(item)
    return objects, orphans
