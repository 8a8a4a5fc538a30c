"""llm_modulo.batch: resumable solving to JSONL from Python, as `run` does."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from llm_modulo import Budget, LoopConfig, Message, SamplingParams, Solver
from llm_modulo.batch import finished_hashes, read_problems, solve_to_jsonl
from llm_modulo.domains.game24 import Game24Domain
from llm_modulo.pool import WorkerPool
from llm_modulo.testing import FunctionGenerator
from llm_modulo.verifiers.game24.verifier import Game24Verifier

RIGHT = {"4 4 6 8": "(4+8)*(6-4)", "1 2 3 4": "1*2*3*4", "2 3 4 5": "(5+3-2)*4"}


def _answer(messages: list[Message], params: SamplingParams) -> str:
    text = messages[-1].content
    for numbers, expression in RIGHT.items():
        if f"Numbers: {numbers}" in text:
            return json.dumps({"expression": expression})
    return json.dumps({"expression": "1+1"})


def test_a_stopped_batch_resumes_where_it_was(tmp_path: Path, pool: WorkerPool) -> None:
    source = tmp_path / "problems.jsonl"
    source.write_text("".join(json.dumps({"numbers": [int(n) for n in k.split()]}) + "\n"
                              for k in RIGHT))
    domain = Game24Domain()
    problems = read_problems(source, domain)
    assert len(problems) == 3
    out = tmp_path / "results.jsonl"
    out.write_text(json.dumps({"problem": {"hash": problems[0].hash},
                               "stop_reason": "accepted"}) + "\n" + '{"cut sho')
    gen = FunctionGenerator(_answer)
    solver = Solver(domain, Game24Verifier(), gen, LoopConfig(budget=Budget(rounds=1, samples=1)),
                    pool=pool)
    seen: list[str] = []
    summary = asyncio.run(solve_to_jsonl(solver, problems, out,
                                         on_result=lambda r: seen.append(r.problem.hash)))
    assert summary.skipped == 1 and summary.solved == 2 and summary.failed == 0
    assert summary.unreadable_lines == 1
    assert sorted(seen) == sorted(p.hash for p in problems[1:])
    assert len(gen.calls) == 2  # the finished problem was not generated again
    lines = out.read_text().splitlines()
    assert lines[1] == '{"cut sho'  # the damaged line is kept as it was, not extended
    done, bad = finished_hashes(out)
    assert done == {p.hash for p in problems} and bad == 1
    again = asyncio.run(solve_to_jsonl(solver, problems, out))
    assert again.skipped == 3 and again.attempted == 0
