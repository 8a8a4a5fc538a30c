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
from mpmath import iv, libmp

#: Bits of the first interval evaluation; doubled until the enclosure separates.
START_PRECISION = 64
#: Bits beyond which an enclosure that does not separate leaves the question undecided.
MAX_PRECISION = 4096
#: Expressions with more operations than this are not evaluated or handed to ``simplify``.
MAX_OPS = 400
#: An enclosure whose magnitude exceeds 2**MAX_MAGNITUDE_BITS is given up (exp(10^6) is fine).
MAX_MAGNITUDE_BITS = 1 << 22
#: Integer parts (floor, ceiling, a proven integer) are taken only below 2**MAX_INTEGER_BITS:
#: far below Python's 4300-digit limit on printing an integer.
MAX_INTEGER_BITS = 8192

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


def _end_int(x: Any, lower: bool, up: bool) -> int | None:
    """The exact floor (``up``: ceiling) of an interval's lower or upper end, or None for an
    infinite end or one beyond 2**MAX_INTEGER_BITS. Exact: the end's binary value itself, never
    a rounded copy of it."""
    end = x._mpi_[0 if lower else 1]
    if end in (libmp.finf, libmp.fninf, libmp.fnan):
        return None
    if end != libmp.fzero and end[2] + end[3] > MAX_INTEGER_BITS:
        return None
    return int(libmp.to_int(libmp.mpf_ceil(end) if up else libmp.mpf_floor(end)))


def _round(x: Any, up: bool) -> Any:
    lo, hi = _end_int(x, True, up), _end_int(x, False, up)
    if lo is None or lo != hi:
        raise _Unsupported("floor/ceiling of an interval across an integer")
    return iv.mpf(lo)


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
    """True only when an exact rewrite reaches 0 (each step an identity), a constant's
    minimal polynomial is ``z``, or a factor is proven 0 (``\\ln a`` with ``a`` proven 1).

    Any failure inside sympy (an exception of any kind) only means "not proven"."""
    if expr == 0:
        return True
    try:
        if sympy.count_ops(expr) > MAX_OPS:
            return False
        return _zero_by_structure(expr) or _zero_by_rewrite(expr)
    except Exception:  # sympy raises many kinds; none is a proof
        return False


def _zero_by_structure(expr: sympy.Expr) -> bool:
    """``\\ln a`` is 0 exactly when ``a`` is 1; a product of finite constants is 0 when a
    factor is; a power with a positive exponent when its base is."""
    if not expr.is_number:
        return False
    if isinstance(expr, sympy.log) and len(expr.args) == 1:
        return prove_zero(sympy.Add(expr.args[0], -1))
    if expr.is_Mul and not expr.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan) and not any(
            f.is_Pow and f.args[1].is_negative is not False for f in expr.args):
        return any(not f.is_Rational and prove_zero(f) for f in expr.args)
    if expr.is_Pow and expr.args[1].is_Rational and expr.args[1] > 0:
        return prove_zero(expr.args[0])
    return False


def _zero_by_rewrite(expr: sympy.Expr) -> bool:
    for step in _STEPS:
        try:
            if step(expr) == 0:
                return True
        except Exception:  # not a proof; try the next rewrite
            continue
    if expr.is_number and expr.is_algebraic:
        try:
            z = sympy.Dummy("z")
            if sympy.minimal_polynomial(expr, z) == z:
                return True
        except Exception:  # e.g. NotAlgebraic: not a proof
            pass
    return bool(sympy.simplify(expr) == 0)


# -- integers ---------------------------------------------------------------------------------

#: What :func:`integer_status` proves when it proves no integer.
NOT_INTEGER = "not_integer"
BEYOND = "beyond"
UNDECIDED = "undecided"


def integer_status(expr: sympy.Expr, limit: int) -> int | str:
    """The integer the constant ``expr`` is proven to equal (``|n| <= limit``), or why not:
    :data:`NOT_INTEGER` (proven: not real, or strictly between two integers), :data:`BEYOND`
    (proven ``|expr| > limit``), :data:`UNDECIDED` (nothing proven).

    Never a structural test: ``2\\log_2\\sqrt8`` is 3 and ``1 + (\\sqrt{3+2\\sqrt2}-1-\\sqrt2)``
    is 1 (their difference to the integer is proven 0 exactly)."""
    if expr.is_Rational:
        if not expr.is_Integer:
            return NOT_INTEGER
        return int(expr) if abs(expr) <= limit else BEYOND
    if not _small(expr) or expr.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan):
        return UNDECIDED
    for prec in _precisions():
        box = enclose(expr, prec)
        if box is None:
            continue
        re, im = box
        if (im > 0) is True or (im < 0) is True:
            return NOT_INTEGER
        if (re > limit) is True or (re < -limit) is True:
            return BEYOND
        first, last = _end_int(re, True, True), _end_int(re, False, False)
        if first is None or last is None:
            return UNDECIDED
        if first > last:
            return NOT_INTEGER  # no integer in the enclosure
        if first == last:  # one integer in it: the value is that integer, or it is none
            return _exactly(expr, first)
    return UNDECIDED


