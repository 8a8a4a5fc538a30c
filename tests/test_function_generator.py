"""FunctionGenerator: the loop runs against a plain function, no server."""

from __future__ import annotations

import asyncio
import json

from llm_modulo import Budget, LoopConfig, Message, SamplingParams, Solver, Status, StopReason
from llm_modulo.domains.game24 import Game24Domain
from llm_modulo.pool import WorkerPool
from llm_modulo.testing import FunctionGenerator
from llm_modulo.verifiers.game24.verifier import Game24Verifier

WRONG = json.dumps({"expression": "4*6+8-4"})  # 28
RIGHT = json.dumps({"expression": "(4+8)*(6-4)"})


def test_back_prompt_reaches_the_function_and_round_two_solves(pool: WorkerPool) -> None:
    def fn(messages: list[Message], params: SamplingParams) -> list[str]:
        return [RIGHT] if len(messages) > 2 else [WRONG]

    gen = FunctionGenerator(fn)
    domain = Game24Domain()
    solver = Solver(domain, Game24Verifier(), gen,
                    LoopConfig(budget=Budget(rounds=3, samples=2)), pool=pool)
    result = asyncio.run(solver.solve(domain.parse_problem("4 4 6 8")))
    assert result.solved and result.stop_reason is StopReason.ACCEPTED
    assert result.solution is not None and result.solution.round == 2
    assert [a.verdict.status for a in result.attempts[:2]] == [Status.REJECT] * 2
    assert len(gen.calls) == 2 and gen.calls[0][1].n == 2
    back_prompt = gen.calls[1][0][-1].content
    assert "28" in back_prompt  # the critique of the wrong value went back to the model
    assert result.usage.total_tokens > 0


def test_a_single_string_is_cycled_to_n_samples() -> None:
    gen = FunctionGenerator(lambda messages, params: "x")
    done = asyncio.run(gen.generate([Message(role="user", content="a b")], SamplingParams(n=3)))
    assert [c.text for c in done.choices] == ["x", "x", "x"]
    assert done.usage.prompt_tokens == 2 and done.usage.completion_tokens == 3
