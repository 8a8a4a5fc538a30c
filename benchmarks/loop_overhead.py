"""Loop overhead: throughput of the LLM-Modulo loop against a server-bound ideal.

A scripted OpenAI-compatible server runs in its own process with a fixed latency per
request (GPU-like: every request in flight finishes after ``--latency`` seconds, whatever
the load). Each game24 problem takes two rounds (wrong, then right after the back-prompt),
and every candidate goes through the real verifier in the worker pool.

Printed:
- ideal: the server-bound throughput, ``in_flight / latency`` requests per second;
- raw: the same request pattern sent by a bare client (no loop, no verification), measured
  in the same run;
- loop: the achieved throughput of ``Solver.solve_many``, and its ratio to ideal and to raw.

Goal: loop/ideal >= 0.95 with 64 problems in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

from llm_modulo import (
    Budget,
    LoopConfig,
    Message,
    OpenAICompatClient,
    Problem,
    SamplingParams,
    Solver,
    WorkerPool,
)
from llm_modulo.domains.game24 import Game24Domain, solve24
from llm_modulo.verifiers.game24.verifier import Game24Verifier


def start_server(latency: float, problems: list[Problem]) -> tuple[subprocess.Popen[str], str]:
    """The scripted server in its own process, told the answers so it never searches."""
    pairs = [(p.payload["numbers"], solve24(tuple(p.payload["numbers"]))) for p in problems]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(pairs, fh)
    serve = ("import json, sys\n"
             "from llm_modulo import testing\n"
             "from llm_modulo.domains import game24\n"
             "with open(sys.argv[1]) as fh:\n"
             "    game24.KNOWN_SOLUTIONS.update((tuple(n), e) for n, e in json.load(fh))\n"
             "testing.main(sys.argv[2:], responder=game24.scripted_responder)\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", serve, fh.name, "--latency", str(latency)],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())  # printed after the answers are loaded
    os.unlink(fh.name)
    return proc, f"http://127.0.0.1:{port}/v1"


async def raw_baseline(url: str, domain: Game24Domain, problems: list[Problem],
                       in_flight: int, samples: int) -> tuple[int, float]:
    """Two requests per problem (first prompt, then a back-prompt), no verification."""
    params = SamplingParams(n=samples, max_tokens=64)
    source = iter(problems)
    start = time.perf_counter()
    async with OpenAICompatClient(url, model="scripted") as client:
        sent = await asyncio.gather(*(two_rounds(client, domain, source, params)
                                      for _ in range(in_flight)))
    return sum(sent), time.perf_counter() - start


async def two_rounds(client: OpenAICompatClient, domain: Game24Domain,
                     source: Iterator[Problem], params: SamplingParams) -> int:
    """One worker of the bare-client baseline: for each problem it takes from ``source``, the
    first prompt, then a back-prompt; the requests it sent."""
    sent = 0
    for p in source:
        first = domain.initial_messages(p)
        reply = await client.chat(first, params)
        follow = [*first, Message(role="assistant", content=reply.choices[0].text),
                  Message(role="user", content="That answer is not correct.")]
        await client.chat(follow, params)
        sent += 2
    return sent


async def loop_run(url: str, domain: Game24Domain, problems: list[Problem], in_flight: int,
                   samples: int, pool: WorkerPool) -> tuple[int, float, int]:
    config = LoopConfig(budget=Budget(rounds=3, samples=samples),
                        sampling=SamplingParams(max_tokens=64), concurrency=in_flight)
    start = time.perf_counter()
    requests = solved = 0
    async with OpenAICompatClient(url, model="scripted") as client:
        solver = Solver(domain, Game24Verifier(), client, config, pool=pool)
        async for result in solver.solve_many(problems):
            requests += result.rounds
            solved += result.solved
    return requests, time.perf_counter() - start, solved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=640)
    ap.add_argument("--in-flight", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.5, help="seconds per request")
    ap.add_argument("--samples", type=int, default=4, help="n per request")
    args = ap.parse_args()

    domain = Game24Domain()
    problems = domain.generate_problems(args.problems, seed=0)
    proc, url = start_server(args.latency, problems)
    try:
        with WorkerPool() as pool:
            # warm the worker pool and the connections
            asyncio.run(loop_run(url, domain, problems[: args.in_flight], args.in_flight,
                                 args.samples, pool))
            raw_n, raw_s = asyncio.run(raw_baseline(url, domain, problems, args.in_flight,
                                                    args.samples))
            loop_n, loop_s, solved = asyncio.run(loop_run(url, domain, problems, args.in_flight,
                                                          args.samples, pool))
    finally:
        proc.terminate()
        proc.wait()

    ideal = args.in_flight / args.latency
    raw_rate, loop_rate = raw_n / raw_s, loop_n / loop_s
    verifications = loop_n * args.samples
    print(f"problems={args.problems} in_flight={args.in_flight} latency={args.latency}s "
          f"n={args.samples}; solved {solved}/{args.problems}")
    print(f"ideal (server-bound): {ideal:8.1f} requests/s")
    print(f"raw client:           {raw_rate:8.1f} requests/s  ({raw_n} requests in {raw_s:.2f} s)")
    print(f"loop:                 {loop_rate:8.1f} requests/s  ({loop_n} requests, "
          f"{verifications} verifications in {loop_s:.2f} s)")
    print(f"loop / ideal = {loop_rate / ideal:.3f}   loop / raw = {loop_rate / raw_rate:.3f}   "
          f"(goal: loop / ideal >= 0.95)")


if __name__ == "__main__":
    main()
