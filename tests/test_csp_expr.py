"""The CSP expression language: grammar, types, evaluation, hostile text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_modulo.verifiers.csp import expr as ex

TYPES = {"a": ex.Type.INT, "b": ex.Type.INT, "c": ex.Type.INT, "s": ex.Type.STR}
SLOT = {"a": 0, "b": 1, "c": 2, "s": 3}


def value(text: str, a: int = 0, b: int = 0, c: int = 0, s: str = "x") -> object:
    node = ex.parse(text)
    ex.typecheck(node, TYPES)
    return ex.compile_node(node, SLOT)([a, b, c, s])


@pytest.mark.parametrize(("text", "env", "expected"), [
    ("a + b < c", (1, 2, 4), True),
    ("a + b < c", (1, 2, 3), False),
    ("a - b - c == -4", (1, 2, 3), True),       # left associative
    ("a * b + c == 10", (2, 3, 4), True),       # precedence
    ("a // b == -2", (-3, 2, 0), True),         # floor division
    ("a % b == 1", (-3, 2, 0), True),           # Python's modulo sign
    ("abs(a - b) != 3", (1, 4, 0), False),
    ("min(a, b, c) == 1 and max(a, b, c) == 3", (3, 1, 2), True),
    ("-a == b", (2, -2, 0), True),
    ("a in {1, 2, -3}", (-3, 0, 0), True),
    ("a not in {1, 2}", (1, 0, 0), False),
    ("not a == 1 or b == 2", (1, 2, 0), True),
    ("a == 1 -> b == 2", (1, 3, 0), False),
    ("a == 1 -> b == 2", (0, 3, 0), True),
    ("a == 1 -> b == 2 -> c == 3", (1, 2, 4), False),  # right associative
    ("(a + b) * c == 9", (1, 2, 3), True),
])
def test_values(text: str, env: tuple[int, int, int], expected: bool) -> None:
    assert value(text, *env) is expected


def test_strings() -> None:
    assert value('s == "red"', s="red") is True
    assert value("s in {'red', 'blue'}", s="green") is False


@pytest.mark.parametrize(("text", "fragment"), [
    ("a +", "ends too early"),
    ("a ** 2", "unexpected"),
    ("a == 'x'", "compares a integer with a string"),
    ("s < 'b'", "needs integer operands"),
    ("a + s == 1", "needs integer operands"),
    ("foo(a) == 1", "unknown function 'foo'"),
    ("__import__('os').system('true')", "unexpected character"),
    ("__import__('os') == 1", "unknown function '__import__'"),
    ("a.__class__ == 1", "unexpected character"),
    ("lambda: 1", "unexpected"),
    ("z == 1", "unknown variable 'z'"),
    ("a and b", "needs boolean operands"),
    ("1" * 40 + " == a", "more than 18 digits"),
    ("(" * 100 + "a" + ")" * 100 + " == 1", "nest deeper"),
    ("a == 1" + " and a == 1" * 600, "characters long"),
    ("", "empty"),
    ("abs(a, b) == 1", "takes 1 to 1 arguments"),
    ("a in {1, 'x'}", "needs a set of integers"),
])
def test_errors(text: str, fragment: str) -> None:
    with pytest.raises(ex.ExprError) as info:
        ex.typecheck(ex.parse(text), TYPES)
    assert fragment in str(info.value)


def test_division_by_zero_is_an_evaluation_error() -> None:
    with pytest.raises(ex.EvalError):
        value("a // b == 0", 1, 0)
    with pytest.raises(ex.EvalError):
        value("a % b == 0", 1, 0)


def test_variables_in_first_mention_order() -> None:
    assert ex.variables(ex.parse("c + a < b + a")) == ["c", "a", "b"]


def test_render_round_trips() -> None:
    for text in ["a + b * c == 7", "(a + b) * c == 7", "a - (b - c) == 0",
                 "not a == 1 or b in {1, 2}", "a == 1 -> b == 2"]:
        node = ex.parse(text)
        assert ex.parse(ex.render(node)) == node


@settings(max_examples=200, deadline=None)
@given(st.integers(-50, 50), st.integers(-50, 50), st.integers(-50, 50))
def test_arithmetic_agrees_with_python(a: int, b: int, c: int) -> None:
    node = ex.parse("a * b - c * 3 + abs(a)")
    assert ex.typecheck(node, TYPES) is ex.Type.INT
    assert ex.compile_node(node, SLOT)([a, b, c, ""]) == a * b - c * 3 + abs(a)
    if b != 0:
        node = ex.parse("a // b + a % b")
        assert ex.compile_node(node, SLOT)([a, b, c, ""]) == a // b + a % b
