"""The expression language of CSP files: parsed by a lark grammar, never evaluated as Python.

Integers (bounded digits), string literals, variables, ``+ - * // %``, unary minus,
``abs min max``, comparisons ``== != < <= > >=``, ``in {..}`` / ``not in {..}``,
``and or not`` and ``->`` (implication). An expression is type-checked against the
variables' domains when the problem is loaded, and compiled into a tree of closures
(no ``eval``, no ``compile``) that the checker and the python-constraint conversion
both call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from lark import Lark, Token, Transformer, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

MAX_LENGTH = 4000
MAX_DEPTH = 64
MAX_DIGITS = 18

Value = int | str | bool
Env = Sequence[Value]
Compiled = Callable[[Env], Value]

_GRAMMAR = r"""
?start: implies
?implies: disj
    | disj "->" implies -> implies
?disj: conj
    | disj "or" conj -> or_
?conj: neg
    | conj "and" neg -> and_
?neg: cmp
    | "not" neg -> not_
?cmp: sum
    | sum CMP sum -> compare
    | sum "in" "{" [literal ("," literal)*] "}" -> in_set
    | sum "not" "in" "{" [literal ("," literal)*] "}" -> not_in_set
?sum: product
    | sum "+" product -> add
    | sum "-" product -> sub
?product: unary
    | product "*" unary -> mul
    | product "//" unary -> floordiv
    | product "%" unary -> mod
?unary: atom
    | "-" unary -> negate
?atom: INT -> int
    | STRING -> string
    | NAME -> var
    | NAME "(" implies ("," implies)* ")" -> call
    | "(" implies ")"
literal: INT -> int
    | "-" INT -> negint
    | STRING -> string
