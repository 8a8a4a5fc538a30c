"""The strategy seam: backprompt and best_of_n, the shared budget, options, the CLI."""

from __future__ import annotations

import asyncio
import json
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from llm_modulo import (
    Attempt,
    Budget,
    LoopConfig,
    OpenAICompatClient,
    RetryPolicy,
    SamplingParams,
    SearchContext,
    Solver,
    SolveResult,
    StopReason,
    Strategy,
    UsageError,
)
from llm_modulo.cli import app
from llm_modulo.cli.common import parse_strategy_options
from llm_modulo.domains.game24 import Game24Domain
from llm_modulo.pool import WorkerPool
from llm_modulo.registry import Registry, default_registry
from llm_modulo.strategies.backprompt import BackPrompt
from llm_modulo.strategies.best_of_n import BestOfN
from llm_modulo.testing import Reply, ScriptedServer
from llm_modulo.verifiers.game24.verifier import Game24Verifier
from llm_modulo.verifiers.math.verifier import MathVerifier

DOMAIN = Game24Domain()
PROBLEM = DOMAIN.parse_problem("4 4 6 8")
WRONG = json.dumps({"expression": "4*6+8-4"})  # 28
RIGHT = json.dumps({"expression": "(4+8)*(6-4)"})
runner = CliRunner()


def solve(server: ScriptedServer, pool: WorkerPool, strategy: Strategy, budget: Budget,
          max_tokens: int = 256) -> SolveResult:
    cfg = LoopConfig(budget=budget, sampling=SamplingParams(seed=7, max_tokens=max_tokens))

    async def go() -> SolveResult:
        async with OpenAICompatClient(server.base_url, model="m",
                                      retry=RetryPolicy(max_retries=0)) as client:
            return await Solver(DOMAIN, Game24Verifier(), client, cfg, pool=pool,
                                strategy=strategy).solve(PROBLEM)

    return asyncio.run(go())


def test_backprompt_is_the_default_and_back_prompts(scripted: ScriptedServer,
                                                     pool: WorkerPool) -> None:
    scripted.script(Reply([WRONG]), Reply([RIGHT]))
    cfg = LoopConfig(budget=Budget(rounds=3, samples=1))

    async def go() -> SolveResult:
        async with OpenAICompatClient(scripted.base_url, model="m") as client:
            return await Solver(DOMAIN, Game24Verifier(), client, cfg, pool=pool).solve(PROBLEM)

    result = asyncio.run(go())
    assert result.solved and result.strategy == "backprompt" and result.requests == 2
    second = scripted.completion_requests()[1]["messages"]
    assert len(second) > len(scripted.completion_requests()[0]["messages"])
    assert "not correct" in second[-1]["content"]


def test_best_of_n_never_back_prompts(scripted: ScriptedServer, pool: WorkerPool) -> None:
    scripted.script(Reply([WRONG, WRONG]), Reply([WRONG, WRONG]), Reply([WRONG, RIGHT]))
    result = solve(scripted, pool, BestOfN(), Budget(rounds=5, samples=2))
    assert result.solved and result.solution is not None
    assert (result.solution.round, result.solution.sample) == (3, 1)
    prompts = [json.dumps(r["messages"]) for r in scripted.completion_requests()]
    assert len(prompts) == 3 and len(set(prompts)) == 1  # the same first prompt every time
    seeds = [r["seed"] for r in scripted.completion_requests()]
    assert seeds == [7, 8, 9]  # a fresh seed per request


@pytest.mark.parametrize("strategy", [BackPrompt(), BestOfN()], ids=lambda s: s.name)
def test_request_budget_is_honoured(scripted: ScriptedServer, pool: WorkerPool,
                                    strategy: Strategy) -> None:
    scripted.responder = lambda body: [WRONG]
    result = solve(scripted, pool, strategy, Budget(rounds=10, samples=2, max_requests=3))
    assert result.stop_reason is StopReason.REQUESTS
    assert result.requests == 3 == len(scripted.completion_requests())


@pytest.mark.parametrize("strategy", [BackPrompt(), BestOfN()], ids=lambda s: s.name)
def test_generated_token_budget_is_honoured(scripted: ScriptedServer, pool: WorkerPool,
                                            strategy: Strategy) -> None:
    scripted.responder = lambda body: [WRONG]  # two words: two "tokens" per sample
    result = solve(scripted, pool, strategy, Budget(rounds=50, samples=2,
                                                    max_generated_tokens=9))
    assert result.stop_reason is StopReason.TOKENS
    assert result.usage.completion_tokens == 10  # 2 + 2 samples x 2, then 1 sample; spent
    asked = [(r["n"], r["max_tokens"]) for r in scripted.completion_requests()]
    # never more per sample than the budget leaves (9//2, 5//2), and with 1 token left for
    # 2 samples, one sample of one token
    assert asked == [(2, 4), (2, 2), (1, 1)]


