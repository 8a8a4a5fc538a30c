from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from llm_modulo.pool import WorkerPool
from llm_modulo.testing import ScriptedServer


def pytest_configure(config: pytest.Config) -> None:
    # Only this project's own plugins load in tests (and in the CLI processes they start):
    # a plugin the developer happens to have installed must not change a verdict.
    os.environ.setdefault("LLM_MODULO_PLUGINS", "llm-modulo")
    _enforce_critique_vocabularies()


def _enforce_critique_vocabularies() -> None:
    """Every critique any built-in verifier returns in any test (in this process) must be
    one of its declared kinds: the vocabulary is documented, so it must be complete."""
    from llm_modulo.registry import default_registry
    from llm_modulo.verifier import CheckResult, Verifier

    def audited(self: Verifier, result: CheckResult) -> CheckResult:
        vocabulary = type(self).vocabulary()
        for critique in getattr(result, "critiques", []):
            assert critique.kind in vocabulary, (
                f"{type(self).__name__} returned critique kind {critique.kind!r}, which is not "
                f"in its critique_kinds: declare it (with its meaning)")
        return result

    def wrap(cls: type[Verifier]) -> None:
        for name in ("check", "check_prefix", "check_many"):
            original = cls.__dict__.get(name)
            if original is None or getattr(original, "_audited", False):
                continue
            if name in ("check", "check_prefix"):
                def method(self: Verifier, problem: Any, candidate: Any,
                           _original: Any = original) -> Any:
                    return audited(self, _original(self, problem, candidate))
            else:
                def method(self: Verifier, pairs: Any, _original: Any = original) -> Any:
                    return [audited(self, r) for r in _original(self, pairs)]
            method._audited = True  # type: ignore[attr-defined]
            setattr(cls, name, method)

    for entry in default_registry.verifiers.entries():
        for cls in entry.cls.__mro__:
            if isinstance(cls, type) and issubclass(cls, Verifier) and cls is not Verifier:
                wrap(cls)


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
