"""Prefix-check speed for the stepwise CSP domains: ``check_prefix`` against the ordinary check.

For planted 3-colourable graphs (average degree 6) and N-queens boards, a whole solution is
turned into steps; timed (best of N, in-process, no pool):

- ``prefix``: ``check_prefix`` on the complete prefix (the costliest one: every step is
  replayed, with forward checking);
- ``half``: ``check_prefix`` on the first half of the steps;
- ``check``: the ordinary ``check`` on the assembled whole answer (the reference, same run).

Printed: seconds and prefix / check (goal: a small constant, i.e. the prefix check is linear
like the check). Run: ``.venv/bin/python benchmarks/csp_prefix.py [--sizes 1000 10000]``.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any

from llm_modulo.domains.graph_coloring import GraphColoringDomain
from llm_modulo.domains.n_queens import NQueensDomain
from llm_modulo.types import Problem
from llm_modulo.verifiers.csp.graph_coloring import GraphColoringVerifier
from llm_modulo.verifiers.csp.n_queens import NQueensVerifier


def best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def planted(n: int, degree: int, seed: int) -> tuple[Problem, list[int]]:
    rng = random.Random(seed)
    colours = [rng.randrange(3) + 1 for _ in range(n)]
    edges: set[tuple[int, int]] = set()
    while len(edges) < n * degree // 2:
        u, v = rng.randrange(n), rng.randrange(n)
        if colours[u] != colours[v]:
            edges.add((min(u, v), max(u, v)))
    problem = GraphColoringDomain().parse_problem(
        {"edges": [list(e) for e in edges], "vertices": n, "colors": 3})
    return problem, colours


def queens_solution(n: int) -> list[int]:
    """Columns of a known N-queens solution (the even columns, then the odd ones: valid for
    N mod 6 not 2 or 3)."""
    if n % 6 in (2, 3):
        raise SystemExit(f"--queens {n}: use a size that is not 2 or 3 mod 6")
    return [*range(2, n + 1, 2), *range(1, n + 1, 2)]


def row(label: str, domain: Any, verifier: Any, problem: Problem, text: str,
        repeat: int) -> str:
    steps = domain.parse_steps(problem, [], text).steps
    assert len(steps) == domain.max_steps(problem)
    full = domain.prefix_candidate(problem, steps)
    half = domain.prefix_candidate(problem, steps[: len(steps) // 2])
    whole = domain.parse_candidate(problem, domain.assemble(problem, steps))
    assert verifier.check_prefix(problem, full).evidence.get("complete") is True
    assert verifier.check(problem, whole).status.value == "accept"
    t_full = best(lambda: verifier.check_prefix(problem, full), repeat)
    t_half = best(lambda: verifier.check_prefix(problem, half), repeat)
    t_check = best(lambda: verifier.check(problem, whole), repeat)
    return (f"{label:>22} {len(steps):>7} | {t_full:>9.4f} {t_half:>9.4f} | {t_check:>9.4f} | "
            f"{t_full / t_check:>12.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    ap.add_argument("--queens", type=int, nargs="+", default=[49, 199])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"{'problem':>22} {'steps':>7} | {'prefix s':>9} {'half s':>9} | {'check s':>9} | "
          f"{'prefix/check':>12}")
    gc, gcv = GraphColoringDomain(), GraphColoringVerifier()
    for n in args.sizes:
        problem, colours = planted(n, 6, seed=n)
        text = "\n".join(f"{v}: {c}" for v, c in enumerate(colours))
        print(row(f"colouring {n}", gc, gcv, problem, text, args.repeat), flush=True)
    nq, nqv = NQueensDomain(), NQueensVerifier()
    for n in args.queens:
        problem = nq.parse_problem(n)
        text = "\n".join(f"row {r}: column {c}" for r, c in enumerate(queens_solution(n), 1))
        print(row(f"queens {n}", nq, nqv, problem, text, args.repeat), flush=True)


if __name__ == "__main__":
    main()
