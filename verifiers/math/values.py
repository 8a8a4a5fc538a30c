"""The values an answer can be, as the math grammar builds them: scalars (with the divisors
and domain guards written in them), sets, tuples, intervals, unions, matrices, relations and
lists of answers."""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from llm_modulo.verifiers.math.text import MathSyntaxError


@dataclass(frozen=True)
class Scalar:
    """A number or expression. ``alts`` holds more than one value only after ``±``."""

    alts: tuple[sympy.Expr, ...]
    percent_of: sympy.Expr | None = None  # the number written before ``%``
    #: Every non-constant divisor written in the expression (``x`` in ``x/x``). sympy cancels
    #: ``x/x`` to ``1`` as it builds, so this is the only record of where the text is undefined.
    poles: frozenset[sympy.Expr] = frozenset()

    @property
    def expr(self) -> sympy.Expr:
        if len(self.alts) != 1:
            raise MathSyntaxError("± is allowed only at the top level of an answer")
        return self.alts[0]


@dataclass(frozen=True)
class SetValue:
    items: tuple[Value, ...]


@dataclass(frozen=True)
class TupleValue:
    items: tuple[Value, ...]
    bracket: str = "("


@dataclass(frozen=True)
class IntervalValue:
    lo: sympy.Expr
    hi: sympy.Expr
    left_open: bool
    right_open: bool


@dataclass(frozen=True)
class UnionValue:
    parts: tuple[Value, ...]


@dataclass(frozen=True)
class MatrixValue:
    rows: tuple[tuple[sympy.Expr, ...], ...]


@dataclass(frozen=True)
class Relation:
    """``terms[0] ops[0] terms[1] ops[1] ...``; ops are ``= != < <= > >=``."""

    terms: tuple[sympy.Expr, ...]
    ops: tuple[str, ...]
    poles: frozenset[sympy.Expr] = frozenset()


@dataclass(frozen=True)
class Answers:
    """Several answers separated by commas at the top level (compared as a multiset)."""

    items: tuple[Value, ...] = field(default_factory=tuple)


Value = Scalar | SetValue | TupleValue | IntervalValue | UnionValue | MatrixValue | Relation | \
    Answers
