"""Where the Lambda code lives, installed or in a source checkout."""

from __future__ import annotations

import importlib.resources
from functools import cache
from pathlib import Path

from aws_cdk import aws_lambda as lambda_

#: The newest Python runtime aws-cdk-lib offers; every function of the library uses it.
LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_14
#: Graviton: cheaper per millisecond, and the code is pure Python.
LAMBDA_ARCHITECTURE = lambda_.Architecture.ARM_64

_EXCLUDE = ["**/__pycache__", "**/*.pyc", "**/.mypy_cache", "**/.pytest_cache"]


@cache
def lambda_src_dir() -> Path:
    """The ``lambda_src`` folder: ``gt_constructs/lambda_src`` in a wheel, ``lambda_src/`` in a checkout."""
    try:
        located = Path(str(importlib.resources.files("gt_constructs.lambda_src")))
    except ModuleNotFoundError:  # plain checkout on sys.path, package not installed
        located = Path(__file__).resolve().parent.parent / "lambda_src"
    path = located.resolve()
    if not (path / "gt_annotation").is_dir():
        raise FileNotFoundError(
            f"gt-constructs Lambda code not found at {path}; reinstall the package"
        )
    return path


def lambda_code() -> lambda_.Code:
    """The Lambda asset: the source folder itself (standard library + boto3, no bundling)."""
    return lambda_.Code.from_asset(str(lambda_src_dir()), exclude=_EXCLUDE)
