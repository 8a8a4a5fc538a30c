"""Deciding whether two parsed answers are equal, soundly.

EQUAL is returned only on proof: exact rational arithmetic, sympy's automatic
canonical form, or an exact rewrite (or a minimal polynomial) that reaches exactly zero.
DIFFERENT needs proof too: exact rational arithmetic, an interval enclosure of the
difference that excludes 0 (:mod:`llm_modulo.verifiers.math.exact`), or a rational point, where both
are defined, at which the difference is so proven non-zero. Numerics never decide on their
own; everything else is UNDECIDED.

The messages describe the candidate and the shape of the mismatch, never the
reference answer, because they are shown to the model in back-prompts.
"""

from __future__ import annotations

import dataclasses
import decimal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction

import mpmath  # type: ignore[import-untyped]
import sympy
from sympy.core.facts import InconsistentAssumptions

from llm_modulo.verifiers.math.exact import (
    Box,
    apart,
    divisors_of,
    enclose,
    extended_value,
    guard_holds,
    guards_of,
    is_zero,
    nonzero,
    not_real,
    open_guards,
    prove_zero,
    sign,
    within,
)
from llm_modulo.verifiers.math.text import MathSyntaxError, TooComplex, Unreadable
from llm_modulo.verifiers.math.values import (
    Answers,
    IntervalValue,
    MatrixValue,
    Relation,
    Scalar,
    SetValue,
    TupleValue,
    UnionValue,
    Value,
)

#: Bits of the enclosures used as sort keys of set elements (a miss only costs a full compare).
KEY_PRECISION = 128
#: Rational points used to tell symbolic expressions apart.
_POINTS = (sympy.Rational(7, 3), sympy.Rational(-5, 11), sympy.Rational(13, 17),
           sympy.Rational(-19, 7), sympy.Rational(23, 29))


class Decision(Enum):
    EQUAL = "equal"
    DIFFERENT = "different"
    UNDECIDED = "undecided"


@dataclass(frozen=True)
class Outcome:
    """A decision and, unless EQUAL, a critique that does not reveal the reference."""

    decision: Decision
    message: str = ""
    kind: str = "value"
    location: str | None = None

    @classmethod
    def equal(cls) -> Outcome:
        return cls(Decision.EQUAL)


@dataclass(frozen=True)
class Tolerance:
    """How a problem asks values to be compared: its numeric tolerance (default exact, both
    ``None``) and whether a candidate's unit sign may be read as the bare number."""

    absolute: Fraction | None = None
    relative: Fraction | None = None
    #: Whether a candidate's ``50%`` / ``30°`` may also be read as the bare number ``50`` /
    #: ``30`` against a reference written without the sign. True only when the question
    #: speaks of percent or degrees: otherwise ``0.5%`` is 0.005, never 0.5.
    bare_units: bool = False

    @property
    def exact(self) -> bool:
        return self.absolute is None and self.relative is None


EXACT = Tolerance()


def show(expr: sympy.Expr, limit: int = 60) -> str:
    """Short text of a (candidate-side) value for a critique; exact decimals stay decimals."""
    try:
        if expr.is_Rational and expr.q > 1 and _is_decimal_like(expr):
            text = _decimal_text(expr)
        else:
            text = sympy.sstr(expr)
    except Exception:  # an int too long for str(), a print that evaluates
        text = "a very large number" if expr.is_Rational else "your value"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- scalars ------------------------------------------------------------------------------

def approx(expr: sympy.Expr) -> str | None:
    """A short decimal of a constant for a critique (display only, from a certified
    enclosure); None when the enclosure is not tight."""
    box = enclose(expr, KEY_PRECISION) if expr.is_number else None
    if box is None or not _tight(box[0]) or not _tight(box[1]):
        return None
    re, im = (mpmath.mpf(part.mid) for part in box)
    value = sympy.Float(re, 6) + sympy.I * sympy.Float(im, 6) if im else sympy.Float(re, 6)
    return str(value)


def _tight(part: object) -> bool:
    width, mid = mpmath.mpf(part.delta), abs(mpmath.mpf(part.mid))  # type: ignore[attr-defined]
    return bool(width == 0 or width < mid * mpmath.mpf("1e-10"))


def _guards_hold(guards: frozenset[sympy.Expr], point: dict[sympy.Symbol, sympy.Expr]) -> bool:
    return all(guard_holds(g.xreplace(point)) for g in guards)


def differ_somewhere(diff: sympy.Expr, guards: frozenset[sympy.Expr] = frozenset()
                     ) -> dict[sympy.Symbol, sympy.Expr] | None:
    """A rational point where ``diff`` is proven non-zero (and every domain guard proven to
    hold: both sides are defined there in the real reading), proving ``diff`` is not 0."""
    symbols = sorted(diff.free_symbols | _free_of(guards), key=lambda s: s.name)
    for point in _points(symbols):
        try:
            at = diff.xreplace(point)
        except (ValueError, TypeError, ZeroDivisionError):
            continue
        if at.has(sympy.zoo, sympy.nan) or not _guards_hold(guards, point):
            continue
        if nonzero(at):
            return point
    return None


