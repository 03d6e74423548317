"""The worker's task page: the job's template, rendered like Ground Truth renders it.

One ``TaskPage`` per job: the template is parsed once (python-liquid, through the
library's one renderer ``gt_constructs.template.make_environment``) and rendered per
task with ``task.input`` and a ``grant_read_access`` that signs a short-lived URL on
the task origin for each data object of *that* task (a URI the task's data object
does not name gets no URL: the page cannot reach outside the dataset).

The page loads the real Crowd HTML Elements (``https://assets.crowd.aws/...``) and,
when they cannot be loaded (offline), the workbench's stand-in; a banner says which.
Both submit through the Mechanical Turk contract (``gt_runtime.mturk``). The page is
served with ``CONTENT_SECURITY_POLICY`` (own origin, sandboxed, no referrer).
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Iterator, Mapping
from html import escape
from typing import Any

from liquid.exceptions import LiquidError

from ..template import CROWD_ELEMENTS_SCRIPT, make_environment
from ..workbench.preview import _SCRIPT_TAG, ELEMENTS_TIMEOUT_SECONDS, _asset, stand_in_assets


#: The task frame's policy: its own (opaque, sandboxed) origin, scripts and styles from
#: the page itself and https (templates load libraries from CDNs; the Crowd HTML
#: Elements come from AWS), data only from the task origin, the form posts only to
#: the task origin, framed only by the portal, and the URL (which carries the task's
#: signed token) never sent as a referrer.
def content_security_policy(portal_origin: str, task_origin: str) -> str:
    """The ``Content-Security-Policy`` of a task page."""
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {task_origin} 'unsafe-inline' 'unsafe-eval' https:",
            f"style-src {task_origin} 'unsafe-inline' https:",
            f"img-src {task_origin} data: blob: https:",
            f"media-src {task_origin} data: blob:",
            f"font-src {task_origin} data: https:",
            f"connect-src {task_origin} https://assets.crowd.aws",
            f"form-action {task_origin}",
            f"frame-ancestors {portal_origin}",
            "base-uri 'none'",
            "sandbox allow-scripts allow-forms",
        ]
    )


#: The ``sandbox`` attribute of the portal's <iframe>: no ``allow-same-origin``, so the
#: page runs in an opaque origin (no cookies, no storage, no access to the portal).
FRAME_SANDBOX = "allow-scripts allow-forms"

_grant: contextvars.ContextVar[Callable[[str], str]] = contextvars.ContextVar("grant_read_access")


def _contextual_grant(uri: object) -> str:
    return _grant.get()(str(uri))


def data_uris(value: Any) -> Iterator[str]:
    """Every ``s3://`` string inside a data object or task input (any depth)."""
    if isinstance(value, str):
        if value.startswith("s3://"):
            yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from data_uris(item)
    elif isinstance(value, list):
        for item in value:
            yield from data_uris(item)


class RenderError(ValueError):
    """The template does not render for this task (the message says why)."""


class TaskPage:
    """A job's worker template, parsed once, rendered per task.

    ``elements_url``: the real Crowd HTML Elements' script the page tries first
    (``None``: the stand-in only, nothing fetched).
    """

    def __init__(
        self,
        template_text: str,
        *,
        source: str,
        elements_url: str | None = CROWD_ELEMENTS_SCRIPT,
    ) -> None:
        self.source = source
        self.elements_url = elements_url
        env = make_environment(grant_read_access=_contextual_grant)
        try:
            self._template = env.from_string(template_text)
        except LiquidError as error:
            raise RenderError(f"{source}: the template does not parse: {error}") from None
        self._has_script = bool(_SCRIPT_TAG.search(template_text))
        css, stand_in = stand_in_assets()
        self._head = (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="referrer" content="no-referrer">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<style>\n{_asset('preview.css')}\n</style>\n"
            f'<style id="gtw-stand-in-style" media="{"not all" if elements_url else "all"}">\n'
            f"{css}\n</style>\n</head>\n<body>\n"
        )
        settings = {
            "url": elements_url,
            "timeoutSeconds": ELEMENTS_TIMEOUT_SECONDS,
            "realNote": "Submit sends your answer to this job.",
        }
        self._tail = (
            f'<script type="application/json" id="gtw-elements">{_script_json(settings)}</script>\n'
            f"<script>\n{stand_in}\n</script>\n"
            f"<script>\n{_asset('crowd-loader.js')}\n</script>\n"
            "</body>\n</html>\n"
        )

    def render(
        self,
        task_input: Mapping[str, Any],
        *,
        grant_read_access: Callable[[str], str],
        title: str = "",
    ) -> str:
        """The whole page for one task; ``RenderError`` when the template fails."""
        token = _grant.set(grant_read_access)
        try:
            body = self._template.render(task={"input": dict(task_input)})
        except LiquidError as error:
            raise RenderError(f"{self.source}: the template does not render: {error}") from None
        finally:
            _grant.reset(token)
        body = _SCRIPT_TAG.sub("", body)
        if self.elements_url:
            status = (
                f"Crowd HTML Elements: loading the real ones from {self.elements_url}; if they "
                "cannot be loaded, the offline stand-in draws the task."
            )
        else:
            status = "Crowd HTML Elements: the offline stand-in (the server runs with --offline)."
        banner = (
            '<div class="gtw-banner"'
            + ("" if self.elements_url else ' data-gtw-elements="stand-in"')
            + ">"
            + escape(title)
            + ("" if self._has_script else " (the template does not load crowd-html-elements.js)")
            + f' <span class="gtw-elements" id="gtw-elements-status">{escape(status)}</span>'
            + "</div>\n"
        )
        return self._head + banner + body + "\n" + self._tail


def _script_json(value: Any) -> str:
    return json.dumps(value, default=str).replace("<", "\\u003c").replace(">", "\\u003e")
