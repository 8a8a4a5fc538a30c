"""Exact and certified decisions about constants: is it zero, which sign, how far apart.

Numerics never decide on their own. A constant is *proven non-zero* (or positive, or
apart from another) only by interval arithmetic (:mod:`mpmath.iv`, outward rounding) whose
enclosure excludes 0; the precision doubles from 64 up to :data:`MAX_PRECISION` bits until it
separates. A constant is *proven zero* only by an exact rewrite that reaches 0 (``expand``,
``cancel``, ``radsimp``, ``sqrtdenest``, ``trigsimp``, ``simplify``) or by its minimal
polynomial being ``z``. Anything else is undecided (``None``): never accepted, never rejected.

This module also holds the *domain guards* the parser records next to a value's divisors
(:class:`GuardPositive` and friends): sympy folds ``e^{\\ln x}`` to ``x`` and
``\\sqrt{x}^2`` to ``x`` as it builds them, so the guard is the only record that the text was
defined only where ``x > 0`` (``x >= 0``) in the real reading.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import mpmath  # type: ignore[import-untyped]
import sympy
from mpmath import iv

#: Bits of the first interval evaluation; doubled until the enclosure separates.
START_PRECISION = 64
#: Bits beyond which an enclosure that does not separate leaves the question undecided.
MAX_PRECISION = 4096
#: Expressions with more operations than this are not evaluated or handed to ``simplify``.
MAX_OPS = 400
#: An enclosure whose magnitude exceeds 2**MAX_MAGNITUDE_BITS is given up (exp(10^6) is fine).
MAX_MAGNITUDE_BITS = 1 << 22

Box = tuple[Any, Any]  # (real part, imaginary part), each an mpmath interval


class _Unsupported(Exception):
    """The expression holds something the interval evaluator does not enclose."""


# -- domain guards ----------------------------------------------------------------------------

class DomainGuard(sympy.Function):  # type: ignore[misc]
    """A marker (never evaluated) recording where the written text is defined in the real
    reading; it lives in a value's ``poles`` set next to the written divisors."""

    nargs = 1


class GuardPositive(DomainGuard):
    """The argument of a logarithm, or the base of a power with a symbolic exponent: > 0."""


class GuardNonNegative(DomainGuard):
    """The radicand of a square (even) root or the base of a fractional power: >= 0."""


class GuardUnit(DomainGuard):
    """The argument of arcsin / arccos: between -1 and 1."""


def guard_holds(guard: sympy.Expr) -> bool:
    """True when the guard's condition is proven (from the symbols' assumptions or exactly)."""
    (arg,) = guard.args
    if isinstance(guard, GuardPositive):
        return arg.is_extended_positive is True or (arg.is_number and sign(arg) == 1)
    if isinstance(guard, GuardNonNegative):
        if arg.is_extended_nonnegative is True:
            return True
        return bool(arg.is_number and sign(arg) in (0, 1))
    if isinstance(guard, GuardUnit):
        if not arg.is_number:
            return False
        return sign(1 - arg) in (0, 1) and sign(1 + arg) in (0, 1)
    return False


def guards_of(poles: frozenset[sympy.Expr]) -> frozenset[sympy.Expr]:
    return frozenset(p for p in poles if isinstance(p, DomainGuard))


def divisors_of(poles: frozenset[sympy.Expr]) -> frozenset[sympy.Expr]:
    return frozenset(p for p in poles if not isinstance(p, DomainGuard))


def open_guards(poles: frozenset[sympy.Expr]) -> frozenset[sympy.Expr]:
    """The guards not proven to hold, each with positive rational content stripped
    (``\\ln 2x`` and ``\\ln x`` exclude the same points)."""
    out = set()
    for guard in guards_of(poles):
        if guard_holds(guard):
            continue
        (arg,) = guard.args
        content, rest = sympy.expand(arg).as_content_primitive()
        if content.is_Rational and content > 0 and not isinstance(guard, GuardUnit):
            arg = rest
        out.add(type(guard)(arg))
    return frozenset(out)


# -- interval enclosures ----------------------------------------------------------------------

def _real(x: Any) -> Box:
    return x, iv.mpf(0)


