"""The game24 decoding grammar, checked offline with xgrammar (vLLM's grammar engine)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_modulo.domains.game24 import expression_grammar, solve24

xgr = pytest.importorskip("xgrammar")
from xgrammar.testing import _is_grammar_accept_string  # noqa: E402


def _accepts(numbers: tuple[int, ...], expression: str) -> bool:
    grammar = xgr.Grammar.from_ebnf(expression_grammar(tuple(sorted(numbers))))
    return bool(_is_grammar_accept_string(grammar, json.dumps({"expression": expression},
                                                              separators=(",", ":"))))


def test_grammar_admits_solutions_and_only_the_given_numbers() -> None:
    assert _accepts((4, 4, 6, 8), "(4+8)*(6-4)")
    assert _accepts((3, 3, 8, 8), "8/(3-(8/3))")
    assert not _accepts((4, 4, 6, 8), "(4+8)*(6-5)")
    assert not _accepts((4, 4, 6, 8), "(4+8)*6")
    assert not _accepts((4, 4, 6, 8), "(4+8)*(6-4)+4")
    assert _accepts((24,), "24")
    assert _accepts((1, 2, 3, 4, 5, 6), "(((1+2)+3)+(4+5))+6")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 13), min_size=4, max_size=4))
def test_grammar_admits_every_witness(numbers: list[int]) -> None:
    witness = solve24(tuple(numbers))
    if witness is None:
        return
    # the solver's witness is fully parenthesised; strip the outermost pair
    assert witness.startswith("(") and witness.endswith(")")
    assert _accepts(tuple(numbers), witness[1:-1])


