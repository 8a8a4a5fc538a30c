"""Sound checker for the Game of 24 (and its generalisation to other targets).

ACCEPT only when the expression parses under the arithmetic grammar, uses the
given numbers exactly (as a multiset), and its exact rational value equals the
target. Everything else is a REJECT naming what failed.
"""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

from llm_modulo.types import Candidate, Critique, Problem
from llm_modulo.verifier import CheckResult, Verifier
from verifiers.arith import (
    DivisionByZero,
    ExpressionSyntaxError,
    evaluate,
    format_fraction,
    leaves,
    parse_expression,
    render,
)


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


class Game24Verifier(Verifier):
    name = "game24"
    version = "1.0"
    sound = True
    timeout_s = 5.0
    memory_mb = 1024

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        if candidate.answer is None or not isinstance(candidate.answer.get("expression"), str):
            reason = candidate.parse_error or "no expression given"
            return CheckResult.reject(Critique(kind="unparseable", message=reason))
        text: str = candidate.answer["expression"]
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
        critiques: list[Critique] = []
        used = Counter(leaves(tree))
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
        if critiques:
            return CheckResult.reject(*critiques, value=format_fraction(value))
        return CheckResult.accept(expression=render(tree), value=format_fraction(value))


def text_span(text: str, start: int, end: int) -> str:
    from verifiers.arith import normalize

    return normalize(text)[start - 1 : end - 1]
