"""Game of 24: known-valid / known-invalid catalogue, problem parsing, grammar, generator."""

from __future__ import annotations

import json
import random
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_modulo import Candidate, Problem, ProblemError, Status
from llm_modulo.domains.game24 import Game24Domain, solve24
from llm_modulo.pool import WorkerPool
from llm_modulo.verifiers.game24.arith import leaves, parse_expression, render
from llm_modulo.verifiers.game24.verifier import Game24Verifier

DOMAIN = Game24Domain()
VERIFIER = Game24Verifier()
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "game24" / "puzzles.jsonl"


def check(numbers: str, expression: str, target: int | None = None) -> tuple[Status, list[str]]:
    raw: dict[str, object] = {"numbers": numbers}
    if target is not None:
        raw["target"] = target
    problem = DOMAIN.parse_problem(raw)
    result = VERIFIER.check(problem, Candidate(raw=expression, answer={"expression": expression}))
    return result.status, [c.kind for c in result.critiques]


# (numbers, expression, target)
VALID: list[tuple[str, str, int]] = [
    ("4 4 6 8", "(4+8)*(6-4)", 24),
    ("4 4 6 8", "(8+4)*(6-4)", 24),
    ("4 4 6 8", "(6-4)*(8+4)", 24),
    ("4 4 6 8", "(8 - 6 + 4) * 4", 24),
    ("4 4 6 8", "((4+8)*(6-4))", 24),
    ("4 4 6 8", "(4+8)×(6−4)", 24),
    ("4 4 6 8", "(8−6+4)×4", 24),
    ("3 3 8 8", "8÷(3−8÷3)", 24),
    ("4 4 6 8", "  (4+8) * (6-4)  ", 24),
    ("4 4 6 8", "(4 + 8) * (6 − 4)", 24),
    ("1 1 4 6", "6*4*1*1", 24),
    ("1 1 4 6", "6*4/(1*1)", 24),
    ("1 1 11 11", "11+11+1+1", 24),
    ("1 1 3 8", "8*3*1*1", 24),
    ("1 1 1 8", "(1+1+1)*8", 24),
    ("6 6 6 6", "6+6+6+6", 24),
    ("6 6 6 6", "6*6-6-6", 24),
    ("3 3 8 8", "8/(3-8/3)", 24),
    ("1 5 5 5", "5*(5-1/5)", 24),
    ("5 5 5 1", "(5-1/5)*5", 24),
    ("1 3 4 6", "6/(1-3/4)", 24),
    ("2 2 6 6", "6*2+6*2", 24),
    ("12 12 12 12", "12+12+12-12", 24),
    ("10 10 4 4", "(10*10-4)/4", 24),
    ("2 3 4", "2*3*4", 24),
    ("24", "24", 24),
    ("3 7", "3*7", 21),
    ("1 2 3 4 5", "(5+4+3)*2*1", 24),
    ("0 4 6 8", "(8-4)*6+0", 24),
    # a stated value is judged too: it must be exactly the expression's value (issue 11)
    ("4 4 6 8", "(4+8)*(6-4) = 24", 24),
    ("4 4 6 8", "(4+8)*(6-4)=24", 24),
    ("4 5 6 10", "(4 * 5) + (10 - 6) = 20 + 4 = 24", 24),
    ("4 5 6 10", "(4 * 5) + (10 - 6) = 48/2", 24),
    ("3 7", "3*7 = 21", 21),
]

