"""Plan validation speed: PlanBench plans validated in-process, and one 1,000-step plan.

For every labelled PlanBench dev plan (and the reference plans) the time covers
parsing the problem file, compiling it, reading the plan and simulating it with
every error collected; the domain is parsed once and cached across plans, as
in the loop. Printed: plans/s, the median and 90th-percentile time per plan,
and ratios against

- VAL: its binary takes a median of 4.3 ms per PlanBench plan on this kind of
  machine, process start included (the goal is 10x that: <= 0.43 ms);
- a reference measured in this run: lark's LALR parser reading the same
  problem files as S-expressions (parsing only; the project's usual grammar
  tool, kept as the yardstick for the hand-tokenized reader).

Then a 1,000-step blocksworld plan (goal: under 50 ms).

Run from the repository root: ``.venv/bin/python benchmarks/plan_validate.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from llm_modulo.domains.planning import BlocksworldDomain, packaged_domain
from llm_modulo.verifiers.pddl.parse import parse_problem
from llm_modulo.verifiers.pddl.simulate import Task
from llm_modulo.verifiers.pddl.validator import cached_domain, cached_task, validate

VAL_MEDIAN_MS = 4.3
GOAL_MEDIAN_MS = 0.43
GOAL_LONG_PLAN_MS = 50.0
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "planbench"

_SEXPR_GRAMMAR = r"""
start: _expr*
_expr: list | NAME
list: "(" _expr* ")"
NAME: /[^\s();]+/
COMMENT: /;[^\n]*/
%import common.WS
%ignore WS
%ignore COMMENT
"""


def load_rows(data: Path) -> list[tuple[str, str, str]]:
    rows = []
    for name in ("dev_labelled_plans.jsonl", "reference_plans.jsonl"):
        for line in (data / name).read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                rows.append(((data / row["domain_file"]).read_text(),
                             (data / row["problem_file"]).read_text(), row["plan"]))
    return rows


def time_plans(rows: list[tuple[str, str, str]], repeat: int) -> list[float]:
    for domain, _, _ in rows:
        cached_domain(domain)  # parsed once per domain, as the loop does
    times = []
    clock = time.perf_counter
    for _ in range(repeat):
        for domain, problem, plan in rows:
            start = clock()
            dom = cached_domain(domain)
            report = validate(Task(dom, parse_problem(problem, dom)), plan)
            _ = report.valid, report.critiques()
            times.append(clock() - start)
    return times


def time_lark(rows: list[tuple[str, str, str]]) -> list[float]:
    from lark import Lark

    parser = Lark(_SEXPR_GRAMMAR, parser="lalr")
    times = []
    for _, problem, _ in rows:
        start = time.perf_counter()
        parser.parse(problem)
        times.append(time.perf_counter() - start)
    return times


def long_plan(steps: int = 1000) -> tuple[Task, list[str]]:
    """A valid ``steps``-step plan on a 12-block problem: solve it, then undo and redo the last
    stack until the plan is long enough (the plans of ``blocksworld_plan`` have even length)."""
    from llm_modulo.domains.planning import blocksworld_plan

    problem = BlocksworldDomain().parse_problem({"blocks": 12, "seed": 1})
    plan = blocksworld_plan(problem)
    task = cached_task(packaged_domain("blocksworld"), problem.payload["problem"])
    block, under = plan[-1].strip("()").split()[1:]
    cycle = [f"(unstack {block} {under})", f"(stack {block} {under})"]
    plan += cycle * ((steps - len(plan)) // 2)
    return task, plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not (args.data / "dev_labelled_plans.jsonl").is_file():
        sys.exit(f"PlanBench data not found under {args.data}")
    rows = load_rows(args.data)
    times = time_plans(rows, args.repeat)
    median_ms = statistics.median(times) * 1000
    p90_ms = statistics.quantiles(times, n=10)[-1] * 1000
    lark_ms = statistics.median(time_lark(rows)) * 1000
    print(f"PlanBench plans: {len(rows)} x {args.repeat}")
    print(f"  plans/s             {len(times) / sum(times):10.0f}")
    print(f"  median per plan     {median_ms:10.3f} ms   (p90 {p90_ms:.3f} ms)")
    print(f"  VAL (reference)     {VAL_MEDIAN_MS:10.3f} ms   -> {VAL_MEDIAN_MS / median_ms:.1f}x "
          f"faster (goal >= 10x, i.e. <= {GOAL_MEDIAN_MS} ms: "
          f"{'met' if median_ms <= GOAL_MEDIAN_MS else 'NOT met'})")
    print(f"  lark LALR parse of the problem only, same run: {lark_ms:.3f} ms "
          f"-> validation is {lark_ms / median_ms:.1f}x its time")
    task, plan = long_plan()
    assert len(plan) == 1000 and validate(task, plan).valid
    runs = []
    for _ in range(20):
        start = time.perf_counter()
        validate(task, plan).critiques()
        runs.append(time.perf_counter() - start)
    long_ms = statistics.median(runs) * 1000
    print(f"1,000-step blocksworld plan: {long_ms:.2f} ms median of 20 (goal < "
          f"{GOAL_LONG_PLAN_MS:.0f} ms: {'met' if long_ms < GOAL_LONG_PLAN_MS else 'NOT met'}; "
          f"{GOAL_LONG_PLAN_MS / long_ms:.1f}x under)")


if __name__ == "__main__":
    main()
