"""Certified decisions about constants (verifiers/math/exact.py): numerics never decide alone."""

from __future__ import annotations

import mpmath  # type: ignore[import-untyped]
import pytest
import sympy

from llm_modulo.types import Candidate, Problem, Status
from llm_modulo.verifiers.math.exact import (
    GuardNonNegative,
    GuardPositive,
    apart,
    enclose,
    guard_holds,
    is_zero,
    nonzero,
    not_real,
    sign,
    within,
)
from llm_modulo.verifiers.math.verifier import MathVerifier

S = sympy.sqrt
#: sqrt(3 + 2 sqrt 2) = 1 + sqrt 2: a zero a 30-digit evalf gets wrong once scaled.
HIDDEN = S(3 + 2 * S(2)) - 1 - S(2)
TINY = sympy.Rational(1, 10**300)


@pytest.mark.parametrize("expr", [HIDDEN, 10**200 * HIDDEN, sympy.sin(sympy.pi / 7) ** 2
                                  + sympy.cos(sympy.pi / 7) ** 2 - 1,
                                  sympy.log(6) - sympy.log(2) - sympy.log(3)])
def test_hidden_zeros_are_proven_zero_and_never_called_nonzero(expr: sympy.Expr) -> None:
    assert not nonzero(expr)
    assert is_zero(expr) is True
    assert sign(expr) == 0


@pytest.mark.parametrize(("expr", "expected"), [
    (S(2) - sympy.Rational(14142135623730950488, 10**19), 1),
    (sympy.pi - sympy.Rational(314159, 100000), 1),
    (HIDDEN + TINY, 1),
    (HIDDEN - TINY, -1),
    (sympy.sin(10**50), -1),
    (sympy.E**sympy.pi - sympy.pi**sympy.E, 1),
])
def test_nonzero_constants_get_a_certified_sign(expr: sympy.Expr, expected: int) -> None:
    assert nonzero(expr)
    assert is_zero(expr) is False
    assert sign(expr) == expected


@pytest.mark.parametrize("expr", [
    S(2), sympy.pi, sympy.E, sympy.log(3), sympy.sin(1), sympy.cos(10**20), sympy.atan(2),
    sympy.asin(sympy.Rational(1, 3)), sympy.acos(-sympy.Rational(1, 2)),
    sympy.Pow(-8, sympy.Rational(1, 3)), sympy.I**sympy.I, sympy.exp(sympy.I * sympy.pi / 3),
    sympy.tan(1), sympy.Abs(-3 + 4 * sympy.I), sympy.floor(sympy.pi * 100),
    sympy.log(-2), sympy.cosh(2), sympy.sinh(-1), sympy.tanh(3), sympy.sec(2), sympy.cot(3),
])
def test_enclosures_hold_the_value(expr: sympy.Expr) -> None:
    value = sympy.N(expr, 80)
    with mpmath.workdps(90):
        real, imag = (mpmath.mpf(str(part)) for part in value.as_real_imag())
        for prec in (64, 256):
            box = enclose(expr, prec)
            assert box is not None, expr
            assert real in box[0] and imag in box[1], (expr, prec, box)


def test_what_cannot_be_enclosed_is_undecided() -> None:
    x = sympy.Symbol("x")
    assert enclose(x + 1, 64) is None
    assert enclose(sympy.log(HIDDEN + 0), 4096) is None
    assert not nonzero(x)
    assert sign(sympy.I + 1) is None
    assert not_real(sympy.I + 1)
    assert not not_real(sympy.Abs(sympy.I + 1))


def test_apart_and_within_are_certified() -> None:
    one, near = enclose(sympy.Integer(1), 64), enclose(1 + TINY, 64)
    assert not apart(one, near)  # 1e-300 is below 64 bits: not claimed apart
    assert apart(enclose(S(2), 64), enclose(sympy.Rational(141421, 100000), 64))
    assert within(sympy.Rational(1, 10**5), sympy.Rational(1, 10**5)) is None  # on the bound
    assert within(sympy.pi - sympy.Rational(314159, 100000), sympy.Rational(1, 10**5)) is True
    assert within(sympy.pi - 3, sympy.Rational(1, 10)) is False


def test_guards_hold_only_when_proven() -> None:
    x, p = sympy.Symbol("x"), sympy.Symbol("p", positive=True)
    assert not guard_holds(GuardPositive(x))
    assert guard_holds(GuardPositive(p))
    assert guard_holds(GuardNonNegative(sympy.Symbol("r", real=True) ** 2))
    assert not guard_holds(GuardPositive(HIDDEN))
    assert guard_holds(GuardNonNegative(HIDDEN))


def test_issue_11_examples() -> None:
    verifier = MathVerifier()

    def status(reference: str, text: str) -> Status:
        problem = Problem(domain="math_answer", payload={"answer": reference})
        return verifier.check(problem, Candidate(raw=text, answer={"answer": text})).status

    h = r"(\sqrt{3+2\sqrt{2}}-1-\sqrt{2})"
    assert status("1", rf"\frac{{{h}}}{{{h}}}") is Status.REJECT
    assert status("1", rf"{h}^0") is Status.REJECT
    assert status("1", r"\infty^0") is Status.REJECT
    assert status("2", rf"2 + 10^{{200}}{h}") is Status.ACCEPT
    assert status("x", r"e^{\ln x}") is Status.UNKNOWN