def _is_exact_zero(x: Any) -> bool:
    return bool(x.a == 0 and x.b == 0)


def _add(a: Box, b: Box) -> Box:
    return a[0] + b[0], a[1] + b[1]


def _mul(a: Box, b: Box) -> Box:
    if _is_exact_zero(a[1]) and _is_exact_zero(b[1]):
        return _real(a[0] * b[0])
    return a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]


def _inverse(a: Box) -> Box:
    if _is_exact_zero(a[1]):
        if (a[0] > 0) is not True and (a[0] < 0) is not True:
            raise _Unsupported("division by an interval around 0")
        return _real(1 / a[0])
    norm = a[0] * a[0] + a[1] * a[1]
    if (norm > 0) is not True:
        raise _Unsupported("division by an interval around 0")
    return a[0] / norm, -a[1] / norm


def _int_power(a: Box, n: int) -> Box:
    if n < 0:
        return _int_power(_inverse(a), -n)
    if _is_exact_zero(a[1]):
        return _real(a[0] ** n)
    out: Box = _real(iv.mpf(1))
    base = a
    while n:
        if n & 1:
            out = _mul(out, base)
        n >>= 1
        if n:
            base = _mul(base, base)
    return out


def _exp(a: Box) -> Box:
    scale = iv.exp(a[0])
    if _is_exact_zero(a[1]):
        return _real(scale)
    return scale * iv.cos(a[1]), scale * iv.sin(a[1])


def _log(a: Box) -> Box:
    re, im = a
    if _is_exact_zero(im):
        if (re > 0) is True:
            return _real(iv.log(re))
        if (re < 0) is True:
            return iv.log(-re), iv.pi
        raise _Unsupported("logarithm of an interval around 0")
    if (re > 0) is not True and (im > 0) is not True and (im < 0) is not True:
        raise _Unsupported("logarithm across its branch cut")
    norm = re * re + im * im
    if (norm > 0) is not True:
        raise _Unsupported("logarithm of an interval around 0")
    return iv.log(norm) / 2, iv.atan2(im, re)


def _general_power(base: Box, exp: Box) -> Box:
    return _exp(_mul(exp, _log(base)))


def _sin_cos(a: Box) -> tuple[Box, Box]:
    re, im = a
    if _is_exact_zero(im):
        return _real(iv.sin(re)), _real(iv.cos(re))
    ep, en = iv.exp(im), iv.exp(-im)
    cosh, sinh = (ep + en) / 2, (ep - en) / 2
    s, c = iv.sin(re), iv.cos(re)
    return (s * cosh, c * sinh), (c * cosh, -(s * sinh))


def _real_arg(a: Box) -> Any:
    if not _is_exact_zero(a[1]):
        raise _Unsupported("a complex argument")
    return a[0]


def _asin(x: Any) -> Any:
    rest = 1 - x * x
    if (rest >= 0) is not True:
        raise _Unsupported("arcsin outside [-1, 1]")
    return iv.atan2(x, iv.sqrt(rest))


def _acos(x: Any) -> Any:
    rest = 1 - x * x
    if (rest >= 0) is not True:
        raise _Unsupported("arccos outside [-1, 1]")
    return iv.atan2(iv.sqrt(rest), x)


def _round(x: Any, up: bool) -> Any:
    step = mpmath.ceil if up else mpmath.floor
    lo, hi = step(mpmath.mpf(x.a)), step(mpmath.mpf(x.b))
    if lo != hi:
        raise _Unsupported("floor/ceiling of an interval across an integer")
    return iv.mpf(int(lo))


_REAL_FUNCS: dict[type, Callable[[Any], Any]] = {
    sympy.atan: lambda x: iv.atan2(x, iv.mpf(1)),
    sympy.asin: _asin,
    sympy.acos: _acos,
    sympy.sinh: lambda x: (iv.exp(x) - iv.exp(-x)) / 2,
    sympy.cosh: lambda x: (iv.exp(x) + iv.exp(-x)) / 2,
    sympy.tanh: lambda x: (iv.exp(2 * x) - 1) / (iv.exp(2 * x) + 1),
}


