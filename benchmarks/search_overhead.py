"""Search overhead: what each strategy costs on top of the server, at 64 problems in flight.

A scripted OpenAI-compatible server runs in its own process with a fixed latency per request
(GPU-like: every request in flight finishes after ``--latency`` seconds, whatever the load)
and answers with the deterministic policy of ``tests/stepwise_fakes.py`` (``RushPolicy``:
right one step at a time, wrong at step 2 of a whole answer until a critique names it). The
problems are the toy stepwise domain's (reach a target with steps of 1..5); every candidate
and every prefix goes through the real worker pool. Each strategy (``backprompt``,
``best_of_n``, ``beam``, ``mcts``) solves the same problems with ``Solver.solve_many``.

Printed per strategy:
- requests, generated tokens, wall time;
- ideal: the server-bound wall time of the *same* requests (each problem's request count,
  ``latency`` each, problems taken in order by ``in_flight`` workers, as ``solve_many`` does);
  ratio = ideal / wall (goal >= 0.95);
- raw: a bare client sending the same number of requests per problem (same prompts' size,
  no strategy, no verification), measured in the same run; loop / raw;
- strategy time per generated token: the time problems spent outside a generator call
  (strategy, prefix checks, judging, recording), summed over problems, per generated token;
- this process's CPU time per request (client, loop and strategy; the verifier workers are
  other processes): what to compare on a loaded machine, where wall ratios mostly measure
  the other processes.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.stepwise_fakes (the toy domain and its policy)
os.environ["PYTHONPATH"] = os.pathsep.join(  # worker processes import it too
    [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])

from llm_modulo import (  # noqa: E402
    Budget,
    LoopConfig,
    OpenAICompatClient,
    Problem,
    SamplingParams,
    Solver,
    WorkerPool,
)
from llm_modulo.generator import Completion  # noqa: E402
from llm_modulo.strategies.backprompt import BackPrompt  # noqa: E402
from llm_modulo.strategies.beam import Beam  # noqa: E402
from llm_modulo.strategies.best_of_n import BestOfN  # noqa: E402
from llm_modulo.strategies.mcts import MCTS  # noqa: E402
from llm_modulo.strategy import Strategy  # noqa: E402
from llm_modulo.structured import StructuredOutput  # noqa: E402
from llm_modulo.types import Message  # noqa: E402
from tests.stepwise_fakes import ToySumDomain, ToySumVerifier, toy_problem  # noqa: E402


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_modulo.testing", "--latency", str(latency),
         "--responder", "tests.stepwise_fakes:responder"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}/v1"


class Timed:
    """The client, with the time spent inside its calls summed."""

    def __init__(self, inner: OpenAICompatClient) -> None:
        self.inner = inner
        self.model: str | None = inner.model
        self.busy = 0.0

    async def generate(self, messages: list[Message], params: SamplingParams,
                       structured: StructuredOutput | None = None) -> Completion:
        start = time.perf_counter()
        try:
            return await self.inner.generate(messages, params, structured)
        finally:
            self.busy += time.perf_counter() - start


def strategies(samples: int) -> dict[str, Strategy]:
    return {"backprompt": BackPrompt(), "best_of_n": BestOfN(),
            "beam": Beam({"beam_width": 3, "expand": samples}),
            "mcts": MCTS({"expand": samples, "simulations": 20})}


async def loop_run(url: str, strategy: Strategy, problems: list[Problem], in_flight: int,
                   samples: int, pool: WorkerPool) -> dict[str, Any]:
    config = LoopConfig(budget=Budget(rounds=3, samples=samples),
                        sampling=SamplingParams(max_tokens=64), concurrency=in_flight)
    counts: list[int] = []
    tokens = solved = 0
    elapsed = 0.0
    async with OpenAICompatClient(url, model="scripted") as client:
        timed = Timed(client)
        solver = Solver(ToySumDomain(), ToySumVerifier(), timed, config, strategy=strategy,
                        pool=pool)
        start, cpu = time.perf_counter(), time.process_time()
        by_index: dict[int, int] = {}
        async for result in solver.solve_many(problems):
            by_index[int(result.problem.id or 0)] = result.requests
            tokens += result.usage.completion_tokens
            solved += result.solved
            elapsed += result.elapsed_s
            if result.error:
                raise SystemExit(f"{strategy.name}: {result.error}")
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    counts = [by_index[i] for i in range(len(problems))]
    return {"wall": wall, "counts": counts, "tokens": tokens, "solved": solved,
            "outside": elapsed - timed.busy, "cpu": cpu}


async def raw_run(url: str, problems: list[Problem], counts: list[int], in_flight: int,
                  samples: int) -> float:
    """The same number of requests per problem from a bare client (a step prompt each)."""
    domain = ToySumDomain()
    params = SamplingParams(n=samples, max_tokens=64, stop=["\n"])
    source = iter(zip(problems, counts, strict=True))

    async def worker(client: OpenAICompatClient) -> None:
        for problem, count in source:
            messages = domain.step_messages(problem, ())
            for _ in range(count):
                await client.chat(messages, params)

    start = time.perf_counter()
    async with OpenAICompatClient(url, model="scripted") as client:
        await asyncio.gather(*(worker(client) for _ in range(in_flight)))
    return time.perf_counter() - start


def ideal_wall(counts: list[int], in_flight: int, latency: float) -> float:
    """Server-bound wall time: problems taken in order by ``in_flight`` workers, each
    request taking exactly ``latency``."""
    free = [0.0] * in_flight
    for count in counts:
        heapq.heappush(free, heapq.heappop(free) + count * latency)
    return max(free)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=256)
    ap.add_argument("--in-flight", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.5, help="seconds per request")
    ap.add_argument("--samples", type=int, default=3, help="n per request (k, expand)")
    ap.add_argument("--only", nargs="*", help="strategies to run (default: all four)")
    args = ap.parse_args()

    problems = [toy_problem(target=8 + i % 13, max_step=5, max_steps=5).model_copy(
        update={"id": str(i)}) for i in range(args.problems)]
    proc, url = start_server(args.latency)
    rows = []
    try:
        with WorkerPool() as pool:
            every = strategies(args.samples)
            unknown = set(args.only or ()) - set(every)
            if unknown:
                raise SystemExit(f"--only: no strategy {', '.join(sorted(unknown))}")
            chosen = {k: every[k] for k in (args.only or every)}
            # warm the worker pool and the connections
            asyncio.run(loop_run(url, chosen[next(iter(chosen))], problems[: args.in_flight],
                                 args.in_flight, args.samples, pool))
            for name, strategy in chosen.items():
                run = asyncio.run(loop_run(url, strategy, problems, args.in_flight,
                                           args.samples, pool))
                raw = asyncio.run(raw_run(url, problems, run["counts"], args.in_flight,
                                          args.samples))
                rows.append((name, run, raw))
    finally:
        proc.terminate()
        proc.wait()

    print(f"problems={args.problems} in_flight={args.in_flight} latency={args.latency}s "
          f"n={args.samples}")
    print(f"{'strategy':<11}{'solved':>7}{'requests':>9}{'tokens':>8}{'wall s':>8}"
          f"{'ideal s':>8}{'raw s':>7}{'ideal/wall':>11}{'raw/wall':>9}{'us/token':>9}")
    for name, run, raw in rows:
        requests = sum(run["counts"])
        ideal = ideal_wall(run["counts"], args.in_flight, args.latency)
        per_token = 1e6 * run["outside"] / max(1, run["tokens"])
        print(f"{name:<11}{run['solved']:>7}{requests:>9}{run['tokens']:>8}"
              f"{run['wall']:>8.2f}{ideal:>8.2f}{raw:>7.2f}{ideal / run['wall']:>11.3f}"
              f"{raw / run['wall']:>9.3f}{per_token:>9.0f}"
              f"{1e3 * run['cpu'] / max(1, requests):>11.2f}")
    print("goal: ideal/wall >= 0.95 for every strategy. us/token: time outside generator "
          "calls, summed over problems, per generated token; cpu ms/req: CPU time of this "
          "process (client, loop, strategy; not the verifier workers) per request")


if __name__ == "__main__":
    main()
