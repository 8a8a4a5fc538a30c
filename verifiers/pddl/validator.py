"""The plan validator's public face: load a task, validate plan text, explain.

>>> task = load_task(domain_text, problem_text)
>>> report = validate(task, "(unstack b c)\\n(put-down b)")
>>> report.valid, [c.message for c in report.critiques()]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from llm_modulo.types import Critique
from llm_modulo.verifiers.pddl.formula import Atom, atom_text
from llm_modulo.verifiers.pddl.model import DomainDef
from llm_modulo.verifiers.pddl.nl import NLReader, Templates
from llm_modulo.verifiers.pddl.parse import parse_domain, parse_problem
from llm_modulo.verifiers.pddl.plantext import LineError, parse_plan
from llm_modulo.verifiers.pddl.simulate import Issue, Result, Step, Task, time_text
from llm_modulo.verifiers.pddl.valplan import parse_val_plan

#: how plan text is read: ``lines`` (leniently, line by line, for model output), ``val``
#: (VAL's plan-file format exactly; with templates, an English plan of bare lines),
#: ``val+lines`` (VAL's format, else ``lines``)
PlanForm = Literal["lines", "val", "val+lines"]

AFTER_FAILURE = " (assuming the earlier failed steps had taken effect)"
#: failures VAL finds before running the plan ("Bad plan description!")
STRUCTURAL = frozenset({"unparseable", "unknown_action", "wrong_arity", "unknown_object",
                        "wrong_type"})


@lru_cache(maxsize=64)
def cached_domain(text: str) -> DomainDef:
    """Parsed domain, cached by its text (domains are shared by many problems)."""
    return parse_domain(text)


def load_task(domain_text: str, problem_text: str) -> Task:
    """Parse (domain cached) and compile. Raises PDDLError / UnsupportedPDDL."""
    domain = cached_domain(domain_text)
    return Task(domain, parse_problem(problem_text, domain))


@lru_cache(maxsize=256)
def cached_task(domain_text: str, problem_text: str) -> Task:
    return load_task(domain_text, problem_text)


@dataclass
class Report:
    task: Task
    steps: list[Step]
    line_errors: list[LineError]
    result: Result
    templates: Templates | None = None

    @property
    def valid(self) -> bool:
        return not self.line_errors and self.result.valid

    @property
    def undecided(self) -> str | None:
        """Why the plan is neither valid nor invalid (an UNKNOWN), or None."""
        if self.line_errors or self.result.issues:
            return None
        return self.result.undecided

    @property
    def failure(self) -> str | None:
        """VAL's failure kind: ``unparseable``, ``unknown_action`` ... ``unmet_goal``.

        VAL reads and type-checks the whole plan before running it, so a line that is no
        action, or a step with an unknown action or object or a wrong arity or type, is
        the failure wherever it is; otherwise the first failing step, then the goal.
        """
        structural = [(e.line, "unparseable") for e in self.line_errors]
        structural += [(i.step.line, i.kind) for i in self.result.issues
                       if i.kind in STRUCTURAL and i.step is not None]
        if structural:
            return min(structural, key=lambda x: x[0])[1]
        return self.result.failure

    def critiques(self) -> list[Critique]:
        """Every problem: the plan's form and types first (VAL checks them before running
        anything), then what running it finds, earliest first; the first is VAL's."""
        keyed: list[tuple[bool, float, int, Critique]] = []
        for e in self.line_errors:
            keyed.append((False, e.line, 0, Critique(
                kind="unparseable", message=f"line {e.line} `{e.text}` {e.reason}"
                if e.line else e.reason, location=f"line {e.line}" if e.line else None,
                data={"line": e.line})))
        for n, issue in enumerate(self.result.issues):
            # the plan's form in file order; what running it finds in the order it ran
            structural = issue.kind in STRUCTURAL
            line = issue.step.line if issue.step is not None and structural else n + 1
            for c in self.issue_critiques(issue):
                keyed.append((not structural, line, n + 1, c))
        keyed.sort(key=lambda x: x[:3])
        return [c for *_, c in keyed]

    # -- wording ---------------------------------------------------------------------------

    def _gloss(self, literal: str) -> str:
        """`(holding a)` plus its English rendering when the domain has templates."""
        literal, sep, context = literal.partition(" (for ")
        out = f"`{literal}`" + (f" (for {context}" if sep else "")
        if self.templates is not None and literal.startswith("(") and " (" not in literal[1:]:
            atom = tuple(literal.strip("()").split())
            nl = self.templates.fact_text(atom)
            if nl:
                out += f" ({nl})"
        return out

    def _step_name(self, step: Step) -> str:
        out = f"step {step.index} `{step.text}`"
        if self.templates is not None:
            nl = self.templates.action_text(step.action, step.args)
            if nl:
                out += f" ({nl})"
        return out

    def issue_critiques(self, issue: Issue) -> list[Critique]:
        suffix = AFTER_FAILURE if issue.after_failure else ""
        data: dict[str, Any] = {"after_failure": issue.after_failure}
        if issue.kind == "unmet_goal":
            return [Critique(kind="unmet_goal", location="goal",
                             message=f"after the plan, {self._gloss(lit)} is still false{suffix}",
                             data={**data, "literal": lit}) for lit in issue.literals]
        step = issue.step
        assert step is not None
        data |= {"step": step.index, "action": step.text, "line": step.line}
        if issue.time is not None:
            data["time"] = issue.time
        name = self._step_name(step)
        domain = self.task.domain
        if issue.kind == "unmet_precondition":
            lits = [self._gloss(x) for x in issue.literals]
            joined = lits[0] if len(lits) == 1 else ", ".join(lits[:-1]) + " and " + lits[-1]
            verb = "is" if len(lits) == 1 else "are"
            when = (f" at time {time_text(issue.time)}" if step.time is not None
                    and issue.time is not None else "")
            msg = f"{name} is not executable{when} because {joined} {verb} false"
            data["literals"] = list(issue.literals)
        elif issue.kind == "unknown_action":
            known = ", ".join(sorted(domain.actions))
            msg = f"{name}: there is no action `{step.action}` (the actions are: {known})"
        elif issue.kind == "wrong_arity":
            want = len(domain.actions[step.action].params)
            msg = (f"{name}: `{step.action}` takes {want} argument{'s' * (want != 1)}, "
                   f"{len(step.args)} given")
        elif issue.kind == "unknown_object":
            msg = f"{name}: there is no object `{issue.detail}` in this problem"
        else:  # wrong_type
            arg, var = issue.detail.split(":")
            action = domain.actions[step.action]
            wanted = sorted(dict(action.params)[var])
            have = sorted(self.task.problem.objects.get(arg, frozenset()))
            msg = (f"{name}: `{arg}` is of type {' and '.join(have)}, but parameter {var} of "
                   f"`{step.action}` must be of type {' or '.join(wanted)}")
        return [Critique(kind=issue.kind, message=msg + suffix, location=f"step {step.index}",
                         data=data)]

    def evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {"steps": len(self.steps), "valid": self.valid}
        if self.valid and self.result.cost is not None:
            out["cost"] = self.result.cost
        if self.undecided is not None:
            out["valid"] = None
            out["undecided"] = self.undecided
        elif not self.valid:
            out["failure"] = self.failure
            out["executed"] = self.result.executed
        return out


