"""The fast game24 expression reader builds exactly lark's tree (values, operators and every
position), and gives up (lark decides) on anything else."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from llm_modulo.verifiers.game24 import arith
from llm_modulo.verifiers.game24.arith import ExpressionSyntaxError, _parse_lark, _read_fast

SPACE = st.sampled_from(["", "", " ", "  ", "\t", "\r", "\f"])


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> str:
    """Well-formed texts: numbers, operations, extra parentheses, spaces anywhere."""
    if depth >= 4 or draw(st.booleans()):
        text = draw(st.from_regex(r"[0-9]{1,12}", fullmatch=True))
    else:
        left = draw(expressions(depth + 1))
        right = draw(expressions(depth + 1))
        op = draw(st.sampled_from("+-*/"))
        text = f"{left}{draw(SPACE)}{op}{draw(SPACE)}{right}"
    for _ in range(draw(st.integers(0, 2))):
        text = f"({draw(SPACE)}{text}{draw(SPACE)})"
    return f"{draw(SPACE)}{text}{draw(SPACE)}"


def lark_or_error(text: str) -> object:
    try:
        return _parse_lark(text)
    except ExpressionSyntaxError as exc:
        return exc


@settings(max_examples=400, deadline=None)
@given(expressions())
def test_well_formed_texts_read_fast_as_lark_reads_them(text: str) -> None:
    fast = _read_fast(text)
    assert fast is not None
    assert fast == _parse_lark(text)


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet="0123456789+-*/() \t\n()x", max_size=30))
def test_any_text_reads_as_lark_or_goes_to_lark(text: str) -> None:
    fast = _read_fast(text)
    if fast is not None:  # never a tree where lark has none, never a different one
        assert fast == lark_or_error(text)


def test_what_the_fast_reader_leaves_to_lark() -> None:
    for text in ("(4+8", "4+", "4 4", ")(", "4+\n8", "1234567890123+1", "4+8\u00a0", "",
                 "+4", "4*(", "()"):
        assert _read_fast(text) is None
    # lark's own error, word for word, through the public entry point
    arith._parse_checked.cache_clear()
    for text in ("(4+8", "4 4", "1234567890123+1"):
        try:
            arith.parse_expression(text)
        except ExpressionSyntaxError as exc:
            assert str(exc) == str(lark_or_error(text))
        else:
            raise AssertionError(f"{text!r} parsed")
