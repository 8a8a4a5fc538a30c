"""The CSP verifier: one critique per violated constraint, per missing, unknown or
repeated variable and per value of the wrong type or outside its domain; ACCEPT only when
every constraint holds (and, when the problem asks for an optimum, optimality was proved
by python-constraint within the deadline, else UNKNOWN).

Problem payload: ``{"csp": <the CSP document>}``. Answer: ``{"assignment": {var: value}}``
or ``{"assignment": [[var, value], ...]}`` (the list form keeps repeated variables).
Domain verifiers (graph colouring, N-queens, sudoku, scheduling) subclass it and override
how the CSP is built, how the answer becomes an assignment and how failures are worded.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from llm_modulo.jsonanswer import missing_answer_critique
from llm_modulo.types import Candidate, Critique, Problem
from llm_modulo.verifier import CheckResult, Verifier
from llm_modulo.verifiers.csp import model as m
from llm_modulo.verifiers.csp.checker import (
    AssignmentIssue,
    CompiledCSP,
    Report,
    Violation,
    compile_csp,
)
from llm_modulo.verifiers.csp.expr import EvalError, _parser
from llm_modulo.verifiers.csp.solver import Outcome, improvement, solve

Pairs = Sequence[tuple[Any, Any]]
_CACHE: OrderedDict[tuple[str, str], CompiledCSP] = OrderedDict()
_CACHE_SIZE = 8


class AnswerError(ValueError):
    """The answer has the wrong shape; carries the critique to report."""

    def __init__(self, message: str, location: str | None = None) -> None:
        self.critique = Critique(kind="unparseable", message=message, location=location)
        super().__init__(message)


def assignment_pairs(answer: dict[str, Any] | None, key: str = "assignment") -> Pairs:
    """``(variable, value)`` pairs of ``answer[key]`` (a mapping or a list of pairs)."""
    if answer is None or key not in answer:
        raise AnswerError(f"the answer has no {key!r}")
    raw = answer[key]
    if isinstance(raw, dict):
        return list(raw.items())
    if isinstance(raw, list):
        if all(type(item) in (list, tuple) and len(item) == 2 for item in raw):
            return raw
        k = next(k for k, item in enumerate(raw)
                 if type(item) not in (list, tuple) or len(item) != 2)
        raise AnswerError(f"item {k} of {key!r} is not a [variable, value] pair", f"{key}[{k}]")
    raise AnswerError(f"{key!r} must be an object mapping variables to values")


class CSPVerifier(Verifier):
    """Sound checker of assignments against a declarative CSP."""

    name = "csp"
    version = "1.0"
    sound = True
    timeout_s = 20.0
    memory_mb = 2048
    critique_kinds: ClassVar[Mapping[str, str]] = {
        "constraint": "a constraint is violated by the assignment",
        "domain": "a value is outside its variable's domain",
        "type": "a value has the wrong type for its variable",
        "missing": "a variable that must be assigned is not",
        "unknown_variable": "the answer assigns a variable the problem does not have",
        "repeated": "the answer assigns a variable more than once",
        "more": "further violations beyond those listed",
        "objective": "the objective value is not the one claimed or required",
        "not_optimal": "a better solution exists (proven by the solver)",
        "optimality_undecided": "optimality could not be decided in time (UNKNOWN)",
    }

    @classmethod
    def warm_up(cls) -> None:
        _parser()  # builds the constraint-expression parser, once per worker

    #: Critiques rendered at most; the rest are counted in one closing critique.
    max_critiques: ClassVar[int] = 30
    #: Share of ``timeout_s`` an optimality proof may take before the answer is UNKNOWN.
    solve_fraction: ClassVar[float] = 0.6

    # -- hooks for domain verifiers -------------------------------------------------------

    def build_csp(self, problem: Problem) -> m.CSP:
        return m.parse_csp(problem.payload.get("csp"))

    def assignment(self, problem: Problem, candidate: Candidate) -> Pairs:
        """The candidate's ``(variable, value)`` pairs; raise :class:`AnswerError`."""
        return assignment_pairs(candidate.answer)

    def report(self, problem: Problem, compiled: CompiledCSP, pairs: Pairs) -> Report:
        """Check the answer's pairs against the CSP (a domain may relabel values first and
        translate the report back, or drop issues its problem format allows)."""
        return compiled.check(pairs)

    def describe_issue(self, problem: Problem, issue: AssignmentIssue) -> str:
        v, value = issue.variable, issue.value
        if issue.kind == "missing":
            return f"{v} is not assigned"
        if issue.kind == "unknown_variable":
            return f"{v!r} is not a variable of this problem"
        if issue.kind == "repeated":
            return f"{v} is assigned more than once (again as {value!r})"
        if issue.kind == "type":
            article = "an" if issue.detail.startswith(("a", "e", "i", "o", "u")) else "a"
            return f"{v} = {value!r} is not {article} {issue.detail}"
        return f"{v} = {value!r} is outside the domain of {v}"

    def describe_violation(self, problem: Problem, violation: Violation) -> str:
        return f"constraint `{violation.label}` is violated: {violation.detail}"

    def optimality(self, problem: Problem, compiled: CompiledCSP,
                   values: list[Any]) -> CheckResult | None:
        """None when no optimum is asked; else ACCEPT / REJECT / UNKNOWN on the proof."""
        if compiled.objective is None:
            return None
        try:
            value = compiled.objective_value(values)
        except EvalError as exc:  # e.g. `10 // y` with y = 0: no value to prove optimal
            text = compiled.csp.objective.text if compiled.csp.objective else "objective"
            return CheckResult.reject(Critique(
                kind="objective", message=f"the objective `{text}` cannot be evaluated for "
                                          f"this assignment ({exc})"))
        result = solve(compiled, self.solve_budget(problem), extra=[improvement(compiled, value)])
        sense = compiled.csp.objective.sense if compiled.csp.objective else "minimize"
        better = "smaller" if sense == "minimize" else "larger"
        return self.optimality_verdict(
            result.outcome, result.elapsed_s, value,
            f"the objective is {value}, but an assignment with a {better} value satisfies "
            "every constraint",
        )

    def evidence(self, problem: Problem, compiled: CompiledCSP,
                 values: list[Any]) -> dict[str, Any]:
        """What an ACCEPT records."""
        return {"variables": len(compiled.names), "constraints": len(compiled.csp.constraints)}

    # -- shared machinery -----------------------------------------------------------------

    def solve_budget(self, problem: Problem) -> float:
        """Seconds an optimality proof may search: the payload's ``solve_timeout_s`` or a
        share of ``timeout_s``, always inside the worker's deadline."""
        given = problem.payload.get("solve_timeout_s")
        if isinstance(given, int | float) and not isinstance(given, bool) and given > 0:
            return min(float(given), self.timeout_s * 0.9)
        return self.timeout_s * self.solve_fraction

    def optimality_verdict(self, outcome: Outcome, elapsed: float, value: int,
                           not_optimal: str) -> CheckResult:
        if outcome is Outcome.UNSAT:
            return CheckResult.accept(objective=value, optimal=True,
                                      optimality_proof_s=round(elapsed, 6))
        if outcome is Outcome.SAT:
            return CheckResult.reject(Critique(kind="not_optimal", message=not_optimal,
                                               data={"objective": value}),
                                      objective=value)
        return CheckResult.unknown(
            f"the assignment is valid with objective {value}, but its optimality could not be "
            f"established within {elapsed:.1f} s", kind="optimality_undecided", objective=value)

    def compiled(self, problem: Problem) -> CompiledCSP:
        key = (self.name, problem.hash)  # cached on the problem, computed once
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
        compiled = compile_csp(self.build_csp(problem))
        _CACHE[key] = compiled
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return compiled

    def critiques(self, problem: Problem, report: Report) -> list[Critique]:
        out = []
        for issue in report.issues:
            out.append(Critique(kind=issue.kind, message=self.describe_issue(problem, issue),
                                location=issue.variable,
                                data={"variable": issue.variable, "value": issue.value}))
        for v in report.violations:
            out.append(Critique(kind="constraint", message=self.describe_violation(problem, v),
                                location=f"constraint {v.index}",
                                data={"constraint": v.index, "kind": v.constraint.kind,
                                      "values": v.values}))
        return out

    def capped(self, critiques: list[Critique]) -> list[Critique]:
        if len(critiques) <= self.max_critiques:
            return critiques
        rest = len(critiques) - self.max_critiques
        return [*critiques[: self.max_critiques],
                Critique(kind="more", message=f"... and {rest} more problems "
                                              f"({len(critiques)} in all)",
                         data={"omitted": rest, "total": len(critiques)})]

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        if candidate.answer is None:
            return CheckResult.reject(missing_answer_critique(candidate.parse_error, "no answer"))
        compiled = self.compiled(problem)
        try:
            pairs = self.assignment(problem, candidate)
        except AnswerError as exc:
            return CheckResult.reject(exc.critique)
        report = self.report(problem, compiled, pairs)
        critiques = self.critiques(problem, report)
        if critiques:
            counts: dict[str, int] = {}
            for c in critiques:
                counts[c.kind] = counts.get(c.kind, 0) + 1
            return CheckResult.reject(*self.capped(critiques), problems=len(critiques),
                                      by_kind=counts)
        evidence = self.evidence(problem, compiled, report.values)
        proof = self.optimality(problem, compiled, report.values)
        if proof is None:
            return CheckResult.accept(**evidence)
        proof.evidence = {**evidence, **proof.evidence}
        return proof
