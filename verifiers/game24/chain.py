"""Step-by-step Game of 24 solutions: ``4*5 = 20``, ``10-6 = 4``, ``20+4 = 24``.

A chain is read exactly (:class:`fractions.Fraction`): each step's left side is an expression
whose numbers are taken from a pool that starts as the given numbers and gains each step's
result; each step must be true arithmetic; at the end the pool must hold one value. That
value is the one of the expression built by putting each step's expression in place of the
result a later step uses, so a complete chain is exactly an expression over the given
numbers, each used once.

What cannot be read as such a chain (a step that does not parse, a number that is neither a
given one left nor an earlier result, values left unused) is undecided: the reader may have
missed a step written in words. Only a false step and a complete chain that ends at another
value are proven wrong.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from llm_modulo.verifiers.game24.arith import (
    BinOp,
    DivisionByZero,
    Expr,
    ExpressionSyntaxError,
    Num,
    evaluate,
    format_fraction,
    leaves,
    parse_expression,
    render,
)

#: Longest chain read, in steps.
MAX_STEPS = 12


@dataclass(frozen=True)
class ChainResult:
    """One of: ``expression`` and ``value`` (a complete chain), ``wrong`` (a proven error,
    naming the step), ``undecided`` (why the chain cannot be read)."""

    expression: str | None = None
    value: Fraction | None = None
    wrong: str | None = None
    location: str | None = None
    undecided: str | None = None


@dataclass
class _Item:
    value: Fraction
    tree: Expr
    given: bool


@dataclass(frozen=True)
class StepFailure:
    """Why one step could not be applied: ``division_by_zero`` and ``false`` (proven wrong
    arithmetic), ``not_left`` (a number that is neither a given number left nor an earlier
    result under any reading; ``number`` names one), ``ambiguous`` (two readings of the
    step's fractions take different numbers)."""

    kind: str
    message: str
    number: int | None = None


#: Fractions in one step read either way at most (2 ** this many readings).
MAX_FRACTIONS = 6


class Pool:
    """The values a chain may still use: the given numbers not yet used and the results of
    earlier steps not yet used, each with the expression over the given numbers it stands
    for."""

    def __init__(self, given: Sequence[int]) -> None:
        self.items = [_Item(Fraction(n), Num(n, 0), True) for n in given]

    def values(self) -> list[Fraction]:
        return [item.value for item in self.items]

    def apply(self, left: Expr, stated: Fraction, where: str, shown: str, left_text: str
              ) -> StepFailure | None:
        """Apply the step ``left = stated``: check its arithmetic exactly, take its numbers
        from the pool (an earlier result before a given number of the same value) and add
        its result. On failure the pool is unchanged."""
        try:
            value = evaluate(left)
        except DivisionByZero:
            return StepFailure("division_by_zero", f"{where} `{shown}` divides by zero")
        if value != stated:
            return StepFailure("false", f"{where} `{shown}` is false: `{left_text.strip()[:60]}` "
                                        f"is {format_fraction(value)}, not "
                                        f"{format_fraction(stated)}")
        have = Counter(self.values())
        if not _fits(_taken(left, frozenset()), have):
            return StepFailure("not_left", f"{where} `{shown}` uses a number that is "
                                           "neither a given number left nor an earlier "
                                           "step's result", _missing(left, have))
        self._take(left, value, frozenset())
        return None

    def apply_fractions(self, trees: Sequence[Expr], stated: Fraction, where: str, shown: str
                        ) -> StepFailure | None:
        """Apply a step that may name an earlier non-integer result ``a/b`` (``5 - 1/5``
        after ``1 / 5 = 1/5``), read as each of ``trees`` (the parse as written, and with
        such fractions in parentheses) with each ``a/b`` node whose value is a non-integer
        left either a division or that result. Applied when every reading that is true
        arithmetic and takes numbers that are left takes the same numbers; else
        ``ambiguous`` (none, or two that differ: the step is not read)."""
        have = Counter(self.values())
        found: dict[tuple[Fraction, ...], tuple[Expr, frozenset[int]]] = {}
        for tree in trees:
            try:
                if evaluate(tree) != stated:
                    continue
            except DivisionByZero:
                continue
            named = _named_fractions(tree, have)
            if len(named) > MAX_FRACTIONS:
                return StepFailure("ambiguous", f"{where} `{shown}` holds more than "
                                                f"{MAX_FRACTIONS} fractions")
            for mask in range(2 ** len(named)):
                refs = frozenset(id(node) for k, node in enumerate(named) if mask >> k & 1)
                taken = _taken(tree, refs)
                if _fits(taken, have):
                    found.setdefault(tuple(sorted(taken)), (tree, refs))
        if len(found) != 1:
            why = "two ways that take different numbers" if found else \
                "no way that is true and takes numbers left (its fractions may mean " \
                "something else)"
            return StepFailure("ambiguous", f"{where} `{shown}` reads {why}")
        tree, refs = next(iter(found.values()))
        self._take(tree, stated, refs)
        return None

    def _take(self, tree: Expr, value: Fraction, refs: frozenset[int]) -> None:
        taken = _substitute(tree, self.items, refs)
        if taken is None:  # unreachable: the numbers were counted first
            raise AssertionError("pool count and substitution disagree")
        self.items.append(_Item(value, taken, False))


def _fits(taken: list[Fraction], have: Counter[Fraction]) -> bool:
    return all(have[v] >= c for v, c in Counter(taken).items())


def _named_fractions(node: Expr, have: Counter[Fraction]) -> list[BinOp]:
    """The ``a/b`` nodes (two integers) whose value is a non-integer in the pool."""
    out: list[BinOp] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if not isinstance(n, BinOp):
            continue
        if n.op == "/" and isinstance(n.left, Num) and isinstance(n.right, Num) and \
                n.right.value != 0:
            v = Fraction(n.left.value, n.right.value)
            if v.denominator != 1 and have[v] > 0:
                out.append(n)
                continue
        stack.extend((n.right, n.left))
    return out


def _taken(node: Expr, refs: frozenset[int]) -> list[Fraction]:
    """The values the step takes from the pool when the nodes in ``refs`` name results."""
    out: list[Fraction] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Num):
            out.append(Fraction(n.value))
        elif id(n) in refs:
            out.append(evaluate(n))
        else:
            stack.extend((n.right, n.left))
    return out