def _free_of(exprs: frozenset[sympy.Expr]) -> set[sympy.Symbol]:
    out: set[sympy.Symbol] = set()
    for e in exprs:
        out |= e.free_symbols
    return out


def _points(symbols: list[sympy.Symbol]) -> list[dict[sympy.Symbol, sympy.Expr]]:
    """Rational points, the symbols' assumptions respected (``x`` positive gets 7/3, ...)."""
    out = []
    for shift in range(4):
        point = {}
        for k, s in enumerate(symbols):
            candidates = [_POINTS[(k + shift + j) % len(_POINTS)] for j in range(len(_POINTS))]
            if s.is_integer:
                candidates = [sympy.Integer(p.p) for p in candidates]
            fits = [p for p in candidates if _fits(s, p)]
            if not fits:
                break
            point[s] = fits[0]
        else:
            out.append(point)
    return out


def _fits(symbol: sympy.Symbol, value: sympy.Rational) -> bool:
    checks = {"positive": value > 0, "negative": value < 0, "nonnegative": value >= 0,
              "nonpositive": value <= 0, "zero": value == 0, "nonzero": value != 0}
    return all(getattr(symbol, f"is_{name}") is not True or ok for name, ok in checks.items())


def scalar_decision(cand: sympy.Expr, ref: sympy.Expr, tol: Tolerance = EXACT,
                    guards: frozenset[sympy.Expr] = frozenset()) -> Decision:
    """Whether two scalar expressions are equal (within ``tol`` for constants). ``guards``
    are the domain guards of both sides: a difference counts only where they hold."""
    if cand.has(sympy.oo, -sympy.oo) or ref.has(sympy.oo, -sympy.oo):
        return _infinite_decision(cand, ref, tol, guards)
    diff = sympy.Add(cand, -ref)
    if diff == 0:
        return Decision.EQUAL
    if diff.is_Rational and tol.exact:
        return Decision.DIFFERENT
    if diff.is_number:
        return _constant_decision(diff, ref, tol)
    if differ_somewhere(diff, guards) is not None:
        return Decision.DIFFERENT
    return Decision.EQUAL if prove_zero(diff) else Decision.UNDECIDED


def _infinite_decision(cand: sympy.Expr, ref: sympy.Expr, tol: Tolerance,
                       guards: frozenset[sympy.Expr]) -> Decision:
    """Values with an infinity, decided exactly (:func:`extended_value`): the same infinity
    is EQUAL, two different ones or an infinity and a finite constant DIFFERENT; when an
    infinity's direction is not proven (or the other side has variables) UNDECIDED, unless
    the two are written identically."""
    c, r = extended_value(cand), extended_value(ref)
    if c is None or r is None:
        return Decision.EQUAL if cand == ref else Decision.UNDECIDED
    c_inf, r_inf = c in _INFINITE, r in _INFINITE
    if c_inf and r_inf:
        return Decision.EQUAL if c == r else Decision.DIFFERENT
    if c_inf or r_inf:
        finite = r if c_inf else c
        return Decision.DIFFERENT if finite.is_number else Decision.UNDECIDED
    return scalar_decision(c, r, tol, guards)


_INFINITE = (sympy.oo, -sympy.oo)


def _constant_decision(diff: sympy.Expr, ref: sympy.Expr, tol: Tolerance) -> Decision:
    if not tol.exact:
        return _tolerance_decision(diff, ref, tol)
    zero = is_zero(diff)
    if zero is None:
        return Decision.UNDECIDED
    return Decision.EQUAL if zero else Decision.DIFFERENT


def _tolerance_decision(diff: sympy.Expr, ref: sympy.Expr, tol: Tolerance) -> Decision:
    """|diff| below the declared bound, decided on certified enclosures; UNDECIDED at or
    near the bound (the enclosures do not separate by MAX_PRECISION bits)."""
    if ref.is_extended_real and not_real(diff):
        return Decision.DIFFERENT  # a non-real value is never "close to" a real one
    bounds = []
    if tol.absolute is not None:
        bounds.append(sympy.Rational(tol.absolute.numerator, tol.absolute.denominator))
    if tol.relative is not None:
        rel = sympy.Rational(tol.relative.numerator, tol.relative.denominator)
        bounds.append(rel * sympy.Abs(ref))
    verdicts = [within(diff, b) for b in bounds if b != 0]
    if not verdicts:
        return _constant_decision(diff, ref, EXACT)
    if True in verdicts:
        return Decision.EQUAL
    if all(v is False for v in verdicts):
        return Decision.DIFFERENT
    return Decision.UNDECIDED


