"""Several answers in one reply are a hedge, in every domain (issue 11, item 5): a JSON key
given twice (at any depth) or fenced blocks with different answers are a REJECT whose
critique says so, never a verdict on whichever answer happens to be read."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest

from llm_modulo.jsonanswer import (
    HEDGE,
    DuplicateKeyError,
    duplicate_key,
    loads_checked,
    missing_answer_critique,
    object_spans,
    scan_answers,
)
from llm_modulo.registry import get_domain, get_verifier
from llm_modulo.types import Candidate, Problem, Status

# domain -> (a problem, the answer field, one answer, a different answer)
BASE_DOMAINS: dict[str, tuple[Any, str, Any, Any]] = {
    "game24": ("4 5 6 10", "expression", "(4*5)+(10-6)", "1"),
    "math_answer": ({"question": "q", "answer": "24"}, "answer", "24", "1"),
    "equation": ("x^2 - 5x + 6 = 0", "answer", "x = 2, x = 3", "x = 2"),
}
CSP_DOMAINS: dict[str, tuple[Any, str, Any, Any]] = {
    "graph_coloring": ({"edges": [[0, 1]], "colors": 2}, "coloring", {"0": 1, "1": 2},
                       {"0": 2, "1": 1}),
    "n_queens": (4, "columns", [2, 4, 1, 3], [3, 1, 4, 2]),
    "csp": ({"variables": {"a": [1, 2]}}, "assignment", {"a": 1}, {"a": 2}),
}
ALL = {**BASE_DOMAINS, **CSP_DOMAINS}
#: Domains whose two answers ("x = 2, x = 3", "x = 2") the shared comparison can show neither
#: equal nor different (no domain hook yet): two such JSON answers are UNKNOWN, not a hedge.
#: Domains whose two answers the shared comparison cannot tell apart (none now: the math
#: domains compare two answers with the math verifier, so `x = 2, x = 3` and `x = 2` are
#: proven different and a reply giving both hedges).
UNDECIDED_TEXTS: set[str] = set()
MATH_DOMAINS = {"math_answer", "equation"}


def verdict(domain: str, completion: str) -> tuple[Status, list[str], list[str]]:
    d = get_domain(domain)
    raw = ALL[domain][0]
    problem = d.parse_problem(raw if not isinstance(raw, int) else str(raw))
    result = get_verifier(d.verifier).check(problem, d.parse_candidate(problem, completion))
    return (result.status, [c.kind for c in result.critiques],
            [c.message for c in result.critiques])


def dup(key: str, first: Any, second: Any) -> str:
    return f'{{"{key}": {json.dumps(first)}, "{key}": {json.dumps(second)}}}'


def fenced(*answers: str) -> str:
    return "\n\nor\n\n".join(f"```json\n{a}\n```" for a in answers)


# -- the shared reader --------------------------------------------------------------------

@pytest.mark.parametrize(("text", "key"), [
    ('{"answer": "1", "answer": "24"}', "answer"),
    ('{"a": {"b": 1, "b": 2}}', "b"),
    ('[{"x": 1}, {"y": [{"z": 0, "z": 0}]}]', "z"),      # same value twice: still a hedge
    ('{"a": 1, "b": {"a": 2}}', None),                   # one key per object is fine
    ('{"a": 1, "a": 2', None),                           # not JSON at all
    ("the answer is 24", None),
])
def test_duplicate_keys_are_found_at_any_depth(text: str, key: str | None) -> None:
    if text.lstrip().startswith("{"):
        assert duplicate_key(text) == key
    if key is None:
        return
    with pytest.raises(DuplicateKeyError) as info:
        loads_checked(text)
    assert info.value.key == key


def test_a_long_repeated_key_is_shortened_in_the_message() -> None:
    key = "k" * 500
    found = duplicate_key(dup(key, 1, 2))
    assert found is not None and len(found) == 60 and found.endswith("...")


def test_hedge_critique_kind() -> None:
    assert missing_answer_critique(HEDGE + "x", "none").kind == "hedge"
    assert missing_answer_critique("no JSON", "none").kind == "unparseable"
    assert missing_answer_critique(None, "none").message == "none"


# -- every domain -------------------------------------------------------------------------

@pytest.mark.parametrize("domain", sorted(ALL))
def test_a_repeated_answer_key_is_a_hedge(domain: str) -> None:
    _, field, one, other = ALL[domain]
    for text in (dup(field, other, one), "Here it is: " + dup(field, other, one),
                 fenced(dup(field, other, one))):
        status, kinds, messages = verdict(domain, text)
        assert status is Status.REJECT and kinds == ["hedge"], (text, messages)
        assert repr(field) in messages[0]


@pytest.mark.parametrize("domain", sorted(ALL))
def test_fenced_blocks_with_different_answers_are_a_hedge(domain: str) -> None:
    _, field, one, other = ALL[domain]
    status, kinds, _ = verdict(domain, fenced(json.dumps({field: other}),
                                              json.dumps({field: one})))
    assert status is Status.REJECT and kinds == ["hedge"]
    # the same answer twice is no hedge: it is judged
    status, kinds, _ = verdict(domain, fenced(json.dumps({field: one}), json.dumps({field: one})))
    assert status is Status.ACCEPT, kinds


@pytest.mark.parametrize("domain", sorted(BASE_DOMAINS))
def test_a_repeated_key_inside_the_answer_is_a_hedge(domain: str) -> None:
    _, field, one, _ = ALL[domain]
    text = json.dumps({field: one, "note": {"k": 1}})[:-2] + ', "k": 2}}'
    status, kinds, messages = verdict(domain, text)
    assert status is Status.REJECT and kinds == ["hedge"] and "'k'" in messages[0]


def test_planning_reads_a_repeated_plan_key_as_a_hedge() -> None:
    domain = get_domain("blocksworld")
    problem = Problem(domain="blocksworld", payload={})
    cand = domain.parse_candidate(problem, '{"plan": ["(pick-up a)"], "plan": []}')
    assert cand.answer is None and cand.parse_error is not None
    assert cand.parse_error.startswith(HEDGE)
    cand = domain.parse_candidate(problem, fenced('{"plan": ["(pick-up a)"]}', '{"plan": []}'))
    assert cand.answer is None and (cand.parse_error or "").startswith(HEDGE)


def test_csp_repeats_inside_the_answer_stay_repeated_variables() -> None:
    status, kinds, messages = verdict("csp", '{"assignment": {"a": 1, "a": 2}}')
    assert status is Status.REJECT and kinds == ["repeated"], messages


def test_math_verifier_refuses_a_json_answer_with_a_repeated_key() -> None:
    verifier = get_verifier("math")
    problem = Problem(domain="math_answer", payload={"answer": "24"})
    for text in ('{"answer": "1", "answer": "24"}', '{"answer": "24", "answer": "24"}'):
        result = verifier.check(problem, Candidate(raw=text, answer={"answer": text}))
        assert result.status is Status.REJECT
        assert [c.kind for c in result.critiques] == ["hedge"]


def test_math_text_extraction_refuses_a_repeated_key() -> None:
    from llm_modulo.domains.math_answer import answer_candidate

    cand = answer_candidate('{"answer": "1", "answer": "24"}')
    assert cand.answer is None and (cand.parse_error or "").startswith(HEDGE)


# -- review 1: JSON answers outside code fences, case-variant keys (items 2 and 10c) ---------

@pytest.mark.parametrize("domain", sorted(ALL))
def test_a_json_answer_outside_a_fence_is_a_second_answer(domain: str) -> None:
    _, field, one, other = ALL[domain]
    a, b = json.dumps({field: one}), json.dumps({field: other})
    for text in (fenced(a) + f"\nActually: {b}", f"{b}\n" + fenced(a), f"{a} or maybe {b}",
                 fenced(a) + f"\n```python\n{b}\n```", f"Here {{ is {b} }} then {a}"):
        status, kinds, messages = verdict(domain, text)
        if domain in UNDECIDED_TEXTS and text.count("```json") < 2:
            # review 3, item 12: texts the default comparison cannot tell apart are UNKNOWN
            # (the math domains' own fenced-block rule still calls fenced pairs a hedge)
            assert status is Status.UNKNOWN and kinds == ["undecided"], (text, messages)
            continue
        assert status is Status.REJECT and kinds == ["hedge"], (text, messages)
        assert "2 different answers" in messages[0]
    # the same answer in and out of a fence, and objects that give no answer, are no hedge
    for text in (fenced(a) + f"\nSo: {a}", f'{{"note": "a {{ brace"}} then {a}',
                 f'\\boxed{{{{x}}}} and {{"reasoning": {b}}} and {a}'):
        status, kinds, messages = verdict(domain, text)
        if domain in MATH_DOMAINS and "boxed" in text:
            # the math domains read a box as a stated answer: `x` beside the JSON answer is a
            # hedge where the two are proven different, else undecided; never an ACCEPT
            assert status is not Status.ACCEPT, (text, messages)
            continue
        assert status is Status.ACCEPT, (text, messages)


@pytest.mark.parametrize("domain", sorted(ALL))
def test_an_answer_key_repeated_in_another_case_is_a_hedge(domain: str) -> None:
    _, field, one, other = ALL[domain]
    for first, second in ((one, other), (one, one)):
        text = (f'{{"{field}": {json.dumps(first)}, '
                f'"{field.capitalize()}": {json.dumps(second)}}}')
        status, kinds, messages = verdict(domain, text)
        assert status is Status.REJECT and kinds == ["hedge"], (text, messages)
        assert repr(field.capitalize()) in messages[0]


def test_csp_variables_differing_in_case_are_not_a_hedge() -> None:
    _, kinds, messages = verdict("csp", '{"assignment": {"a": 1, "A": 2}}')
    assert "hedge" not in kinds, messages


@pytest.mark.parametrize(("text", "spans"), [
    ('x {"a": 1} y {"b": "}"} z', ['{"a": 1}', '{"b": "}"}']),
    ('{"a": {"b": 1}}', ['{"a": {"b": 1}}']),                   # the outer one only
    ('\\boxed{3} {1, 2} {"a": 1}', ['{"a": 1}']),               # LaTeX and sets are no JSON
    ('Let S = {1, 2 and "so\n{"a": 1}', ['{"a": 1}']),          # an unclosed brace, a stray "
    ('{ prose {"a": 1} }', ['{"a": 1}']),
    ('{"a": "\\"}"}', ['{"a": "\\"}"}']),                     # an escaped quote in a string
    ("{}", ["{}"]),
    ('{"a": 1', []),
])
def test_object_spans(text: str, spans: list[str]) -> None:
    assert [text[a:b] for a, b in object_spans(text)] == spans


@pytest.mark.parametrize("text", [
    '{"a":' * 20_000, "{" * 100_000, '{"' * 50_000, '{"a": {"b": "}' * 7_000,
    '{"a":' * 5_000 + "1" + "}" * 5_000, '{"answer": "1"} ' * 6_000,
    "".join('{"a":' for _ in range(8_000)) + "1" + "} x" * 8_000,
])
def test_the_scan_is_linear_on_hostile_replies(text: str) -> None:
    start = time.perf_counter()
    scan_answers(text, ("answer",))
    assert time.perf_counter() - start < 1.0


# -- the issue's command -------------------------------------------------------------------

@pytest.mark.parametrize(("domain", "problem", "candidate"), [
    ("math_answer", '{"question":"q","answer":"24"}', '{"answer": "1", "answer": "24"}'),
    ("game24", "4 5 6 10", '{"expression": "1", "expression": "(4*5)+(10-6)"}'),
    # review 1, item 2: a JSON answer outside a fence is a second answer
    ("math_answer", '{"question":"q","answer":"24"}',
     '```json\n{"answer": "24"}\n```\nActually: {"answer": "1"}'),
    ("math_answer", '{"question":"q","answer":"24"}',
     '{"answer": "1"}\n```json\n{"answer": "24"}\n```'),
    ("game24", "4 5 6 10",
     '```json\n{"expression": "(4*5)+(10-6)"}\n```\n{"expression": "4+5+6+10"}'),
    ("math_answer", '{"question":"q","answer":"24"}',
     '```json\n{"answer": "24"}\n```\n```python\n{"answer": "1"}\n```'),
    # item 10c: keys equal ignoring case
    ("math_answer", '{"question":"q","answer":"24"}', '{"answer": "24", "Answer": "1"}'),
])
def test_issue_commands_reject(domain: str, problem: str, candidate: str) -> None:
    r = subprocess.run([sys.executable, "-m", "llm_modulo.cli", "check", "--domain", domain,
                        "--problem", problem, "--candidate", candidate, "--json"],
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    out = json.loads(r.stdout)
    assert out["status"] == "reject" and out["critiques"][0]["kind"] == "hedge", r.stderr


# -- review 3: hedges must be proven (items 2, 5, 12) ------------------------------------------

from llm_modulo.jsonanswer import UNDECIDED, plain_same, scan_reply  # noqa: E402

MATH = ({"question": "How many?", "answer": "24"}, "answer")


def math_verdict(completion: str) -> tuple[Status, list[str]]:
    d = get_domain("math_answer")
    problem = d.parse_problem(MATH[0])
    result = get_verifier("math").check(problem, d.parse_candidate(problem, completion))
    return result.status, [c.kind for c in result.critiques]


@pytest.mark.parametrize("second", [
    '{"answer": "1",}', "{'answer': '1'}", '{"answer": "1"', '{"answer": "1\n"}',
    "{answer: 1}", '{"answer" : "1", "note": }',
])
def test_an_answer_object_that_is_not_json_beside_a_valid_one_is_unknown(second: str) -> None:
    for text in ('{"answer": "24"}\n' + second, second + '\n\n{"answer": "24"}'):
        assert math_verdict(text) == (Status.UNKNOWN, ["undecided"]), text
    assert verdict("game24", '{"expression": "(4*5)+(10-6)"}\n'
                   + second.replace("answer", "expression"))[:2] == (Status.UNKNOWN,
                                                                      ["undecided"])


def test_the_answer_key_inside_valid_json_is_no_stray_object() -> None:
    assert math_verdict('{"reasoning": {"answer": "x"}, "note": "\\"answer\\": 1"}\n'
                        '{"answer": "24"}')[0] is Status.ACCEPT


@pytest.mark.parametrize("second", ['{"answer": 24}', '{"answer": "24.0"}',
                                    '{"answer": "\\\\boxed{24}"}', '{"answer": " 24 "}',
                                    '{"answer": "$24$"}', '{"answer": 24.0}'])
def test_the_same_answer_spelled_differently_is_no_hedge(second: str) -> None:
    assert math_verdict('{"answer": "24"}\n\nSo: ' + second)[0] is Status.ACCEPT


@pytest.mark.parametrize(("a", "b", "same"), [
    ({"answer": "24"}, {"answer": 24}, True),
    ({"answer": "24"}, {"answer": "1"}, False),
    ({"answer": "24"}, {"answer": 1.5}, False),
    ({"answer": "x = 2"}, {"answer": "2"}, None),        # only the domain could tell
    ({"answer": "\\frac{1}{2}"}, {"answer": "0.5"}, None),
    ({"answer": [1, 2]}, {"answer": [2, 1]}, False),     # no text: exact values
    ({"answer": "a"}, {"answer": " a "}, True),
])
def test_plain_same(a: dict[str, Any], b: dict[str, Any], same: bool | None) -> None:
    assert plain_same(a, b) is same
    assert plain_same(b, a) is same


def test_two_answers_not_shown_equal_or_different_are_unknown_not_a_hedge() -> None:
    scan = scan_reply('{"answer": "x = 2"} {"answer": "2"}', ("answer",), plain_same)
    assert scan.refusal is not None and scan.refusal.startswith(UNDECIDED)
    # one pair proven different is a hedge even when another pair is undecided
    scan = scan_reply('{"answer": "24"} {"answer": "x"} {"answer": "1"}', ("answer",),
                      plain_same)
    assert scan.refusal is not None and scan.refusal.startswith(HEDGE)


def test_an_undecided_critique_never_rejects() -> None:
    from llm_modulo.verifier import CheckResult

    critique = missing_answer_critique(UNDECIDED + "x", "none")
    assert critique.kind == "undecided"
    assert CheckResult.reject(critique).status is Status.UNKNOWN


@pytest.mark.parametrize("text", [
    "```" + " " * 60_000 + "x", '{"answer": "1"}\n```' + " " * 60_000 + "x",
    '{"answer": "1"} "answer"' + " " * 60_000, "{answer" + " " * 60_000 + "x",
    '```json\n{"answer": 1}\n' * 2_500, "Answer: " + "\\frac{" * 5_000,
    '{"expression": "1"}\n' + "1+1 a " * 7_000, "4*5 = 20\n" * 4_400, "4 x " * 10_000,
    "Step " + " " * 60_000 + "1", "1." + " " * 60_000 + "x", "4*5=20 and " * 4_000,
])
@pytest.mark.parametrize("domain", ["game24", "math_answer", "graph_coloring"])
def test_reading_is_linear_on_hostile_replies(domain: str, text: str) -> None:
    d = get_domain(domain)
    problem = d.parse_problem(ALL[domain][0])
    start = time.perf_counter()
    d.parse_candidate(problem, text)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(("reply", "expected"), [
    # review 3, item 2: the math domains read answers stated outside the JSON one
    ('\\boxed{1}\n\n{"answer": "24"}', Status.REJECT),
    ('{"answer": "24"}\n\\boxed{1}', Status.REJECT),
    ('{"answer": "24"}\nThe answer is 1.', Status.REJECT),
    ('The answer is:\n```json\n{"answer": "24"}\n```', Status.ACCEPT),
    ('{"answer": "24"}\n\nSo the answer is \\boxed{24}.', Status.ACCEPT),
    ('{"answer": "24"}\nThe answer is 24.0', Status.ACCEPT),
    ('Reasoning: 5*5-1 = 24.\n{"answer": "24"}', Status.ACCEPT),
    ('{"answer": "24"}\nThe answer is \\boxed{x y z}', Status.UNKNOWN),
])
def test_math_reads_answers_stated_beside_the_json(reply: str, expected: Status) -> None:
    domain = get_domain("math_answer")
    problem = domain.parse_problem({"question": "How many?", "answer": "24"})
    result = get_verifier("math").check(problem, domain.parse_candidate(problem, reply))
    status, kinds = result.status, [c.kind for c in result.critiques]
    assert status is expected, (reply, [c.message for c in result.critiques])
    if expected is Status.REJECT:
        assert kinds == ["hedge"]
