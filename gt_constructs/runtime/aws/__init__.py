"""The labeling runtime on AWS: ``Runtime`` (the switch) and ``SelfHostedRuntime`` (the stack).

``SelfHostedRuntime`` is imported lazily: ``Runtime`` is needed by the workteam and
the job at import time, the runtime's construct only when a job uses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .kind import Runtime

__all__ = ["Runtime", "SelfHostedRuntime"]


def __getattr__(name: str) -> Any:
    if name == "SelfHostedRuntime":
        from .construct import SelfHostedRuntime

        return SelfHostedRuntime
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:
    from .construct import SelfHostedRuntime
