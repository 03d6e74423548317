"""The engine's output tests (``test_engine_output``) again, with ``DynamoStore`` on moto
in place of SQLite: the same rules must hold on AWS."""

from __future__ import annotations

import pytest
from moto import mock_aws

from . import engine_support
from . import test_engine_output as original
from .aws_support import on_dynamodb
from .test_engine_output import *  # noqa: F403 (every test and fixture, collected here again)


@pytest.fixture(autouse=True)
def _dynamodb(monkeypatch):
    with mock_aws():
        monkeypatch.setattr(
            original,
            "make_setup",
            lambda root, **options: on_dynamodb(engine_support.make_setup(root, **options)),
        )
        yield
