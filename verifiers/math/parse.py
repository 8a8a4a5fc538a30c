"""A grammar for math answers (plain text and LaTeX) that builds sympy objects directly.

The text is normalised (:mod:`llm_modulo.verifiers.math.text`), parsed by a lark LALR
grammar, and the tree is turned into sympy objects through their constructors
(``Integer``, ``Rational``, ``Add``, ``Mul``, ``Pow``, ``sqrt``, ...). Nothing
is ever handed to ``sympify``, ``parse_expr`` or ``eval``: a name such as
``__import__`` is just a product of symbols or an unknown word, never code.

Sizes are capped before anything is built: answer length, nesting depth,
digits per number, the bit size of an exact power, factorial arguments. A cap
raises :class:`~llm_modulo.verifiers.math.text.TooComplex` (the verifier answers UNKNOWN);
text outside the grammar raises :class:`~llm_modulo.verifiers.math.text.MathSyntaxError`
naming the column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import sympy
from lark import Lark, Token, Transformer, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

from llm_modulo.runtime import private_cache_file
from llm_modulo.verifiers.math.exact import (
    BEYOND,
    NOT_INTEGER,
    GuardNonNegative,
    GuardPositive,
    GuardUnit,
    enclose,
    integer_part,
    integer_status,
    is_zero,
    sign,
)
from llm_modulo.verifiers.math.text import MathSyntaxError, TooComplex, Unreadable, normalized
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

MAX_DEPTH = 60
#: Parse-tree depth (a flat sum of n terms is n deep); keeps the tree walk far from Python's
#: recursion limit.
MAX_TREE_DEPTH = 250
MAX_DIGITS = 200
MAX_SCI_EXPONENT = 400
MAX_EXPONENT = 10_000
MAX_SYMBOLIC_EXPONENT = 200
MAX_BITS = 20_000
MAX_FACTORIAL = 1_000
MAX_ITEMS = 100
MAX_ALTERNATIVES = 4

_FUNC_NAMES = ("sqrt", "sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan",
               "asin", "acos", "atan", "sinh", "cosh", "tanh", "ln", "exp", "abs", "floor", "ceil")

_GRAMMAR = r"""
?start: answers
answers: item ("," item)*
?item: relation
    | expr ":" expr -> ratio
relation: expr (REL expr)*
?expr: sum
?sum: term
    | sum "+" term -> add
    | sum "-" term -> sub
    | sum "\\pm" term -> pm
    | "\\pm" term -> pm_unary
?term: signed
    | term "*" signed -> mul
    | term "/" signed -> div
    | term power -> mul
?signed: power
    | "-" signed -> neg
    | "+" signed
?power: postfix
    | postfix "^" exponent -> pow
    | postfix "_" subscript "^" exponent -> sub_pow
?exponent: power
    | "-" exponent -> neg
    | "+" exponent
?postfix: atom
    | postfix "!" -> factorial
    | postfix "%" -> percent
    | postfix "\\deg" -> degrees
    | atom "_" subscript -> subscripted
?subscript: NUMBER -> sub_text
    | NAME -> sub_text
    | "{" sub_inner "}"
?sub_inner: NUMBER -> sub_text
    | NAME -> sub_text
    | NAME NUMBER -> sub_text
?atom: NUMBER -> number
    | NAME -> name
    | GREEK -> greek
    | "\\pi" -> pi
    | "\\infty" -> infinity
    | "\\emptyset" -> emptyset
    | "\\word" "{" WORDTEXT "}" -> word
    | "(" item ")"
    | "{" item "}"
    | "[" item "]"
    | "(" item "," item ("," item)* ")" -> tuple_
    | "(" item "," item "]" -> interval_oc
    | "[" item "," item ")" -> interval_co
    | "[" item "," item "]" -> interval_cc
    | "[" item "," item ("," item)+ "]" -> tuple_
    | "\\{" "\\}" -> emptyset
    | "\\{" item ("," item)* "\\}" -> set_
    | "{" item "," item ("," item)* "}" -> set_
    | atom "\\cup" atom -> union
    | "\\frac" atom atom -> frac
    | "\\binom" atom atom -> binom
    | "\\root" atom atom -> root
    | FUNC atom -> func
    | FUNC "^" exponent atom -> func_pow
    | LOG "_" subscript atom -> log_base
    | LOG atom -> log
    | LOG "^" exponent atom -> log_pow
    | "\\lvert" expr "\\rvert" -> abs
    | "\\lfloor" expr "\\rfloor" -> floor
    | "\\lceil" expr "\\rceil" -> ceiling
    | "\\begin{matrix}" mrow ("\\\\" mrow)* "\\\\"? "\\end{matrix}" -> matrix
