"""CSP checking speed: our checker against python-constraint evaluating the same assignment.

For planted 3-colourable random graphs (average degree 6) of 1k, 10k and 100k vertices,
the same proper colouring is checked by:

- ``check``: :meth:`CompiledCSP.check` (reads the assignment, domains, every constraint);
- ``verify``: the whole ``GraphColoringVerifier.check`` on a parsed candidate (answer
  conversion, critiques), without the worker pool;
- ``parse``: the domain reading the ``vertex: colour`` text answer;
- ``python-constraint``: every constraint of the python-constraint problem built from the
  same CSP called on the full assignment (the reference, measured in the same run).

Printed: best-of-N seconds, microseconds per variable (flat = linear growth), and
check / python-constraint (goal: <= 1.0). A candidate with one conflicting edge is timed
too. Run: ``.venv/bin/python benchmarks/csp_check.py [--sizes 1000 10000 100000]``.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any

from llm_modulo.domains.graph_coloring import GraphColoringDomain
from llm_modulo.types import Problem
from llm_modulo.verifiers.csp.graph_coloring import GraphColoringVerifier
from llm_modulo.verifiers.csp.solver import to_problem


def planted_graph(n: int, degree: int, seed: int) -> tuple[Problem, list[int]]:
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


def best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(n: int, degree: int, repeat: int) -> str:
    """One table row for a graph of ``n`` vertices."""
    domain, verifier = GraphColoringDomain(), GraphColoringVerifier()
    problem, colours = planted_graph(n, degree, seed=n)
    compiled = verifier.compiled(problem)
    pairs = [(f"v{v}", c) for v, c in enumerate(colours)]
    text = "\n".join(f"{v}: {c}" for v, c in enumerate(colours))
    candidate = domain.parse_candidate(problem, text)
    assert verifier.check(problem, candidate).status.value == "accept"
    # one conflicting edge: recolour one endpoint of the first edge like the other
    u, w = problem.payload["edges"][0]
    bad = list(colours)
    bad[u] = bad[w]
    bad_pairs = [(f"v{v}", c) for v, c in enumerate(bad)]
    assert len(compiled.check(bad_pairs).violations) >= 1

    # the reference: python-constraint's own constraints on the same full assignment
    domains, constraints, _ = to_problem(compiled)._getArgs()
    assignment = dict(pairs)

    def reference() -> bool:
        return all(c(vs, domains, assignment) for c, vs in constraints)

    assert reference()
    t_check = best(lambda: compiled.check(pairs), repeat)
    t_verify = best(lambda: verifier.check(problem, candidate), repeat)
    t_parse = best(lambda: domain.parse_candidate(problem, text), repeat)
    t_ref = best(reference, repeat)
    t_bad = best(lambda: compiled.check(bad_pairs), repeat)
    m = len(problem.payload["edges"])
    return (f"{n:>9} {m:>8} | {t_check:>9.4f} {t_check / n * 1e6:>7.3f} | {t_verify:>9.4f} "
            f"{t_parse:>9.4f} | {t_ref:>9.4f} {t_ref / n * 1e6:>7.3f} | "
            f"{t_check / t_ref:>9.2f} | {t_bad:>10.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--degree", type=int, default=6)
    args = ap.parse_args()
    print(f"{'vertices':>9} {'edges':>8} | {'check s':>9} {'us/var':>7} | {'verify s':>9} "
          f"{'parse s':>9} | {'p-c s':>9} {'us/var':>7} | {'check/p-c':>9} | "
          f"{'1 conflict':>10}")
    for n in args.sizes:
        print(measure(n, args.degree, args.repeat), flush=True)


if __name__ == "__main__":
    main()