def test_per_sample_max_tokens_is_unchanged_without_a_generated_budget(
        scripted: ScriptedServer, pool: WorkerPool) -> None:
    scripted.responder = lambda body: [WRONG]
    solve(scripted, pool, BestOfN(), Budget(rounds=2, samples=1), max_tokens=99)
    assert [r["max_tokens"] for r in scripted.completion_requests()] == [99, 99]


class ClaimsAnything(Strategy):
    name: ClassVar[str] = "claims_anything"

    async def search(self, ctx: SearchContext) -> Attempt | None:
        generation = await ctx.generate(ctx.domain.initial_messages(ctx.problem), ctx.params(1))
        return (await ctx.attempts(1, generation))[0]  # returned even when rejected: a bug


class Buggy(Strategy):
    name: ClassVar[str] = "buggy"

    async def search(self, ctx: SearchContext) -> Attempt | None:
        raise KeyError("oops")


def test_a_strategy_bug_ends_the_problem_not_the_batch(scripted: ScriptedServer,
                                                       pool: WorkerPool) -> None:
    result = solve(scripted, pool, Buggy(), Budget())
    assert result.stop_reason is StopReason.ERROR
    assert "strategy buggy failed: KeyError" in (result.error or "")


def test_a_strategy_cannot_pass_off_a_rejected_attempt(scripted: ScriptedServer,
                                                       pool: WorkerPool) -> None:
    scripted.responder = lambda body: [WRONG]
    result = solve(scripted, pool, ClaimsAnything(), Budget())
    assert not result.solved and result.stop_reason is StopReason.ERROR
    assert "not accepted" in (result.error or "")


class Needy(Strategy):
    name: ClassVar[str] = "needy"
    stepwise: ClassVar[bool] = True

    async def search(self, ctx: SearchContext) -> Attempt | None:
        raise AssertionError("never run")


def test_a_stepwise_strategy_refuses_a_whole_answer_domain() -> None:
    from llm_modulo.domains.math_answer import MathAnswerDomain

    with pytest.raises(UsageError, match="needs a stepwise domain"):
        Needy().check_fits(MathAnswerDomain(), MathVerifier())


def test_options_are_validated() -> None:
    with pytest.raises(UsageError, match="option foo"):
        BestOfN({"foo": 1})
    assert parse_strategy_options(["a=1", "b=true", "c=x", "d=1.5", "e=-2"]) == {
        "a": 1, "b": True, "c": "x", "d": 1.5, "e": -2}
    for bad in (["novalue"], ["=1"], ["a b=1"], ["a=1", "a=2"]):
        with pytest.raises(UsageError):
            parse_strategy_options(bad)


def test_plugin_strategies_register_like_verifiers() -> None:
    registry = Registry()
    registry.register_strategy(ClaimsAnything)
    assert registry.strategy("claims_anything").name == "claims_anything"
    assert {e.name for e in default_registry.strategies.entries()} >= {"backprompt",
                                                                          "best_of_n"}


def test_strategies_command_lists_them() -> None:
    result = runner.invoke(app, ["strategies", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)["strategies"]}
    assert {"backprompt", "best_of_n"} <= set(rows)
    assert rows["best_of_n"]["stepwise"] is False


@pytest.mark.parametrize("args, message", [
    (["--strategy", "nope"], "no strategy named 'nope'"),
    (["--strategy", "best_of_n", "-O", "width=3"], "option width"),
    (["-O", "x"], "KEY=VALUE"),
])
def test_solve_refuses_bad_strategies_in_one_line(args: list[str], message: str,
                                                  tmp_path: Any) -> None:
    result = runner.invoke(app, ["solve", "-p", "4 4 6 8", "--base-url",
                                 "http://127.0.0.1:9/v1", "--corpus",
                                 str(tmp_path / "c.db"), *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "c.db").exists()  # refused before a run was registered


def test_solve_json_reports_strategy_and_requests(scripted: ScriptedServer,
                                                  tmp_path: Any) -> None:
    scripted.script(Reply([WRONG]), Reply([RIGHT]))
    result = runner.invoke(app, ["solve", "-p", "4 4 6 8", "--base-url", scripted.base_url,
                                 "--strategy", "best_of_n", "-n", "1", "--json", "--corpus",
                                 str(tmp_path / "c.db")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["strategy"] == "best_of_n" and data["requests"] == 2
    assert data["stop_reason"] == "accepted"


@pytest.mark.parametrize("strategy", [BackPrompt(), BestOfN()], ids=lambda s: s.name)
def test_the_result_names_the_model_the_client_learned(scripted: ScriptedServer,
                                                       pool: WorkerPool,
                                                       strategy: Strategy) -> None:
    """A client given no model learns it from the server on its first request: the result
    names it (it was None once, when the name was taken before the first request)."""
    scripted.script(Reply([RIGHT]))

    async def go() -> SolveResult:
        async with OpenAICompatClient(scripted.base_url) as client:
            return await Solver(DOMAIN, Game24Verifier(), client, LoopConfig(), pool=pool,
                                strategy=strategy).solve(PROBLEM)

    result = asyncio.run(go())
    assert result.solved and result.model == scripted.model
