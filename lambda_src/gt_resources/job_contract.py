"""The contract between the job construct and the labeling-job custom resource, written once.

The construct (synth time, ``gt_constructs.job``) and the custom resource's
handler (deploy time, ``labeling_job.py``) must agree on how a job is named
and tagged; both import this module (the construct through the packaged
``gt_constructs.lambda_src``). Standard library only.

- A job is named ``<prefix>-<hash>``: ``request_hash`` is the SHA-256 of the
  request's canonical JSON (sorted keys, compact separators), first
  ``HASH_LENGTH`` hex digits. The request's own tags (``Tags`` whose key
  starts with ``LIBRARY_TAG_PREFIX``: the construct and the template/labels
  fingerprint) are part of the hash; tags added by the user (``Tags.of(...)``)
  are not, so a new cost-allocation tag re-tags the running job instead of
  replacing it.
- ``creation_request`` is what ``CreateLabelingJob`` receives: the request with
  its name and the request-hash tag (``HASH_TAG``) by which a retried create
  recognises its own job.
- Tags follow SageMaker's rules (``tag_problems``, ``tag_value``).
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping
from typing import Any

#: ``CreateLabelingJob`` ``LabelingJobName``: pattern and length (botocore model).
JOB_NAME_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
MAX_JOB_NAME = 63
#: Hex digits of the request hash in a job name.
HASH_LENGTH = 10
#: ``<prefix>-`` plus the hash must stay within ``MAX_JOB_NAME``.
MAX_PREFIX = MAX_JOB_NAME - 1 - HASH_LENGTH

#: Tags whose key starts with this belong to the library (and define the job).
LIBRARY_TAG_PREFIX = "gt-constructs:"
#: The tag by which a retried create finds its own job.
HASH_TAG = f"{LIBRARY_TAG_PREFIX}request-hash"

#: SageMaker's tag rules (botocore ``TagKey``, ``TagValue``, ``TagList``).
MAX_TAGS = 50
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
TAG_CHARACTERS = "letters, digits, spaces and _ . : / = + - @"
#: Keys SageMaker reserves for AWS.
RESERVED_TAG_PREFIX = "aws:"


def _defining(request: Mapping[str, Any]) -> dict[str, Any]:
    """The request as far as it defines the job: without the user's tags and the hash tag."""
    tags = [
        tag
        for tag in request.get("Tags") or []
        if str(tag.get("Key", "")).startswith(LIBRARY_TAG_PREFIX) and tag.get("Key") != HASH_TAG
    ]
    defining = {key: value for key, value in request.items() if key != "Tags"}
    if tags:
        defining["Tags"] = tags
    return defining


def request_hash(request: Mapping[str, Any]) -> str:
    """Short hash of the resolved request (canonical JSON, user tags left out)."""
    canonical = json.dumps(_defining(request), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def job_name(prefix: str, request: Mapping[str, Any]) -> str:
    """The name of the job of this request: ``<prefix>-<request_hash>``."""
    return f"{prefix}-{request_hash(request)}"


def user_tags(request: Mapping[str, Any]) -> dict[str, str]:
    """The request's tags that are not the library's (the user's: cost allocation etc.)."""
    return {
        str(tag["Key"]): str(tag.get("Value", ""))
        for tag in request.get("Tags") or []
        if not str(tag.get("Key", "")).startswith(LIBRARY_TAG_PREFIX)
    }


def named_request(request: Mapping[str, Any], name: str, digest: str) -> dict[str, Any]:
    """The request with its name and request-hash tag (``name`` and ``digest`` may be the
    construct's deploy-time tokens)."""
    tags = [tag for tag in request.get("Tags") or [] if tag.get("Key") != HASH_TAG]
    return dict(request, LabelingJobName=name, Tags=[*tags, {"Key": HASH_TAG, "Value": digest}])


def creation_request(request: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The ``CreateLabelingJob`` body of a resolved request: its name and the request-hash
    tag added."""
    return named_request(request, job_name(prefix, request), request_hash(request))


def _tag_character(character: str) -> bool:
    return unicodedata.category(character)[0] in "LZN" or character in "_.:/=+-@"


def tag_value(text: str) -> str:
    """``text`` as a valid tag value: other characters become ``_``, cut to 256."""
    return "".join(c if _tag_character(c) else "_" for c in text)[:MAX_TAG_VALUE]


def tag_problems(tags: Mapping[str, str]) -> list[str]:
    """Every reason SageMaker would refuse these tags (key/value patterns, lengths, count)."""
    problems = []
    if len(tags) > MAX_TAGS:
        problems.append(f"the job has {len(tags)} tags; allowed: at most {MAX_TAGS}")
    for key, value in tags.items():
        if not 1 <= len(key) <= MAX_TAG_KEY or not all(map(_tag_character, key)):
            problems.append(f"tag key {key!r} is not allowed: 1–{MAX_TAG_KEY} {TAG_CHARACTERS}")
        elif key.lower().startswith(RESERVED_TAG_PREFIX):
            problems.append(f"tag key {key!r} is not allowed: 'aws:' is reserved for AWS")
        if len(value) > MAX_TAG_VALUE or not all(map(_tag_character, value)):
            problems.append(
                f"tag {key!r} value {value[:60]!r} is not allowed: 0–{MAX_TAG_VALUE} "
                f"{TAG_CHARACTERS}"
            )
    return problems
