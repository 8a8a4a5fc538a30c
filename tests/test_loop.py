"""The generate-test loop against a scripted server: rounds, feedback, budgets, concurrency."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from llm_modulo import (
    Budget,
    FeedbackLevel,
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
from llm_modulo.pool import WorkerPool
from llm_modulo.testing import Reply, ScriptedServer
from llm_modulo.testing import Status as HTTPStatus
from llm_modulo.verifiers.game24.verifier import Game24Verifier
from tests.fakes import EchoDomain, EchoStatus, UnsoundAccepts

DOMAIN = Game24Domain()
PROBLEM = DOMAIN.parse_problem("4 4 6 8")
WRONG = json.dumps({"expression": "4*6+8-4"})  # 28
TWO_WRONGS = json.dumps({"expression": "4*4+6"})  # 8 missing, value 22
RIGHT = json.dumps({"expression": "(4+8)*(6-4)"})


def config(**kw: Any) -> LoopConfig:
    budget = Budget(**{k: kw.pop(k) for k in ("rounds", "samples", "max_tokens", "wall_time_s")
                       if k in kw})
    return LoopConfig(budget=budget, sampling=SamplingParams(seed=kw.pop("seed", None)), **kw)


def solve(server: ScriptedServer, pool: WorkerPool, cfg: LoopConfig, *, domain: Any = DOMAIN,
          verifier: Any = None, problem: Any = PROBLEM) -> SolveResult:
    async def go() -> SolveResult:
        async with OpenAICompatClient(server.base_url, model="m",
                                      retry=RetryPolicy(max_retries=0)) as client:
            solver = Solver(domain, verifier or Game24Verifier(), client, cfg, pool=pool)
            return await solver.solve(problem)

    return asyncio.run(go())


@pytest.mark.parametrize("k", [1, 2, 4])
def test_accept_in_round_k(scripted: ScriptedServer, pool: WorkerPool, k: int) -> None:
    scripted.script(*[Reply([WRONG])] * (k - 1), Reply([WRONG, RIGHT]))
    result = solve(scripted, pool, config(rounds=5, samples=2))
    assert result.solved and result.stop_reason is StopReason.ACCEPTED
    assert result.solution is not None
    assert result.solution.round == k and result.solution.sample == 1
    assert result.solution.verdict.status is Status.ACCEPT
    assert len(result.attempts) == 2 * k
    assert len(scripted.completion_requests()) == k
    assert result.usage.total_tokens == sum(a.usage.total_tokens for a in result.attempts)


def test_budget_of_rounds_is_exhausted(scripted: ScriptedServer, pool: WorkerPool) -> None:
    scripted.responder = lambda body: [WRONG]
    result = solve(scripted, pool, config(rounds=3, samples=4))
    assert not result.solved and result.stop_reason is StopReason.ROUNDS
    assert len(result.attempts) == 12 and result.rounds == 3
    assert all(a.verdict.status is Status.REJECT for a in result.attempts)
    assert [r["n"] for r in scripted.completion_requests()] == [4, 4, 4]


def test_token_budget_stops_before_the_next_round(scripted: ScriptedServer,
                                                  pool: WorkerPool) -> None:
    scripted.responder = lambda body: [WRONG]
    result = solve(scripted, pool, config(rounds=10, samples=1, max_tokens=1))
    assert result.stop_reason is StopReason.TOKENS
    assert len(scripted.completion_requests()) == 1


def test_wall_time_budget(scripted: ScriptedServer, pool: WorkerPool) -> None:
    scripted.responder = lambda body: [WRONG]
    scripted.latency_s = 0.4
    result = solve(scripted, pool, config(rounds=10, samples=1, wall_time_s=1.0))
    assert result.stop_reason is StopReason.WALL_TIME
    assert result.elapsed_s < 2.0
    assert 1 <= len(result.attempts) <= 3


def test_generator_failure_ends_with_error(scripted: ScriptedServer, pool: WorkerPool) -> None:
    scripted.script(HTTPStatus(500))
    result = solve(scripted, pool, config(rounds=3))
    assert result.stop_reason is StopReason.ERROR and "HTTP 500" in (result.error or "")


def _second_prompt(scripted: ScriptedServer) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = scripted.completion_requests()[1]["messages"]
    return messages


@pytest.mark.parametrize("level", list(FeedbackLevel))
def test_back_prompt_carries_critiques_per_level(scripted: ScriptedServer, pool: WorkerPool,
                                                 level: FeedbackLevel) -> None:
    scripted.script(Reply([TWO_WRONGS]), Reply([RIGHT]))
    result = solve(scripted, pool, config(rounds=2, samples=1, feedback=level))
    assert result.solved
    first = scripted.completion_requests()[0]["messages"]
    second = _second_prompt(scripted)
    missing, value = "the given number 8 is not used", "evaluates to 22, not 24"
    text = second[-1]["content"]
    if level is FeedbackLevel.NONE:
        assert second == first
        return
    assert second[:-2] == first
    assert second[-2] == {"role": "assistant", "content": TWO_WRONGS}
    assert "not correct" in text
    if level is FeedbackLevel.BINARY:
        assert missing not in text and value not in text
    elif level is FeedbackLevel.FIRST:
        assert missing in text and value not in text
    else:
        assert missing in text and value in text


def test_back_prompt_never_contains_a_gold_answer(scripted: ScriptedServer,
                                                  pool: WorkerPool) -> None:
    scripted.script(Reply([WRONG]), Reply([WRONG]))
    solve(scripted, pool, config(rounds=2, samples=1))
    assert "(4+8)*(6-4)" not in json.dumps(_second_prompt(scripted)[1:])


def test_feedback_targets_the_answer_with_fewest_problems(scripted: ScriptedServer,
                                                          pool: WorkerPool) -> None:
    scripted.script(Reply([TWO_WRONGS, WRONG]), Reply([RIGHT]))
    solve(scripted, pool, config(rounds=2, samples=2))
    assert _second_prompt(scripted)[-2]["content"] == WRONG


def test_seed_differs_per_round(scripted: ScriptedServer, pool: WorkerPool) -> None:
    scripted.responder = lambda body: [WRONG]
    solve(scripted, pool, config(rounds=3, samples=1, seed=10))
    assert [r["seed"] for r in scripted.completion_requests()] == [10, 11, 12]


def test_unknown_is_not_fed_back_and_does_not_stop(scripted: ScriptedServer,
                                                   pool: WorkerPool) -> None:
    unknown = json.dumps({"status": "unknown"})
    scripted.script(Reply([unknown]), Reply([json.dumps({"status": "accept"})]))
    domain = EchoDomain()
    result = solve(scripted, pool, config(rounds=3, samples=1), domain=domain,
                   verifier=EchoStatus(), problem=domain.parse_problem("q"))
    assert result.solved and result.solution is not None and result.solution.round == 2
    assert _second_prompt(scripted) == scripted.completion_requests()[0]["messages"]


def test_unsound_accept_does_not_end_the_loop(scripted: ScriptedServer, pool: WorkerPool) -> None:
    scripted.responder = lambda body: [json.dumps({"status": "accept"})]
    domain = EchoDomain()
    result = solve(scripted, pool, config(rounds=2, samples=1), domain=domain,
                   verifier=UnsoundAccepts(), problem=domain.parse_problem("q"))
    assert not result.solved and result.stop_reason is StopReason.ROUNDS


def test_unparseable_completion_is_rejected_with_its_reason(scripted: ScriptedServer,
                                                           pool: WorkerPool) -> None:
    scripted.script(Reply(["I cannot do this"]))
    result = solve(scripted, pool, config(rounds=1, samples=1))
    critique = result.attempts[0].verdict.critiques[0]
    assert result.attempts[0].verdict.status is Status.REJECT
    assert critique.kind == "unparseable" and "no expression" in critique.message


def test_many_problems_in_flight_are_bounded(pool: WorkerPool) -> None:
    from llm_modulo.domains.game24 import scripted_responder as game24_responder

    problems = DOMAIN.generate_problems(24, seed=3)
    with ScriptedServer(game24_responder, latency_s=0.2) as server:

        async def go() -> list[SolveResult]:
            async with OpenAICompatClient(server.base_url, model="m") as client:
                solver = Solver(DOMAIN, Game24Verifier(), client,
                                config(rounds=3, samples=2), pool=pool)
                return [r async for r in solver.solve_many(problems, concurrency=8)]

        results = asyncio.run(go())
        assert server.max_in_flight == 8
    assert sorted(r.problem.hash for r in results) == sorted(p.hash for p in problems)
    assert all(r.solved and r.solution is not None and r.solution.round == 2 for r in results)