Chooser = Callable[[list[tuple[str, tuple[str, ...]]]], tuple[str, tuple[str, ...]] | None]


def chooser(task: Task) -> Chooser:
    """How the line reader picks among an English line's readings for ``task``."""

    def choose(readings: list[tuple[str, tuple[str, ...]]]) -> tuple[str, tuple[str, ...]] | None:
        """The one reading of the right types, else None (ambiguous); if none is, the first.

        A reading that gives an object of the wrong type (declared, or by a one-argument
        never-changing predicate such as logistics' `(truck ?t)`) is no reading of the
        words. Whether a step could run is not used to choose: two readings of the right
        types are an ambiguity, never resolved toward a valid plan.
        """
        typed = [r for r in readings if task.check_step(Step(0, *r)) is None
                 and task.static_types_ok(task.domain.actions[r[0]], r[1])]
        if len(typed) > 1:
            return None
        return (typed or readings)[0]

    return choose


def read_lines(task: Task, plan: str | Sequence[str], templates: Templates | None = None, *,
               reader: NLReader | None = None) -> tuple[list[Step], list[LineError]]:
    """Plan text read as :func:`validate` reads it with ``form="lines"`` (leniently, PDDL or,
    with ``templates``, English steps): the steps and the lines that are no action."""
    if reader is None and templates is not None:
        reader = templates.reader(task.object_types)
    return parse_plan(plan, reader, chooser(task))


def validate(task: Task, plan: str | Sequence[str], templates: Templates | None = None, *,
             all_errors: bool = True, trace: bool = False,
             reader: NLReader | None = None, form: PlanForm = "lines") -> Report:
    """Validate plan text (IPC or, with ``templates``, English) against ``task``.

    ``form`` says how the text is read (:data:`PlanForm`).
    """
    if reader is None and templates is not None:
        reader = templates.reader(task.object_types)
    choose = chooser(task)
    stopped = False  # VAL's parser stopped: what it read is no plan to run
    if form == "lines":
        steps, errors = read_lines(task, plan, reader=reader)
    else:
        text = plan if isinstance(plan, str) else "\n".join(plan)
        steps, errors = parse_val_plan(text, task.domain.functions)
        stopped = bool(errors)
        if errors and form == "val+lines":
            steps, errors = parse_plan(text, reader, choose)
            stopped = False
        elif errors and reader is not None and "(" not in _COMMENTS.sub("", text):
            steps, errors = parse_plan(text, reader, choose, lenient=False)
            stopped = False
    if stopped:
        return Report(task, steps, errors, Result([], len(steps), 0, None), templates)
    if errors and not all_errors:
        return Report(task, steps, errors[:1], Result([], len(steps), 0, None), templates)
    result = task.validate(steps, all_errors=all_errors, trace=trace)
    return Report(task, steps, errors, result, templates)


_COMMENTS = re.compile(r";[^\n]*")


def state_text(state: frozenset[Atom] | set[Atom]) -> list[str]:
    return sorted(atom_text(a) for a in state)
