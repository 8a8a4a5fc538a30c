"""``llm-modulo validate DOMAIN PROBLEM PLAN``: a VAL-compatible plan validator.

Prints a report in the spirit of VAL's ("Plan valid", "Plan failed to
execute", "Goal not satisfied", with the failing step and literals) and exits
0 for a valid plan, 1 for an invalid one, 3 when the domain uses a feature the
validator does not support (never a guess), 2 for unreadable input.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from rich.console import Console

from llm_modulo.errors import UsageError
from verifiers.pddl.nl import Templates
from verifiers.pddl.sexpr import UnsupportedPDDL, read
from verifiers.pddl.validator import Report, load_task, state_text, validate
from verifiers.plan import PlanVerifier

EXIT_VALID, EXIT_INVALID, EXIT_UNKNOWN = 0, 1, 3
MAX_INPUT_CHARS = 20_000_000
_STRUCTURAL = {"unparseable", "unknown_action", "wrong_arity", "unknown_object", "wrong_type"}


def _read(path: Path, what: str) -> str:
    if str(path) == "-":
        return sys.stdin.read(MAX_INPUT_CHARS + 1)[:MAX_INPUT_CHARS]
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            return fh.read(MAX_INPUT_CHARS)
    except OSError as exc:
        raise UsageError(f"cannot read {what} file {path}: {exc.strerror}") from None


def _templates(spec: str | None, domain_text: str) -> Templates | None:
    from domains.planning import DATA, packaged_templates

    if spec is not None:
        if (DATA / f"{spec}.yaml").is_file():
            return packaged_templates(spec)
        return Templates.load(Path(spec))
    name = _packaged_name(domain_text)
    return None if name is None else packaged_templates(name)


@lru_cache(maxsize=16)
def _packaged_name(domain_text: str) -> str | None:
    """A PlanBench domain file as published comes with its English templates."""
    from domains.planning import DATA, packaged_domain

    tokens = read(domain_text, "domain file")
    for path in sorted(DATA.glob("*.pddl")):
        if read(packaged_domain(path.stem), "domain file") == tokens:
            return path.stem
    return None


def run_validate(domain: Path, problem: Path, plan: Path, *, verbose: bool, as_json: bool,
                 templates: str | None, out: Console) -> int:
    domain_text, problem_text = _read(domain, "domain"), _read(problem, "problem")
    plan_text = _read(plan, "plan")
    try:
        task = load_task(domain_text, problem_text)
        tpl = _templates(templates, domain_text)
    except UnsupportedPDDL as exc:
        if as_json:
            _json({"status": "unknown", "valid": None, "critiques": [
                {"kind": "unsupported", "message": f"unsupported: {exc}", "location": None,
                 "data": {}}]})
        else:
            out.print(f"Plan validity unknown: unsupported: {exc}", highlight=False, markup=False)
        return EXIT_UNKNOWN
    wanted = task.problem.domain_name
    if wanted and wanted != task.domain.name:
        sys.stderr.write(f"warning: the problem names domain {wanted}, the domain file is "
                         f"{task.domain.name}\n")
    report = validate(task, plan_text, tpl, trace=verbose)
    if as_json:
        _json(_verdict(report, verbose))
    else:
        _print_report(report, str(plan), verbose, out)
    return EXIT_VALID if report.valid else EXIT_INVALID


def _json(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps({"verifier": PlanVerifier.name,
                                 "verifier_version": PlanVerifier.version, **payload}) + "\n")


def _verdict(report: Report, verbose: bool) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "status": "accept" if report.valid else "reject",
        "valid": report.valid,
        "critiques": [c.model_dump(mode="json") for c in report.critiques()],
        "evidence": report.evidence(),
    }
    if verbose:
        payload["states"] = [state_text(s) for s in report.result.states]
    return payload


def _print_report(report: Report, name: str, verbose: bool, out: Console) -> None:
    def say(text: str = "") -> None:
        out.print(text, highlight=False, markup=False, soft_wrap=True)

    say(f"Checking plan: {name}")
    say(f"Plan size: {len(report.steps)}")
    if verbose:
        _print_trace(report, say)
    critiques = report.critiques()
    if report.valid:
        say("Plan executed successfully - checking goal")
        say("Plan valid")
        cost = report.result.cost
        say(f"Final value: {cost:g}" if cost else f"Final value: {len(report.steps)}")
        return
    failure = report.failure
    first = critiques[0]
    if failure == "unmet_goal":
        say("Plan executed successfully - checking goal")
        say("Goal not satisfied")
        for c in critiques:
            if c.kind == "unmet_goal":
                say(f"  {c.data['literal']} is false")
    elif failure in _STRUCTURAL:
        say("Bad plan description!")
        say(f"  {first.message}")
    else:
        step = first.data["step"]
        say(f"Plan failed to execute at step {step}: {first.data['action']}")
        for lit in first.data.get("literals", []):
            say(f"  unsatisfied precondition: {lit}")
    say()
    say("Plan Repair Advice:")
    for c in critiques:
        say(f"  {c.message}")
    say()
    say("Failed plans:")
    say(f" {name}")


def _print_trace(report: Report, say: Callable[[str], None]) -> None:
    states = report.result.states
    if not states:
        return
    say("Initial state: " + " ".join(state_text(states[0])))
    for step, state in zip(report.steps, states[1:], strict=False):
        say(f"State after step {step.index} {step.text}: " + " ".join(state_text(state)))
