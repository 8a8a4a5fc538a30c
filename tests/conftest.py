from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from llm_modulo.pool import WorkerPool
from llm_modulo.testing import ScriptedServer


def pytest_configure(config: pytest.Config) -> None:
    # Only this project's own plugins load in tests (and in the CLI processes they start):
    # a plugin the developer happens to have installed must not change a verdict.
    os.environ.setdefault("LLM_MODULO_PLUGINS", "llm-modulo")


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