def _missing(node: Expr, have: Counter[Fraction]) -> int | None:
    """The first number the step uses (left to right) beyond what the pool holds."""
    left = Counter(have)
    for n in leaves(node):
        if left[Fraction(n)] <= 0:
            return n
        left[Fraction(n)] -= 1
    return None


def _substitute(node: Expr, pool: list[_Item], refs: frozenset[int] = frozenset()
                ) -> Expr | None:
    """``node`` with each number (and each node in ``refs``, by value) taken from ``pool``
    (an earlier result first), or None when one is not there."""
    if isinstance(node, Num) or id(node) in refs:
        value = evaluate(node)
        for prefer_given in (False, True):
            for k in range(len(pool) - 1, -1, -1):
                if pool[k].given == prefer_given and pool[k].value == value:
                    return pool.pop(k).tree
        return None
    left = _substitute(node.left, pool, refs)
    right = _substitute(node.right, pool, refs) if left is not None else None
    if left is None or right is None:
        return None
    return BinOp(node.op, left, right, node.start, node.end)


def read_chain(steps: Sequence[str], given: Sequence[int], target: int) -> ChainResult:
    """Check a chain of steps over ``given`` that should reach ``target``."""
    if not 1 <= len(steps) <= MAX_STEPS:
        return ChainResult(undecided=f"a chain of {len(steps)} steps is not read "
                                     f"(1 to {MAX_STEPS})")
    chain = Pool(given)
    pool = chain.items
    for k, step in enumerate(steps, 1):
        where = f"step {k}"
        shown = step.strip()[:60]
        left_text, eq, stated_text = step.partition("=")
        if not eq or "=" in stated_text:
            return ChainResult(undecided=f"{where} `{shown}` is not one `expression = value`")
        try:
            left = parse_expression(left_text)
            stated = evaluate(parse_expression(stated_text))
        except (ExpressionSyntaxError, DivisionByZero) as exc:
            return ChainResult(undecided=f"{where} `{shown}` does not read: {exc}")
        failure = chain.apply(left, stated, where, shown, left_text)
        if failure is not None and failure.kind == "not_left":
            return ChainResult(undecided=failure.message)
        if failure is not None:
            return ChainResult(wrong=failure.message, location=where)
    if len(pool) != 1:
        left_over = ", ".join(format_fraction(item.value) for item in pool[:6])
        return ChainResult(undecided=f"the steps leave {len(pool)} values unused "
                                     f"({left_over}), so some step was not read")
    final = pool[0]
    if final.value != target:
        return ChainResult(wrong=f"the steps use every given number once and end at "
                                 f"{format_fraction(final.value)}, not {target}",
                           location=f"step {len(steps)}")
    return ChainResult(expression=render(final.tree), value=final.value)