# (numbers, expression, target, expected critique kinds)
INVALID: list[tuple[str, str, int, list[str]]] = [
    ("4 4 6 8", "4*6+8-4", 24, ["value"]),
    ("4 4 6 8", "(4+8)*(6-4)+0", 24, ["number_extra"]),
    ("4 4 6 8", "(4+8)*2", 24, ["number_missing", "number_missing", "number_extra"]),
    ("4 4 6 8", "4*6", 24, ["number_missing", "number_missing"]),
    ("4 4 6 8", "4*6*(8-4)/4*4", 24, ["number_extra", "value"]),
    ("4 4 6 8", "8/(4-4)+6", 24, ["division_by_zero"]),
    ("4 4 6 8", "(4+8)*(6-4", 24, ["unparseable"]),
    ("4 4 6 8", "(4+8)(6-4)", 24, ["unparseable"]),
    ("4 4 6 8", "4^2+8", 24, ["unparseable"]),
    ("4 4 6 8", "-4+4*6+8", 24, ["unparseable"]),
    ("4 4 6 8", "48/2", 24, ["number_missing"] * 3 + ["number_extra"] * 2),
    ("4 4 6 8", "4.0*6+8-8", 24, ["unparseable"]),
    ("4 4 6 8", "", 24, ["unparseable"]),
    ("4 4 6 8", "24", 24, ["number_missing"] * 3 + ["number_extra"]),
    ("4 4 6 8", "__import__('os').system('true')", 24, ["unparseable"]),
    ("4 4 6 8", "lambda: 24", 24, ["unparseable"]),
    ("4 4 6 8", "(4).__class__", 24, ["unparseable"]),
    ("4 4 6 8", "\uff14*6", 24, ["unparseable"]),
    # a claim `= 25` sneaks nothing through: the expression and every stated value count
    ("4 4 6 8", "(4+8)*(6-4) = 25", 24, ["claim"]),
    ("4 4 6 8", "(4+8)*(6-4) = 12*2 = 25", 24, ["claim"]),
    ("4 4 6 8", "(4+8)*(6-4) = 12*3 = 24", 24, ["claim"]),
    ("4 4 6 8", "4*6+8-4 = 24", 24, ["value", "claim"]),
    ("4 4 6 8", "4*6+8-4 = 28", 24, ["value"]),
    ("4 4 6 8", "4*6 = 24", 24, ["number_missing", "number_missing"]),
    ("4 4 6 8", "24 = (4+8)*(6-4)", 24, ["number_missing"] * 3 + ["number_extra"]),
    ("4 4 6 8", "(4+8)*(6-4) = ", 24, ["unparseable"]),
    ("4 4 6 8", "(4+8)*(6-4) == 24", 24, ["unparseable"]),
    ("4 4 6 8", "(4+8)*(6-4) = 24 = 24 = 24 = 24 = 24", 24, ["unparseable"]),
    ("4 4 6 8", "(4+8)*(6-4) = 24/0", 24, ["claim"]),
    ("4 4 6 8", "(4+8)*(6-4) = x", 24, ["unparseable"]),
    ("4 4 6 8", "= 24", 24, ["unparseable"]),
    ("1 1 4 6", "(1+1+4)*4", 24, ["number_missing", "number_extra"]),
    ("3 3 8 8", "8/(3-8/3)+0*3", 24, ["number_extra", "number_extra"]),
    ("3 3 8 8", "8/3-8/3+3*8", 24, ["number_extra", "number_extra"]),
    ("1 2 3 5", "1*2*3*4", 24, ["number_missing", "number_extra"]),
    ("6 6 6 6", "6+6+6+6", 25, ["value"]),
    ("3 3 8 8", "8/(3-8/3)", 25, ["value"]),
]


@pytest.mark.parametrize(("numbers", "expression", "target"), VALID)
def test_catalogue_valid(numbers: str, expression: str, target: int) -> None:
    status, kinds = check(numbers, expression, target)
    assert status is Status.ACCEPT, kinds


@pytest.mark.parametrize(("numbers", "expression", "target", "kinds"), INVALID)
def test_catalogue_invalid(numbers: str, expression: str, target: int, kinds: list[str]) -> None:
    status, got = check(numbers, expression, target)
    assert status is Status.REJECT
    assert sorted(got) == sorted(kinds)


def test_critique_messages_say_what_and_where() -> None:
    problem = DOMAIN.parse_problem("4 4 6 8")
    r = VERIFIER.check(problem, Candidate(raw="", answer={"expression": "4*6+8-4"}))
    assert r.critiques[0].message == "the expression evaluates to 28, not 24"
    r = VERIFIER.check(problem, Candidate(raw="", answer={"expression": "8/(4-4)+6+4"}))
    div = next(c for c in r.critiques if c.kind == "division_by_zero")
    assert "`8/(4-4)`" in div.message and div.location == "columns 1-7"
    r = VERIFIER.check(problem, Candidate(raw="", answer={"expression": "(4+8)*(6-4"}))
    assert r.critiques[0].location is not None
    r = VERIFIER.check(problem, Candidate(raw="", answer={"expression": "4*6"}))
    assert {c.message for c in r.critiques} == {"the given number 8 is not used",
                                                "4 is used once but given twice"}