def pole_factors(poles: frozenset[sympy.Expr]) -> frozenset[sympy.Expr]:
    """The irreducible factors whose zeros make an expression undefined (its written divisors).

    ``{x*y}`` and ``{x, 2y}`` give the same factors: the same points are excluded."""
    out: set[sympy.Expr] = set()
    for pole in divisors_of(poles):
        try:
            _, factors = sympy.factor_list(sympy.numer(sympy.together(pole)))
        except (sympy.PolynomialError, ValueError, TypeError, NotImplementedError):
            out.add(sympy.expand(pole))
            continue
        for factor, _mult in factors:
            if not factor.free_symbols:
                continue
            factor = factor.as_content_primitive()[1]
            out.add(-factor if factor.could_extract_minus_sign() else factor)
    return frozenset(out)


def same_domain(cand: frozenset[sympy.Expr], ref: frozenset[sympy.Expr]) -> bool:
    """Whether two expressions were written with divisors that vanish at the same points and
    the same open domain guards (logarithms, even roots not proven defined everywhere)."""
    if cand == ref:
        return True
    return pole_factors(cand) == pole_factors(ref) and open_guards(cand) == open_guards(ref)


def _domain_message(cand: frozenset[sympy.Expr], ref: frozenset[sympy.Expr]) -> str:
    if pole_factors(cand) != pole_factors(ref):
        return _DOMAIN_MESSAGE
    return _GUARD_MESSAGE


_DOMAIN_MESSAGE = ("the two agree where both are defined, but one is undefined at points where "
                   "the other is not (a division that cancels, such as x/x)")
_GUARD_MESSAGE = ("the two agree where both are defined, but one is defined only for some "
                  "values of its variables (a logarithm or root, such as e^{\\ln x} or "
                  "\\sqrt{x}^2); this holds only if the problem declares the variables' "
                  "assumptions (e.g. positive)")


# -- declared assumptions ---------------------------------------------------------------------

#: What a problem may declare about a variable (``"assumptions": {"x": "positive"}``); each
#: is a sympy assumption set on the variable's symbol.
ASSUMPTIONS = ("real", "positive", "negative", "nonnegative", "nonpositive", "nonzero",
               "integer")


def assumed_symbols(declared: Mapping[str, Iterable[str]]) -> dict[sympy.Symbol, sympy.Symbol]:
    """Plain symbol -> the same name carrying the declared sympy assumptions.

    Raises ValueError for an unknown assumption or an inconsistent set of them."""
    out = {}
    for name, props in declared.items():
        props = [props] if isinstance(props, str) else list(props)
        unknown = [p for p in props if p not in ASSUMPTIONS]
        if unknown:
            raise ValueError(f"unknown assumption {unknown[0]!r} for {name!r}; use "
                             + ", ".join(ASSUMPTIONS))
        try:
            out[sympy.Symbol(name)] = sympy.Symbol(name, **dict.fromkeys(props, True))
        except InconsistentAssumptions:
            raise ValueError(f"the assumptions {', '.join(props)} of {name!r} contradict "
                             "each other") from None
    return out


def assume(value: Value, symbols: Mapping[sympy.Symbol, sympy.Symbol]) -> Value:
    """``value`` with its variables replaced by the assumed symbols (sympy re-evaluates:
    ``\\sqrt{x^2}`` becomes ``x`` for a positive ``x``)."""
    if not symbols:
        return value
    out = _assume(value, dict(symbols))
    assert isinstance(out, type(value))
    return out


