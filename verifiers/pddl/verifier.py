"""Sound PDDL plan verifier (VAL's semantics) for every planning domain.

A problem's payload holds the PDDL domain and problem texts and, for domains
whose plans may be written in English, the PlanBench-style templates (a
packaged template set's name, or an inline mapping). ACCEPT only when every
step parses, names a declared action with the right arity and well-typed
objects, is executable, and the goal holds at the end. Time stamps order the
steps as in VAL; steps at the same time are UNKNOWN unless one of them cannot
run (VAL's mutual-exclusion rule for them is not implemented).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, ClassVar

from llm_modulo.jsonanswer import missing_answer_critique
from llm_modulo.types import Candidate, Problem
from llm_modulo.verifier import CheckResult, Verifier
from llm_modulo.verifiers.pddl.nl import Templates
from llm_modulo.verifiers.pddl.packaged import packaged_templates
from llm_modulo.verifiers.pddl.prefix import check_prefix
from llm_modulo.verifiers.pddl.sexpr import PDDLError, UnsupportedPDDL
from llm_modulo.verifiers.pddl.simulate import Task
from llm_modulo.verifiers.pddl.validator import cached_task, validate


@lru_cache(maxsize=32)
def _templates(spec: str) -> Templates:
    value = json.loads(spec)
    if isinstance(value, str):
        return packaged_templates(value)
    return Templates.from_config(value)


def templates_of(payload: dict[str, Any]) -> Templates | None:
    spec = payload.get("templates")
    return None if spec is None else _templates(json.dumps(spec, sort_keys=True))


def plan_lines(answer: dict[str, Any] | None) -> list[str] | None:
    plan = None if answer is None else answer.get("plan")
    if isinstance(plan, str):
        return plan.splitlines()
    if not isinstance(plan, list):
        return None
    try:
        lines = "\n".join(plan).splitlines()  # TypeError: an item is not a string
    except TypeError:
        return None
    if lines == plan:  # the common case (no item has a line break), all in C: prefix checks
        return lines
    return [line for x in plan for line in (x.splitlines() or [""])]


class PlanVerifier(Verifier):
    name = "pddl_plan"
    version = "1.1"  # issue 11: time stamps order the steps
    sound = True
    timeout_s = 10.0
    memory_mb = 1024
    critique_kinds: ClassVar[Mapping[str, str]] = {
        "unmet_precondition": "a step is not executable: a precondition is false there",
        "unmet_goal": "the plan runs but the goal does not hold at its end",
        "unknown_action": "a step names an action the domain does not have",
        "unknown_object": "a step names an object the problem does not declare",
        "wrong_arity": "a step gives an action the wrong number of arguments",
        "wrong_type": "a step's argument has the wrong type",
        "unsupported": "the domain uses PDDL this validator does not implement (UNKNOWN)",
        "bad_problem": "the domain or problem file cannot be used (UNKNOWN)",
    }

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        lines = plan_lines(candidate.answer)
        if lines is None:
            return CheckResult.reject(missing_answer_critique(
                candidate.parse_error, "no plan given (expected a list of actions)"))
        loaded = _load(problem)
        if isinstance(loaded, CheckResult):
            return loaded
        task, templates = loaded
        report = validate(task, lines, templates)
        if report.valid:
            return CheckResult.accept(**report.evidence())
        if report.undecided is not None:
            return CheckResult.unknown(report.undecided, kind="undecided", **report.evidence())
        return CheckResult.reject(*report.critiques(), **report.evidence())

    def check_prefix(self, problem: Problem, candidate: Candidate) -> CheckResult:
        """The beginning of a plan, ``{"plan": [action, ...]}`` with one unstamped action per
        item: REJECT when no plan of unstamped steps starting with it can be valid (a step
        names an unknown action or object, has a wrong arity or type, or is not executable
        where it runs), ACCEPT with ``{"complete": True}`` when it is a valid plan, ACCEPT
        when it runs and the goal does not hold yet, UNKNOWN otherwise (see
        :mod:`llm_modulo.verifiers.pddl.prefix`)."""
        lines = plan_lines(candidate.answer)
        if lines is None:
            return CheckResult.unknown("no prefix given (expected a list of actions)")
        loaded = _load(problem)
        if isinstance(loaded, CheckResult):
            return loaded
        task, templates = loaded
        return check_prefix(task, lines, templates)


def _load(problem: Problem) -> tuple[Task, Templates | None] | CheckResult:
    """The problem's compiled task and templates, or the UNKNOWN saying why there are none."""
    payload = problem.payload
    try:
        return cached_task(payload["domain"], payload["problem"]), templates_of(payload)
    except UnsupportedPDDL as exc:
        return CheckResult.unknown(f"unsupported: {exc}", kind="unsupported")
    except PDDLError as exc:
        return CheckResult.unknown(f"the planning problem is not valid PDDL: {exc}",
                                   kind="bad_problem")