def test_fractional_value_is_reported_exactly() -> None:
    problem = DOMAIN.parse_problem("1 2 3 4")
    r = VERIFIER.check(problem, Candidate(raw="", answer={"expression": "1/2+3+4"}))
    assert r.critiques[0].message == "the expression evaluates to 15/2, not 24"


def test_no_answer_is_rejected_with_the_parse_error() -> None:
    problem = DOMAIN.parse_problem("4 4 6 8")
    r = VERIFIER.check(problem, Candidate(raw="hello", parse_error="no expression found"))
    assert r.status is Status.REJECT and r.critiques[0].message == "no expression found"


@pytest.mark.parametrize("text", [
    "(" * 5000 + "4" + ")" * 5000,
    "4+" * 400_000 + "4",
    "1" * 1_000_000,
    "10^10^10",
    "9" * 12 + "*" + "9" * 12,
    "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((4))))))))))))))"
    "))))))))))))))))))))))))))))))))))))))))))))))))))",
    "\x00\x01\x02",
    "4\n+4\n+6\n+8",
])
def test_hostile_expressions_end_in_reject_quickly(pool: WorkerPool, text: str) -> None:
    problem = DOMAIN.parse_problem("4 4 6 8")
    verdict = VERIFIER.verify(problem, Candidate(raw=text, answer={"expression": text}),
                              pool=pool)
    assert verdict.status is Status.REJECT
    assert verdict.elapsed_s < VERIFIER.timeout_s


# -- problems ---------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["4 4 6 8", "4,4,6,8", " 4, 4 ,6 8 ", [4, 4, 6, 8],
                                 {"numbers": "4 4 6 8"}, {"numbers": [4, 4, 6, 8], "target": 24}])
def test_problem_forms_agree(raw: object) -> None:
    assert DOMAIN.parse_problem(raw).hash == DOMAIN.parse_problem("4 4 6 8").hash  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["", "4 4 x 8", "1 2 3 4 5 6 7", {"nums": [1]}, [1.5, 2],
                                 {"numbers": [1, 2], "target": "24"}, "99999 1 1 1", [True, 1]])
def test_bad_problems_raise_problem_error(raw: object) -> None:
    with pytest.raises(ProblemError):
        DOMAIN.parse_problem(raw)  # type: ignore[arg-type]


def test_hash_depends_on_target_and_order() -> None:
    a = DOMAIN.parse_problem("4 4 6 8")
    assert a.hash != DOMAIN.parse_problem({"numbers": [4, 4, 6, 8], "target": 25}).hash
    assert a.hash == Problem(domain="game24", payload={"target": 24, "numbers": [4, 4, 6, 8]}).hash


