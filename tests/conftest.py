"""Shared test set-up.

``lambda_src`` is on ``sys.path`` (pyproject's ``pythonpath``), so handler code
is imported as top-level packages, exactly as the Lambda runtime does.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

# Offline, credential-free AWS clients for every test (moto or Stubber).
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SECURITY_TOKEN", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

REPO_ROOT = Path(__file__).resolve().parent.parent


def _this_checkouts_lambda_src() -> None:
    """``gt_constructs.lambda_src`` is this checkout's ``lambda_src``: an editable install
    made from another checkout (a git worktree's shared venv) would map it there."""
    import importlib.util
    import sys

    folder = REPO_ROOT / "lambda_src"
    name = "gt_constructs.lambda_src"
    loaded = sys.modules.get(name)
    if loaded is not None and Path(next(iter(loaded.__path__))).resolve() == folder:
        return
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


_this_checkouts_lambda_src()
CROWD_DATA = REPO_ROOT / "benchmarks" / "data" / "crowd"


def _use_this_checkouts_lambda_src() -> None:
    """``gt_constructs.lambda_src`` is this checkout's ``lambda_src/``.

    An editable install maps that package to the checkout it was installed from;
    run from another checkout (a git worktree sharing the virtual environment), the
    construct and the workbench would otherwise import, and synthesize, that other
    checkout's Lambda code beside this checkout's ``gt_constructs``.
    """
    folder = REPO_ROOT / "lambda_src"
    spec = importlib.util.spec_from_file_location(
        "gt_constructs.lambda_src", folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)


_use_this_checkouts_lambda_src()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def crowd_data() -> Path:
    if not CROWD_DATA.is_dir():
        pytest.skip(
            f"crowd data sets not found at {CROWD_DATA} (benchmarks/data/crowd in the repository)"
        )
    return CROWD_DATA
