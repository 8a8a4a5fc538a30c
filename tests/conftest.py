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


@pytest.fixture(autouse=True)
def _private_corpus(tmp_path_factory: pytest.TempPathFactory,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test (and the CLI processes it starts) records into its own corpus, never the
    user's: a solution stored by one test must not be served to another."""
    path = tmp_path_factory.mktemp("corpus") / "corpus.sqlite"
    monkeypatch.setenv("LLM_MODULO_CORPUS", str(path))