def _assume(obj: object, symbols: dict[sympy.Symbol, sympy.Symbol]) -> object:
    if isinstance(obj, sympy.Basic):
        return obj.xreplace(symbols)
    if isinstance(obj, tuple):
        return tuple(_assume(x, symbols) for x in obj)
    if isinstance(obj, frozenset):
        return frozenset(_assume(x, symbols) for x in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {f.name: _assume(getattr(obj, f.name), symbols)
                   for f in dataclasses.fields(obj)}
        return dataclasses.replace(obj, **changes)
    return obj


# -- composite values -----------------------------------------------------------------------

def _scalar_outcome(cand: Scalar, ref: Scalar, tol: Tolerance, where: str | None) -> Outcome:
    pairs = [(cand.expr, ref.expr)]
    if cand.percent_of is not None and ref.percent_of is None and tol.bare_units:
        pairs.append((cand.percent_of, ref.expr))  # "50%" for an expected "50" (in percent)
    if ref.percent_of is not None and cand.percent_of is None:
        pairs.append((cand.expr, ref.percent_of))  # "50" for an expected "50%"
    guards = guards_of(cand.poles | ref.poles)
    decisions = [scalar_decision(c, r, tol, guards) for c, r in pairs]
    if Decision.EQUAL in decisions:
        if not same_domain(cand.poles, ref.poles):
            return Outcome(Decision.UNDECIDED, _domain_message(cand.poles, ref.poles),
                           "domain", where)
        return Outcome.equal()
    if Decision.UNDECIDED in decisions:
        return Outcome(Decision.UNDECIDED, f"could not decide whether {show(cand.expr)} equals "
                       "the expected value", "undecided", where)
    return Outcome(Decision.DIFFERENT, _wrong_value(cand.expr, tol), "value", where)


def _wrong_value(expr: sympy.Expr, tol: Tolerance) -> str:
    text = f"{show(expr)} is not the correct value"
    if tol.exact and expr.is_Rational and expr.q > 1 and _is_decimal_like(expr):
        text += ("; if it is a rounded decimal, give the exact value instead (a fraction, "
                 "root or multiple of pi)")
    return text


def _decimal_text(q: sympy.Rational) -> str:
    digits = len(str(abs(int(q.p)))) + len(str(int(q.q))) + 2
    with decimal.localcontext() as ctx:
        ctx.prec = digits
        return str(decimal.Decimal(int(q.p)) / decimal.Decimal(int(q.q)))


def _is_decimal_like(q: sympy.Rational) -> bool:
    den = int(q.q)
    while den % 2 == 0:
        den //= 2
    while den % 5 == 0:
        den //= 5
    return den == 1


def as_value(value: Value) -> Value:
    """``x = 3`` read as 3 (a named value); other values unchanged."""
    if isinstance(value, Relation) and value.ops == ("=",):
        left, right = value.terms
        if isinstance(left, sympy.Symbol) and not right.has(left):
            return Scalar((right,), poles=value.poles)
        if isinstance(right, sympy.Symbol) and not left.has(right):
            return Scalar((left,), poles=value.poles)
    return value


def as_interval(value: Value) -> Value:
    """``x > 3`` / ``1 < x <= 2`` read as intervals; ``(a, b)`` as an open interval."""
    if isinstance(value, TupleValue) and len(value.items) == 2 and value.bracket == "(":
        lo, hi = value.items
        if isinstance(lo, Scalar) and isinstance(hi, Scalar):
            return IntervalValue(lo.expr, hi.expr, True, True)
    if not isinstance(value, Relation) or "=" in value.ops or "!=" in value.ops or value.poles:
        return value  # with a cancelled division (x^2/x >= 0) the set is not the interval
    terms, ops = list(value.terms), list(value.ops)
    if all(op in (">", ">=") for op in ops):
        terms.reverse()
        ops = [{">": "<", ">=": "<="}[op] for op in reversed(ops)]
    if not all(op in ("<", "<=") for op in ops):
        return value
    if len(terms) == 2:
        left, right = terms
        if isinstance(left, sympy.Symbol) and not right.free_symbols:
            return IntervalValue(-sympy.oo, right, True, ops[0] == "<")
        if isinstance(right, sympy.Symbol) and not left.free_symbols:
            return IntervalValue(left, sympy.oo, ops[0] == "<", True)
    if len(terms) == 3 and isinstance(terms[1], sympy.Symbol):
        lo, hi = terms[0], terms[2]
        if not lo.free_symbols and not hi.free_symbols:
            return IntervalValue(lo, hi, ops[0] == "<", ops[1] == "<")
    return value


_FORM_NAMES = {Scalar: "a single value", SetValue: "a set", TupleValue: "a tuple",
               IntervalValue: "an interval", UnionValue: "a union of intervals",
               MatrixValue: "a matrix", Relation: "an equation or inequality",
               Answers: "a list of several answers"}


def _form(value: Value) -> str:
    return _FORM_NAMES.get(type(value), "an answer")


def compare(cand: Value, ref: Value, tol: Tolerance = EXACT, where: str | None = None) -> Outcome:
    """Decide ``cand == ref`` as answers: sets as sets, tuples in order, and so on.

    A failure inside sympy (of any kind) proves nothing: it is UNDECIDED, and its text is not
    shown (the reading errors of this package and RecursionError pass through)."""
    try:
        return _compare(cand, ref, tol, where)
    except (MathSyntaxError, TooComplex, Unreadable, RecursionError, MemoryError):
        raise
    except Exception:  # sympy failed: that proves nothing
        return Outcome(Decision.UNDECIDED, FAILED, "undecided", where)


#: The critique when an exact computation fails inside sympy.
FAILED = ("could not decide whether the answer equals the expected value (an exact "
          "computation did not finish)")


def _compare(cand: Value, ref: Value, tol: Tolerance, where: str | None) -> Outcome:
    if isinstance(ref, Relation) and isinstance(cand, Relation):
        interval_ref, interval_cand = as_interval(ref), as_interval(cand)
        if isinstance(interval_ref, IntervalValue) and isinstance(interval_cand, IntervalValue):
            if _free(cand) != _free(ref):  # x < 3 is not y < 3, as x = 3 is not y = 3
                return Outcome(Decision.DIFFERENT, "your inequality is not about the expected "
                               "unknown", "relation", where)
            return _interval_outcome(interval_cand, interval_ref, tol, where)
        return _relation_outcome(cand, ref, where)
    both_tuples = isinstance(cand, TupleValue) and isinstance(ref, TupleValue)
    c_int, r_int = as_interval(cand), as_interval(ref)
    if not both_tuples and isinstance(c_int, _SETS) and isinstance(r_int, _SETS):
        if isinstance(c_int, UnionValue) or isinstance(r_int, UnionValue):
            return _union_outcome(_as_union(c_int), _as_union(r_int), tol, where)
        cand, ref = c_int, r_int
    if isinstance(c_int, UnionValue) or isinstance(r_int, UnionValue):
        return _set_outcome(c_int, r_int, where)
    if _several_names(cand) or _several_names(ref):
        return _assignment_outcome(cand, ref, tol, where)
    if not isinstance(ref, Relation):
        cand = as_value(cand)
    if not isinstance(cand, Relation):
        ref = as_value(ref)
    if isinstance(ref, Answers | SetValue) or isinstance(cand, Answers | SetValue):
        return _collection_outcome(cand, ref, tol, where)
    if type(cand) is not type(ref):
        return Outcome(Decision.DIFFERENT, f"your answer is {_form(cand)}, but {_form(ref)} is "
                       "expected", "form", where)
    if isinstance(cand, Scalar) and isinstance(ref, Scalar):
        return _scalar_outcome(cand, ref, tol, where)
    if isinstance(cand, TupleValue) and isinstance(ref, TupleValue):
        return _sequence_outcome(cand.items, ref.items, tol, "tuple", where)
    if isinstance(cand, IntervalValue) and isinstance(ref, IntervalValue):
        return _interval_outcome(cand, ref, tol, where)
    if isinstance(cand, UnionValue) and isinstance(ref, UnionValue):
        return _union_outcome(cand, ref, tol, where)
    if isinstance(cand, MatrixValue) and isinstance(ref, MatrixValue):
        return _matrix_outcome(cand, ref, tol, where)
    if isinstance(cand, Relation) and isinstance(ref, Relation):
        return _relation_outcome(cand, ref, where)
    return Outcome(Decision.UNDECIDED, "cannot compare these answers", "undecided", where)


_SETS = (IntervalValue, UnionValue)


def _free(rel: Relation) -> set[sympy.Symbol]:
    return set().union(*(t.free_symbols for t in rel.terms))


def _names(value: Value) -> dict[sympy.Symbol, Value] | None:
    """``x = 3, y = 4`` as {x: 3, y: 4}; None unless every item names a distinct unknown."""
    items = value.items if isinstance(value, Answers | SetValue) else (value,)
    out: dict[sympy.Symbol, Value] = {}
    for item in items:
        if not (isinstance(item, Relation) and item.ops == ("=",)):
            return None
        named = as_value(item)
        if named is item:
            return None
        left, right = item.terms
        name = left if isinstance(left, sympy.Symbol) and not right.has(left) else right
        if not isinstance(name, sympy.Symbol) or name in out:
            return None
        out[name] = named
    return out


def _several_names(value: Value) -> bool:
    named = _names(value)
    return named is not None and len(named) > 1


def _assignment_outcome(cand: Value, ref: Value, tol: Tolerance, where: str | None) -> Outcome:
    """Values named for several unknowns (``x = 3, y = 4``) compared name by name.

    Without names on both sides the pairing is lost (``4, 3`` for ``x = 3, y = 4``), so that is
    UNDECIDED, never a multiset match."""
    c_named, r_named = _names(cand), _names(ref)
    if c_named is None or r_named is None:
        return Outcome(Decision.UNDECIDED, "name each unknown in your answer, as in `x = 1, "
                       "y = 2`", "undecided", where)
    if set(c_named) != set(r_named):
        names = ", ".join(sorted(str(n) for n in c_named))
        return Outcome(Decision.DIFFERENT, f"your answer gives values for {names}; the "
                       "unknowns asked for are not the same", "form", where)
    return _all_of(compare(c_named[n], r_named[n], tol, _at(where, str(n)))
                   for n in sorted(c_named, key=str))


def _as_union(value: Value) -> UnionValue:
    return value if isinstance(value, UnionValue) else UnionValue((value,))


def _at(where: str | None, part: str) -> str:
    return f"{where}, {part}" if where else part


def _sequence_outcome(cand: tuple[Value, ...], ref: tuple[Value, ...], tol: Tolerance,
                      what: str, where: str | None) -> Outcome:
    if len(cand) != len(ref):
        return Outcome(Decision.DIFFERENT, f"your {what} has {len(cand)} entries, the expected "
                       f"{what} has {len(ref)}", "size", where)
    return _all_of(compare(c, r, tol, _at(where, f"entry {i}"))
                   for i, (c, r) in enumerate(zip(cand, ref, strict=True), 1))


def _all_of(outcomes: Iterable[Outcome]) -> Outcome:
    """EQUAL when every part is; the first DIFFERENT otherwise; else the first UNDECIDED."""
    undecided: Outcome | None = None
    for outcome in outcomes:
        if outcome.decision is Decision.DIFFERENT:
            return outcome
        if outcome.decision is Decision.UNDECIDED and undecided is None:
            undecided = outcome
    return undecided or Outcome.equal()


def _members(value: Value) -> tuple[Value, ...]:
    if isinstance(value, Answers | SetValue):
        return tuple(as_value(v) for v in value.items)
    return (value,)


def _key(value: Value) -> Box | None:
    """A certified enclosure of a constant scalar (None for anything else)."""
    if isinstance(value, Scalar) and value.expr.is_number and not value.expr.has(sympy.oo):
        return enclose(value.expr, KEY_PRECISION)
    return None


def _far_apart(a: Box | None, b: Box | None) -> bool:
    """True when two enclosures are disjoint: the values are proven different."""
    return apart(a, b)


def distinct(items: tuple[Value, ...]) -> list[Value] | None:
    """Items with proven duplicates removed; None when a duplicate cannot be decided."""
    out: list[Value] = []
    keys: list[sympy.Expr | None] = []
    for item in items:
        key = _key(item)
        decisions = [Decision.DIFFERENT if _far_apart(key, k) else
                     compare(item, kept, EXACT).decision for kept, k in zip(out, keys, strict=True)]
        if Decision.EQUAL in decisions:
            continue
        if Decision.UNDECIDED in decisions:
            return None
        out.append(item)
        keys.append(key)
    return out


def _collection_outcome(cand: Value, ref: Value, tol: Tolerance, where: str | None) -> Outcome:
    """Sets (and comma-separated answers) compared as sets: each side inside the other."""
    cand_items, ref_items = distinct(_members(cand)), distinct(_members(ref))
    if cand_items is None or ref_items is None:
        return Outcome(Decision.UNDECIDED, "could not decide whether some of the elements are "
                       "equal to each other", "undecided", where)
    if len(cand_items) != len(ref_items):
        what = "set" if isinstance(ref, SetValue) else "list of answers"
        noun = "element" if len(cand_items) == 1 else "elements"
        return Outcome(Decision.DIFFERENT, f"your answer has {len(cand_items)} distinct {noun}, "
                       f"the expected {what} has {len(ref_items)}", "size", where)
    ref_keys = [_key(r) if tol.exact else None for r in ref_items]
    unmatched = list(range(len(ref_items)))
    undecided: Outcome | None = None
    for i, item in enumerate(cand_items, 1):
        found = False
        key = _key(item) if tol.exact else None
        for j in unmatched:
            if _far_apart(key, ref_keys[j]):
                continue
            outcome = compare(item, ref_items[j], tol, _at(where, f"element {i}"))
            if outcome.decision is Decision.EQUAL:
                unmatched.remove(j)
                found = True
                break
            if outcome.decision is Decision.UNDECIDED and undecided is None:
                undecided = outcome
        if not found and undecided is None:
            text = show(item.expr) if isinstance(item, Scalar) else f"element {i}"
            return Outcome(Decision.DIFFERENT, f"{text} is not one of the expected answers",
                           "element", _at(where, f"element {i}"))
        if not found:
            return undecided or Outcome(Decision.UNDECIDED, "undecided", "undecided", where)
    return Outcome.equal()


def _end_outcome(cand: sympy.Expr, ref: sympy.Expr, tol: Tolerance, side: str,
                 where: str | None) -> Outcome:
    decision = scalar_decision(cand, ref, tol)
    if decision is Decision.EQUAL:
        return Outcome.equal()
    if decision is Decision.DIFFERENT:
        return Outcome(Decision.DIFFERENT, f"the {side} end {show(cand)} of your interval is "
                       "wrong", "interval_end", _at(where, f"{side} end"))
    return Outcome(Decision.UNDECIDED, f"could not decide the {side} end", "undecided", where)


def _interval_outcome(cand: IntervalValue, ref: IntervalValue, tol: Tolerance,
                      where: str | None) -> Outcome:
    ends = _all_of((_end_outcome(cand.lo, ref.lo, tol, "left", where),
                    _end_outcome(cand.hi, ref.hi, tol, "right", where)))
    if ends.decision is not Decision.EQUAL:
        return ends
    for side, c_open, r_open, end in (("left", cand.left_open, ref.left_open, ref.lo),
                                      ("right", cand.right_open, ref.right_open, ref.hi)):
        if c_open != r_open and not end.is_infinite:
            now = "open" if c_open else "closed"
            return Outcome(Decision.DIFFERENT, f"the {side} end of your interval is {now}; "
                           "check whether the endpoint belongs to the set", "interval_end",
                           _at(where, f"{side} end"))
    return Outcome.equal()


def _as_sympy_set(value: Value) -> sympy.Set | None:
    if isinstance(value, IntervalValue):
        return sympy.Interval(value.lo, value.hi, value.left_open, value.right_open)
    if isinstance(value, SetValue) and all(isinstance(v, Scalar) for v in value.items):
        return sympy.FiniteSet(*(v.expr for v in value.items if isinstance(v, Scalar)))
    if isinstance(value, UnionValue):
        parts = [_as_sympy_set(p) for p in value.parts]
        if any(p is None for p in parts):
            return None
        return sympy.Union(*parts)
    return None


def _union_outcome(cand: UnionValue, ref: UnionValue, tol: Tolerance,
                   where: str | None) -> Outcome:
    c_set, r_set = _as_sympy_set(cand), _as_sympy_set(ref)
    if c_set is not None and r_set is not None and c_set == r_set:
        return Outcome.equal()
    if len(cand.parts) != len(ref.parts):
        return Outcome(Decision.DIFFERENT, f"your union has {len(cand.parts)} parts, the "
                       f"expected one has {len(ref.parts)}", "size", where)
    return _collection_outcome(SetValue(cand.parts), SetValue(ref.parts), tol, where)


def _set_outcome(cand: Value, ref: Value, where: str | None) -> Outcome:
    """A union against a plain set: equal sympy sets; different when the ends are rational."""
    c_set, r_set = _as_sympy_set(cand), _as_sympy_set(ref)
    if c_set is None or r_set is None:
        return Outcome(Decision.DIFFERENT, f"your answer is {_form(cand)}, but {_form(ref)} is "
                       "expected", "form", where)
    if c_set == r_set:
        return Outcome.equal()
    numbers = [a for s in (c_set, r_set) for a in s.atoms(sympy.Number)]
    if all(n.is_Rational or n.is_infinite for n in numbers) and not (
            c_set.free_symbols or r_set.free_symbols):
        return Outcome(Decision.DIFFERENT, "your set is not the expected one", "set", where)
    return Outcome(Decision.UNDECIDED, "could not decide whether the sets are equal",
                   "undecided", where)


def _matrix_outcome(cand: MatrixValue, ref: MatrixValue, tol: Tolerance,
                    where: str | None) -> Outcome:
    c_shape = (len(cand.rows), len(cand.rows[0]))
    r_shape = (len(ref.rows), len(ref.rows[0]))
    if c_shape != r_shape:
        return Outcome(Decision.DIFFERENT, f"your matrix is {c_shape[0]}x{c_shape[1]}, the "
                       f"expected one is {r_shape[0]}x{r_shape[1]}", "size", where)
    return _all_of(
        compare(Scalar((c,)), Scalar((r,)), tol, _at(where, f"row {i} column {j}"))
        for i, (c_row, r_row) in enumerate(zip(cand.rows, ref.rows, strict=True), 1)
        for j, (c, r) in enumerate(zip(c_row, r_row, strict=True), 1))


_FLIP = {">": "<", ">=": "<="}


def _oriented(rel: Relation) -> tuple[str, sympy.Expr]:
    """(op, lhs - rhs) with ``>``/``>=`` turned into ``<``/``<=``."""
    left, right = rel.terms
    op = rel.ops[0]
    if op in _FLIP:
        return _FLIP[op], sympy.Add(right, -left)
    return op, sympy.Add(left, -right)


def _relation_outcome(cand: Relation, ref: Relation, where: str | None) -> Outcome:
    if len(cand.terms) != 2 or len(ref.terms) != 2:
        if len(cand.terms) == len(ref.terms) and cand.ops == ref.ops:
            return _sequence_outcome(tuple(Scalar((t,)) for t in cand.terms),
                                     tuple(Scalar((t,)) for t in ref.terms), EXACT,
                                     "chain", where)
        return Outcome(Decision.DIFFERENT, "your chain of relations has a different shape",
                       "form", where)
    c_op, c_diff = _oriented(cand)
    r_op, r_diff = _oriented(ref)
    if c_op != r_op:
        return Outcome(Decision.DIFFERENT, f"your answer uses the relation `{cand.ops[0]}`, "
                       "which is not the expected kind", "relation", where)
    if r_diff == 0:
        return Outcome(Decision.UNDECIDED, "the expected relation is trivial", "undecided", where)
    if c_op == "=":
        by_roots = _root_set_outcome((c_diff, cand.poles), (r_diff, ref.poles), where)
        if by_roots is not None:
            return by_roots
    ratio = sympy.cancel(sympy.Mul(c_diff, sympy.Pow(r_diff, -1)))
    wrong = Outcome(Decision.DIFFERENT, "your equation is not equivalent to the expected one "
                    "(the two sides are not a constant multiple of each other)", "equation", where)
    if ratio.free_symbols:
        # cancel() sees every common factor only over the rationals: with an irrational
        # coefficient (a hidden 1 such as \\sqrt{3+2\\sqrt2}-\\sqrt2) the ratio may be constant
        if (_over_q(c_diff) and _over_q(r_diff)) or _varies(ratio):
            return wrong
        return Outcome(Decision.UNDECIDED, "could not decide whether the equations are "
                       "equivalent", "undecided", where)
    if ratio.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan):
        return wrong
    zero = is_zero(ratio)
    if zero is None:
        return Outcome(Decision.UNDECIDED, "could not decide whether the equations are "
                       "equivalent", "undecided", where)
    if zero:
        return wrong
    if c_op in ("<", "<="):
        ratio_sign = sign(ratio)
        if ratio_sign is None and not not_real(ratio):
            return Outcome(Decision.UNDECIDED, "could not decide the direction of your "
                           "inequality", "undecided", where)
        if ratio_sign != 1:
            return Outcome(Decision.DIFFERENT, "your inequality points the other way",
                           "relation", where)
    if not same_domain(cand.poles, ref.poles):
        return Outcome(Decision.UNDECIDED, _domain_message(cand.poles, ref.poles), "domain",
                       where)
    return Outcome.equal()


