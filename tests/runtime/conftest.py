"""Set-up of the labeling runtime's tests.

The runtime is imported as ``gt_constructs.lambda_src.gt_runtime`` (how the
installed library and the local server import it). An editable install maps
``gt_constructs.lambda_src`` to the checkout it was installed from; in another
git worktree of the repository that is the wrong checkout, so it is pointed at
this one's ``lambda_src`` here (a no-op where they already agree).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import gt_constructs

_LAMBDA_SRC = Path(__file__).resolve().parents[2] / "lambda_src"


def _use_this_checkouts_lambda_src() -> None:
    name = "gt_constructs.lambda_src"
    try:
        current = importlib.util.find_spec(name)
    except ModuleNotFoundError:
        current = None
    locations = list(current.submodule_search_locations or []) if current else []
    if locations and Path(locations[0]).resolve() == _LAMBDA_SRC:
        return
    for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[loaded]
    spec = importlib.util.spec_from_file_location(
        name, _LAMBDA_SRC / "__init__.py", submodule_search_locations=[str(_LAMBDA_SRC)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    gt_constructs.lambda_src = module  # type: ignore[attr-defined]


_use_this_checkouts_lambda_src()