def test_load_problem_from_file_and_json(tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    f.write_text(json.dumps({"numbers": [4, 4, 6, 8]}))
    assert DOMAIN.load_problem(str(f)).payload["numbers"] == [4, 4, 6, 8]
    assert DOMAIN.load_problem('{"numbers": "1 2 3 4"}').payload["numbers"] == [1, 2, 3, 4]
    with pytest.raises(ProblemError):
        DOMAIN.load_problem('{"numbers": ')


# -- candidate extraction ---------------------------------------------------------------

@pytest.mark.parametrize(("completion", "expected"), [
    ('{"expression":"(4+8)*(6-4)"}', "(4+8)*(6-4)"),
    ('Sure!\n```json\n{"expression": "(4+8)*(6-4)"}\n```', "(4+8)*(6-4)"),
    ("The answer is\n(4+8)*(6-4) = 24", "(4+8)*(6-4) = 24"),
    ("(4+8)*(6-4)", "(4+8)*(6-4)"),
    ("(4+8)*(6-4)\n= 24", "(4+8)*(6-4)"),
])
def test_candidate_extraction(completion: str, expected: str) -> None:
    cand = DOMAIN.parse_candidate(DOMAIN.parse_problem("4 4 6 8"), completion)
    assert cand.answer == {"expression": expected}


@pytest.mark.parametrize("completion", ["I don't know", '{"expr": 1}', "x" * 200_000])
def test_candidate_extraction_failures(completion: str) -> None:
    cand = DOMAIN.parse_candidate(DOMAIN.parse_problem("4 4 6 8"), completion)
    assert cand.answer is None and cand.parse_error


# Free-text and JSON replies to `4 5 6 10` as models write them (issue 11, items 5 and 8):
# (reply, verdict, critique kinds). Every accepted reply's expression is exactly 24 over the
# four numbers; two different final answers are a hedge.
REPLIES: list[tuple[str, Status, list[str]]] = [
    ("Let me try.\n4 * 5 = 20, 10 - 6 = 4, 20 + 4 = 24.\nAnswer: (4 * 5) + (10 - 6) = 24",
     Status.ACCEPT, []),
    ("Answer: (4 * 5) + (10 - 6) = 24.", Status.ACCEPT, []),
    ("**Answer:** (4 * 5) + (10 - 6) = 24", Status.ACCEPT, []),
    ("**Answer: (4 * 5) + (10 - 6) = 24**", Status.ACCEPT, []),
    ("**Answer:**\n\n$$(4 \\times 5) + (10 - 6) = 24$$", Status.ACCEPT, []),
    ("Final answer: (4*5)+(10-6)", Status.ACCEPT, []),
    ("So the answer is $\\boxed{(4 \\times 5) + (10 - 6)}$.", Status.ACCEPT, []),
    ("\\boxed{(4 \\times 5) + (10 - 6) = 24}", Status.ACCEPT, []),
    ("Answer: \\boxed{(4*5)+(10-6)}\n\nSo \\boxed{(4*5)+(10-6)}", Status.ACCEPT, []),
    ("Final Answer: The final answer is $(4 \\cdot 5)+(10-6)=20+4=24$. I hope it is correct.",
     Status.ACCEPT, []),
    ("Answer: (4 * 5) + (10 - 6) = 24, using every number once.", Status.ACCEPT, []),
    ("We get\n(4 * 5) + (10 - 6) = 24.", Status.ACCEPT, []),
    ("(4 × 5) + (10 − 6) = 24 ✓", Status.ACCEPT, []),
    ("- (4 * 5) + (10 - 6) = 24", Status.ACCEPT, []),
    ("```\n(4*5)+(10-6)\n```", Status.ACCEPT, []),
    ("Answer: (4*5)+(10-6)\n\nCheck: 20 + 4 = 24", Status.ACCEPT, []),
    ('{"expression": "(4*5)+(10-6) = 24"}', Status.ACCEPT, []),
    # a stated value that is not the expression's: REJECT, never a way round the check
    ("Answer: (4 * 5) + (10 - 6) = 25", Status.REJECT, ["claim"]),
    ("Answer: 4 * 5 + 10 + 6 = 24", Status.REJECT, ["value", "claim"]),
    ("Answer: 4 * 6 = 24", Status.REJECT, ["number_missing"] * 2),
    # hedges: two different final expressions, two stated values, repeated JSON keys
    ("Answer: (4*5)+(10-6)\nAnswer: (10-6)+(4*5)", Status.REJECT, ["hedge"]),
    ("\\boxed{(4*5)+(10-6)} or \\boxed{4*5+10-6}", Status.REJECT, ["hedge"]),
    ("Answer: \\boxed{1}\n\\boxed{(4*5)+(10-6)}", Status.REJECT, ["hedge"]),
    ("Answer: (4*5)+(10-6) = 24\nAnswer: (4*5)+(10-6) = 25", Status.REJECT, ["hedge"]),
    ("```\n(4*5)+(10-6)\n```\nor\n```\n4*6*(10-5)\n```", Status.REJECT, ["hedge"]),
    ('```json\n{"expression": "1"}\n```\n```json\n{"expression": "(4*5)+(10-6)"}\n```',
     Status.REJECT, ["hedge"]),
    ('{"expression": "1", "expression": "(4*5)+(10-6)"}', Status.REJECT, ["hedge"]),
    ('Here: {"expression": "(4*5)+(10-6)", "expression": "1"}', Status.REJECT, ["hedge"]),
    # the same answer twice is no hedge
    ('```json\n{"expression": "(4*5)+(10-6)"}\n```\nAgain:\n```json\n'
     '{"expression": "(4*5)+(10-6)"}\n```', Status.ACCEPT, []),
    ("Answer: ((4*5)+(10-6))\n\\boxed{(4*5)+(10-6)}", Status.ACCEPT, []),
    # review 1, item 20: the middle dot, and a bare target value after the expression
    ("Answer: 4·5 + 10 − 6", Status.ACCEPT, []),
    ("Answer: 4⋅5 + 10 – 6", Status.ACCEPT, []),
    ("4 * 5 + 10 - 6 = 24\n\nAnswer: 24", Status.ACCEPT, []),
    ("4 * 5 + 10 - 6 = 24\n\n**Answer:** $\\boxed{24}$", Status.ACCEPT, []),
    ("Answer: (4*5)+(10-6)\nAnswer: 24", Status.ACCEPT, []),
    ("(4*5)+(10-6)\n24", Status.ACCEPT, []),
    ("Answer: 24", Status.REJECT, ["unparseable"]),
    ("4+5+6+10 = 25\nAnswer: 24", Status.REJECT, ["value"]),
    ("Answer: 25", Status.REJECT, ["number_missing"] * 4 + ["number_extra", "value"]),
    ('```json\n{"expression": "(4*5)+(10-6)"}\n```\n{"expression": "4+5+6+10"}',
     Status.REJECT, ["hedge"]),
    # nothing readable: REJECT as before
    ("Answer: it cannot be done.", Status.REJECT, ["unparseable"]),
    ("I think 24 is reachable.", Status.REJECT, ["unparseable"]),
]


@pytest.mark.parametrize(("reply", "status", "kinds"), REPLIES)
def test_replies_catalogue(reply: str, status: Status, kinds: list[str]) -> None:
    problem = DOMAIN.parse_problem("4 5 6 10")
    result = VERIFIER.check(problem, DOMAIN.parse_candidate(problem, reply))
    assert result.status is status, [c.message for c in result.critiques]
    assert sorted(c.kind for c in result.critiques) == sorted(kinds)


def test_hedge_critique_names_the_key_and_the_answers() -> None:
    problem = DOMAIN.parse_problem("4 5 6 10")
    r = VERIFIER.check(problem, DOMAIN.parse_candidate(
        problem, '{"expression": "1", "expression": "(4*5)+(10-6)"}'))
    assert "'expression' is given more than once" in r.critiques[0].message
    r = VERIFIER.check(problem, DOMAIN.parse_candidate(
        problem, "\\boxed{(4*5)+(10-6)} or \\boxed{4*5+10-6}"))
    assert "`(4*5)+(10-6)`" in r.critiques[0].message and "`4*5+10-6`" in r.critiques[0].message


def test_a_bare_target_is_the_answer_when_it_is_the_one_given_number() -> None:
    for raw, reply, status in (({"numbers": [24]}, "Answer: 24", Status.ACCEPT),
                               ({"numbers": [24, 1]}, "24*1 = 24\nAnswer: 24", Status.ACCEPT),
                               ({"numbers": [24, 1]}, "Answer: 24", Status.REJECT)):
        problem = DOMAIN.parse_problem(raw)
        result = VERIFIER.check(problem, DOMAIN.parse_candidate(problem, reply))
        assert result.status is status, (raw, reply, [c.message for c in result.critiques])


# -- generator and solver ----------------------------------------------------------------

def test_generator_is_deterministic_and_solvable() -> None:
    a = DOMAIN.generate_problems(20, seed=7)
    b = DOMAIN.generate_problems(20, seed=7)
    assert [p.hash for p in a] == [p.hash for p in b]
    assert [p.hash for p in a] != [p.hash for p in DOMAIN.generate_problems(20, seed=8)]
    for p in a:
        witness = solve24(tuple(p.payload["numbers"]))
        assert witness is not None
        assert check(" ".join(map(str, p.payload["numbers"])), witness)[0] is Status.ACCEPT


def test_unsolvable_puzzle_has_no_solution() -> None:
    assert solve24((1, 1, 1, 1)) is None


@pytest.mark.skipif(not SHARED.exists(), reason="../shared data not present")
def test_shared_puzzles_parse_and_solutions_verify() -> None:
    rows = [json.loads(line) for line in SHARED.read_text().splitlines() if line.strip()]
    assert len(rows) > 1000
    rng = random.Random(0)
    for row in rng.sample(rows, 60):
        problem = DOMAIN.parse_problem(row)
        witness = solve24(tuple(problem.payload["numbers"]))
        assert witness is not None
        r = VERIFIER.check(problem, Candidate(raw=witness, answer={"expression": witness}))
        assert r.status is Status.ACCEPT


# -- property tests ----------------------------------------------------------------------

def _rewrites(expr: str, rng: random.Random) -> str:
    """An equivalent rewrite: commute + and * operands at random (via the AST)."""
    from llm_modulo.verifiers.game24.arith import BinOp, Num

    def go(node: object) -> object:
        if isinstance(node, Num):
            return node
        assert isinstance(node, BinOp)
        left, right = go(node.left), go(node.right)
        if node.op in "+*" and rng.random() < 0.5:
            left, right = right, left
        return BinOp(node.op, left, right, 0, 0)  # type: ignore[arg-type]

    return render(go(parse_expression(expr)))  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 13), min_size=4, max_size=4), st.integers(0, 10_000))
