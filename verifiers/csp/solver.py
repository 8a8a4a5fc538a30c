"""Converting a CSP into a python-constraint problem and solving it within a deadline.

python-constraint (the maintained ``python-constraint2`` distribution, imported as
``constraint``) has no time limit of its own, so a constraint over every variable is
added that is consulted at each assignment step and raises once the deadline has passed;
that aborts the search cleanly, in-process, with no signal. Expressions become
``FunctionConstraint`` closures over the compiled AST (never python-constraint's string
constraints, which it compiles with Python's own parser).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import constraint as pc

from llm_modulo.verifiers.csp import expr as ex
from llm_modulo.verifiers.csp import model as m
from llm_modulo.verifiers.csp.checker import CompiledCSP


class Outcome(StrEnum):
    SAT = "sat"
    UNSAT = "unsat"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class SolveResult:
    outcome: Outcome
    solution: dict[str, int | str] | None
    elapsed_s: float


class _OutOfTime(Exception):
    pass


class _Deadline(pc.Constraint):  # type: ignore[misc]
    """Holds always; raises :class:`_OutOfTime` when consulted after the deadline."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def __call__(self, variables: Any, domains: Any, assignments: Any,
                 forwardcheck: bool = False) -> bool:
        if time.monotonic() > self.deadline:
            raise _OutOfTime
        return True


def _guarded(cls: type[Any]) -> type[Any]:
    """``cls`` whose preprocessing skips constraints over an already emptied domain.

    python-constraint's sum constraints take ``min``/``max`` of their domains while
    preprocessing and crash on an empty one (also on one their own pruning just emptied);
    an empty domain already means "no solution", which python-constraint reports right
    after preprocessing.
    """

    def preProcess(self: Any, variables: Any, domains: Any, constraints: Any,
                   vconstraints: Any) -> None:
        if all(len(domains[v]) for v in variables):
            try:
                cls.preProcess(self, variables, domains, constraints, vconstraints)
            except ValueError:
                # a one-variable sum first prunes its domain, then takes its min: emptied
                if all(len(domains[v]) for v in variables):
                    raise

    return type(f"Guarded{cls.__name__}", (cls,), {"preProcess": preProcess})


_SUMS = {"==": _guarded(pc.ExactSumConstraint), "<=": _guarded(pc.MaxSumConstraint),
         ">=": _guarded(pc.MinSumConstraint)}


def _function(fn: ex.Compiled) -> Callable[..., bool]:
    def holds(*params: Any) -> bool:
        try:
            return bool(fn(params))
        except ex.EvalError:
            return False
    return holds


def _local(node: ex.Node) -> tuple[list[str], ex.Compiled]:
    names = ex.variables(node)
    return names, ex.compile_node(node, {n: i for i, n in enumerate(names)})


def to_problem(compiled: CompiledCSP, extra: list[ex.Node] | None = None,
               deadline: float | None = None,
               domains: dict[str, list[Any]] | None = None) -> pc.Problem:
    """The python-constraint problem of ``compiled`` (plus ``extra`` boolean expressions).

    ``domains`` overrides the domains of some variables (e.g. to fix one).
    """
    problem = pc.Problem()
    for name, dom in zip(compiled.names, compiled.domains, strict=True):
        values = domains[name] if domains and name in domains else sorted(dom)
        problem.addVariable(name, list(values))
    for i, c in enumerate(compiled.csp.constraints):
        if isinstance(c, m.Expression):
            names, fn = _local(compiled.expressions[i][0])
            problem.addConstraint(pc.FunctionConstraint(_function(fn)), names)
        elif isinstance(c, m.AllDifferent | m.NotEqual):
            problem.addConstraint(pc.AllDifferentConstraint(), list(c.vars))
        elif isinstance(c, m.Equal):
            problem.addConstraint(pc.AllEqualConstraint(), list(c.vars))
        elif isinstance(c, m.Linear):
            # python-constraint's sums mis-prune a variable listed twice (`x + 2*x - y >= 9`
            # lost solutions, so an optimality "proof" could accept a non-optimal answer):
            # each variable goes in once, with its coefficients added up
            merged: dict[str, int] = {}
            for v, k in zip(c.vars, c.coeffs or [1] * len(c.vars), strict=True):
                merged[v] = merged.get(v, 0) + k
            problem.addConstraint(_SUMS[c.op](c.rhs, list(merged.values())), list(merged))
        elif isinstance(c, m.InSet):
            problem.addConstraint(pc.InSetConstraint(set(c.values)), list(c.vars))
        elif isinstance(c, m.NotInSet):
            problem.addConstraint(pc.NotInSetConstraint(set(c.values)), list(c.vars))
        else:
            assert isinstance(c, m.Table)
            allowed = frozenset(tuple(t) for t in c.tuples)
            problem.addConstraint(pc.FunctionConstraint(lambda *v, a=allowed: v in a),
                                  list(c.vars))
    for node in extra or []:
        names, fn = _local(node)
        problem.addConstraint(pc.FunctionConstraint(_function(fn)), names)
    if deadline is not None:
        problem.addConstraint(_Deadline(deadline), list(compiled.names))
    return problem


def solve(compiled: CompiledCSP, timeout_s: float, extra: list[ex.Node] | None = None,
          domains: dict[str, list[Any]] | None = None) -> SolveResult:
    """One solution, a proof that there is none, or TIMEOUT after ``timeout_s`` seconds."""
    start = time.monotonic()
    try:
        problem = to_problem(compiled, extra, start + timeout_s, domains)
        solution = problem.getSolution()
    except _OutOfTime:
        return SolveResult(Outcome.TIMEOUT, None, time.monotonic() - start)
    elapsed = time.monotonic() - start
    if solution is None:
        return SolveResult(Outcome.UNSAT, None, elapsed)
    return SolveResult(Outcome.SAT, dict(solution), elapsed)


def improvement(compiled: CompiledCSP, value: int) -> ex.Node:
    """The expression "the objective is strictly better than ``value``"."""
    assert compiled.objective is not None and compiled.csp.objective is not None
    op = "<" if compiled.csp.objective.sense == "minimize" else ">"
    return ex.Op(op, (compiled.objective[0], ex.Lit(value)))
