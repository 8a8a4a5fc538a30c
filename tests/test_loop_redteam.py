"""The loop against misbehaving generators and servers: it ends (stop_reason error) or goes
on, never crashes or hangs, and its token accounting stays exact."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from llm_modulo import (
    Budget,
    LoopConfig,
    OpenAICompatClient,
    RetryPolicy,
    SamplingParams,
    Solver,
    SolveResult,
    Status,
    StopReason,
)
from llm_modulo.domains.game24 import Game24Domain
from llm_modulo.errors import UsageError
from llm_modulo.generator import Completion, GeneratedChoice
from llm_modulo.pool import WorkerPool
from llm_modulo.testing import Raw, Reply, ScriptedServer
from llm_modulo.types import Candidate, Message, Problem, Usage
from llm_modulo.verifiers.game24.verifier import Game24Verifier

DOMAIN = Game24Domain()
PROBLEM = DOMAIN.parse_problem("4 4 6 8")
WRONG = json.dumps({"expression": "4*6+8-4"})
RIGHT = json.dumps({"expression": "(4+8)*(6-4)"})


def cfg(rounds: int = 3, samples: int = 2, **budget: Any) -> LoopConfig:
    return LoopConfig(budget=Budget(rounds=rounds, samples=samples, **budget),
                      sampling=SamplingParams(seed=0))


def solve_at(url: str, pool: WorkerPool, config: LoopConfig, *, domain: Any = DOMAIN,
             retries: int = 0) -> SolveResult:
    async def go() -> SolveResult:
        async with OpenAICompatClient(url, model="m",
                                      retry=RetryPolicy(max_retries=retries,
                                                        backoff_base_s=0.01)) as client:
            return await asyncio.wait_for(
                Solver(domain, Game24Verifier(), client, config, pool=pool).solve(PROBLEM), 60)

    return asyncio.run(go())


def body(choices: list[dict[str, Any]], prompt: int = 10, completion: int = 7) -> str:
    return json.dumps({"model": "m", "choices": choices,
                       "usage": {"prompt_tokens": prompt, "completion_tokens": completion}})


def choice(text: str, i: int = 0, finish: str = "stop") -> dict[str, Any]:
    return {"index": i, "message": {"role": "assistant", "content": text},
            "finish_reason": finish}


def exact(result: SolveResult) -> None:
    """The result's usage is exactly what the attempts carry (rounds with samples)."""
    assert result.usage.total_tokens == sum(a.usage.total_tokens for a in result.attempts)


def test_empty_choices_go_on_to_the_next_round(scripted: ScriptedServer,
                                               pool: WorkerPool) -> None:
    scripted.script(Raw(body([])), Raw(body([])), Reply([RIGHT]))
    result = solve_at(scripted.base_url, pool, cfg())
    assert result.stop_reason is StopReason.ACCEPTED and result.solution is not None
    assert result.solution.round == 3 and len(result.attempts) == 2
    # the empty rounds' tokens count against the budget, though no attempt carries them
    assert result.usage.prompt_tokens >= 20


def test_more_choices_than_asked_are_cut_to_n(scripted: ScriptedServer,
                                              pool: WorkerPool) -> None:
    many = [choice(WRONG, i) for i in range(50)]
    scripted.script(Raw(body(many, 100, 50)))
    result = solve_at(scripted.base_url, pool, cfg(rounds=1, samples=2))
    assert len(result.attempts) == 2  # verified 2, not 50
    assert result.usage.prompt_tokens == 100 and result.usage.completion_tokens == 50
    exact(result)


def test_fewer_choices_than_asked(scripted: ScriptedServer, pool: WorkerPool) -> None:
    scripted.script(Raw(body([choice(WRONG)], 9, 4)))
    result = solve_at(scripted.base_url, pool, cfg(rounds=1, samples=4))
    assert len(result.attempts) == 1 and result.stop_reason is StopReason.ROUNDS
    exact(result)


def test_truncated_and_huge_completions_are_rejected_not_crashed(scripted: ScriptedServer,
                                                                 pool: WorkerPool) -> None:
    huge = '{"expression": "' + "(" * (1024 * 1024)
    scripted.script(Raw(body([choice('{"expression": "(4+8)*(6-', 0, "length"),
                              choice(huge, 1, "length")])))
    result = solve_at(scripted.base_url, pool, cfg(rounds=1))
    assert [a.verdict.status for a in result.attempts] == [Status.REJECT, Status.REJECT]
    assert [a.finish_reason for a in result.attempts] == ["length", "length"]
    assert not result.solved


