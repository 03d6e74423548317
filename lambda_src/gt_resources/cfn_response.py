"""The CloudFormation custom-resource protocol: answer the presigned ResponseURL ourselves.

A plain Lambda-backed ``CustomResource`` (no Provider framework) lets the
handler put the service's own error message, in full, into the stack event.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

#: CloudFormation rejects response bodies over 4 KB; the reason is cut to fit.
MAX_REASON = 3000

#: (physical resource id, data) of a handled request.
Outcome = tuple[str, Mapping[str, str]]


def response_body(
    event: Mapping[str, Any], status: str, physical_id: str, reason: str, data: Mapping[str, str]
) -> dict[str, Any]:
    if len(reason) > MAX_REASON:
        reason = reason[: MAX_REASON - 20] + " … (cut to fit)"
    return {
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": physical_id or str(event.get("LogicalResourceId", "resource")),
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": dict(data),
    }


def send_response(url: str, body: Mapping[str, Any]) -> None:
    """PUT the result to CloudFormation's presigned URL (never logged)."""
    payload = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=payload,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(payload))},
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        reply.read()


def respond(event: Mapping[str, Any], handle: Callable[[Mapping[str, Any]], Outcome]) -> None:
    """Run ``handle`` and report SUCCESS with its outcome, or FAILED with the error's text."""
    try:
        physical_id, data = handle(event)
        body = response_body(event, "SUCCESS", physical_id, "OK", data)
    except Exception as error:  # every failure must reach CloudFormation, or it waits an hour
        physical_id = str(event.get("PhysicalResourceId") or "")
        body = response_body(event, "FAILED", physical_id, str(error) or type(error).__name__, {})
    send_response(str(event["ResponseURL"]), body)
