"""The worker pool's overhead against the in-process check, at 1, 64 and 256 checks in flight.

For game24 and math answers: each check is timed in-process (``verifier.check`` plus turning
its result into a Verdict, the work the pool's caller would otherwise do, on this thread) and
through the pool (``averify_many`` from ``in_flight`` concurrent callers, each sending a round
of ``--round`` candidates, as the loop does), in the same run, on a warmed pool.

Printed per verifier and in-flight level: seconds per check in-process and through the pool,
and their ratio (goal: <= 2 at 64 in flight). At 1 in flight each call is one check, so its
ratio is the latency of one pipe round trip against the check itself.

    .venv/bin/python benchmarks/pool_overhead.py [--checks 2000] [--round 8] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def cases() -> dict[str, tuple[Any, list[tuple[Any, Any]]]]:
    from llm_modulo.types import Candidate, Problem
    from llm_modulo.verifiers.game24.verifier import Game24Verifier
    from llm_modulo.verifiers.math.verifier import MathVerifier

    g24 = Problem(domain="game24", payload={"numbers": [4, 4, 6, 8], "target": 24})
    g24_pairs = [(g24, Candidate(raw="", answer={"expression": e}))
                 for e in ("(4+8)*(6-4)", "4*6*(8-4)/4", "4+4+6+8", "8*(4-4)+6*4")]
    math_pairs = [
        (Problem(domain="math_answer", payload={"answer": ref}),
         Candidate(raw="", answer={"answer": cand}))
        for cand, ref in (("1/4", "0.25"), ("\\frac{3}{4}", "0.75"), ("7", "8"),
                          ("(3, 4)", "(3,4)"), ("x^2-4", "(x-2)(x+2)"), ("2\\sqrt{2}", "\\sqrt{8}"))
    ]
    return {"game24": (Game24Verifier(), g24_pairs), "math": (MathVerifier(), math_pairs)}


def in_process(verifier: Any, pairs: list[tuple[Any, Any]], checks: int) -> float:
    from llm_modulo.pool import Outcome, OutcomeKind

    for p, c in pairs:  # warm caches and lazy imports, as the pool's warm-up does
        verifier.check(p, c)
    start = time.perf_counter()
    for i in range(checks):
        p, c = pairs[i % len(pairs)]
        verifier._verdict(Outcome(OutcomeKind.OK, value=verifier.check(p, c)), start)
    return (time.perf_counter() - start) / checks


def through_pool(verifier: Any, pairs: list[tuple[Any, Any]], checks: int, in_flight: int,
                 size: int, pool: Any) -> float:
    work = [pairs[i % len(pairs)] for i in range(checks)]
    rounds = [work[i:i + size] for i in range(0, checks, size)]

    async def go() -> None:
        source = iter(rounds)

        async def caller() -> None:
            for batch in source:
                verdicts = await verifier.averify_many(batch, pool=pool)
                assert all(v.status.value != "unknown" for v in verdicts), verdicts

        await asyncio.gather(*(caller() for _ in range(in_flight)))

    start = time.perf_counter()
    asyncio.run(go())
    return (time.perf_counter() - start) / checks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checks", type=int, default=2000)
    ap.add_argument("--round", type=int, default=8, help="candidates per call (a loop round)")
    ap.add_argument("--workers", type=int, default=None, help="pool size (default: CPUs)")
    args = ap.parse_args()

    from llm_modulo.pool import WorkerPool

    print(f"{'verifier':8} {'in flight':>9} {'in-process':>12} {'pool':>12} {'ratio':>7}")
    with WorkerPool(args.workers) as pool:
        for name, (verifier, pairs) in cases().items():
            through_pool(verifier, pairs, 64, 4, args.round, pool)  # start and warm the workers
            for in_flight in (1, 64, 256):
                size = 1 if in_flight == 1 else args.round
                checks = max(200, args.checks // 5) if in_flight == 1 else args.checks
                ref = in_process(verifier, pairs, checks)
                got = through_pool(verifier, pairs, checks, in_flight, size, pool)
                print(f"{name:8} {in_flight:>9} {ref * 1e3:>10.3f}ms {got * 1e3:>10.3f}ms "
                      f"{got / ref:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
