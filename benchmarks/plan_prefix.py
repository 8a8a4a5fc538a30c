"""Prefix checks as a search makes them: every growing prefix of one long plan.

A stepwise search checks ``p[:1], p[:2], ..., p[:n]`` (``llm_modulo.stepwise.extend`` does,
in one worker). The plan verifier remembers the state after an alive prefix, so each check
runs only its new step. Printed, for a valid 1,000-step blocksworld plan (the one
``plan_validate.py`` times):

- all n prefix checks through ``PlanVerifier.check_prefix`` (remembering);
- the same checks with the memory cleared before each one (every prefix run from the start:
  quadratic), on the first ``--scratch`` prefixes only, and the whole-plan ``validate`` of the
  same prefixes, the reference measured in this run;
- the ratios of those totals (from the start / remembering, validate / remembering).

Goal: all 1,000 checks under 1 s, i.e. linear in the plan (checking each prefix from the
start is quadratic).

Run from the repository root: ``.venv/bin/python benchmarks/plan_prefix.py [--scratch 300]``.
"""

from __future__ import annotations

import argparse
import time

from plan_validate import long_plan  # this folder (sys.path[0] when run as a script)

from llm_modulo.domains.planning import BlocksworldDomain
from llm_modulo.types import Candidate
from llm_modulo.verifiers.pddl import prefix as prefix_module
from llm_modulo.verifiers.pddl.validator import validate
from llm_modulo.verifiers.pddl.verifier import PlanVerifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--scratch", type=int, default=300,
                        help="prefixes checked from the start (quadratic: keep it small)")
    args = parser.parse_args()
    task, plan = long_plan(args.steps)
    problem = BlocksworldDomain().parse_problem({"blocks": 12, "seed": 1})  # long_plan's
    verifier = PlanVerifier()

    def run(n: int, forget: bool) -> float:
        prefix_module._KNOWN.clear()
        start = time.perf_counter()
        for k in range(1, n + 1):
            if forget:
                prefix_module._KNOWN.clear()
            result = verifier.check_prefix(problem, Candidate(raw="", answer={"plan": plan[:k]}))
            assert result.status.value == "accept", result.critiques
        return time.perf_counter() - start

    n = len(plan)
    remembering = run(n, False)
    print(f"{n} growing prefixes, remembering: {remembering * 1000:.1f} ms "
          f"({remembering / n * 1e6:.1f} us per check)")
    m = min(args.scratch, n)
    small = run(m, False)
    scratch = run(m, True)
    start = time.perf_counter()
    for k in range(1, m + 1):
        validate(task, plan[:k])
    whole = time.perf_counter() - start
    print(f"first {m} prefixes: remembering {small * 1000:.1f} ms, from the start "
          f"{scratch * 1000:.1f} ms, whole-plan validate of each {whole * 1000:.1f} ms")
    print(f"ratio from the start / remembering on {m} prefixes: {scratch / small:.1f}x; "
          f"whole-plan validate / remembering: {whole / small:.1f}x")


if __name__ == "__main__":
    main()
