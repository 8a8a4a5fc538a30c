"""``--engine ray`` against the local engine, in one run, on one machine.

The scripted server of ``loop_overhead.py`` (its own process, a fixed latency per request;
every game24 problem takes two rounds) answers three batches of the same problems:

- local: ``Solver.solve_many`` recording every round in a corpus (what ``run`` does);
- ray, 1 actor and ray, 2 actors: :func:`llm_modulo.ray_engine.solve_on_ray` on a local Ray
  started once (its start is not timed; each batch's actor start is), each result recorded by
  the driver.

Printed per engine: wall time, requests/s and its ratio to the server-bound ideal
(``in_flight / latency``), the ratio to the local engine of the same run, and for Ray the
driver's CPU per problem (this process's CPU time, all its threads, Ray's own included, while
the batch runs: submitting calls, unpickling outcomes, the corpus transactions). On a 2-core
machine the actors share the cores with the driver and the server: this measures the
engine's overhead, not a cluster's speed-up.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loop_overhead import start_server

from llm_modulo import Budget, LoopConfig, OpenAICompatClient, SamplingParams, Solver
from llm_modulo.corpus import Corpus, CorpusMemory
from llm_modulo.domains.game24 import Game24Domain
from llm_modulo.endpoints import GeneratorSpec
from llm_modulo.pool import WorkerPool
from llm_modulo.ray_engine import ActorSpec, Job, ray_session, solve_on_ray
from llm_modulo.types import Problem
from llm_modulo.verifiers.game24.verifier import Game24Verifier


def local(url: str, problems: list[Problem], config: LoopConfig, corpus: Corpus
          ) -> tuple[int, float]:
    async def go() -> int:
        memory = CorpusMemory(corpus, run_id=corpus.start_run("run", "game24", config),
                              reuse=False)
        requests = 0
        try:
            with WorkerPool(1) as pool:
                async with OpenAICompatClient(url, model="scripted") as client:
                    solver = Solver(Game24Domain(), Game24Verifier(), client, config,
                                    pool=pool, store=memory)
                    async for result in solver.solve_many(problems):
                        requests += result.requests
        finally:
            memory.close()
        return requests

    start = time.perf_counter()
    n = asyncio.run(go())
    return n, time.perf_counter() - start


def on_ray(ray: object, url: str, problems: list[Problem], config: LoopConfig,
           corpus: Corpus, actors: int, **chunk: int) -> tuple[int, float, float, float]:
    """Requests, seconds, seconds to the first result (the actors' start), and the driver's
    CPU seconds."""
    spec = ActorSpec(GeneratorSpec(base_urls=url, model="scripted"))
    job = Job("game24", config, corpus.start_run("run", "game24", config), reuse=False)
    start = time.perf_counter()
    cpu = time.process_time()
    first = 0.0
    requests = 0
    for outcome in solve_on_ray(ray, spec, ((p, job) for p in problems), corpus, actors=actors,
                                concurrency=config.concurrency, **chunk):
        first = first or time.perf_counter() - start
        requests += outcome.result.requests
    return requests, time.perf_counter() - start, first, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=320)
    ap.add_argument("--in-flight", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.035, help="seconds per request")
    ap.add_argument("--samples", type=int, default=4, help="n per request")
    ap.add_argument("--chunks", type=int, nargs="*", default=[],
                    help="problems per actor call to compare (default: solve_on_ray's own)")
    args = ap.parse_args()

    # distinct problems: the Ray engine solves a problem listed twice once, the local once per
    # listing, and both must do the same work here
    drawn = Game24Domain().generate_problems(args.problems * 2, seed=0)
    problems = list({p.hash: p for p in drawn}.values())[: args.problems]
    config = LoopConfig(budget=Budget(rounds=3, samples=args.samples),
                        sampling=SamplingParams(max_tokens=64), concurrency=args.in_flight)
    proc, url = start_server(args.latency, problems)
    rows = []
    idle = 0.0
    try:
        with (tempfile.TemporaryDirectory(prefix="lmrb", dir="/tmp") as tmp,
              Corpus(Path(tmp) / "c.sqlite") as corpus):
            local(url, problems[: args.in_flight], config, corpus)  # warm up
            rows.append(("local", *local(url, problems, config, corpus), 0.0, 0.0))
            with ray_session(None, Path(tmp)) as ray:
                cpu = time.process_time()
                time.sleep(2.0)  # what the driver spends connected to Ray doing nothing
                idle = (time.process_time() - cpu) / 2.0
                for chunk in args.chunks or [None]:
                    kw = {} if chunk is None else {"chunk": chunk}
                    for actors in (1, 2):
                        name = f"ray, {actors} actor(s)" + ("" if chunk is None else
                                                             f", chunk {chunk}")
                        rows.append((name, *on_ray(ray, url, problems, config, corpus, actors,
                                                   **kw)))
    finally:
        proc.terminate()
        proc.wait()
    ideal = args.in_flight / args.latency
    print(f"problems={len(problems)} in_flight={args.in_flight} latency={args.latency}s "
          f"n={args.samples}; ideal {ideal:.0f} requests/s")
    base = rows[0][1] / rows[0][2]
    print(f"the driver connected to Ray, idle: {idle * 1e3:.0f} ms of CPU per second (included "
          f"below; net: without it)")
    for name, n, seconds, first, cpu in rows:
        rate = n / seconds
        driver = (f"  driver CPU {cpu / len(problems) * 1e3:.2f} ms/problem (net "
                  f"{(cpu - idle * seconds) / len(problems) * 1e3:.2f})") if cpu else ""
        print(f"{name:28} {seconds:6.2f} s  {rate:7.1f} requests/s  /ideal "
              f"{rate / ideal:.3f}  /local {rate / base:.2f}  first result after "
              f"{first:.2f} s{driver}")


if __name__ == "__main__":
    main()
