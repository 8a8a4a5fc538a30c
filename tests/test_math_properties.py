"""Property tests: random equivalent rewrites are accepted, random perturbations rejected."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_modulo.types import Candidate, Problem, Status
from llm_modulo.verifiers.math.verifier import MathVerifier

VERIFIER = MathVerifier()

# An expression tree: ("num", Fraction) | ("var", "x") | (op, left, right) | ("pow", base, n)
Tree = tuple  # type: ignore[type-arg]

numbers = st.builds(Fraction, st.integers(-20, 20), st.integers(1, 12))
leaves = st.one_of(numbers.map(lambda q: ("num", q)), st.just(("var", "x")),
                   st.just(("var", "y")))
trees = st.recursive(
    leaves,
    lambda kids: st.one_of(
        st.tuples(st.sampled_from(["add", "mul", "sub"]), kids, kids),
        st.tuples(st.just("pow"), kids, st.integers(1, 3)),  # 0^0 is refused as undefined
    ),
    max_leaves=6,
)


def num_text(q: Fraction, style: int) -> str:
    if q.denominator == 1:
        body = str(abs(q.numerator))
    elif style == 0:
        body = f"\\frac{{{abs(q.numerator)}}}{{{q.denominator}}}"
    elif style == 1:
        body = f"{abs(q.numerator)}/{q.denominator}"
    else:  # the same value with numerator and denominator scaled
        body = f"\\dfrac{{{3 * abs(q.numerator)}}}{{{3 * q.denominator}}}"
    return f"(-{body})" if q < 0 else f"({body})" if style == 1 else body


def render(tree: Tree, style: int, swap: bool) -> str:
    """Text of ``tree``; ``style`` picks the notation, ``swap`` commutes + and *."""
    kind = tree[0]
    if kind == "num":
        return num_text(tree[1], style)
    if kind == "var":
        return str(tree[1])
    if kind == "pow":
        base = render(tree[1], style, swap)
        return f"({base})^{{{tree[2]}}}" if style != 1 else f"({base})**{tree[2]}"
    a, b = render(tree[1], style, swap), render(tree[2], style, swap)
    if kind == "sub":
        return f"({a}) - ({b})"
    if swap:
        a, b = b, a
    op = {"add": "+", "mul": " \\cdot " if style == 0 else "*"}[kind]
    return f"({a}){op}({b})"


def distributed(tree: Tree) -> str:
    """``a * (b + c)`` spelled out as ``a*b + a*c`` at the top, else plain."""
    if tree[0] == "mul" and tree[2][0] == "add":
        a = render(tree[1], 1, False)
        b, c = render(tree[2][1], 1, False), render(tree[2][2], 1, False)
        return f"({a})*({b}) + ({a})*({c})"
    return render(tree, 1, False)


def decide(candidate: str, reference: str) -> Status:
    problem = Problem(domain="math_answer", payload={"answer": reference})
    return VERIFIER.check(problem, Candidate(raw=candidate, answer={"answer": candidate})).status


SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(trees, st.integers(0, 2), st.integers(0, 2), st.booleans())
def test_equivalent_rewrites_are_accepted(tree: Tree, s1: int, s2: int, swap: bool) -> None:
    assert decide(render(tree, s1, swap), render(tree, s2, not swap)) is Status.ACCEPT
    assert decide(distributed(tree), render(tree, s2, swap)) is Status.ACCEPT


@SETTINGS
@given(trees, st.integers(0, 2), numbers.filter(lambda q: q != 0))
def test_perturbations_are_rejected(tree: Tree, style: int, delta: Fraction) -> None:
    text = render(tree, style, False)
    moved = f"{text} + ({num_text(delta, 1)})"
    assert decide(moved, text) is Status.REJECT
    assert decide(text, moved) is Status.REJECT


@SETTINGS
@given(st.lists(numbers, min_size=1, max_size=5, unique=True), st.randoms())
def test_sets_ignore_order_tuples_do_not(values: list[Fraction], rnd: object) -> None:
    shuffled = list(values)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    as_set = "\\{" + ", ".join(num_text(v, 0) for v in values) + "\\}"
    as_set2 = "\\{" + ", ".join(num_text(v, 1) for v in shuffled) + "\\}"
    assert decide(as_set2, as_set) is Status.ACCEPT
    if len(values) >= 2 and shuffled != values:
        tup = "(" + ", ".join(num_text(v, 0) for v in values) + ")"
        tup2 = "(" + ", ".join(num_text(v, 1) for v in shuffled) + ")"
        assert decide(tup2, tup) is Status.REJECT
    missing = "\\{" + ", ".join(num_text(v, 1) for v in shuffled[1:]) + "\\}" if \
        len(values) > 1 else "\\emptyset"
    assert decide(missing, as_set) is Status.REJECT


@SETTINGS
@given(st.integers(-10**6, 10**6), st.integers(1, 6))
def test_decimal_is_exact_and_rounding_is_rejected(n: int, digits: int) -> None:
    q = Fraction(n, 10**digits)
    text = f"{q.numerator / q.denominator:.{digits}f}" if abs(n) < 10**15 else str(q)
    assert decide(text, f"\\frac{{{n}}}{{{10**digits}}}") is Status.ACCEPT
    third = Fraction(n * 3 + 1, 3)
    approx = f"{float(third):.{digits}f}"
    assert decide(approx, f"\\frac{{{third.numerator}}}{{{third.denominator}}}") is Status.REJECT


def _value_at(tree: Tree, x: Fraction, y: Fraction) -> complex:
    """Plain-Python value of a tree (an independent oracle, no sympy, no parser)."""
    kind = tree[0]
    if kind == "num":
        return complex(tree[1])
    if kind == "var":
        return complex(x if tree[1] == "x" else y)
    if kind == "pow":
        return _value_at(tree[1], x, y) ** tree[2]
    a, b = _value_at(tree[1], x, y), _value_at(tree[2], x, y)
    return {"add": a + b, "sub": a - b, "mul": a * b}[kind]


@SETTINGS
@given(trees, trees, st.integers(0, 2), st.integers(0, 2))
def test_any_accept_agrees_with_an_independent_evaluation(a: Tree, b: Tree, s1: int,
                                                            s2: int) -> None:
    status = decide(render(a, s1, False), render(b, s2, True))
    points = [(Fraction(3, 7), Fraction(-11, 5)), (Fraction(-2, 9), Fraction(13, 4)),
              (Fraction(5, 3), Fraction(1, 8))]
    gaps = [abs(_value_at(a, x, y) - _value_at(b, x, y)) for x, y in points]
    if status is Status.ACCEPT:
        assert max(gaps) < 1e-6
