"""Soak: many cheap checks through one worker pool, printing the parent's and the workers'
resident memory at intervals (goal: flat after warm-up over 1M checks; no check lost or
UNKNOWN). Rounds of ``--round`` game24 candidates from ``--in-flight`` concurrent callers.

    .venv/bin/python benchmarks/pool_soak.py [--checks 1000000] [--every 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checks", type=int, default=1_000_000)
    ap.add_argument("--every", type=int, default=50_000, help="checks between RSS lines")
    ap.add_argument("--in-flight", type=int, default=64)
    ap.add_argument("--round", type=int, default=8)
    args = ap.parse_args()

    from llm_modulo.pool import WorkerPool
    from llm_modulo.types import Candidate, Problem, Status
    from llm_modulo.verifiers.game24.verifier import Game24Verifier

    problem = Problem(domain="game24", payload={"numbers": [4, 4, 6, 8], "target": 24})
    pairs = [(problem, Candidate(raw=str(i), answer={"expression": e}))
             for i, e in enumerate(("(4+8)*(6-4)", "4+4+6+8", "8*(4-4)+6*4"))]
    verifier = Game24Verifier()
    counts = {"checks": 0, "unknown": 0}
    start = time.perf_counter()
    next_report = 0

    with WorkerPool() as pool:
        def report() -> None:
            workers = sorted(rss_mib(w.proc.pid) for w in list(pool._workers))
            print(f"{counts['checks']:>9} checks {time.perf_counter() - start:>8.1f} s  "
                  f"parent {rss_mib(os.getpid()):7.1f} MiB  workers "
                  f"{' '.join(f'{r:.1f}' for r in workers)} MiB  restarts {pool.restarts}  "
                  f"unknown {counts['unknown']}", flush=True)

        async def caller() -> None:
            nonlocal next_report
            while counts["checks"] < args.checks:
                batch = [pairs[(counts["checks"] + k) % len(pairs)] for k in range(args.round)]
                counts["checks"] += len(batch)
                verdicts = await verifier.averify_many(batch, pool=pool)
                assert len(verdicts) == len(batch)
                counts["unknown"] += sum(v.status is Status.UNKNOWN for v in verdicts)
                if counts["checks"] >= next_report:
                    next_report += args.every
                    report()

        async def go() -> None:
            await asyncio.gather(*(caller() for _ in range(args.in_flight)))

        asyncio.run(go())
        report()
    elapsed = time.perf_counter() - start
    print(f"{counts['checks']} checks in {elapsed:.1f} s ({counts['checks'] / elapsed:,.0f}/s), "
          f"{counts['unknown']} UNKNOWN")


if __name__ == "__main__":
    main()