def _enclose(e: sympy.Expr) -> Box:
    if e.is_Integer:
        return _real(iv.mpf(int(e)))
    if e.is_Rational:
        return _real(iv.mpf(int(e.p)) / iv.mpf(int(e.q)))
    if e is sympy.pi:
        return _real(iv.pi)
    if e is sympy.E:
        return _real(iv.e)
    if e is sympy.I:
        return iv.mpf(0), iv.mpf(1)
    if e.is_Add:
        out = _enclose(e.args[0])
        for arg in e.args[1:]:
            out = _add(out, _enclose(arg))
        return _checked(out)
    if e.is_Mul:
        out = _enclose(e.args[0])
        for arg in e.args[1:]:
            out = _mul(out, _enclose(arg))
        return _checked(out)
    if e.is_Pow:
        base, exp = e.args
        if exp.is_Integer:
            return _checked(_int_power(_enclose(base), int(exp)))
        if exp == sympy.S.Half:
            b = _enclose(base)
            if _is_exact_zero(b[1]) and (b[0] >= 0) is True:
                return _real(iv.sqrt(b[0]))
            return _checked(_general_power(b, _real(iv.mpf(1) / 2)))
        return _checked(_general_power(_enclose(base), _enclose(exp)))
    if isinstance(e, sympy.exp):
        return _checked(_exp(_enclose(e.args[0])))
    if isinstance(e, sympy.log) and len(e.args) == 1:
        return _checked(_log(_enclose(e.args[0])))
    if isinstance(e, sympy.sin | sympy.cos | sympy.tan | sympy.cot | sympy.sec | sympy.csc):
        s, c = _sin_cos(_enclose(e.args[0]))
        return _checked(_trig(type(e), s, c))
    if type(e) in _REAL_FUNCS:
        return _checked(_real(_REAL_FUNCS[type(e)](_real_arg(_enclose(e.args[0])))))
    if isinstance(e, sympy.Abs):
        re, im = _enclose(e.args[0])
        if _is_exact_zero(im):
            return _real(iv.mpf([iv.absmin(re), iv.absmax(re)]))
        return _real(iv.sqrt(re * re + im * im))
    if isinstance(e, sympy.floor | sympy.ceiling):
        return _real(_round(_real_arg(_enclose(e.args[0])), isinstance(e, sympy.ceiling)))
    raise _Unsupported(type(e).__name__)


def _trig(kind: type, s: Box, c: Box) -> Box:
    if kind is sympy.sin:
        return s
    if kind is sympy.cos:
        return c
    if kind is sympy.tan:
        return _mul(s, _inverse(c))
    if kind is sympy.cot:
        return _mul(c, _inverse(s))
    return _inverse(c) if kind is sympy.sec else _inverse(s)


def _checked(box: Box) -> Box:
    for part in box:
        for end in (part.a, part.b):
            value = mpmath.mpf(end)
            if not mpmath.isfinite(value):
                raise _Unsupported("an unbounded enclosure")
            if value != 0 and mpmath.mag(value) > MAX_MAGNITUDE_BITS:
                raise _Unsupported("a magnitude beyond the cap")
    return box


def enclose(expr: sympy.Expr, prec: int) -> Box | None:
    """A box (real and imaginary intervals) that certainly holds the constant ``expr``."""
    saved = iv.prec
    iv.prec = prec
    try:
        return _enclose(expr)
    except (_Unsupported, ZeroDivisionError, ValueError, TypeError, OverflowError,
            RecursionError):
        return None
    finally:
        iv.prec = saved


def _precisions() -> list[int]:
    out, prec = [], START_PRECISION
    while prec <= MAX_PRECISION:
        out.append(prec)
        prec *= 2
    return out


def _small(expr: sympy.Expr) -> bool:
    return bool(expr.is_number) and sympy.count_ops(expr) <= MAX_OPS


def _excludes_zero(box: Box) -> bool:
    re, im = box
    return bool((re > 0) is True or (re < 0) is True or (im > 0) is True or (im < 0) is True)


