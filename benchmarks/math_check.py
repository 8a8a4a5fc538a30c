"""Time parse+verify per answer pair: llm-modulo's math verifier against HuggingFace Math-Verify.

Both checkers decide the same catalogue pairs (``tests/math_catalogue.py``) in the same run.
Ours is timed twice: in-process (``MathVerifier.check``, the parse cache cleared before every
pair, so each pair pays its full parse) and through ``verify()`` (the killable worker pool:
pickling, a pipe round trip to the worker and back). Math-Verify is timed in-process
(``verify(parse(gold), parse(answer))``, its own signal-based timeouts on). A warm-up pass on
other pairs runs first for both.

Prints per-pair medians and p99s, the ratio of medians (goal: ours in-process <= 1/8 of
Math-Verify's), each checker's agreement with the catalogue's expected verdicts, and the worst
time of the adversarial inputs through the pool (bounded by the deadline).

    .venv/bin/python benchmarks/math_check.py [--rounds 3] [--no-pool]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WARMUP = [("1/4", "0.25"), ("\\sqrt{18}", "3\\sqrt{2}"), ("(3, 4)", "(3,4)"),
          ("\\{5, 6\\}", "\\{6, 5\\}"), ("x^2-4", "(x-2)(x+2)"), ("7", "8")]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="timed passes; per-pair median kept")
    ap.add_argument("--no-pool", action="store_true", help="skip the verify() (pool) timing")
    args = ap.parse_args()

    import math_verify

    from llm_modulo.domains.math_answer import MathAnswerDomain
    from llm_modulo.pool import WorkerPool
    from llm_modulo.types import Candidate, Problem, Status
    from llm_modulo.verifiers.math.verifier import MathVerifier, parse_cached
    from tests.math_catalogue import PAIRS
    from tests.test_math_adversarial import HOSTILE

    verifier = MathVerifier()
    domain = MathAnswerDomain()

    def ours(cand: str, ref: str, extra: dict[str, Any]) -> str:
        # as the loop does it: the domain reads the reply once, the verifier decides it
        parse_cached.cache_clear()
        problem = Problem(domain="math_answer", payload={"answer": ref, **extra})
        return verifier.check(problem, domain.parse_candidate(problem, cand)).status.value

    def theirs(cand: str, ref: str) -> str:
        gold = math_verify.parse(f"${ref}$")
        answer = math_verify.parse(f"${cand}$")
        return "accept" if math_verify.verify(gold, answer) else "reject"

    for cand, ref in WARMUP:
        ours(cand, ref, {})
        theirs(cand, ref)

    our_t: list[list[float]] = [[] for _ in PAIRS]
    mv_t: list[list[float]] = [[] for _ in PAIRS]
    our_v: list[str] = [""] * len(PAIRS)
    mv_v: list[str] = [""] * len(PAIRS)
    for _ in range(args.rounds):
        for i, (cand, ref, _expected, extra) in enumerate(PAIRS):
            dt, our_v[i] = timed(lambda c=cand, r=ref, e=extra: ours(c, r, e))
            our_t[i].append(dt)
            dt, mv_v[i] = timed(lambda c=cand, r=ref: theirs(c, r))
            mv_t[i].append(dt)
    ours_pair = [statistics.median(t) for t in our_t]
    mv_pair = [statistics.median(t) for t in mv_t]

    pool_pair: list[float] = []
    hostile_worst = 0.0
    hostile_ok = True
    if not args.no_pool:
        with WorkerPool(1) as pool:
            problem0 = Problem(domain="math_answer", payload={"answer": "1"})
            verifier.verify(problem0, Candidate(raw="1", answer={"answer": "1"}), pool=pool)
            for cand, ref, _expected, extra in PAIRS:
                problem = Problem(domain="math_answer", payload={"answer": ref, **extra})
                dt, _ = timed(lambda p=problem, c=cand: verifier.verify(
                    p, domain.parse_candidate(p, c), pool=pool))
                pool_pair.append(dt)
            for text in HOSTILE:
                dt, verdict = timed(lambda t=text: verifier.verify(
                    problem0, Candidate(raw="", answer={"answer": t}), pool=pool))
                hostile_worst = max(hostile_worst, dt)
                hostile_ok &= verdict.status is not Status.ACCEPT or text == "\uff11"

    def ms(x: float) -> str:
        return f"{x * 1000:8.3f} ms"

    expected = [row[2] for row in PAIRS]
    our_agree = sum(a == b for a, b in zip(our_v, expected, strict=True))
    mv_agree = sum(a == b for a, b in zip(mv_v, expected, strict=True))
    mv_false_accepts = [PAIRS[i][:2] for i in range(len(PAIRS))
                        if mv_v[i] == "accept" and expected[i] == "reject"]
    our_false_accepts = sum(1 for i in range(len(PAIRS))
                            if our_v[i] == "accept" and expected[i] == "reject")

    med_ours, med_mv = statistics.median(ours_pair), statistics.median(mv_pair)
    print(f"pairs: {len(PAIRS)}   rounds: {args.rounds}   (per-pair median over rounds)")
    print(f"{'checker':<34}{'median':>12}{'p99':>12}{'max':>12}")
    print(f"{'llm-modulo math, in-process':<34}{ms(med_ours):>12}"
          f"{ms(percentile(ours_pair, 0.99)):>12}{ms(max(ours_pair)):>12}")
    if pool_pair:
        print(f"{'llm-modulo math, verify() via pool':<34}{ms(statistics.median(pool_pair)):>12}"
              f"{ms(percentile(pool_pair, 0.99)):>12}{ms(max(pool_pair)):>12}")
    print(f"{'math-verify ' + _version():<34}{ms(med_mv):>12}"
          f"{ms(percentile(mv_pair, 0.99)):>12}{ms(max(mv_pair)):>12}")
    ratio = med_ours / med_mv
    print(f"ratio of medians, in-process ours / math-verify: {ratio:.3f} "
          f"(goal <= 0.125: {'met' if ratio <= 0.125 else 'NOT met'})")
    if pool_pair:
        print(f"ratio of medians, verify() via pool / math-verify: "
              f"{statistics.median(pool_pair) / med_mv:.3f}")
    print(f"agreement with the catalogue: ours {our_agree}/{len(PAIRS)} "
          f"(false accepts: {our_false_accepts}), math-verify {mv_agree}/{len(PAIRS)} "
          f"(false accepts: {len(mv_false_accepts)})")
    for cand, ref in mv_false_accepts[:10]:
        print(f"  math-verify accepts {cand!r} for {ref!r}")
    if pool_pair:
        print(f"adversarial inputs through the pool: worst {hostile_worst:.3f} s "
              f"(deadline {verifier.timeout_s} s), none accepted: {hostile_ok}")


def _version() -> str:
    from importlib.metadata import version

    return version("math-verify")


if __name__ == "__main__":
    main()
