"""Review 3 (issue 11), game24: a second answer beside the JSON one (item 2), corrections
after the final answer (item 4), the same expression written twice (item 12) and
step-by-step solutions, ``x`` and ``\\frac`` (item 13)."""

from __future__ import annotations

import pytest

from llm_modulo.domains.game24 import numbers_text
from llm_modulo.registry import get_domain, get_verifier
from llm_modulo.types import Status
from llm_modulo.verifiers.game24.arith import evaluate, leaves, parse_expression
from llm_modulo.verifiers.game24.chain import read_chain

JSON = '{"expression": "(4*5)+(10-6)"}'


def verdict(numbers: str, completion: str) -> tuple[Status, list[str], list[str]]:
    d = get_domain("game24")
    problem = d.parse_problem(numbers)
    result = get_verifier("game24").check(problem, d.parse_candidate(problem, completion))
    return (result.status, [c.kind for c in result.critiques],
            [c.message for c in result.critiques])


CASES = [
    # item 2: a JSON answer and another answer in another form
    (JSON + "\n\\boxed{4+5+6+10}", Status.REJECT, "hedge"),
    (JSON + "\nAnswer: 4+5+6+10", Status.REJECT, "hedge"),
    ("\\boxed{4+5+6+10}\n" + JSON, Status.REJECT, "hedge"),
    (JSON + '\n{"expression": "4+5+6+10",}', Status.UNKNOWN, "undecided"),
    (JSON + "\n{'expression': '4+5+6+10'}", Status.UNKNOWN, "undecided"),
    (JSON + "\nAnswer: 4*5 = 20, 10-6 = 5, 20+5 = 25", Status.UNKNOWN, "undecided"),
    (JSON + "\n\\boxed{(4*5)+(10-6)}", Status.ACCEPT, None),
    (JSON + "\nAnswer: 4*5 + (10 - 6) = 24", Status.ACCEPT, None),
    (JSON + "\nAnswer: 24", Status.ACCEPT, None),                   # restates the target
    (JSON + "\nCheck: 4*5 = 20, 10-6 = 4, 20+4 = 24 ✓", Status.ACCEPT, None),
    (JSON + "\nAnswer: 4*5 = 20, 10-6 = 4, 20+4 = 24", Status.ACCEPT, None),
    # item 4: text after the final answer that states or announces another one
    (JSON + "\nWait, actually: 4+5+6+10", Status.UNKNOWN, "undecided"),
    ("Answer: (4*5)+(10-6)\nWait, actually: 4+5+6+10", Status.UNKNOWN, "undecided"),
    ("Answer: (4*5)+(10-6)\nHold on, that is wrong.", Status.UNKNOWN, "undecided"),
    ("Answer: (4*5)+(10-6)\nOr 4+5+6+10.", Status.UNKNOWN, "undecided"),
    ("Answer: (4*5)+(10-6)\nSince 4*5 = 21.", Status.UNKNOWN, "undecided"),
    ("Answer: (4*5)+(10-6)\nThis uses 4*5 and 10-6. I hope it is correct.", Status.ACCEPT,
     None),
    # item 12: the same expression written differently
    (JSON + '\nSo {"expression": "4*5 + (10-6)"}', Status.ACCEPT, None),
    (JSON + '\nSo {"expression": "(4 * 5) + (10 - 6) = 24"}', Status.ACCEPT, None),
    (JSON + '\nSo {"expression": "4+5+6+10"}', Status.REJECT, "hedge"),
    # item 13: step-by-step solutions, x and \frac
    ("4*5 = 20\n10-6 = 4\n20+4 = 24", Status.ACCEPT, None),
    ("Answer: 4*5 = 20, 10-6 = 4, 20+4 = 24", Status.ACCEPT, None),
    ("Step 1: 4 x 5 = 20\nStep 2: 10 - 6 = 4\nStep 3: 20 + 4 = 24", Status.ACCEPT, None),
    ("1. 10 − 6 = 4\n2. 4 × 5 = 20\n3. 20 + 4 = 24", Status.ACCEPT, None),
    ("4*5 = 20\n10-6 = 4\nAnswer: 20+4 = 24", Status.ACCEPT, None),
    ("Answer: (4 x 5) + (10 - 6)", Status.ACCEPT, None),
    ("4*5 = 21\n10-6 = 4\n21+4 = 25", Status.REJECT, "step"),          # a false step
    ("4*5 = 20\n10-6 = 4\n20+4 = 25", Status.REJECT, "step"),
    ("4+5 = 9\n9+6 = 15\n15+10 = 25", Status.REJECT, "step"),          # ends at 25
    ("4*5 = 20\n20+4 = 24", Status.UNKNOWN, "undecided"),              # 4 from nowhere
    ("4*5 = 20\n10-6 = 4", Status.UNKNOWN, "undecided"),               # values left over
    ("4*5 = 20\nten minus six is four\n20+4 = 24", Status.UNKNOWN, "undecided"),
]


@pytest.mark.parametrize(("completion", "status", "kind"), CASES)
def test_review3_game24(completion: str, status: Status, kind: str | None) -> None:
    got, kinds, messages = verdict("4 5 6 10", completion)
    assert got is status, (completion, messages)
    if kind is not None:
        assert kinds[0] == kind, messages


def test_a_false_step_is_named() -> None:
    _, _, messages = verdict("4 5 6 10", "4*5 = 20\n10-6 = 5\n20+5 = 25")
    assert messages[0].startswith("step 2 `10-6 = 5` is false"), messages


@pytest.mark.parametrize(("numbers", "completion", "status"), [
    ("3 3 8 8", "Answer: \\frac{8}{3 - \\frac{8}{3}}", Status.ACCEPT),
    ("3 3 8 8", "\\boxed{\\dfrac{8}{3-\\dfrac{8}{3}}}", Status.ACCEPT),
    ("3 3 8 8", "Answer: \\frac{8}{3} + 8", Status.REJECT),           # numbers, provably
    ("3 3 8 8", "Answer: \\frac{8}{3 - \\frac{8}{3}", Status.REJECT),  # unclosed: no expression
])
def test_fractions(numbers: str, completion: str, status: Status) -> None:
    assert verdict(numbers, completion)[0] is status


def test_chain_builds_the_expression() -> None:
    result = read_chain(["10-6 = 4", "4*5 = 20", "20+4 = 24"], [4, 5, 6, 10], 24)
    assert result.expression is not None and result.value == 24
    tree = parse_expression(result.expression)
    assert evaluate(tree) == 24 and sorted(leaves(tree)) == [4, 5, 6, 10]
    # an intermediate equal to a given number: either may be used, the chain stays exact
    assert read_chain(["6-5 = 1", "1*4 = 4", "4+10 = 14"], [4, 5, 6, 10], 24).wrong


@pytest.mark.parametrize(("text", "numbers"), [
    ("4 5 6 10", [4, 5, 6, 10]), ("4, 5,6 ,10", [4, 5, 6, 10]), ("-1 2", [-1, 2]),
    ("4,,5", None), (",4", None), ("4 x", None), ("", None), ("1" + " " * 60_000 + "x", None),
])
def test_numbers_text(text: str, numbers: list[int] | None) -> None:
    assert numbers_text(text) == numbers