@pytest.mark.parametrize("raw", [
    "not json", '{"choices": "x"}', '{"choices": [{"message": null}]}',
    '{"choices": [{"message": {"content": 5}, "index": "a"}]}',
    '{"choices": [], "usage": {"prompt_tokens": -5}}', "[]", "null",
])
def test_malformed_bodies_end_with_error(scripted: ScriptedServer, pool: WorkerPool,
                                         raw: str) -> None:
    scripted.script(Raw(raw))
    result = solve_at(scripted.base_url, pool, cfg(rounds=2))
    assert result.stop_reason is StopReason.ERROR and result.error
    assert not result.solved and result.attempts == []


@pytest.fixture
def half_answer_server() -> Iterator[str]:
    """Announces 10,000 bytes of JSON, sends 20, and hangs up: on every connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: 10000\r\n\r\n{\"choices\": [{\"mes")
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    stop.set()
    thread.join()
    listener.close()


def test_a_server_that_drops_mid_response(half_answer_server: str, pool: WorkerPool) -> None:
    result = solve_at(half_answer_server, pool, cfg(), retries=2)
    assert result.stop_reason is StopReason.ERROR
    assert result.error and "after 3 tries" in result.error


class ParserBug(Game24Domain):
    name = "parser_bug"

    def parse_candidate(self, problem: Problem, completion: str) -> Candidate:
        raise RuntimeError("bug in the domain")


class PromptBug(Game24Domain):
    name = "prompt_bug"

    def render_prompt(self, problem: Problem) -> str:
        raise KeyError("numbers")


class ConstraintBug(Game24Domain):
    name = "constraint_bug"

    def structured_output(self, problem: Problem) -> Any:
        raise ValueError("no grammar")


@pytest.mark.parametrize(("domain", "what"), [(ParserBug(), "bug in the domain"),
                                              (PromptBug(), "render a prompt"),
                                              (ConstraintBug(), "output constraint")])
def test_a_domain_that_raises_ends_with_error_not_a_reject(scripted: ScriptedServer,
                                                            pool: WorkerPool, domain: Any,
                                                            what: str) -> None:
    scripted.script(Reply([WRONG]))
    result = solve_at(scripted.base_url, pool, cfg(), domain=domain)
    assert result.stop_reason is StopReason.ERROR and what in str(result.error)
    assert result.attempts == []  # nothing is recorded as the model's REJECT


class Scripted:
    """A Generator without HTTP: fixed completions per round."""

    model = "fake"

    def __init__(self, *rounds: Completion) -> None:
        self.rounds = list(rounds)

    async def generate(self, messages: list[Message], params: SamplingParams,
                       structured: Any = None) -> Completion:
        return self.rounds.pop(0)


def test_token_budget_counts_every_round_exactly(pool: WorkerPool) -> None:
    def completion(texts: list[str], p: int, c: int) -> Completion:
        return Completion(model="fake", usage=Usage(prompt_tokens=p, completion_tokens=c),
                          choices=[GeneratedChoice(index=i, text=t)
                                   for i, t in enumerate(texts)])

    gen = Scripted(completion([WRONG, WRONG, WRONG], 7, 5), completion([WRONG], 11, 3),
                   completion([RIGHT], 1, 1))
    config = cfg(rounds=5, samples=3, max_tokens=26)

    async def go() -> SolveResult:
        return await Solver(DOMAIN, Game24Verifier(), gen, config, pool=pool).solve(PROBLEM)

    result = asyncio.run(go())
    # 12 tokens after round 1, 26 after round 2: the budget stops round 3
    assert result.stop_reason is StopReason.TOKENS
    assert result.usage.total_tokens == 26 and len(result.attempts) == 4
    exact(result)
    assert [a.usage.total_tokens for a in result.attempts] == [5, 4, 3, 14]


@pytest.mark.parametrize("url", ["garbage", "ftp://host/v1", "http://[::1", "http:///v1", ""])
def test_an_unusable_base_url_is_a_usage_error(url: str) -> None:
    with pytest.raises(UsageError, match="base URL"):
        OpenAICompatClient(url)
