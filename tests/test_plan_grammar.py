"""The planning domains' decoding grammar: only well-formed, well-typed actions.

Checked with xgrammar (vLLM's grammar engine) where it is installed, and always with the same
EBNF read by lark (the notations agree on what these grammars use).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lark import Lark
from lark.exceptions import LarkError

from llm_modulo.domains.planning import (
    BlocksworldDomain,
    MysteryBlocksworldDomain,
    PDDLDomain,
    blocksworld_plan,
    packaged_templates,
)
from llm_modulo.structured import Grammar

DATA = Path(__file__).parent / "data" / "pddl"


def _lark_accepts(ebnf: str, text: str) -> bool:
    parser = Lark(ebnf.replace(" ::= ", ": "), start="root", parser="earley",
                  lexer="dynamic_complete")
    try:
        parser.parse(text)
    except LarkError:
        return False
    return True


def _xgrammar_accepts(ebnf: str, text: str) -> bool | None:
    try:
        import xgrammar as xgr
        from xgrammar.testing import _is_grammar_accept_string
    except ImportError:
        return None
    return bool(_is_grammar_accept_string(xgr.Grammar.from_ebnf(ebnf), text))


def accepts(ebnf: str, plan: list[str]) -> bool:
    text = json.dumps({"plan": plan}, separators=(",", ":"))
    verdict = _lark_accepts(ebnf, text)
    other = _xgrammar_accepts(ebnf, text)
    assert other is None or other == verdict
    return verdict


def test_blocksworld_grammar_admits_english_plans_only_of_its_objects() -> None:
    dom = BlocksworldDomain()
    problem = dom.parse_problem({"blocks": 4, "seed": 2})
    grammar = dom.structured_output(problem)
    assert isinstance(grammar, Grammar)
    templates = packaged_templates("blocksworld")
    english = []
    for step in blocksworld_plan(problem):
        action, *args = step.strip("()").split()
        english.append(templates.action_text(action, args) or "")
    assert accepts(grammar.ebnf, english)
    assert accepts(grammar.ebnf, [])
    assert not accepts(grammar.ebnf, ["pick up the green block"])  # not in this problem
    assert not accepts(grammar.ebnf, ["stack the red block"])  # arity
    assert not accepts(grammar.ebnf, ["(pick-up a)"])


def test_mystery_grammar_uses_its_names() -> None:
    dom = MysteryBlocksworldDomain()
    problem = dom.parse_problem({"blocks": 3, "seed": 0})
    ebnf = dom.structured_output(problem).ebnf  # type: ignore[union-attr]
    assert accepts(ebnf, ["attack object a", "overcome object a from object b"])
    assert not accepts(ebnf, ["pick up the red block"])


def test_pddl_grammar_is_typed() -> None:
    dom = PDDLDomain()
    problem = dom.parse_problem({"domain": str(DATA / "features-domain.pddl"),
                                 "problem": str(DATA / "features-problem.pddl")})
    ebnf = dom.structured_output(problem).ebnf  # type: ignore[union-attr]
    good = ["(light-all r1)", "(pick r1 ball1 hall)", "(move r1 hall kitchen)",
            "(drop r1 ball1 kitchen)"]
    assert accepts(ebnf, good)
    assert not accepts(ebnf, ["(pick r1 hall hall)"])  # a room where a box or ball goes
    assert not accepts(ebnf, ["(move r1 kitchen)"])
    assert not accepts(ebnf, ["(fly r1)"])


@pytest.mark.parametrize("name", ["(weird\"name)", "back\\slash"])
def test_names_a_grammar_cannot_spell_fall_back_to_the_json_schema(name: str) -> None:
    from llm_modulo.structured import JsonSchema

    dom = PDDLDomain()
    problem_text = (DATA / "features-problem.pddl").read_text().replace("box1",
                                                                        name.strip("()"))
    problem = dom.parse_problem({"domain": str(DATA / "features-domain.pddl"),
                                 "problem": problem_text})
    assert isinstance(dom.structured_output(problem), JsonSchema)
