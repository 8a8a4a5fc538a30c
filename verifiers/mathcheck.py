"""The sound math verifier: answer equivalence and solution substitution on sympy.

Problems carry a reference ``answer`` (compared for proven equality) and/or
``equations`` (each proposed solution is substituted; with ``all_solutions``
none may be missing). Candidates are ``{"answer": "<text or LaTeX>"}``.

ACCEPT only on proof; unparseable answers are REJECTed with the column; answers
over a size cap, or equalities sympy cannot settle, are UNKNOWN.
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache
from typing import Any

from llm_modulo.jsonanswer import duplicate_key, duplicate_key_message, missing_answer_critique
from llm_modulo.types import Candidate, Critique, Problem
from llm_modulo.verifier import CheckResult, Verifier
from verifiers.mathequiv import (
    Decision,
    Outcome,
    Tolerance,
    assume,
    assumed_symbols,
    compare,
    show,
)
from verifiers.mathparse import Scalar, Value, parse_math, parse_relation
from verifiers.mathsolve import System, check_solutions
from verifiers.mathtext import MathSyntaxError, TooComplex


@lru_cache(maxsize=2048)
def parse_cached(text: str) -> tuple[Value, str | None]:
    """:func:`parse_math` memoised (parsed values are immutable); errors are not cached."""
    return parse_math(text)


def tolerance_of(payload: dict[str, Any]) -> Tolerance:
    def frac(key: str) -> Fraction | None:
        raw = payload.get(key)
        return None if raw is None or raw == 0 else Fraction(str(raw))  # 0: exact

    question = payload.get("question")
    bare_units = isinstance(question, str) and _UNIT_WORDS.search(question) is not None
    return Tolerance(absolute=frac("tolerance"), relative=frac("relative_tolerance"),
                     bare_units=bare_units)


def symbols_of(payload: dict[str, Any]) -> dict[Any, Any]:
    """The problem's declared variable assumptions as symbol substitutions (validated when
    the problem was loaded; raises ValueError on a payload built around that check)."""
    declared = payload.get("assumptions") or {}
    key = tuple(sorted((name, (props,) if isinstance(props, str) else tuple(props))
                       for name, props in declared.items()))
    return _symbols(key)


@lru_cache(maxsize=256)
def _symbols(key: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[Any, Any]:
    return assumed_symbols(dict(key))


#: A question that asks for a percentage or an angle in degrees: there a candidate's ``50%``
#: or ``30°`` may stand for the bare reference ``50`` / ``30``.
_UNIT_WORDS = re.compile(r"percent|%|degree|°|\\circ", re.IGNORECASE)


@lru_cache(maxsize=256)
def system_of(equations: tuple[str, ...], variables: tuple[str, ...], real: bool,
              all_solutions: bool) -> System:
    """The problem's equations, parsed with the same safe grammar."""
    import sympy

    sides = []
    poles = []
    for text in equations:
        rel = parse_relation(text)
        if rel.ops != ("=",):
            raise MathSyntaxError(f"`{text}` is not an equation")
        sides.append((rel.terms[0], rel.terms[1]))
        poles.append(rel.poles)
    free: set[sympy.Symbol] = set()
    for lhs, rhs in sides:
        free |= lhs.free_symbols | rhs.free_symbols
    if variables:
        names = tuple(sympy.Symbol(v) for v in variables)
        for name in names:
            if name not in free:
                raise MathSyntaxError(f"the variable `{name}` does not occur in the equations")
    else:
        names = tuple(sorted(free, key=lambda s: s.name))
    if not names:
        raise MathSyntaxError("the equations have no unknowns")
    return System(tuple(sides), names, real, all_solutions, tuple(poles))


def problem_system(payload: dict[str, Any]) -> System | None:
    if not payload.get("equations"):
        return None
    return system_of(tuple(payload["equations"]), tuple(payload.get("variables") or ()),
                     bool(payload.get("real", True)), bool(payload.get("all_solutions", True)))


class MathVerifier(Verifier):
    """Proven equality with a reference answer, or exact substitution into equations."""

    name = "math"
    version = "1.0"
    sound = True
    timeout_s = 10.0
    memory_mb = 1536

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        answer = (candidate.answer or {}).get("answer")
        if not isinstance(answer, str):
            return CheckResult.reject(missing_answer_critique(candidate.parse_error,
                                                              "no answer given"))
        if (key := duplicate_key(answer)) is not None:  # {"answer": "1", "answer": "24"}
            return CheckResult.reject(Critique(kind="hedge", message=duplicate_key_message(key)))
        try:
            value, unit = parse_cached(answer)
        except MathSyntaxError as exc:
            return CheckResult.reject(Critique(
                kind="unparseable", message=str(exc),
                location=f"column {exc.column}" if exc.column else None))
        except TooComplex as exc:
            return CheckResult.unknown(f"the answer is too large to decide: {exc}",
                                       kind="too_complex")
        payload = problem.payload
        try:
            outcome = self._decide(payload, value, unit)
        except MathSyntaxError as exc:
            # The candidate parsed but does not fit the problem (e.g. no values for x).
            return CheckResult.reject(Critique(
                kind="form", message=str(exc),
                location=f"column {exc.column}" if exc.column else None))
        except TooComplex as exc:
            return CheckResult.unknown(f"too large to decide: {exc}", kind="too_complex")
        except RecursionError:
            return CheckResult.unknown("the answer nests too deeply to decide", kind="too_complex")
        return _result(outcome, value)

    def _decide(self, payload: dict[str, Any], value: Value, unit: str | None) -> Outcome:
        system = problem_system(payload)
        if system is not None:
            outcome = check_solutions(system, value)
            if outcome.decision is not Decision.EQUAL or payload.get("answer") is None:
                return outcome
        ref_value, ref_unit = parse_cached(str(payload["answer"]))
        if unit and ref_unit and unit != ref_unit:
            return Outcome(Decision.DIFFERENT, f"the unit `{unit}` is not the one asked for",
                           "unit")
        symbols = symbols_of(payload)
        if symbols:
            value, ref_value = assume(value, symbols), assume(ref_value, symbols)
        outcome = compare(value, ref_value, tolerance_of(payload))
        if (unit and not ref_unit and outcome.decision is Decision.EQUAL
                and not _question_names(payload.get("question"), unit)):
            # "5 km" for an expected bare 5: right only if the question counts in km
            return Outcome(Decision.UNDECIDED,
                           f"the unit `{unit}` is not one the question uses; give the number "
                           "alone, in the units the question asks for", "unit")
        return outcome


def _question_names(question: Any, unit: str) -> bool:
    """Whether the question mentions the unit (as a word; singular or plural)."""
    if not isinstance(question, str):
        return False
    stem = unit[:-1] if unit.endswith("s") and len(unit) > 2 else unit
    return re.search(rf"\b{re.escape(stem)}(?:s|es)?\b", question, re.IGNORECASE) is not None


def _result(outcome: Outcome, value: Value) -> CheckResult:
    if outcome.decision is Decision.EQUAL:
        evidence = {"form": type(value).__name__}
        if isinstance(value, Scalar) and len(value.alts) == 1:
            evidence["value"] = show(value.expr, 200)
        return CheckResult.accept(**evidence)
    if outcome.decision is Decision.DIFFERENT:
        return CheckResult.reject(Critique(kind=outcome.kind, message=outcome.message,
                                           location=outcome.location))
    return CheckResult.unknown(outcome.message or "could not decide", kind=outcome.kind)
