"""``llm-modulo validate DOMAIN PROBLEM PLAN``: a VAL-compatible plan validator.

A command plugin (entry point ``validate`` in ``llm_modulo.commands``), like any
third-party command.

Prints a report in the spirit of VAL's ("Plan valid", "Plan failed to
execute", "Goal not satisfied", with the failing step and literals) and exits
0 for a valid plan, 1 for an invalid one, 3 when the answer is unknown (the
domain uses a feature the validator does not support, or steps share a time
stamp), 2 for unreadable input. The plan file is read in VAL's plan format
(:mod:`llm_modulo.verifiers.pddl.valplan`); ``--lenient`` also reads numbering, bullets,
fences and markers line by line (:mod:`llm_modulo.verifiers.pddl.plantext`). Every line is
printed whole (never wrapped to the terminal's width).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from llm_modulo.bounds import read_bytes_capped
from llm_modulo.cli.common import JsonOpt, errors_as_messages, out
from llm_modulo.errors import UsageError
from llm_modulo.verifiers.pddl.nl import Templates
from llm_modulo.verifiers.pddl.packaged import DATA, packaged_domain, packaged_templates
from llm_modulo.verifiers.pddl.parse import parse_problem
from llm_modulo.verifiers.pddl.sexpr import PDDLError, UnsupportedPDDL, read
from llm_modulo.verifiers.pddl.simulate import Issue, Task, time_text
from llm_modulo.verifiers.pddl.validator import (
    STRUCTURAL,
    Report,
    cached_domain,
    state_text,
    validate,
)
from llm_modulo.verifiers.pddl.verifier import PlanVerifier

EXIT_VALID, EXIT_INVALID, EXIT_UNKNOWN = 0, 1, 3
MAX_INPUT_CHARS = 20_000_000


def _read(path: Path, what: str) -> str:
    """A file's text (``-``: standard input), undecodable bytes replaced; a file too long or
    not a regular file is an error."""
    data = read_bytes_capped(path, f"{what} file", limit=MAX_INPUT_CHARS * 4, error=UsageError)
    text = data.decode("utf-8-sig", errors="replace")
    if len(text) > MAX_INPUT_CHARS:
        raise UsageError(f"{what} file {path} is longer than {MAX_INPUT_CHARS} characters")
    return text


def _load(domain: Path, domain_text: str, problem: Path, problem_text: str) -> Task:
    """The task, a file's error naming the file (UnsupportedPDDL passes through)."""
    try:
        dom = cached_domain(domain_text)
    except UnsupportedPDDL:
        raise
    except PDDLError as exc:
        raise PDDLError(f"{domain}: {exc}") from None
    try:
        return Task(dom, parse_problem(problem_text, dom))
    except UnsupportedPDDL:
        raise
    except PDDLError as exc:
        raise PDDLError(f"{problem}: {exc}") from None


def _templates(spec: str | None, domain_text: str) -> Templates | None:
    if spec is not None:
        if (DATA / f"{spec}.yaml").is_file():
            return packaged_templates(spec)
        return Templates.load(Path(spec))
    name = _packaged_name(domain_text)
    return None if name is None else packaged_templates(name)


@lru_cache(maxsize=16)
def _packaged_name(domain_text: str) -> str | None:
    """A PlanBench domain file as published comes with its English templates."""
    tokens = read(domain_text, "domain file")
    for path in sorted(DATA.glob("*.pddl")):
        if read(packaged_domain(path.stem), "domain file") == tokens:
            return path.stem
    return None


def run_validate(domain: Path, problem: Path, plan: Path, *, verbose: bool, as_json: bool,
                 templates: str | None, out: Console, lenient: bool = False) -> int:
    domain_text, problem_text = _read(domain, "domain"), _read(problem, "problem")
    plan_text = _read(plan, "plan")
    try:
        task = _load(domain, domain_text, problem, problem_text)
        tpl = _templates(templates, domain_text)
    except UnsupportedPDDL as exc:
        if as_json:
            _json({"status": "unknown", "valid": None, "critiques": [
                {"kind": "unsupported", "message": f"unsupported: {exc}", "location": None,
                 "data": {}}]})
        else:
            out.print(f"Plan validity unknown: unsupported: {exc}", highlight=False, markup=False,
                      soft_wrap=True)
        return EXIT_UNKNOWN
    wanted = task.problem.domain_name
    if wanted and wanted != task.domain.name:
        sys.stderr.write(f"warning: the problem names domain {wanted}, the domain file is "
                         f"{task.domain.name}\n")
    report = validate(task, plan_text, tpl, trace=verbose,
                      form="val+lines" if lenient else "val")
    if as_json:
        _json(_verdict(report, verbose))
    else:
        _print_report(report, str(plan), verbose, out)
    if report.undecided is not None:
        return EXIT_UNKNOWN
    return EXIT_VALID if report.valid else EXIT_INVALID


def _json(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps({"verifier": PlanVerifier.name,
                                 "verifier_version": PlanVerifier.version, **payload}) + "\n")


def _verdict(report: Report, verbose: bool) -> dict[str, Any]:
    undecided = report.undecided
    critiques = [c.model_dump(mode="json") for c in report.critiques()]
    if undecided is not None:
        critiques = [{"kind": "undecided", "message": undecided, "location": None, "data": {}}]
    payload: dict[str, Any] = {
        "status": "unknown" if undecided is not None else
        "accept" if report.valid else "reject",
        "valid": None if undecided is not None else report.valid,
        "critiques": critiques,
        "evidence": report.evidence(),
    }
    if verbose:
        payload["states"] = [state_text(s) for s in report.result.states]
    return payload