CMP: "==" | "!=" | "<=" | ">=" | "<" | ">"
INT: /[0-9]+/
STRING: /"[^"\\\n]{0,200}"/ | /'[^'\\\n]{0,200}'/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
%import common.WS
%ignore WS
"""

FUNCTIONS = {"abs": (1, 1), "min": (1, 64), "max": (1, 64)}


class ExprError(ValueError):
    """An expression that does not parse or does not type-check."""


class Type(StrEnum):
    INT = "integer"
    STR = "string"
    BOOL = "boolean"


# -- the AST --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lit:
    value: int | str


@dataclass(frozen=True, slots=True)
class Var:
    name: str


@dataclass(frozen=True, slots=True)
class Op:
    op: str  # + - * // % neg abs min max == != < <= > >= and or not -> in notin
    args: tuple[Node, ...]
    values: tuple[int | str, ...] = ()  # the literal set of `in` / `not in`


Node = Lit | Var | Op


class _ToAst(Transformer[Token, Node]):
    def int(self, children: list[Token]) -> Lit:
        tok = children[0]
        if len(tok) > MAX_DIGITS:
            raise ExprError(f"integer {tok[:20]}... has more than {MAX_DIGITS} digits")
        return Lit(int(tok))

    def negint(self, children: list[Token]) -> Lit:
        lit = self.int(children)
        assert isinstance(lit.value, int)
        return Lit(-lit.value)

    def string(self, children: list[Token]) -> Lit:
        return Lit(str(children[0])[1:-1])

    def var(self, children: list[Token]) -> Var:
        name = str(children[0])
        if name in FUNCTIONS or name in ("and", "or", "not", "in"):
            raise ExprError(f"{name!r} is a reserved word, not a variable")
        return Var(name)

    def call(self, children: list[Node | Token]) -> Op:
        name, args = str(children[0]), tuple(c for c in children[1:] if not isinstance(c, Token))
        if name not in FUNCTIONS:
            raise ExprError(f"unknown function {name!r} (known: abs, min, max)")
        low, high = FUNCTIONS[name]
        if not low <= len(args) <= high:
            raise ExprError(f"{name}() takes {low} to {high} arguments, got {len(args)}")
        return Op(name, args)

    def compare(self, children: list[Node | Token]) -> Op:
        left, op, right = children
        assert isinstance(left, Lit | Var | Op) and isinstance(right, Lit | Var | Op)
        return Op(str(op), (left, right))

    def _set(self, op: str, children: list[Node | None]) -> Op:
        head, *rest = children
        assert head is not None
        values = tuple(c.value for c in rest if isinstance(c, Lit))
        return Op(op, (head,), values)

    def in_set(self, children: list[Node | None]) -> Op:
        return self._set("in", children)

    def not_in_set(self, children: list[Node | None]) -> Op:
        return self._set("notin", children)

    def __default__(self, data: str, children: list[Node], meta: object) -> Node:
        ops = {"implies": "->", "or_": "or", "and_": "and", "add": "+", "sub": "-",
               "mul": "*", "floordiv": "//", "mod": "%"}
        if data in ops:
            return Op(ops[data], tuple(children))
        if data == "not_":
            return Op("not", tuple(children))
        if data == "negate":
            return Op("neg", tuple(children))
        raise ExprError(f"unexpected construct {data!r}")


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr", maybe_placeholders=False)


@lru_cache(maxsize=4096)
def parse(text: str) -> Node:
    """Parse ``text`` into an AST; raise :class:`ExprError` saying where it went wrong."""
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression is {len(text)} characters long (at most {MAX_LENGTH})")
    depth = 0
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if depth > MAX_DEPTH:
            raise ExprError(f"parentheses nest deeper than {MAX_DEPTH}")
    if not text.strip():
        raise ExprError("the expression is empty")
    try:
        tree = _parser().parse(text)
        # operator chains (`a + a + ...`, `- - - a`, `not not ...`) nest without parentheses;
        # measured on lark's tree before the (recursive) transformer walks it
        if _tree_depth(tree) > MAX_DEPTH * 4:
            raise ExprError(f"expression nests deeper than {MAX_DEPTH * 4} operations")
        node = _ToAst().transform(tree)
    except RecursionError:
        raise ExprError(f"expression nests deeper than {MAX_DEPTH * 4} operations") from None
    except UnexpectedCharacters as exc:
        pos = exc.pos_in_stream or 0
        raise ExprError(f"unexpected character {text[pos:pos + 1]!r} at column "
                        f"{exc.column}") from None
    except UnexpectedToken as exc:
        if exc.token.type == "$END":
            raise ExprError("the expression ends too early") from None
        raise ExprError(f"unexpected {exc.token!s} at column {exc.column}") from None
    except UnexpectedEOF:
        raise ExprError("the expression ends too early") from None
    except LarkError as exc:
        orig = getattr(exc, "orig_exc", None)
        if isinstance(orig, ExprError):
            raise orig from None
        raise ExprError(f"could not parse the expression: {exc}") from None
    if _depth(node) > MAX_DEPTH * 4:
        raise ExprError(f"expression nests deeper than {MAX_DEPTH * 4} operations")
    return node


def _tree_depth(tree: Tree[Token]) -> int:
    best, stack = 0, [(tree, 1)]
    while stack:
        t, d = stack.pop()
        best = max(best, d)
        stack.extend((c, d + 1) for c in t.children if isinstance(c, Tree))
    return best


def _depth(node: Node) -> int:
    best, stack = 0, [(node, 1)]
    while stack:
        n, d = stack.pop()
        best = max(best, d)
        if isinstance(n, Op):
            stack.extend((a, d + 1) for a in n.args)
    return best


def variables(node: Node) -> list[str]:
    """The variables ``node`` mentions, in first-mention order, each once."""
    out: dict[str, None] = {}
    stack: list[Node] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Var):
            out.setdefault(n.name, None)
        elif isinstance(n, Op):
            stack.extend(reversed(n.args))
    return list(out)


# -- types ----------------------------------------------------------------------------

_ARITH = {"+", "-", "*", "//", "%"}
_ORDER = {"<", "<=", ">", ">="}
_LOGIC = {"and", "or", "->"}


def typecheck(node: Node, types: Mapping[str, Type]) -> Type:
    """The type of ``node`` given the variables' types; raise :class:`ExprError` if ill-typed."""
    if isinstance(node, Lit):
        return Type.INT if isinstance(node.value, int) else Type.STR
    if isinstance(node, Var):
        if node.name not in types:
            raise ExprError(f"unknown variable {node.name!r}")
        return types[node.name]
    args = [typecheck(a, types) for a in node.args]
    op = node.op

    def need(t: Type, what: str) -> None:
        if any(a is not t for a in args):
            got = ", ".join(a.value for a in args)
            raise ExprError(f"{what} needs {t.value} operands, got {got}")

    if op in _ARITH or op in ("neg", "abs", "min", "max"):
        need(Type.INT, f"`{'-' if op == 'neg' else op}`")
        return Type.INT
    if op in _ORDER:
        need(Type.INT, f"`{op}`")
        return Type.BOOL
    if op in ("==", "!="):
        if args[0] is not args[1]:
            raise ExprError(f"`{op}` compares a {args[0].value} with a {args[1].value}")
        return Type.BOOL
    if op in ("in", "notin"):
        want = int if args[0] is Type.INT else str
        if args[0] is Type.BOOL or any(not isinstance(v, want) for v in node.values):
            raise ExprError(f"`in` needs a set of {args[0].value}s")
        return Type.BOOL
    need(Type.BOOL, f"`{op}`")
    return Type.BOOL