def solution_poly(diff: sympy.Expr, poles: frozenset[sympy.Expr], x: sympy.Symbol
                   ) -> sympy.Poly | None:
    """The square-free polynomial whose roots are exactly the solutions of ``diff = 0``.

    None unless ``diff`` is a rational function of ``x`` with rational coefficients. Roots of
    a written divisor (``poles``) are removed: the equation is undefined there."""
    try:
        num, den = sympy.fraction(sympy.together(diff))
        poly = sympy.Poly(num, x)
        if poly.is_zero or not all(c.is_Rational for c in poly.coeffs()):
            return None
        sqf = poly.sqf_part()
        if guards_of(poles):
            return None  # a logarithm or root of x: the real solutions are not the roots
        for divisor in (den, *poles):
            pole = sympy.Poly(sympy.numer(sympy.together(divisor)), x)
            if not all(c.is_Rational for c in pole.coeffs()):
                return None
            if not pole.is_zero:
                sqf = sqf.exquo(sympy.gcd(sqf, pole))
    except (sympy.PolynomialError, ValueError, TypeError, NotImplementedError):
        return None
    return sqf.monic() if sqf.degree() > 0 else sympy.Poly(1, x)


def _root_set_outcome(cand: tuple[sympy.Expr, frozenset[sympy.Expr]],
                      ref: tuple[sympy.Expr, frozenset[sympy.Expr]],
                      where: str | None) -> Outcome | None:
    """Equations in one unknown with rational coefficients compared by their solution sets.

    Same complex roots (equal monic square-free parts, exact): EQUAL. Different real roots
    (Sturm counts of each side and of their gcd): DIFFERENT. Same real roots but different
    complex ones (``x^3 + x = 0`` and ``x = 0``): UNDECIDED, it depends on the domain. None
    when this is not such a pair."""
    symbols = cand[0].free_symbols | ref[0].free_symbols
    if len(symbols) != 1:
        return None
    (x,) = symbols
    assert isinstance(x, sympy.Symbol)
    a, b = solution_poly(*cand, x), solution_poly(*ref, x)
    if a is None or b is None:
        return None
    if a == b:
        return Outcome.equal()
    common = sympy.gcd(a, b)
    real_a, real_b = a.count_roots(), b.count_roots()
    if real_a == real_b == common.count_roots():
        return Outcome(Decision.UNDECIDED, "your equation has the same real solutions as the "
                       "expected one but not the same complex ones", "undecided", where)
    return Outcome(Decision.DIFFERENT, "your equation does not have the same solutions as the "
                   "expected one", "equation", where)


def _over_q(expr: sympy.Expr) -> bool:
    """A rational function of its variables with rational coefficients."""
    if not expr.is_rational_function():
        return False
    gens = sorted(expr.free_symbols, key=lambda s: s.name)
    try:
        return all(sympy.Poly(part, *gens).domain in (sympy.ZZ, sympy.QQ)
                   for part in sympy.fraction(sympy.together(expr)))
    except (sympy.PolynomialError, ValueError, TypeError, NotImplementedError):
        return False


def _varies(expr: sympy.Expr) -> bool:
    """True when ``expr`` is proven to take two different values at two rational points."""
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    points = _points(symbols)[:2]
    if len(points) < 2:
        return False
    a, b = (expr.xreplace(p) for p in points)
    if a.has(sympy.zoo, sympy.nan) or b.has(sympy.zoo, sympy.nan):
        return False
    return nonzero(sympy.Add(a, -b))
