"""Substitution checks for "solve" problems: sound with no reference answer.

Each proposed solution is substituted into every equation and both sides are
compared exactly (:func:`~llm_modulo.verifiers.math.equiv.scalar_decision`). When the
problem asks for all solutions, completeness is established too: for one
polynomial equation by counting its distinct roots (Sturm sequences over the
reals, the square-free degree over the complex numbers), for a linear system
by its rank. Anything else that asks for all solutions is UNKNOWN.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from llm_modulo.verifiers.math.equiv import (
    Decision,
    Outcome,
    approx,
    distinct,
    scalar_decision,
    show,
    solution_poly,
)
from llm_modulo.verifiers.math.exact import divisors_of, guard_holds, guards_of, not_real
from llm_modulo.verifiers.math.text import MathSyntaxError, TooComplex, Unreadable
from llm_modulo.verifiers.math.values import Answers, Relation, Scalar, SetValue, TupleValue, Value

Assignment = dict[sympy.Symbol, sympy.Expr]


@dataclass(frozen=True)
class System:
    """Equations ``lhs = rhs`` in ``variables``, over the reals or the complex numbers."""

    equations: tuple[tuple[sympy.Expr, sympy.Expr], ...]
    variables: tuple[sympy.Symbol, ...]
    real: bool = True
    all_solutions: bool = True
    #: Per equation, the non-constant divisors it was written with (``x`` in ``x^2/x = 0``):
    #: a solution must not make any of them zero, even where sympy cancelled the division.
    poles: tuple[frozenset[sympy.Expr], ...] = ()

    def poles_of(self, i: int) -> frozenset[sympy.Expr]:
        return self.poles[i] if i < len(self.poles) else frozenset()


def assignments(value: Value, variables: tuple[sympy.Symbol, ...]) -> list[Assignment]:
    """The solutions a candidate proposes: ``3``, ``x = 3``, ``{1, 2}``, ``(1, 2)``, ``x=1, y=2``.

    Raises MathSyntaxError when the answer does not name values for the variables."""
    n = len(variables)
    if isinstance(value, SetValue) and not value.items:
        return []
    if n > 1 and isinstance(value, Answers) and all(isinstance(v, Relation) for v in value.items):
        named = _named(value.items, variables)
        if named is not None:
            return [named]
    items = value.items if isinstance(value, Answers | SetValue) else (value,)
    out: list[Assignment] = []
    for item in items:
        if isinstance(item, Scalar) and n == 1:
            out.append({variables[0]: item.expr})
        elif isinstance(item, Relation) and (named := _named((item,), variables)) is not None:
            out.append(named)
        elif isinstance(item, TupleValue) and len(item.items) == n and all(
                isinstance(v, Scalar) for v in item.items):
            out.append({var: v.expr for var, v in zip(variables, item.items, strict=True)
                        if isinstance(v, Scalar)})
        else:
            names = ", ".join(v.name for v in variables)
            raise MathSyntaxError(f"give values for {names}, e.g. `{variables[0].name} = 2`"
                                  + (" or a tuple in that order" if n > 1 else ""))
    return out


def _named(items: tuple[Value, ...], variables: tuple[sympy.Symbol, ...]) -> Assignment | None:
    out: Assignment = {}
    for item in items:
        if not (isinstance(item, Relation) and item.ops == ("=",)):
            return None
        left, right = item.terms
        if left not in variables or right.free_symbols:
            return None
        out[left] = right
    return out if set(out) == set(variables) else None


def _sides(expr: sympy.Expr) -> str:
    value = None if expr.is_Rational else approx(expr)
    if value is None:
        return show(expr)
    return f"{show(expr)} (about {value})" if len(show(expr)) < 30 else f"about {value}"


def check_solutions(system: System, value: Value) -> Outcome:
    """Substitute every proposed solution; then, if asked, establish that none is missing.

    A failure inside sympy (of any kind) proves nothing: UNDECIDED, its text not shown."""
    proposed = assignments(value, system.variables)
    try:
        return _check(system, proposed)
    except (MathSyntaxError, TooComplex, Unreadable, RecursionError, MemoryError):
        raise
    except Exception:  # sympy failed: that proves nothing
        return Outcome(Decision.UNDECIDED, "could not decide whether the solutions are "
                       "correct (an exact computation did not finish)", "undecided")


def _check(system: System, proposed: list[Assignment]) -> Outcome:
    undecided: Outcome | None = None
    for k, point in enumerate(proposed, 1):
        where = f"solution {k}" if len(proposed) > 1 else None
        named = ", ".join(f"{v.name} = {show(point[v])}" for v in system.variables)
        if any(x.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan) for x in point.values()):
            return Outcome(Decision.DIFFERENT, f"{named} is not a number; a solution is a finite "
                           "value", "not_finite", where)
        realness = [_realness(x) for x in point.values()] if system.real else []
        if Decision.DIFFERENT in realness:
            return Outcome(Decision.DIFFERENT, f"{named} is not a real number; the problem asks "
                           "for real solutions", "not_real", where)
        if Decision.UNDECIDED in realness and undecided is None:
            undecided = Outcome(Decision.UNDECIDED, f"could not decide whether {named} is real",
                                "undecided", where)
        for i, (lhs, rhs) in enumerate(system.equations, 1):
            left, right = lhs.xreplace(point), rhs.xreplace(point)
            pole = _pole_at(system.poles_of(i - 1), point, system.real)
            if pole is Decision.EQUAL or left.has(sympy.zoo, sympy.nan) or right.has(
                    sympy.zoo, sympy.nan):
                return Outcome(Decision.DIFFERENT, f"substituting {named} makes equation {i} "
                               "undefined (it divides by zero)", "substitution", where)
            if pole is Decision.UNDECIDED and undecided is None:
                undecided = Outcome(Decision.UNDECIDED, f"could not decide whether {named} "
                                    f"makes equation {i} undefined (a divisor that may be zero, "
                                    "or a logarithm or root that may not be real there)",
                                    "undecided", where)
            decision = scalar_decision(left, right)
            eq = f" in equation {i}" if len(system.equations) > 1 else ""
            if decision is Decision.DIFFERENT:
                return Outcome(Decision.DIFFERENT, f"substituting {named}{eq} gives "
                               f"{_sides(left)} on the left and {_sides(right)} on the right",
                               "substitution", where)
            if decision is Decision.UNDECIDED and undecided is None:
                undecided = Outcome(Decision.UNDECIDED, f"could not decide whether {named} "
                                    f"satisfies equation {i}", "undecided", where)
    if undecided is not None:
        return undecided
    distinct = _distinct_points(proposed, system.variables)
    if distinct is None:
        return Outcome(Decision.UNDECIDED, "could not decide whether two proposed solutions are "
                       "the same", "undecided")
    if not system.all_solutions:
        if not proposed:
            return Outcome(Decision.DIFFERENT, "no solution was given", "missing")
        return Outcome.equal()
    return _complete(system, distinct)


def _pole_at(poles: frozenset[sympy.Expr], point: Assignment, real: bool = True) -> Decision:
    """EQUAL when a divisor is proven zero at ``point``, DIFFERENT when all are proven non-zero
    (and, over the reals, every domain guard proven to hold: ``x > 0`` for ``\\ln x``)."""
    decisions = [scalar_decision(p.xreplace(point), sympy.Integer(0))
                 for p in divisors_of(poles)]
    if real and not all(guard_holds(g.xreplace(point)) for g in guards_of(poles)):
        decisions.append(Decision.UNDECIDED)
    if Decision.EQUAL in decisions:
        return Decision.EQUAL
    return Decision.UNDECIDED if Decision.UNDECIDED in decisions else Decision.DIFFERENT


def _realness(x: sympy.Expr) -> Decision:
    """EQUAL when ``x`` is proven real, DIFFERENT when proven not real, else UNDECIDED."""
    if x.is_extended_real:
        return Decision.EQUAL
    if x.is_extended_real is False:
        return Decision.DIFFERENT
    if x.is_number and not_real(x):
        return Decision.DIFFERENT
    return Decision.UNDECIDED


def _distinct_points(points: list[Assignment], variables: tuple[sympy.Symbol, ...]
                     ) -> list[Assignment] | None:
    as_tuples = tuple(TupleValue(tuple(Scalar((p[v],)) for v in variables)) for p in points)
    kept = distinct(as_tuples)
    if kept is None:
        return None
    return [points[as_tuples.index(t)] for t in kept]


def solution_count(system: System) -> int | None:
    """Number of distinct solutions when decidable here (None: infinitely many or unknown)."""
    diffs = [sympy.Add(lhs, -rhs) for lhs, rhs in system.equations]
    if len(system.variables) == 1 and len(diffs) == 1:
        # roots of the numerator where the equation is undefined are not solutions
        sqf = solution_poly(diffs[0], system.poles_of(0), system.variables[0])
        if sqf is None:
            return None
        return int(sqf.count_roots() if system.real else sqf.degree())
    if any(system.poles):
        return None
    try:
        matrix, vector = sympy.linear_eq_to_matrix(diffs, list(system.variables))
    except ValueError:  # sympy's NonlinearError is a ValueError
        return None
    if not all(e.is_Rational for e in [*matrix, *vector]):
        return None
    rank = matrix.rank()
    augmented = matrix.row_join(vector).rank()
    if augmented > rank:
        return 0
    return 1 if rank == len(system.variables) else None


def _complete(system: System, distinct: list[Assignment]) -> Outcome:
    count = solution_count(system)
    if count is None:
        return Outcome(Decision.UNDECIDED, "the proposed solutions are correct, but whether any "
                       "is missing cannot be decided for this problem", "completeness")
    if len(distinct) < count:
        kind = "real solutions" if system.real else "solutions"
        return Outcome(Decision.DIFFERENT, f"your answer gives {len(distinct)} of the {count} "
                       f"{kind}; some are missing", "missing")
    return Outcome.equal()