def test_equivalent_rewrites_accepted_perturbations_rejected(numbers: list[int],
                                                             seed: int) -> None:
    witness = solve24(tuple(numbers))
    if witness is None:
        return
    text = " ".join(map(str, numbers))
    rng = random.Random(seed)
    rewritten = _rewrites(witness, rng)
    assert check(text, rewritten)[0] is Status.ACCEPT
    assert check(text, rewritten, target=25)[0] is Status.REJECT
    assert check(text, f"({rewritten})+1")[0] is Status.REJECT
    bumped = " ".join(map(str, [numbers[0] + 1, *numbers[1:]]))
    assert check(bumped, rewritten)[0] is Status.REJECT


# -- property: decorations never sneak a wrong answer through -------------------------------

_WRAPPERS = [
    "{e}", "Answer: {e}", "**Answer:** {e}.", "The answer is\n{e}", "$\\boxed{{{e}}}$",
    "Final Answer: The final answer is ${e}$. I hope it is correct.", "```\n{e}\n```",
    "Let me think.\n4 + 4 = 8\n{e}", '{{"expression": "{e}"}}', "- {e} ✓",
]


@st.composite
def _tree(draw: st.DrawFn, numbers: list[int]) -> tuple[str, Fraction | None, list[int]]:
    """A random expression over ``numbers`` (in some order): text, exact value, leaves."""
    items: list[tuple[str, Fraction | None, list[int]]] = [
        (str(n), Fraction(n), [n]) for n in draw(st.permutations(numbers))]
    while len(items) > 1:
        i = draw(st.integers(0, len(items) - 2))
        (ta, va, la), (tb, vb, lb) = items[i], items[i + 1]
        op = draw(st.sampled_from("+-*/"))
        value: Fraction | None = None
        if va is not None and vb is not None:
            if op == "/":
                value = None if vb == 0 else va / vb
            else:
                value = {"+": va + vb, "-": va - vb, "*": va * vb}[op]
        items[i : i + 2] = [(f"({ta}{op}{tb})", value, la + lb)]
    return items[0]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_no_reply_is_accepted_unless_its_expression_is_exactly_24(data: st.DataObject) -> None:
    numbers = data.draw(st.lists(st.integers(1, 13), min_size=4, max_size=4))
    used = data.draw(st.sampled_from([numbers, numbers[:3], [*numbers, 1]]))
    text, value, leaves_ = data.draw(_tree(used))
    witness = solve24(tuple(numbers))
    if witness is not None and data.draw(st.booleans()):   # a right answer, so ACCEPTs occur
        text, value, leaves_ = witness, Fraction(24), list(numbers)
    claim = data.draw(st.sampled_from(["", " = 24", " = 25", "=24", " = 12*2", " = 23"]))
    reply = data.draw(st.sampled_from(_WRAPPERS)).format(e=text + claim)
    if data.draw(st.booleans()):
        other, _, _ = data.draw(_tree(numbers))
        reply += "\n" + data.draw(st.sampled_from(_WRAPPERS)).format(e=other)
    problem = DOMAIN.parse_problem({"numbers": numbers})
    result = VERIFIER.check(problem, DOMAIN.parse_candidate(problem, reply))
    if result.status is Status.ACCEPT:
        accepted = str(result.evidence["expression"])
        assert result.evidence["value"] == "24"
        assert sorted(leaves(parse_expression(accepted))) == sorted(numbers)
        if accepted == render(parse_expression(text)):
            assert value == 24 and sorted(leaves_) == sorted(numbers)
            assert claim.replace(" ", "") in ("", "=24", "=12*2")