def _print_report(report: Report, name: str, verbose: bool, out: Console) -> None:
    """VAL's report: its headlines, its repair advice, its plan lists; then our critiques.

    The lines scripts look for in VAL's output are printed as VAL prints them: ``Plan
    executed successfully - checking goal``, ``Plan valid``, ``Final value: N``,
    ``Successful plans:`` / ``Value: N``, ``Goal not satisfied`` / ``Plan invalid``, ``Plan
    failed to execute``, ``Bad plan description!``, ``(A) has an unsatisfied precondition at
    time N`` with ``(Set (p) to true)``, ``Failed plans:``; with ``-v`` also ``Checking next
    happening (time N)`` and ``Plan failed because of unsatisfied precondition in:``.
    """
    def say(text: str = "") -> None:
        out.print(text, highlight=False, markup=False, soft_wrap=True)

    say(f"Checking plan: {name}")
    say(f"Plan size: {len(report.steps)}")
    failure = report.failure
    first_issue = report.result.issues[0] if report.result.issues else None
    if verbose:
        _print_trace(report, say, first_issue if failure == "unmet_precondition" else None)
    if report.undecided is not None:
        say(f"Plan validity unknown: {report.undecided}")
        return
    critiques = report.critiques()
    if report.valid:
        cost = report.result.cost
        costs = ":action-costs" in report.task.domain.requirements and cost is not None
        value = f"{cost:g}" if costs and cost is not None else f"{len(report.steps)}"
        say("Plan executed successfully - checking goal")
        say("Plan valid")
        say(f"Final value: {value} ")
        say()
        say("Successful plans:")
        say(f"Value: {value}")
        say(f" {name} {value}")
        return
    first = critiques[0]
    advice: list[str] = []
    if failure == "unmet_goal":
        say("Plan executed successfully - checking goal")
        say("Goal not satisfied")
        say("Plan invalid")
        advice = ["The goal is not satisfied"]
        advice += [_set_advice(c.data["literal"]) for c in critiques if c.kind == "unmet_goal"
                   and not c.data.get("after_failure")]
    elif failure in STRUCTURAL:
        say("Bad plan description!")
        say(f"  {first.message}")
    else:
        step = first.data["step"]
        at = time_text(first.data.get("time", step))
        say("Plan failed to execute")
        say(f"  at step {step}: {first.data['action']}")
        for lit in first.data.get("literals", []):
            say(f"  unsatisfied precondition: {lit}")
        advice = [f"{first.data['action']} has an unsatisfied precondition at time {at}"]
        advice += [_set_advice(lit) for lit in first.data.get("literals", [])]
    if advice:
        say()
        say("Plan Repair Advice:")
        say()
        for line in advice:
            say(line)
    say()
    say("Critiques:")
    for c in critiques:
        say(f"  {c.message}")
    say()
    say("Failed plans:")
    say(f" {name}")


def _set_advice(literal: str) -> str:
    """VAL's advice for a false literal: ``(Set (p a) to true)``, ``(Set (p a) to false)``."""
    literal = literal.partition(" (for ")[0]
    if literal.startswith("(not (") and literal.endswith("))") and literal.count("(") == 2:
        return f"(Set {literal[5:-1]} to false)"
    if literal.count("(") == 1:
        return f"(Set {literal} to true)"
    return f"(Make {literal} true)"


def _print_trace(report: Report, say: Callable[[str], None], failed: Issue | None) -> None:
    """VAL's ``-v`` trace: each happening's time, the state after each step, the failure."""
    result = report.result
    if not result.states:
        return
    say("Initial state: " + " ".join(state_text(result.states[0])))
    for (t, step), state in zip(result.order, result.states[1:], strict=False):
        say(f"Checking next happening (time {time_text(t)})")
        say(f"State after step {step.index} {step.text}: " + " ".join(state_text(state)))
    if failed is not None and failed.step is not None and failed.time is not None:
        say(f"Checking next happening (time {time_text(failed.time)})")
        say("Plan failed because of unsatisfied precondition in:")
        say(failed.step.text)
        say("")


DomainArg = Annotated[Path, typer.Argument(metavar="DOMAIN", help="PDDL domain file.")]
ProblemArg = Annotated[Path, typer.Argument(metavar="PROBLEM", help="PDDL problem file.")]
PlanArg = Annotated[Path, typer.Argument(metavar="PLAN",
                                         help="Plan file (IPC or English; - reads stdin).")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v",
                                          help="Print the state after each step.")]
TemplatesOpt = Annotated[str | None, typer.Option(
    "--templates", help="English plan templates: a PlanBench-style YAML file or a packaged "
                        "name (blocksworld, mystery_blocksworld, logistics, depots, "
                        "obfuscated_deceptive_logistics, ...).")]
LenientOpt = Annotated[bool, typer.Option(
    "--lenient", help="Also read plans VAL's format refuses, line by line: 1. / Step 1: "
                      "numbering, bullets, one Markdown fence, [PLAN] markers.")]


def validate_command(domain_file: DomainArg, problem_file: ProblemArg, plan_file: PlanArg,
                     verbose: VerboseOpt = False, as_json: JsonOpt = False,
                     templates: TemplatesOpt = None, lenient: LenientOpt = False) -> None:
    """Validate a plan like VAL. Exit 0 valid, 1 invalid, 3 unknown, 2 bad input."""
    with errors_as_messages():
        code = run_validate(domain_file, problem_file, plan_file, verbose=verbose,
                            as_json=as_json, templates=templates, out=out, lenient=lenient)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``validate`` to the ``llm-modulo`` command line (``llm_modulo.commands``)."""
    app.command("validate")(validate_command)
