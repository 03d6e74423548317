"""Ground Truth's task semantics with the engine on ``DynamoStore`` (moto's DynamoDB).

The engine's own rule tests (``test_engine_semantics``), each run again with the
DynamoDB store in place of SQLite: the same rules must hold on AWS.
"""

from __future__ import annotations

import pytest
from moto import mock_aws

from . import test_engine_semantics as semantics
from .aws_support import dynamo_store
from .engine_support import make_setup

# Every rule test of the engine, collected here again with the fixture below.
for _name in dir(semantics):
    if _name.startswith("test_"):
        globals()[_name] = getattr(semantics, _name)


@pytest.fixture
def setup(tmp_path):
    with mock_aws():
        made = make_setup(tmp_path)
        store = dynamo_store()
        made.store = store
        made.engine.store = store
        yield made