# -- compilation to closures ----------------------------------------------------------


class EvalError(ArithmeticError):
    """Division or modulo by zero while evaluating."""


def _floordiv(a: int, b: int) -> int:
    if b == 0:
        raise EvalError("division by zero")
    return a // b


def _mod(a: int, b: int) -> int:
    if b == 0:
        raise EvalError("modulo by zero")
    return a % b


_BINARY: dict[str, Callable[[Value, Value], Value]] = {
    "+": lambda a, b: a + b,  # type: ignore[operator]
    "-": lambda a, b: a - b,  # type: ignore[operator]
    "*": lambda a, b: a * b,  # type: ignore[operator]
    "//": _floordiv,  # type: ignore[dict-item]
    "%": _mod,  # type: ignore[dict-item]
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">": lambda a, b: a > b,  # type: ignore[operator]
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
}


def compile_node(node: Node, slot: Mapping[str, int]) -> Compiled:
    """A closure computing ``node`` from an environment indexed by ``slot[name]``.

    The node must have type-checked; only ints, strings and booleans flow through it.
    """
    if isinstance(node, Lit):
        value = node.value
        return lambda env: value
    if isinstance(node, Var):
        i = slot[node.name]
        return lambda env: env[i]
    parts = [compile_node(a, slot) for a in node.args]
    op = node.op
    if op in _BINARY:
        f, left, right = _BINARY[op], parts[0], parts[1]
        return lambda env: f(left(env), right(env))
    if op == "and":
        a, b = parts
        return lambda env: bool(a(env)) and bool(b(env))
    if op == "or":
        a, b = parts
        return lambda env: bool(a(env)) or bool(b(env))
    if op == "->":
        a, b = parts
        return lambda env: (not a(env)) or bool(b(env))
    if op == "not":
        (a,) = parts
        return lambda env: not a(env)
    if op == "neg":
        (a,) = parts
        return lambda env: -a(env)  # type: ignore[operator]
    if op == "abs":
        (a,) = parts
        return lambda env: abs(a(env))  # type: ignore[arg-type]
    if op in ("min", "max"):
        pick = min if op == "min" else max
        return lambda env: pick(p(env) for p in parts)
    if op in ("in", "notin"):
        (a,) = parts
        members = frozenset(node.values)
        if op == "in":
            return lambda env: a(env) in members
        return lambda env: a(env) not in members
    raise ExprError(f"unknown operator {op!r}")  # pragma: no cover - the grammar has no others


_PREC = {"->": 1, "or": 2, "and": 3, "not": 4, "in": 5, "notin": 5, "==": 5, "!=": 5, "<": 5,
         "<=": 5, ">": 5, ">=": 5, "+": 6, "-": 6, "*": 7, "//": 7, "%": 7, "neg": 8}


def render(node: Node, parent: int = 0) -> str:
    """Canonical text of ``node`` (parenthesised only where needed)."""
    if isinstance(node, Lit):
        return f'"{node.value}"' if isinstance(node.value, str) else str(node.value)
    if isinstance(node, Var):
        return node.name
    op = node.op
    if op in FUNCTIONS:
        return f"{op}({', '.join(render(a) for a in node.args)})"
    prec = _PREC[op]
    if op == "neg":
        text = f"-{render(node.args[0], prec)}"
    elif op == "not":
        text = f"not {render(node.args[0], prec)}"
    elif op in ("in", "notin"):
        members = ", ".join(render(Lit(v)) for v in node.values)
        text = f"{render(node.args[0], prec)} {'in' if op == 'in' else 'not in'} {{{members}}}"
    else:
        text = f"{render(node.args[0], prec)} {op} {render(node.args[1], prec + 1)}"
    return f"({text})" if prec < parent or (prec == parent and prec == 5) else text
