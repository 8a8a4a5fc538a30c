"""Sound checker for the Game of 24 (and its generalisation to other targets).

ACCEPT only when the expression parses under the arithmetic grammar, uses the
given numbers exactly (as a multiset), and its exact rational value equals the
target. Everything else is a REJECT naming what failed.

The expression may state its value: ``EXPR = 24`` or a chain ``EXPR = 20 + 4 = 24``. The
expression is the part before the first ``=``; every stated part after it is parsed with the
same grammar and must have exactly the expression's value (a claim ``= 25`` is a REJECT,
however right the expression is). Only the expression must use the given numbers.

A step-by-step solution read from free text arrives as ``{"steps": ["4*5 = 20", ...]}`` and
is checked as a chain (:func:`~llm_modulo.verifiers.game24.chain.read_chain`): ACCEPT when
it is exactly an expression over the given numbers equal to the target, REJECT naming the
step when a step is false or the complete chain ends at another value, UNKNOWN when it cannot
be read as a chain.

Partial chains of Tree-of-Thoughts step lines (``4 + 8 = 12 (left: 4 6 12)``) are decided by
:meth:`Game24Verifier.check_prefix` (:mod:`~llm_modulo.verifiers.game24.steps`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from fractions import Fraction
from typing import ClassVar

from llm_modulo.jsonanswer import missing_answer_critique
from llm_modulo.types import Candidate, Critique, Problem
from llm_modulo.verifier import CheckResult, Verifier
from llm_modulo.verifiers.game24.arith import (
    MAX_LENGTH,
    DivisionByZero,
    ExpressionSyntaxError,
    evaluate,
    format_fraction,
    leaves,
    parse_expression,
    render,
)
from llm_modulo.verifiers.game24.chain import MAX_STEPS, read_chain
from llm_modulo.verifiers.game24.steps import check_prefix

#: Stated values after the expression (``EXPR = a = b``) read at most.
MAX_CLAIMS = 4


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


class Game24Verifier(Verifier):
    name = "game24"
    version = "1.1"  # issue 11: stated values (= 24) and step chains
    sound = True
    timeout_s = 5.0
    memory_mb = 1024
    critique_kinds: ClassVar[Mapping[str, str]] = {
        "value": "the expression's exact value is not the target",
        "claim": "a value the answer states (= ...) is not the expression's value",
        "division_by_zero": "the expression divides by zero",
        "number_missing": "a given number is not used (or used too few times)",
        "number_extra": "a number is used that is not given (or too many times)",
        "step": "a step of a step-by-step solution is false, or the steps end at another "
                "value",
        "left": "a step states numbers left that are not the ones left (prefix check)",
        "dead_end": "the numbers left after a step cannot make the target (prefix check: an "
                    "exhaustive exact search)",
    }

    @classmethod
    def warm_up(cls) -> None:
        parse_expression("1+1")  # builds the expression parser (~0.3 s), once per worker

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        steps = (candidate.answer or {}).get("steps")
        if "expression" not in (candidate.answer or {}) and steps is not None:
            return check_steps(problem, steps)
        if candidate.answer is None or not isinstance(candidate.answer.get("expression"), str):
            return CheckResult.reject(missing_answer_critique(candidate.parse_error,
                                                              "no expression given"))
        full: str = candidate.answer["expression"]
        text, *claims = full.split("=", MAX_CLAIMS + 1) if len(full) <= MAX_LENGTH else [full]
        if len(claims) > MAX_CLAIMS:
            return CheckResult.reject(Critique(
                kind="unparseable", message=f"the expression is followed by more than "
                                            f"{MAX_CLAIMS} `=`"))
        given = Counter(int(n) for n in problem.payload["numbers"])
        target = Fraction(int(problem.payload.get("target", 24)))
        try:
            tree = parse_expression(text)
        except ExpressionSyntaxError as exc:
            return CheckResult.reject(Critique(
                kind="unparseable",
                message=f"could not parse the expression: {exc}",
                location=f"column {exc.column}" if exc.column else None,
            ))
        critiques = number_critiques(given, Counter(leaves(tree)))
        try:
            value = evaluate(tree)
        except DivisionByZero as exc:
            node = exc.node
            span = text_span(text, node.start, node.end)
            critiques.append(Critique(
                kind="division_by_zero",
                message=f"`{span}` divides by zero",
                location=f"columns {node.start}-{node.end - 1}",
            ))
            return CheckResult.reject(*critiques)
        if value != target:
            critiques.append(Critique(
                kind="value",
                message=f"the expression evaluates to {format_fraction(value)}, "
                        f"not {format_fraction(target)}",
                data={"value": format_fraction(value)},
            ))
        critiques.extend(claim_critiques(claims, value))
        if critiques:
            return CheckResult.reject(*critiques, value=format_fraction(value))
        return CheckResult.accept(expression=render(tree), value=format_fraction(value))


    def check_prefix(self, problem: Problem, candidate: Candidate) -> CheckResult:
        """A partial chain ``{"steps": ["4 + 8 = 12 (left: 4 6 12)", ...]}``
        (:func:`~llm_modulo.verifiers.game24.steps.check_prefix`)."""
        lines = (candidate.answer or {}).get("steps")
        return check_prefix(lines, [int(n) for n in problem.payload["numbers"]],
                            int(problem.payload.get("target", 24)))


def check_steps(problem: Problem, steps: object) -> CheckResult:
    """The verdict on a chain of steps (``{"steps": [...]}``)."""
    if not (isinstance(steps, list) and 0 < len(steps) <= MAX_STEPS and all(
            isinstance(s, str) and len(s) <= MAX_LENGTH for s in steps)):
        return CheckResult.unknown(f"the steps are not a list of 1 to {MAX_STEPS} short texts")
    result = read_chain(steps, [int(n) for n in problem.payload["numbers"]],
                        int(problem.payload.get("target", 24)))
    if result.wrong is not None:
        return CheckResult.reject(Critique(kind="step", message=result.wrong,
                                           location=result.location))
    if result.expression is None or result.value is None:
        return CheckResult.unknown(f"the steps cannot be read as a chain: {result.undecided}")
    return CheckResult.accept(expression=result.expression,
                              value=format_fraction(result.value), steps=len(steps))


def number_critiques(given: Counter[int], used: Counter[int]) -> list[Critique]:
    """One critique per number used more or less often than given."""
    critiques: list[Critique] = []
    for n in sorted(set(given) | set(used)):
        g, u = given[n], used[n]
        if u == g:
            continue
        if u == 0:
            msg = f"the given number {n} is not used"
            if g > 1:
                msg += f" ({_times(g)} given)"
            kind = "number_missing"
        elif g == 0:
            msg = f"{n} is used {_times(u)} but is not one of the given numbers"
            kind = "number_extra"
        else:
            msg = f"{n} is used {_times(u)} but given {_times(g)}"
            kind = "number_missing" if u < g else "number_extra"
        critiques.append(Critique(kind=kind, message=msg, data={"number": n, "used": u,
                                                                  "given": g}))
    return critiques


def claim_critiques(claims: list[str], value: Fraction) -> list[Critique]:
    """One critique per stated value (``= ...``) that is not exactly ``value``."""
    critiques: list[Critique] = []
    for k, claim in enumerate(claims, 1):
        shown = claim.strip()[:60]
        where = f"stated value {k}"
        try:
            stated = evaluate(parse_expression(claim))
        except ExpressionSyntaxError as exc:
            critiques.append(Critique(kind="unparseable", location=where,
                                      message=f"could not parse the stated value `{shown}` "
                                              f"after `=`: {exc}"))
            continue
        except DivisionByZero:
            critiques.append(Critique(kind="claim", location=where,
                                      message=f"the stated value `{shown}` divides by zero"))
            continue
        if stated != value:
            exact = format_fraction(stated)
            which = "" if shown.replace(" ", "") == exact else f", which is {exact},"
            critiques.append(Critique(
                kind="claim", location=where, data={"stated": exact},
                message=f"the reply says the expression equals `{shown}`{which} but the "
                        f"expression is {format_fraction(value)}"))
    return critiques


def text_span(text: str, start: int, end: int) -> str:
    from llm_modulo.verifiers.game24.arith import normalize

    return normalize(text)[start - 1 : end - 1]