mrow: expr ("&" expr)*
REL: "<=" | ">=" | "!=" | "=" | "<" | ">"
NUMBER: /(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/
FUNC.2: /\\?(FUNCNAMES)(?![A-Za-z])/
LOG.3: /\\?log(?![A-Za-z])/
GREEK: /\\(alpha|beta|gamma|delta|theta|lambda|mu|phi|varphi|omega|sigma|tau|rho)(?![A-Za-z])/
NAME: /[A-Za-z]+/
WORDTEXT: /[A-Za-z_]+/
%ignore /\s+/
""".replace("FUNCNAMES", "|".join(_FUNC_NAMES))

_SINGLE_LETTER_CONSTANTS = {"e": sympy.E, "i": sympy.I}
_NAMED_CONSTANTS = {"pi": sympy.pi, "oo": sympy.oo, "inf": sympy.oo, "infty": sympy.oo,
                    "infinity": sympy.oo}
_WORD_LETTERS = 3


# -- size caps --------------------------------------------------------------------------------

def _bits(q: sympy.Rational) -> int:
    return max(int(q.p).bit_length(), int(q.q).bit_length())


def _checked(expr: sympy.Expr) -> sympy.Expr:
    if expr.is_Rational and _bits(expr) > 4 * MAX_BITS:
        raise TooComplex(f"a number in the answer has more than {4 * MAX_BITS} bits")
    if expr.has(sympy.zoo, sympy.nan):
        raise MathSyntaxError("the expression is undefined (it divides by zero)")
    return expr


def _power(base: sympy.Expr, exp: sympy.Expr) -> sympy.Expr:
    if exp.is_Rational:
        n = abs(int(exp.p))
        if n > MAX_EXPONENT:
            raise TooComplex(f"an exponent is larger than {MAX_EXPONENT}")
        if int(exp.q) > MAX_SYMBOLIC_EXPONENT:  # 2^{2^{-1000}}: a 2^1000-th root
            raise TooComplex(f"an exponent's denominator exceeds {MAX_SYMBOLIC_EXPONENT}")
        if base.is_Rational and n * _bits(base) > MAX_BITS:
            raise TooComplex(f"a power has more than {MAX_BITS} bits")
        if not base.is_number and n > MAX_SYMBOLIC_EXPONENT:
            raise TooComplex(f"a symbolic power exceeds {MAX_SYMBOLIC_EXPONENT}")
    elif exp.is_number:
        _bounded_exponent(exp)
    _defined_power(base, exp)
    return _checked(sympy.Pow(base, exp))


def _bounded_exponent(exp: sympy.Expr) -> None:
    """A constant, non-rational exponent must be proven finite and at most MAX_EXPONENT."""
    if exp.has(sympy.oo, -sympy.oo, sympy.zoo):
        return
    if sympy.count_ops(exp) > MAX_TREE_DEPTH:
        raise TooComplex("an exponent is too large an expression")
    box = enclose(exp, 64)
    if box is None or not all(abs(end) <= MAX_EXPONENT for part in box
                              for end in (part.a, part.b)):
        raise TooComplex(f"an exponent is not provably at most {MAX_EXPONENT}")


def _defined_power(base: sympy.Expr, exp: sympy.Expr) -> None:
    """Refuse 0^0, 0 to a negative power and oo^0, also when the zero is hidden
    (``(\\sqrt{3+2\\sqrt2}-1-\\sqrt2)^0``); UNKNOWN (TooComplex) when undecidable."""
    if not (base.is_number and exp.is_number):
        return
    if exp.is_infinite:
        if not base.is_Rational:
            raise TooComplex("a power with an infinite exponent needs a rational base")
        return
    if base.is_Rational and base != 0:
        return
    exp_sign = int(sympy.sign(exp)) if exp.is_Rational else sign(exp)
    if base.is_infinite:
        if exp_sign == 0:
            raise MathSyntaxError("\\infty^0 is undefined; give a value")
        if exp_sign is None:
            raise TooComplex("could not decide the sign of the exponent of \\infty")
        return
    if exp_sign == 1:
        return
    zero = True if base == 0 else is_zero(base)
    if zero is None:
        raise TooComplex("could not decide whether the base of a power is zero")
    if not zero:
        return
    if exp_sign == 0:
        raise MathSyntaxError("0^0 is undefined; give a value")
    if exp_sign == -1:
        raise MathSyntaxError("the expression divides by zero (0 to a negative power)")
    raise TooComplex("could not decide the sign of the exponent of 0")


# -- tree to values ---------------------------------------------------------------------------

def _scalar(value: Any, what: str = "this") -> Scalar:
    if isinstance(value, Scalar):
        return value
    kind = type(value).__name__.replace("Value", "").lower()
    if kind == "relation":  # `3 apples (since 5 - 2 = 3)`: working beside the value, not a typo
        raise Unreadable(f"a relation inside arithmetic ({what}) reads as working written "
                         "beside the answer; give the value alone")
    raise MathSyntaxError(f"cannot use a {kind} in arithmetic ({what})")


def _combine(fn: Callable[..., sympy.Expr], *args: Any, what: str = "this") -> Scalar:
    scalars = [_scalar(a, what) for a in args]
    multi = [s for s in scalars if len(s.alts) > 1]
    if len(multi) > 1:
        raise MathSyntaxError("use at most one ± in an answer")
    poles = frozenset().union(*(s.poles for s in scalars))
    if not multi:
        return Scalar((fn(*(s.alts[0] for s in scalars)),), poles=poles)
    out = []
    for k in range(len(multi[0].alts)):
        out.append(fn(*(s.alts[k] if len(s.alts) > 1 else s.alts[0] for s in scalars)))
    return Scalar(tuple(out), poles=poles)


def _with_poles(value: Scalar, divisors: Scalar) -> Scalar:
    """``value`` remembering the non-constant ``divisors`` it was divided by; a constant
    divisor must be proven non-zero (a hidden zero such as ``\\sqrt{3+2\\sqrt2}-1-\\sqrt2``
    is refused like 0, and one that cannot be decided is UNKNOWN)."""
    for d in divisors.alts:
        if not d.free_symbols:
            _nonzero_divisor(d)
    extra = frozenset(d for d in divisors.alts if d.free_symbols)
    if not extra:
        return value
    return Scalar(value.alts, value.percent_of, value.poles | extra)


def _nonzero_divisor(d: sympy.Expr, what: str = "divides by zero") -> None:
    if (d.is_Rational and d != 0) or d.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan):
        return
    zero = is_zero(d)
    if zero:
        raise MathSyntaxError(f"the expression {what}")
    if zero is None:
        raise TooComplex(f"could not decide whether the expression {what}")


def _positive(e: sympy.Expr) -> bool:
    return bool((e.is_Rational and e > 0) or (not e.is_Rational and sign(e) == 1))


def _with_guards(value: Scalar, guard: type[sympy.Function], args: Sequence[sympy.Expr]
                 ) -> Scalar:
    """``value`` remembering where its text is defined in the real reading (the argument of
    a logarithm, a radicand): sympy folds ``e^{\\ln x}`` to ``x`` as it builds."""
    extra = frozenset(guard(a) for a in args if a.free_symbols)
    if not extra:
        return value
    return Scalar(value.alts, value.percent_of, value.poles | extra)


def _number(token: str) -> sympy.Rational:
    mantissa, _, exponent = token.lower().partition("e")
    if len(mantissa.replace(".", "")) > MAX_DIGITS:
        raise TooComplex(f"a number has more than {MAX_DIGITS} digits")
    if exponent and abs(int(exponent)) > MAX_SCI_EXPONENT:
        raise TooComplex(f"a number's exponent exceeds {MAX_SCI_EXPONENT}")
    frac = Fraction(token)
    return sympy.Rational(frac.numerator, frac.denominator)


def _name(text: str) -> sympy.Expr:
    if text in _NAMED_CONSTANTS:
        return _NAMED_CONSTANTS[text]
    if len(text) >= _WORD_LETTERS:
        return sympy.Symbol(text.lower())  # a word: compared as a whole, never split
    factors = [_SINGLE_LETTER_CONSTANTS.get(c) or sympy.Symbol(c) for c in text]
    return sympy.Mul(*factors)


def _plain(value: Any) -> sympy.Expr:
    return _scalar(value).expr


_FUNCS: dict[str, Callable[[sympy.Expr], sympy.Expr]] = {
    "sqrt": sympy.sqrt, "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan,
    "sec": sympy.sec, "csc": sympy.csc, "cot": sympy.cot, "arcsin": sympy.asin,
    "arccos": sympy.acos, "arctan": sympy.atan, "asin": sympy.asin, "acos": sympy.acos,
    "atan": sympy.atan, "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh,
    "ln": sympy.log, "log": sympy.log, "exp": sympy.exp, "abs": sympy.Abs,
    "floor": sympy.floor, "ceil": sympy.ceiling, "asinh": sympy.asinh, "acosh": sympy.acosh,
    "atanh": sympy.atanh, "asec": sympy.asec, "acsc": sympy.acsc, "acot": sympy.acot,
}


_TRIG_DIVISOR: dict[str, Callable[[sympy.Expr], sympy.Expr]] = {
    "tan": sympy.cos, "sec": sympy.cos, "cot": sympy.sin, "csc": sympy.sin}
#: Where a function is defined in the real reading (recorded because sympy folds
#: ``e^{\\ln x}`` to ``x`` and ``\\sqrt{x}^2`` to ``x``).
_GUARDS: dict[str, type[sympy.Function]] = {
    "sqrt": GuardNonNegative, "ln": GuardPositive, "log": GuardPositive,
    "arcsin": GuardUnit, "arccos": GuardUnit, "asin": GuardUnit, "acos": GuardUnit}
_INVERSE = {"sin": "asin", "cos": "acos", "tan": "atan", "sinh": "asinh", "cosh": "acosh",
            "tanh": "atanh", "sec": "asec", "csc": "acsc", "cot": "acot"}


def _apply(name: str, arg: sympy.Expr) -> sympy.Expr:
    if name == "exp":
        return _power(sympy.E, arg)
    if name in ("floor", "ceil"):
        return _integer_part(arg, name == "ceil")
    return _checked(_FUNCS[name](arg))


_NOT_NATURAL = "factorial of a value that is not a natural number"


def _factorial(arg: sympy.Expr) -> sympy.Expr:
    """``n!`` of a constant proven to be a whole number ``0 <= n <= MAX_FACTORIAL`` (exactly:
    ``(2\\log_2\\sqrt8)!`` is ``3!``); a constant proven not to be one is refused; anything
    else is UNKNOWN (TooComplex). A symbolic argument stays symbolic."""
    if not arg.is_number:
        return sympy.factorial(arg)
    if arg in (sympy.oo, -sympy.oo):
        raise MathSyntaxError(_NOT_NATURAL)
    status = integer_status(arg, MAX_FACTORIAL)
    if isinstance(status, int):
        if status < 0:
            raise MathSyntaxError(_NOT_NATURAL)
        return sympy.factorial(sympy.Integer(status))
    if status == NOT_INTEGER or (status == BEYOND and sign(arg) == -1):
        raise MathSyntaxError(_NOT_NATURAL)
    if status == BEYOND:
        raise TooComplex(f"a factorial argument exceeds {MAX_FACTORIAL}")
    raise TooComplex("could not decide whether a factorial's argument is a whole number")


def _nth_root(n: sympy.Expr, a: sympy.Expr) -> sympy.Expr:
    """The ``n``-th root of ``a`` for an index proven to be a whole number 1..200 (exactly:
    ``\\sqrt[\\log_2 8]{8}`` is a cube root); index 0 is refused (``a^{1/0}``); an index
    over the cap, negative, fractional, symbolic or undecided is UNKNOWN (TooComplex)."""
    if not n.is_number or n.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan):
        raise TooComplex("the index of a root is not a number; only whole-number indices "
                         "are read")
    status = integer_status(n, MAX_SYMBOLIC_EXPONENT)
    if status == BEYOND:
        raise TooComplex(f"the index of a root exceeds {MAX_SYMBOLIC_EXPONENT}")
    if not isinstance(status, int) or status < 0:
        raise TooComplex("the index of a root is not proven a whole number >= 1; only such "
                         "indices are read")
    if status == 0:
        raise MathSyntaxError("a root of index 0 is undefined")
    if status == 1:
        return a
    k = sympy.Integer(status)
    negative = a.is_number and not a.is_Rational and sign(a) == -1
    if a.is_number and not a.is_Rational and sign(a) is None:
        raise TooComplex("could not decide the sign of a root's radicand")
    negative = negative or (a.is_Rational and a < 0)
    return _checked(sympy.real_root(a, k) if negative else sympy.root(a, k))


def _integer_part(arg: sympy.Expr, up: bool) -> sympy.Expr:
    """``\\lfloor x \\rfloor`` / ``\\lceil x \\rceil``: of a constant, the integer proven
    by a certified enclosure (or an exact equality); UNKNOWN when not proven. sympy's own
    evaluation is not used for constants: it decides with floating point and can fail."""
    if arg.is_number:
        if arg.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan):
            raise TooComplex("the integer part of an infinite value is not read")
        n = integer_part(arg, up)
        if n is None:
            raise TooComplex("could not decide the integer part exactly (the value is too "
                             "large or too close to an integer)")
        return sympy.Integer(n)
    return _checked(sympy.ceiling(arg) if up else sympy.floor(arg))


def _binomial(n: sympy.Expr, k: sympy.Expr) -> sympy.Expr:
    if n.is_Integer and abs(n) > MAX_FACTORIAL * 10:
        raise TooComplex(f"a binomial argument exceeds {MAX_FACTORIAL * 10}")
    return sympy.binomial(n, k)


def _items(children: Sequence[Any], flatten: bool = True) -> tuple[Value, ...]:
    """Container items; with ``flatten`` a ``±`` item contributes both of its values."""
    out: list[Value] = []
    for child in children:
        item = _item(child)
        if isinstance(item, Answers) and flatten:
            out.extend(item.items)
        elif isinstance(item, Answers):
            raise MathSyntaxError("± cannot stand inside a tuple")
        else:
            out.append(item)
    items = tuple(out)
    if len(items) > MAX_ITEMS:
        raise TooComplex(f"more than {MAX_ITEMS} items")
    return items


def _item(value: Any) -> Value:
    if isinstance(value, Scalar) and len(value.alts) > 1:
        return Answers(tuple(Scalar((a,), poles=value.poles) for a in value.alts))
    return value  # type: ignore[no-any-return]


def _interval(lo: Any, hi: Any, left_open: bool, right_open: bool) -> IntervalValue:
    return IntervalValue(_plain(lo), _plain(hi), left_open, right_open)


class _Build(Transformer[Token, Any]):
    """Tree -> values. Every method builds through sympy constructors."""

    def answers(self, c: list[Any]) -> Value:
        if len(c) == 1:
            return _item(c[0])
        return Answers(_items(c))

    def relation(self, c: list[Any]) -> Value:
        if len(c) == 1:
            return c[0]  # type: ignore[no-any-return]
        terms = c[0::2]
        ops = tuple(str(t) for t in c[1::2])
        scalars = [_scalar(t, "a relation") for t in terms]
        multi = [i for i, s in enumerate(scalars) if len(s.alts) > 1]
        poles = frozenset().union(*(s.poles for s in scalars))
        if multi and len(multi) == 1 and len(terms) == 2:
            i = multi[0]
            return Answers(tuple(
                Relation(tuple(a if j == i else s.expr for j, s in enumerate(scalars)), ops,
                         poles)
                for a in scalars[i].alts))
        return Relation(tuple(s.expr for s in scalars), ops, poles)

    def add(self, c: list[Any]) -> Scalar:
        return _combine(lambda a, b: _checked(sympy.Add(a, b)), *c, what="+")

    def sub(self, c: list[Any]) -> Scalar:
        return _combine(lambda a, b: _checked(sympy.Add(a, -b)), *c, what="-")

    def pm(self, c: list[Any]) -> Scalar:
        a, b = _scalar(c[0]).expr, _scalar(c[1]).expr
        if len(_scalar(c[0]).alts) > 1:
            raise MathSyntaxError("use at most one ± in an answer")
        return Scalar((_checked(a + b), _checked(a - b)),
                      poles=_scalar(c[0]).poles | _scalar(c[1]).poles)

    def pm_unary(self, c: list[Any]) -> Scalar:
        b = _scalar(c[0]).expr
        return Scalar((b, _checked(-b)), poles=_scalar(c[0]).poles)

    def mul(self, c: list[Any]) -> Scalar:
        return _combine(lambda a, b: _checked(sympy.Mul(a, b)), *c, what="*")

    def div(self, c: list[Any]) -> Scalar:
        def divide(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
            if b == 0:
                raise MathSyntaxError("the expression divides by zero")
            if not b.free_symbols:
                _nonzero_divisor(b)  # before sympy folds h/h to 1
            return _checked(sympy.Mul(a, sympy.Pow(b, -1)))
        return _with_poles(_combine(divide, *c, what="/"), _scalar(c[1]))

    def neg(self, c: list[Any]) -> Scalar:
        return _combine(lambda a: -a, c[0], what="-")

    def pow(self, c: list[Any]) -> Scalar:
        out = _combine(_power, c[0], c[1], what="^")
        base, exps = _scalar(c[0]), _scalar(c[1]).alts
        if any(e.is_number and not _positive(e) for e in exps):  # x^0, x^{-1}: not at x = 0
            out = _with_poles(out, base)
        if any(e.free_symbols for e in exps):  # x^y: x > 0 in the real reading
            return _with_guards(out, GuardPositive, base.alts)
        if any(not e.is_Integer for e in exps):  # x^{1/2}: x >= 0 in the real reading
            return _with_guards(out, GuardNonNegative, base.alts)
        return out

    def sub_pow(self, c: list[Any]) -> Scalar:
        return self.pow([self.subscripted(c[:2]), c[2]])

    def factorial(self, c: list[Any]) -> Scalar:
        return _combine(_factorial, c[0], what="!")

    def percent(self, c: list[Any]) -> Scalar:
        s = _scalar(c[0], "%")
        return Scalar((s.expr / 100,), percent_of=s.expr, poles=s.poles)

    def degrees(self, c: list[Any]) -> Scalar:
        s = _scalar(c[0], "°")
        return Scalar((_checked(sympy.Mul(s.expr, sympy.pi / 180)),), percent_of=s.expr,
                      poles=s.poles)

    def sub_text(self, c: list[Any]) -> str:
        return "".join(str(t) for t in c)

    def subscripted(self, c: list[Any]) -> Scalar:
        base = _scalar(c[0]).expr
        if not isinstance(base, sympy.Symbol):
            raise MathSyntaxError("a subscript needs a variable name before it")
        return Scalar((sympy.Symbol(f"{base.name}_{c[1]}"),))

    def number(self, c: list[Token]) -> Scalar:
        return Scalar((_number(str(c[0])),))

    def name(self, c: list[Token]) -> Scalar:
        return Scalar((_name(str(c[0])),))

    def greek(self, c: list[Token]) -> Scalar:
        return Scalar((sympy.Symbol(str(c[0]).lstrip("\\")),))

    def word(self, c: list[Token]) -> Scalar:
        text = str(c[0])
        if len(text) == 1:  # \\text{A}, \\mathrm{e}: a letter, as outside \\text
            return Scalar((_name(text),))
        return Scalar((sympy.Symbol(text.replace("_", " ").lower()),))

    def ratio(self, c: list[Any]) -> Scalar:
        if any(not a.is_number for s in c for a in _scalar(s, "a ratio").alts):
            raise MathSyntaxError("a ratio `a:b` compares numbers; give a value")
        return self.div(c)

    def pi(self, c: list[Any]) -> Scalar:
        return Scalar((sympy.pi,))

    def infinity(self, c: list[Any]) -> Scalar:
        return Scalar((sympy.oo,))

    def emptyset(self, c: list[Any]) -> SetValue:
        return SetValue(())

    def tuple_(self, c: list[Any]) -> TupleValue:
        return TupleValue(_items(c, flatten=False))

    def set_(self, c: list[Any]) -> SetValue:
        return SetValue(_items(c))

    def interval_oc(self, c: list[Any]) -> IntervalValue:
        return _interval(c[0], c[1], True, False)

    def interval_co(self, c: list[Any]) -> IntervalValue:
        return _interval(c[0], c[1], False, True)

    def interval_cc(self, c: list[Any]) -> IntervalValue:
        return _interval(c[0], c[1], False, False)

    def union(self, c: list[Any]) -> UnionValue:
        parts: list[Value] = []
        for part in c:
            if isinstance(part, UnionValue):
                parts.extend(part.parts)
            elif isinstance(part, TupleValue) and len(part.items) == 2:
                parts.append(_interval(part.items[0], part.items[1], True, True))
            elif isinstance(part, IntervalValue | SetValue):
                parts.append(part)
            else:
                raise MathSyntaxError("∪ joins intervals and sets only")
        return UnionValue(tuple(parts))

    def frac(self, c: list[Any]) -> Scalar:
        return self.div(c)

    def binom(self, c: list[Any]) -> Scalar:
        return _combine(_binomial, c[0], c[1], what="binom")

    def root(self, c: list[Any]) -> Scalar:
        out = _combine(_nth_root, c[0], c[1], what="root")
        return _with_guards(out, GuardNonNegative, _scalar(c[1]).alts)

    def func(self, c: list[Any]) -> Scalar:
        name = str(c[0]).lstrip("\\")
        args = _scalar(c[1]).alts
        if name in ("ln", "log"):
            for a in args:
                if not a.free_symbols:
                    _nonzero_divisor(a, "takes the logarithm of zero")
        out = _combine(lambda a: _apply(name, a), c[1], what=name)
        if name in _GUARDS:
            out = _with_guards(out, _GUARDS[name], args)
        if name in _TRIG_DIVISOR:  # tan x = sin x / cos x: undefined where cos x = 0
            divisor = _TRIG_DIVISOR[name]
            return _with_poles(out, Scalar(tuple(divisor(a) for a in _scalar(c[1]).alts)))
        return out

    def func_pow(self, c: list[Any]) -> Scalar:
        name = str(c[0]).lstrip("\\")
        exponent = _scalar(c[1]).alts
        if exponent[0].is_number and exponent[0].is_negative:
            # \sin^{-1} x is arcsin x in print, 1/sin x to a power rule: refuse to guess
            # except for the inverse-function reading of ^{-1} on a trig function.
            if exponent == (sympy.Integer(-1),) and name in _INVERSE:
                return self.func([_INVERSE[name], c[2]])
            raise MathSyntaxError(f"`{name}^{{{exponent[0]}}}` is ambiguous; write an inverse "
                                  "function (\\arcsin) or a fraction")
        inner = self.func([c[0], c[2]])
        return self.pow([inner, c[1]])

    def log(self, c: list[Any]) -> Scalar:
        return self.func(["ln", c[1]])

    def log_base(self, c: list[Any]) -> Scalar:
        base = _number(c[1]) if c[1][:1].isdigit() else _name(c[1])
        if base.is_number and (base <= 0 or base == 1):
            raise MathSyntaxError("a logarithm's base must be positive and not 1")
        for a in _scalar(c[2]).alts:
            if not a.free_symbols:
                _nonzero_divisor(a, "takes the logarithm of zero")
        out = _combine(lambda a: _checked(sympy.log(a, base)), c[2], what="log")
        return _with_guards(out, GuardPositive, (*_scalar(c[2]).alts, base))

    def log_pow(self, c: list[Any]) -> Scalar:
        return self.pow([self.log(c[:1] + c[2:]), c[1]])

    def abs(self, c: list[Any]) -> Scalar:
        return _combine(lambda a: _checked(sympy.Abs(a)), c[0], what="|...|")

    def floor(self, c: list[Any]) -> Scalar:
        return _combine(lambda a: _integer_part(a, False), c[0], what="floor")

    def ceiling(self, c: list[Any]) -> Scalar:
        return _combine(lambda a: _integer_part(a, True), c[0], what="ceiling")

    def mrow(self, c: list[Any]) -> tuple[sympy.Expr, ...]:
        return tuple(_plain(x) for x in c)

    def matrix(self, c: list[Any]) -> MatrixValue:
        rows = tuple(c)
        if len({len(r) for r in rows}) != 1:
            raise MathSyntaxError("the matrix rows have different lengths")
        if len(rows) * len(rows[0]) > MAX_ITEMS:
            raise TooComplex(f"the matrix has more than {MAX_ITEMS} entries")
        return MatrixValue(rows)


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr", maybe_placeholders=False,
                cache=private_cache_file("lark-math.pickle") or False)


def _depth(tree: Tree[Token]) -> int:
    deepest = 0
    stack: list[tuple[Tree[Token], int]] = [(tree, 1)]
    while stack:
        node, d = stack.pop()
        if d > deepest:
            deepest = d
        stack.extend((ch, d + 1) for ch in node.children if isinstance(ch, Tree))
    return deepest


def parse_math(text: str) -> tuple[Value, str | None]:
    """Parse an answer; returns the value and its trailing unit (``\\text{cm}``), if any.

    Raises :class:`MathSyntaxError` (with a column where possible) or :class:`TooComplex`.
    """
    reading = read_math(text)
    return reading.value, reading.unit


@dataclass(frozen=True)
class Reading:
    """One reading of an answer text: its value, unit, and the names the reading needs.

    ``names`` are taken from the parse tree before sympy folds anything (``0 x`` is 0 to sympy
    but needs the name ``x``); ``labels`` are names used only as a whole side of a top-level
    relation (``x`` in ``x = 3``, ``x > 3``, ``1 < x < 3``); ``lone_name`` is true when the
    whole answer is one name or word (``C``, ``\\text{Monday}``); ``words`` are the names of
    three or more letters."""

    value: Value
    unit: str | None
    names: frozenset[str]
    labels: frozenset[str]
    lone_name: bool
    ratio: bool
    text: str
    #: ``(p, q)`` of ``(p, q) = (3, 2)``: the names of the tuple's entries, in order.
    tuple_names: tuple[str, ...] = ()

    @property
    def words(self) -> frozenset[str]:
        return frozenset(n for n in self.names if len(n) >= _WORD_LETTERS and "_" not in n)


def read_math(text: str, *, thousands: bool = True, decimal_comma: bool = False,
              dot_thousands: bool = False) -> Reading:
    """:func:`parse_math` with the names the reading needs (see :class:`Reading`)."""
    norm = normalized(text, thousands=thousands, decimal_comma=decimal_comma,
                      dot_thousands=dot_thousands)
    tree = _tree(norm.text)
    value = _build(tree)
    names, labels = _names_of(tree)
    return Reading(value, norm.unit, names, labels, _lone_name(tree), _is_ratio(tree), norm.text,
                   norm.tuple_names)


def _tree(clean: str) -> Tree[Token]:
    if not clean:
        raise MathSyntaxError("the answer is empty")
    depth = 0
    for i, ch in enumerate(clean):
        depth += (ch in "([{") - (ch in ")]}")
        if depth > MAX_DEPTH:
            raise TooComplex(f"brackets nest deeper than {MAX_DEPTH} (column {i + 1})")
    try:
        tree = _parser().parse(clean)
    except UnexpectedCharacters as exc:
        ch = clean[exc.pos_in_stream] if exc.pos_in_stream is not None else "?"
        raise MathSyntaxError(f"could not parse `{_snippet(clean, exc.column)}`: unexpected "
                              f"{ch!r}", exc.column) from None
    except UnexpectedToken as exc:
        if exc.token.type == "$END":
            raise MathSyntaxError(f"could not parse `{_snippet(clean, len(clean))}`: it ends "
                                  "too early", len(clean)) from None
        raise MathSyntaxError(f"could not parse `{_snippet(clean, exc.column)}`: unexpected "
                              f"`{exc.token!s}`", exc.column) from None
    except UnexpectedEOF:
        raise MathSyntaxError("the answer ends too early", len(clean)) from None
    if len(clean) > MAX_TREE_DEPTH // 2 and _depth(tree) > MAX_TREE_DEPTH:
        raise TooComplex(f"the expression has more than {MAX_TREE_DEPTH} nested operations")
    return tree


def _build(tree: Tree[Token]) -> Value:
    try:
        value: Value = _Build().transform(tree)
    except RecursionError:
        raise TooComplex("the expression nests too deeply to build") from None
    except LarkError as exc:
        orig = getattr(exc, "orig_exc", None)
        if isinstance(orig, MathSyntaxError | TooComplex | Unreadable):
            raise orig from None
        if isinstance(orig, RecursionError):
            raise TooComplex("the expression nests too deeply to build") from None
        # Anything else failed inside sympy (precision exhausted, an integer too long to
        # print, ...): that proves nothing about the answer, and its text is not shown.
        raise TooComplex("the value of the answer could not be computed exactly") from None
    return value


_NAME_NODES = frozenset({"name", "greek", "word", "subscripted", "sub_pow"})


def _token_names(node: Tree[Token] | Token) -> set[str]:
    """The names a name-like node stands for (constants and function names need none)."""
    if isinstance(node, Token):
        return set()
    if node.data in ("subscripted", "sub_pow"):
        base = node.children[0]
        sub = node.children[1]
        sub_text = str(sub) if isinstance(sub, Token) else "".join(
            str(t) for t in sub.children if isinstance(t, Token))
        base_names = _token_names(base) if isinstance(base, Tree) else set()
        if len(base_names) == 1:
            return {f"{next(iter(base_names))}_{sub_text}"}
        return base_names
    token = str(node.children[0])
    if node.data == "greek":
        return {token.lstrip("\\")}
    if node.data == "word":
        return {token} if len(token) == 1 and token not in "ei" else (
            set() if len(token) == 1 else {token.replace("_", " ").lower()})
    if token in _NAMED_CONSTANTS:
        return set()
    if len(token) >= _WORD_LETTERS:
        return {token.lower()}
    if len(token) > 1 and all(c in _SINGLE_LETTER_CONSTANTS for c in token):
        return {token}  # `ie`, `ee`: a word, not a product of constants anyone writes
    return {c for c in token if c not in _SINGLE_LETTER_CONSTANTS}


def _names_of(tree: Tree[Token]) -> tuple[frozenset[str], frozenset[str]]:
    """Every name the tree uses, and those used only as labels (``x`` in ``x = 3``)."""
    names: set[str] = set()
    labels: set[str] = set()
    label_nodes: set[int] = set()
    for item in tree.children:
        if isinstance(item, Tree) and item.data == "relation" and len(item.children) >= 3:
            for side in item.children[0::2]:
                if isinstance(side, Tree) and side.data in _NAME_NODES and (
                        side.data == "greek" or not any(len(n) >= _WORD_LETTERS and "_" not in n
                                                        for n in _token_names(side))):
                    label_nodes.add(id(side))  # a word (`wrong = 0`) is prose, not a label
    stack: list[Tree[Token] | Token] = [tree]
    while stack:
        node = stack.pop()
        if not isinstance(node, Tree):
            continue
        if node.data in _NAME_NODES:
            found = _token_names(node)
            (labels if id(node) in label_nodes else names).update(found)
            if node.data == "sub_pow":
                stack.append(node.children[2])
            continue
        if node.data == "sub_text":  # the base of \\log_b
            for token in node.children:
                if isinstance(token, Token) and token.type == "NAME":
                    names.update(_token_names(Tree("name", [token])))
            continue
        stack.extend(node.children)
    return frozenset(names), frozenset(labels - names)


def _single_item(tree: Tree[Token]) -> Tree[Token] | Token | None:
    """The one item of an answer that is not a list (inside its relation node), else None."""
    if len(tree.children) != 1:
        return None
    item = tree.children[0]
    while isinstance(item, Tree) and item.data == "relation" and len(item.children) == 1:
        item = item.children[0]
    return item


def _lone_name(tree: Tree[Token]) -> bool:
    item = _single_item(tree)
    return isinstance(item, Tree) and item.data in _NAME_NODES and item.data != "sub_pow" and (
        len(_token_names(item)) == 1)


def _is_ratio(tree: Tree[Token]) -> bool:
    item = _single_item(tree)
    return isinstance(item, Tree) and item.data == "ratio"


def _snippet(text: str, column: int | None, width: int = 40) -> str:
    end = min(len(text), max(column or 0, 1))
    start = max(0, end - width)
    return ("..." if start else "") + text[start:end]


def parse_expression(text: str) -> sympy.Expr:
    """A single scalar expression (no sets, tuples or relations); raises MathSyntaxError."""
    value, _ = parse_math(text)
    if not isinstance(value, Scalar):
        raise MathSyntaxError("expected a single expression")
    return value.expr


def parse_relation(text: str) -> Relation:
    """A single equation or inequality; raises MathSyntaxError."""
    value, _ = parse_math(text)
    if not isinstance(value, Relation):
        raise MathSyntaxError("expected an equation such as `x^2 - 1 = 0`")
    return value
