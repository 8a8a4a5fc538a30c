"""Whole-process time of one-shot commands, against VAL's ``Validate`` in the same run.

A user (or a script, or a grader calling us once per answer) pays for the whole process:
interpreter start, imports, the registry, the worker, the check. Printed: the median wall
time of each command over ``--repeat`` runs, interleaved so machine load hits all alike, and
ratios against

- ``python -c pass``: the floor any Python command pays;
- VAL's ``Validate`` on the same PlanBench domain, problem and plan, when a binary is given
  (``--val PATH``) or on the PATH (build it from KCL-Planning/VAL with cmake; it is not
  shipped here).

Run from the repository root: ``.venv/bin/python benchmarks/oneshot.py [--repeat 20]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from llm_modulo.domains.planning import BlocksworldDomain, blocksworld_plan
from llm_modulo.verifiers.pddl.packaged import packaged_domain

CLI = [sys.executable, "-m", "llm_modulo.cli"]


def _plan_files(folder: Path) -> tuple[Path, Path, Path]:
    domain = BlocksworldDomain()
    problem = domain.generate_problems(1, seed=7, blocks=6)[0]
    plan = blocksworld_plan(problem)
    files = (folder / "domain.pddl", folder / "problem.pddl", folder / "plan.txt")
    files[0].write_text(packaged_domain("blocksworld"))
    files[1].write_text(problem.payload["problem"])
    files[2].write_text("\n".join(plan) + "\n")
    return files


def _commands(folder: Path, val: str | None) -> dict[str, list[str]]:
    domain, problem, plan = (str(p) for p in _plan_files(folder))
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "llm-modulo --help": [*CLI, "--help"],
        "check game24": [*CLI, "check", "--domain", "game24", "--problem", "4 4 6 8",
                         "--candidate", "(4+8)*(6-4)"],
        "check math_answer": [*CLI, "check", "--domain", "math_answer", "--problem",
                              '{"question": "Half of one?", "answer": "\\\\frac{1}{2}"}',
                              "--candidate", "0.5"],
        "validate (ours)": [*CLI, "validate", domain, problem, plan],
    }
    if val:
        commands["VAL Validate"] = [val, domain, problem, plan]
    return commands


def _time(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{command[:4]} exited {done.returncode}: {done.stderr[-300:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--val", help="path to VAL's Validate binary (default: on the PATH)")
    args = parser.parse_args()
    val = args.val or shutil.which("Validate")
    with tempfile.TemporaryDirectory() as tmp:
        commands = _commands(Path(tmp), val)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for command in commands.values():  # warm the file cache once
            _time(command)
        for _ in range(args.repeat):
            for name, command in commands.items():
                times[name].append(_time(command))
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    floor = medians["python -c pass"]
    print(f"median wall time of {args.repeat} runs each (interleaved)")
    for name, median in medians.items():
        print(f"  {name:20s} {median * 1000:8.1f} ms   {median / floor:6.1f}x python -c pass")
    if val:
        ratio = medians["validate (ours)"] / medians["VAL Validate"]
        print(f"validate / VAL Validate: {ratio:.1f}x (same domain, problem and plan)")
    else:
        print("VAL's Validate not found (--val PATH): no VAL ratio in this run")


if __name__ == "__main__":
    main()
