"""Integration: the real vLLM CPU server with SmolLM2-135M-Instruct on 127.0.0.1.

Slow (about a minute to start); runs in CI. Deselect with ``-m "not vllm"``.
The model must have been prepared (``llm-modulo fetch-model``, done by
scripts/bootstrap.sh); the test itself never downloads anything.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_modulo import (
    Budget,
    JsonSchema,
    LoopConfig,
    Message,
    OpenAICompatClient,
    SamplingParams,
    Solver,
    SolveResult,
    Status,
)
from llm_modulo.domains.game24 import Game24Domain
from llm_modulo.embedded import EmbeddedServer, model_dir
from llm_modulo.verifiers.game24.verifier import Game24Verifier

pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    missing = []
    if importlib.util.find_spec("vllm") is None:
        missing.append("vLLM (pip install 'llm-modulo[serve]')")
    if not (model_dir() / ".llm-modulo-complete").exists():
        missing.append("the SmolLM2 model (llm-modulo fetch-model)")
    if missing:
        message = "real-vLLM tests need " + " and ".join(missing) + "; run scripts/bootstrap.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with EmbeddedServer() as srv:
        yield srv


CODE_SCHEMA = {
    "type": "object",
    "properties": {"zq_code": {"type": "string", "pattern": "^ZQ[0-9]{3}$"}},
    "required": ["zq_code"],
    "additionalProperties": False,
}
CODE = re.compile(r"^ZQ[0-9]{3}$")


def _fits_schema(text: str) -> bool:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return False
    return isinstance(data, dict) and set(data) == {"zq_code"} and bool(
        CODE.match(str(data["zq_code"])))


def test_structured_output_is_enforced(server: EmbeddedServer) -> None:
    messages = [Message(role="user", content="Write a short poem about the sea.")]
    params = SamplingParams(n=4, temperature=1.0, seed=0, max_tokens=40)

    async def go() -> tuple[list[str], list[str]]:
        async with OpenAICompatClient(server.base_url, model=server.model) as client:
            free = await client.chat(messages, params)
            constrained = await client.chat(messages, params,
                                            JsonSchema(name="code", schema=CODE_SCHEMA))
            return [c.text for c in free.choices], [c.text for c in constrained.choices]

    free, constrained = asyncio.run(go())
    assert len(constrained) == 4
    assert not any(_fits_schema(t) for t in free), "unconstrained output should not fit"
    assert all(_fits_schema(t) for t in constrained), constrained


def test_game24_grammar_is_enforced(server: EmbeddedServer) -> None:
    domain = Game24Domain()
    problem = domain.parse_problem("3 3 8 8")
    params = SamplingParams(n=8, temperature=1.0, seed=1, max_tokens=64)

    async def go() -> list[str]:
        async with OpenAICompatClient(server.base_url, model=server.model) as client:
            result = await client.chat(domain.initial_messages(problem), params,
                                       domain.structured_output(problem))
            return [c.text for c in result.choices]

    texts = asyncio.run(go())
    verifier = Game24Verifier()
    for text in texts:
        candidate = domain.parse_candidate(problem, text)
        assert candidate.answer is not None, text
        kinds = {c.kind for c in verifier.check(problem, candidate).critiques}
        assert not kinds & {"unparseable", "number_missing", "number_extra"}, (text, kinds)


def test_loop_on_real_vllm_and_every_accept_reverifies(server: EmbeddedServer) -> None:
    domain, verifier = Game24Domain(), Game24Verifier()
    problems = [domain.parse_problem(p) for p in ("4 4 6 8", "1 2 3 4", "6 6 6 6", "2 2 6 6")]
    config = LoopConfig(budget=Budget(rounds=3, samples=6),
                        sampling=SamplingParams(temperature=1.0, seed=0, max_tokens=64))

    async def go() -> list[SolveResult]:
        async with OpenAICompatClient(server.base_url, model=server.model) as client:
            solver = Solver(domain, verifier, client, config)
            return [r async for r in solver.solve_many(problems, concurrency=4)]

    results = asyncio.run(go())
    assert len(results) == len(problems)
    assert all(r.stop_reason.value != "error" for r in results), [r.error for r in results]
    for r in results:
        assert r.usage.completion_tokens > 0 and r.model == "smollm2"
        for a in r.attempts:
            assert a.verdict.status in (Status.ACCEPT, Status.REJECT)
        if r.solution is not None:
            again = verifier.verify(r.problem, r.solution.candidate)
            assert again.status is Status.ACCEPT
            assert r.solution.verdict.status is Status.ACCEPT
    print("solved", sum(r.solved for r in results), "of", len(results))


def test_cli_solve_on_real_vllm(server: EmbeddedServer) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "llm_modulo.cli", "solve", "--problem", "4 4 6 8",
         "--base-url", server.base_url, "--json", "--rounds", "2", "-n", "4"],
        capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )
    assert r.returncode in (0, 1), r.stderr
    result = json.loads(r.stdout)
    assert result["model"] == "smollm2" and len(result["attempts"]) >= 4


@pytest.mark.parametrize("strategy", ["beam", "mcts"])
def test_cli_tree_search_on_real_vllm(server: EmbeddedServer, strategy: str,
                                      tmp_path: Path) -> None:
    """The issue's command: a tree search on the embedded model, every step from the real
    server checked by the sound prefix check, the tree in the result and the corpus."""
    r = subprocess.run(
        [sys.executable, "-m", "llm_modulo.cli", "solve", "--domain", "game24", "--problem",
         "1 1 4 6", "--strategy", strategy, "--base-url", server.base_url, "--json",
         "--temperature", "1.5", "--request-budget", "6", "-n", "4",
         "--corpus", str(tmp_path / "c.db")],
        capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )
    assert r.returncode in (0, 1), r.stderr
    result = json.loads(r.stdout)
    assert result["strategy"] == strategy and 1 <= result["requests"] <= 6
    nodes = result["search"]["nodes"]
    assert len(nodes) >= 2, "no step read from the real model"  # the step grammar holds
    for node in nodes[1:]:
        assert node["verdict"]["status"] in ("accept", "reject"), node  # legal moves decide
    if result["solution"] is not None:
        assert result["solution"]["verdict"]["status"] == "accept"
        assert result["solution"]["finish_reason"] == "assembled"
    export = subprocess.run(
        [sys.executable, "-m", "llm_modulo.cli", "export", "--format", "prm", "--corpus",
         str(tmp_path / "c.db"), "--out", str(tmp_path / "prm.jsonl")],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert export.returncode == 0, export.stderr
    rows = [json.loads(line) for line in (tmp_path / "prm.jsonl").read_text().splitlines()]
    assert rows and all(len(r["completions"]) == len(r["labels"]) for r in rows)