def _exactly(expr: sympy.Expr, n: int) -> int | str:
    """``n`` when ``expr - n`` is proven 0; NOT_INTEGER when proven non-zero (callers know,
    from an enclosure of the real part holding no other integer, that ``n`` is the only
    integer the value can be); else UNDECIDED."""
    zero = is_zero(sympy.Add(expr, -n))
    if zero is None:
        return UNDECIDED
    return n if zero else NOT_INTEGER


def integer_part(expr: sympy.Expr, up: bool = False) -> int | None:
    """``floor(expr)`` (``ceiling`` with ``up``) of a real constant, proven: a certified
    enclosure inside one unit interval, or ``expr`` proven equal to an integer. None when
    neither is proven (also for a value too large for the precision cap)."""
    if expr.is_Rational:
        return int(sympy.ceiling(expr) if up else sympy.floor(expr))
    if not _small(expr) or expr.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan):
        return None
    for prec in _precisions():
        box = enclose(expr, prec)
        if box is None or not _is_exact_zero(box[1]):
            continue
        lo, hi = _end_int(box[0], True, up), _end_int(box[0], False, up)
        if lo is None or hi is None:
            return None
        if lo == hi:
            return lo
        inside = _end_int(box[0], True, True), _end_int(box[0], False, False)
        if inside[0] == inside[1] and inside[0] is not None:  # one integer n in the enclosure
            exact = _exactly(expr, inside[0])
            if exact != NOT_INTEGER:  # the value is n, or more bits tell which side
                return exact if isinstance(exact, int) else None
    return None


# -- infinities -------------------------------------------------------------------------------

_INFINITE = (sympy.oo, -sympy.oo)


def extended_value(expr: sympy.Expr) -> sympy.Expr | None:
    """A constant that holds ``\\infty`` reduced, exactly, to ``oo``, ``-oo`` or a finite
    constant; None when that is not proven.

    sympy keeps ``oo * c`` unevaluated when it cannot tell the sign of ``c``
    (``c = 1 + 10^{200}(\\sqrt{3+2\\sqrt2}-1-\\sqrt2)`` is exactly 1): the sign of every finite
    factor must be proven (a zero factor, ``oo * 0``, is undefined: None), and in a sum the
    finite terms must be proven real. Anything else holding an infinity is None. An
    expression without an infinity is returned as it is."""
    if not expr.has(*_INFINITE):
        return expr
    if expr in _INFINITE:
        return expr
    if not expr.is_number:
        return None
    if expr.is_Mul:
        return _extended_product(expr.args)
    if expr.is_Add:
        return _extended_sum(expr.args)
    return None


def _extended_product(factors: tuple[sympy.Expr, ...]) -> sympy.Expr | None:
    values = [extended_value(f) for f in factors]
    if any(v is None for v in values):
        return None
    infinite = [v for v in values if v in _INFINITE]
    finite = [v for v in values if v not in _INFINITE]
    if not infinite:
        return sympy.Mul(*finite)
    direction = 1
    for v in (*infinite, *finite):
        s = -1 if v == -sympy.oo else 1 if v == sympy.oo else sign(v)
        if s is None or s == 0:
            return None
        direction *= s
    return sympy.oo if direction > 0 else -sympy.oo


def _extended_sum(terms: tuple[sympy.Expr, ...]) -> sympy.Expr | None:
    values = [extended_value(t) for t in terms]
    if any(v is None for v in values):
        return None
    infinite = {v for v in values if v in _INFINITE}
    finite = [v for v in values if v not in _INFINITE]
    if not infinite:
        return sympy.Add(*finite)
    if len(infinite) > 1 or any(sign(v) is None for v in finite):
        return None  # oo - oo, or oo plus a value not proven real
    return next(iter(infinite))