@lru_cache(maxsize=4096)
def nonzero(expr: sympy.Expr) -> bool:
    """True only when an interval enclosure of the constant ``expr`` excludes 0."""
    if expr.is_Rational:
        return bool(expr != 0)
    if not _small(expr):
        return False
    for prec in _precisions():
        box = enclose(expr, prec)
        if box is not None and _excludes_zero(box):
            return True
    return False


@lru_cache(maxsize=4096)
def sign(expr: sympy.Expr) -> int | None:
    """-1, 0 or 1 for a real constant, proven; None when not proven (or not real)."""
    if expr.is_Rational:
        return int(sympy.sign(expr))
    if not _small(expr):
        return None
    for prec in _precisions():
        box = enclose(expr, prec)
        if box is not None and ((box[1] > 0) is True or (box[1] < 0) is True):
            return None  # proven not real
        if box is None or not _is_exact_zero(box[1]):
            continue
        if (box[0] > 0) is True:
            return 1
        if (box[0] < 0) is True:
            return -1
    return 0 if not expr.has(sympy.I) and prove_zero(expr) else None


@lru_cache(maxsize=4096)
def is_zero(expr: sympy.Expr) -> bool | None:
    """True when the constant ``expr`` is proven 0, False when proven non-zero, else None."""
    if expr.is_Rational:
        return bool(expr == 0)
    if nonzero(expr):
        return False
    return True if prove_zero(expr) else None


@lru_cache(maxsize=4096)
def not_real(expr: sympy.Expr) -> bool:
    """True only when the constant's imaginary part is proven non-zero."""
    if not _small(expr):
        return False
    for prec in _precisions():
        box = enclose(expr, prec)
        if box is not None and ((box[1] > 0) is True or (box[1] < 0) is True):
            return True
    return False


def apart(a: Box | None, b: Box | None) -> bool:
    """True when two enclosures are disjoint: the constants they hold are proven different."""
    if a is None or b is None:
        return False
    return bool(
        (a[0].b < b[0].a) is True or (b[0].b < a[0].a) is True
        or (a[1].b < b[1].a) is True or (b[1].b < a[1].a) is True)


def within(gap: sympy.Expr, bound: sympy.Expr) -> bool | None:
    """Whether ``|gap| < bound`` (bound > 0, real): True / False when proven, None near or at
    the bound and when the enclosures do not separate."""
    if gap.is_Rational and bound.is_Rational:
        if abs(gap) == bound:
            return None
        return bool(abs(gap) < bound)
    if not (_small(gap) and _small(bound)):
        return None
    for prec in _precisions():
        g, b = enclose(gap, prec), enclose(bound, prec)
        if g is None or b is None or not _is_exact_zero(b[1]):
            continue
        size = iv.sqrt(g[0] * g[0] + g[1] * g[1]) if not _is_exact_zero(g[1]) else \
            iv.mpf([iv.absmin(g[0]), iv.absmax(g[0])])
        if (size < b[0]) is True:
            return True
        if (size > b[0]) is True:
            return False
    return None


# -- exact zero proofs ------------------------------------------------------------------------

_STEPS: tuple[Callable[[sympy.Expr], sympy.Expr], ...] = (
    sympy.expand, sympy.cancel, sympy.radsimp, sympy.sqrtdenest, sympy.expand_log,
    sympy.trigsimp)


@lru_cache(maxsize=4096)
def prove_zero(expr: sympy.Expr) -> bool:
    """True only when an exact rewrite reaches 0 (each step an identity), or a constant's
    minimal polynomial is ``z``."""
    if expr == 0:
        return True
    if sympy.count_ops(expr) > MAX_OPS:
        return False
    for step in _STEPS:
        try:
            if step(expr) == 0:
                return True
        except (ValueError, TypeError, NotImplementedError, RecursionError, AttributeError):
            continue
    if expr.is_number and expr.is_algebraic:
        try:
            z = sympy.Dummy("z")
            if sympy.minimal_polynomial(expr, z) == z:
                return True
        except (ValueError, TypeError, NotImplementedError, RecursionError,
                sympy.polys.polyerrors.PolynomialError):
            pass
    try:
        return bool(sympy.simplify(expr) == 0)
    except (ValueError, TypeError, NotImplementedError, RecursionError, AttributeError):
        return False
