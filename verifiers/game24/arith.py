"""A grammar-based parser and exact evaluator for integer arithmetic expressions.

Integers, ``+ - * /`` and parentheses, nothing else: candidate text is parsed
by a lark LALR grammar into a small AST and evaluated with exact rationals
(:class:`fractions.Fraction`). Nothing is ever passed to ``eval``. Size and
nesting are capped before parsing, so hostile input fails fast.

A hand-written reader of the same grammar (:func:`_read_fast`, one linear pass and a
recursive descent bounded by the nesting cap) builds the same tree, positions included, in
a fraction of lark's time; anything it does not read cleanly (any error, a newline, a long
number) goes to lark, so every error message is lark's. ``tests/test_game24_fast_parse.py``
checks the two trees are equal on generated and random texts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedToken
from lark.tree import Meta

from llm_modulo.runtime import private_cache_file

MAX_LENGTH = 1000
MAX_DEPTH = 64
MAX_DIGITS = 12

_GRAMMAR = r"""
?start: sum
?sum: product
    | sum "+" product -> add
    | sum "-" product -> sub
?product: atom
    | product "*" atom -> mul
    | product "/" atom -> div
?atom: INT -> number
    | "(" sum ")"
INT: /[0-9]+/
%import common.WS
%ignore WS
"""

# Unicode look-alikes an LLM commonly writes, mapped to the grammar's ASCII.
_LOOKALIKES = str.maketrans({
    "×": "*", "∗": "*", "·": "*", "⋅": "*", "÷": "/", "∕": "/",
    "−": "-", "–": "-", "—": "-", "＋": "+", "（": "(", "）": ")",
})


class ExpressionSyntaxError(ValueError):
    """The text is not an expression of the grammar; ``column`` is 1-based."""

    def __init__(self, message: str, column: int | None = None) -> None:
        self.column = column
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Num:
    value: int
    column: int


@dataclass(frozen=True, slots=True)
class BinOp:
    op: str
    left: Expr
    right: Expr
    start: int  # 1-based column where the sub-expression starts
    end: int  # 1-based column just past its end


Expr = Num | BinOp


class DivisionByZero(ArithmeticError):
    def __init__(self, node: BinOp) -> None:
        self.node = node
        super().__init__(f"division by zero at columns {node.start}-{node.end - 1}")


@v_args(meta=True)
class _ToAst(Transformer[Token, Expr]):
    def number(self, meta: Meta, children: list[Token]) -> Num:
        tok = children[0]
        if len(tok) > MAX_DIGITS:
            raise ExpressionSyntaxError(
                f"number at column {tok.column} has {len(tok)} digits (at most {MAX_DIGITS})",
                tok.column,
            )
        return Num(int(tok), tok.column or 0)

    @staticmethod
    def _bin(op: str, meta: Meta, children: list[Expr]) -> BinOp:
        left, right = children
        return BinOp(op, left, right, meta.column, meta.end_column)

    def add(self, meta: Meta, children: list[Expr]) -> BinOp:
        return self._bin("+", meta, children)

    def sub(self, meta: Meta, children: list[Expr]) -> BinOp:
        return self._bin("-", meta, children)

    def mul(self, meta: Meta, children: list[Expr]) -> BinOp:
        return self._bin("*", meta, children)

    def div(self, meta: Meta, children: list[Expr]) -> BinOp:
        return self._bin("/", meta, children)


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False,
                cache=private_cache_file("lark-game24.pickle") or False)


def normalize(text: str) -> str:
    return text.translate(_LOOKALIKES)


def parse_expression(text: str) -> Expr:
    """Parse ``text``; raise :class:`ExpressionSyntaxError` saying where it went wrong."""
    if len(text) > MAX_LENGTH:
        raise ExpressionSyntaxError(f"expression is {len(text)} characters long "
                                    f"(at most {MAX_LENGTH})")
    text = normalize(text)
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if depth > MAX_DEPTH:
            raise ExpressionSyntaxError(f"parentheses nest deeper than {MAX_DEPTH}", i + 1)
    if not text.strip():
        raise ExpressionSyntaxError("the expression is empty")
    return _parse_checked(text)


@lru_cache(maxsize=4096)
def _parse_checked(text: str) -> Expr:
    """The tree of a normalized text that passed the length and depth checks. Cached: a
    reply's expression is read once by the domain and again by the verifier, and the tree is
    immutable (errors are not cached, they are raised again)."""
    fast = _read_fast(text)
    return fast if fast is not None else _parse_lark(text)


def _parse_lark(text: str) -> Expr:
    try:
        tree = _parser().parse(text)
        return _ToAst().transform(tree)
    except UnexpectedCharacters as exc:
        ch = text[exc.pos_in_stream] if exc.pos_in_stream is not None else "?"
        raise ExpressionSyntaxError(f"unexpected character {ch!r} at column {exc.column}",
                                    exc.column) from None
    except UnexpectedToken as exc:
        if exc.token.type == "$END":
            raise ExpressionSyntaxError("the expression ends too early (unbalanced parentheses "
                                        "or a missing operand)", len(text)) from None
        raise ExpressionSyntaxError(f"unexpected {exc.token!s} at column {exc.column}",
                                    exc.column) from None
    except UnexpectedEOF:
        raise ExpressionSyntaxError("the expression ends too early", len(text)) from None
    except ExpressionSyntaxError:
        raise
    except LarkError as exc:  # e.g. errors raised inside the transformer
        orig = getattr(exc, "orig_exc", None)
        if isinstance(orig, ExpressionSyntaxError):
            raise orig from None
        raise ExpressionSyntaxError(f"could not parse the expression: {exc}") from None


class _Unread(Exception):
    """The fast reader gives up: lark reads the text (and words the error)."""


_SPACE = frozenset(" \t\f\r")  # lark's WS but the newline (which restarts its columns)


def _read_fast(text: str) -> Expr | None:
    """The tree lark's grammar gives ``text`` (normalized, length and nesting checked), or
    None when the text is not plainly well formed. Positions are lark's: a number's column;
    an operation from the start of its left operand to the end of its right one, an operand
    in parentheses counted with them."""
    tokens: list[tuple[str, int, int]] = []  # kind ("0" for a number), 1-based start, end
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _SPACE:
            i += 1
        elif "0" <= ch <= "9":
            j = i + 1
            while j < n and "0" <= text[j] <= "9":
                j += 1
            if j - i > MAX_DIGITS:
                return None
            tokens.append(("0", i + 1, j + 1))
            i = j
        elif ch in "+-*/()":
            tokens.append((ch, i + 1, i + 2))
            i += 1
        else:
            return None
    pos = 0

    def atom() -> tuple[Expr, int, int]:
        nonlocal pos
        if pos >= len(tokens):
            raise _Unread
        kind, start, end = tokens[pos]
        pos += 1
        if kind == "0":
            return Num(int(text[start - 1:end - 1]), start), start, end
        if kind != "(":
            raise _Unread
        node, _, _ = chain(product, "+-")
        if pos >= len(tokens) or tokens[pos][0] != ")":
            raise _Unread
        pos += 1
        return node, start, tokens[pos - 1][2]

    def product() -> tuple[Expr, int, int]:
        return chain(atom, "*/")

    def chain(operand: Callable[[], tuple[Expr, int, int]], ops: str
              ) -> tuple[Expr, int, int]:
        nonlocal pos
        node, start, end = operand()
        while pos < len(tokens) and tokens[pos][0] in ops:
            op = tokens[pos][0]
            pos += 1
            right, _, end = operand()
            node = BinOp(op, node, right, start, end)
        return node, start, end

    try:
        node, _, _ = chain(product, "+-")
    except _Unread:
        return None
    return node if pos == len(tokens) else None


def evaluate(node: Expr) -> Fraction:
    """Exact value of ``node``; raises :class:`DivisionByZero` naming the node."""
    if isinstance(node, Num):
        return Fraction(node.value)
    left, right = evaluate(node.left), evaluate(node.right)
    if node.op == "+":
        return left + right
    if node.op == "-":
        return left - right
    if node.op == "*":
        return left * right
    if right == 0:
        raise DivisionByZero(node)
    return left / right


def leaves(node: Expr) -> list[int]:
    """The integers the expression uses, left to right."""
    out: list[int] = []
    stack: list[Expr] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Num):
            out.append(n.value)
        else:
            stack.extend((n.right, n.left))
    return out


def render(node: Expr, parent_prec: int = 0, right_side: bool = False) -> str:
    """Canonical text with only the parentheses the value needs."""
    if isinstance(node, Num):
        return str(node.value)
    prec = 1 if node.op in "+-" else 2
    text = f"{render(node.left, prec)}{node.op}{render(node.right, prec, True)}"
    needs = prec < parent_prec or (right_side and prec == parent_prec and parent_prec > 0)
    return f"({text})" if needs else text


def render_full(node: Expr) -> str:
    """Text with every operation in parentheses but the outermost: the exact tree, each step
    as written, whatever the precedence."""
    if isinstance(node, Num):
        return str(node.value)
    return f"{_full(node.left)}{node.op}{_full(node.right)}"


def _full(node: Expr) -> str:
    return str(node.value) if isinstance(node, Num) else f"({render_full(node)})"


def format_fraction(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator}"
