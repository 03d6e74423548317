"""Shared test set-up.

``lambda_src`` is on ``sys.path`` (pyproject's ``pythonpath``), so handler code
is imported as top-level packages, exactly as the Lambda runtime does.
"""

from __future__ import annotations

import os
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
CROWD_DATA = REPO_ROOT / "benchmarks" / "data" / "crowd"


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
