from __future__ import annotations

from collections.abc import Iterator

import pytest

from llm_modulo.pool import WorkerPool
from llm_modulo.testing import ScriptedServer


@pytest.fixture(scope="session")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(2) as p:
        yield p


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server
