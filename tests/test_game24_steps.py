"""Game of 24 one step at a time (issue 14): the Tree-of-Thoughts step lines the domain reads,
the verifier's prefix check (a catalogue of valid, dead, complete and undecidable prefixes),
assembled answers judged by the ordinary check, and the dead-end check never rejecting a
prefix from which a solution exists."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_modulo.judge import judge
from llm_modulo.pool import WorkerPool
from llm_modulo.registry import get_domain, get_verifier
from llm_modulo.stepwise import StepParse, extend, is_stepwise
from llm_modulo.types import Candidate, Status, Step
from llm_modulo.verifiers.game24.arith import format_fraction

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "game24" / "puzzles.jsonl"
DOMAIN = get_domain("game24")
VERIFIER = get_verifier("game24")


def problem(raw: Any) -> Any:
    return DOMAIN.parse_problem(raw)


def prefix_verdict(numbers: Any, lines: Any) -> Any:
    return VERIFIER.check_prefix(problem(numbers), Candidate(raw="", answer={"steps": lines}))


SOLVED = ["4 + 8 = 12 (left: 4 6 12)", "6 - 4 = 2 (left: 2 12)", "2 * 12 = 24 (left: 24)"]
FIFTHS = ["1 / 5 = 1/5 (left: 1/5 5 5)", "5 - 1/5 = 24/5 (left: 5 24/5)", "5 * 24/5 = 24"]

# (puzzle, prefix): ACCEPT, the prefix may still lead to the target
VALID: list[tuple[Any, list[str]]] = [
    ("4 4 6 8", []),
    ("4 4 6 8", SOLVED[:1]),
    ("4 4 6 8", SOLVED[:2]),
    ("4 4 6 8", ["4 + 8 = 12"]),                                   # no (left: ...)
    ("4 4 6 8", ["4+8=12 (left: 12, 6, 4)"]),                      # any order, commas
    ("4 4 6 8", ["4 + 8 = 12 (Left: 4 6 12)"]),
    ("4 4 6 8", ["4 + 8 = 12", "12 - 6 = 6 (left: 4 6)"]),         # 6 from the result
    ("1 1 4 6", ["1 - 1 = 0 (left: 0 4 6)"]),
    ("1 1 4 6", ["1 - 6 = -5 (left: -5 1 4)"]),                    # 4 * (1 - -5)
    ("1 5 5 5", FIFTHS[:1]),                                       # a fraction left
    ("1 5 5 5", FIFTHS[:2]),                                       # and used as an operand
    ("1 2 3 4 5", ["1 + 2 = 3"]),                                  # 4 numbers left: searched
    ("1 2 3 4 5 6", ["1 * 2 = 2"]),                                # 5 left: not searched
]

# (puzzle, prefix, kind, location, message or None): REJECT, proven dead at that step
DEAD: list[tuple[Any, list[str], str, str | None, str | None]] = [
    ("4 4 6 8", ["4 + 8 = 13"], "step", "step 1",
     "step 1 `4 + 8 = 13` is false: `4 + 8` is 12, not 13"),
    ("4 4 6 8", ["4 + 8 = 12 (left: 4 6 13)"], "left", "step 1",
     "step 1 `4 + 8 = 12 (left: 4 6 13)` says the numbers left are 4 6 13, but they are "
     "4 6 12"),
    ("4 4 6 8", ["4 + 8 = 12 (left: 4 6)"], "left", "step 1", None),
    ("4 4 6 8", [SOLVED[0], "9 - 6 = 3"], "number_extra", "step 2",
     "step 2 `9 - 6 = 3` uses 9, which is not among the numbers left (4 6 12)"),
    ("4 4 6 8", ["4 + 8 = 12", "12 + 12 = 24"], "number_extra", "step 2", None),
    ("4 4 6 8", ["4 * 4 = 16"], "dead_end", "step 1",
     "the numbers left (6 8 16) cannot make 24"),
    ("4 4 6 8", ["4 * 6 = 24 (left: 4 8 24)"], "dead_end", "step 1",
     "the numbers left (4 8 24) cannot make 24"),
    ("4 4 6 8", ["4 * 6 = 24", "8 - 4 = 4"], "dead_end", "step 1", None),  # the first dead
    ("4 4 6 8", ["4 + 8 = 12", "12 + 6 = 18"], "dead_end", "step 2",
     "the numbers left (4 18) cannot make 24"),
    ("4 4 6 8", ["4 - 8 = -4 (left: -4 4 6)"], "dead_end", "step 1", None),
    ("4 4 6 8", [*SOLVED[:2], "12 + 2 = 14"], "value", "step 3",
     "the steps use every given number and end at 14, not 24"),
    ("4 4 6 8", ["(4 + 8) * (6 - 4) = 24", "24 + 0 = 24"], "number_extra", "step 2", None),
    ("1 1 4 6", ["1 - 1 = 0 (left: 0 4 6)", "4 / 0 = 4"], "division_by_zero", "step 2",
     "step 2 `4 / 0 = 4` divides by zero"),
    ("1 1 1 1", [], "dead_end", None, "the numbers left (1 1 1 1) cannot make 24"),
    ({"numbers": [1, 2, 3], "target": 9}, ["1 + 2 = 3", "3 + 3 = 6"], "value", "step 2",
     None),
]

# (puzzle, prefix): UNKNOWN, not decided (never a label)
UNDECIDABLE: list[tuple[Any, Any]] = [
    ("4 4 6 8", ["4 + 8 = twelve"]),
    ("4 4 6 8", ["4 + 8 = 12 (left: 4 6 x)"]),
    ("4 4 6 8", ["4 + 8 = 12 (left 4 6 12"]),
    ("4 4 6 8", ["8 = 8"]),                                         # no operation
    ("4 4 6 8", ["4 + 8 = 12 = 12"]),
    ("4 4 6 8", [SOLVED[0], "4 + 8 = 12 then more"]),
    ("4 4 6 8", "4 + 8 = 12"),                                      # not a list
    ("4 4 6 8", [SOLVED[0]] * 13),                                  # too many steps
    ("4 4 6 8", ["4 + 8 = 12" + " " * 2000]),                       # too long
    ("4 4 6 8", None),
    ("1 1 4 6", ["1 - 6 = -5", "1 - -5 = 6"]),                      # a negative operand
    ("1 5 5 5", [FIFTHS[0], "5 - 1/5 = 4"]),                        # a fraction, read no way
    ("1 1 1 5 5 5", ["1 / 5 = 1/5", "1/5 * 1 = 1/5"]),                  # 1/5, or 1 and 5? both fit
]

# (puzzle, steps): ACCEPT with {"complete": True}
COMPLETE: list[tuple[Any, list[str]]] = [
    ("4 4 6 8", SOLVED),
    ("4 4 6 8", ["4 + 8 = 12", "6 - 4 = 2", "12 * 2 = 24"]),
    ("4 4 6 8", ["(4 + 8) * (6 - 4) = 24"]),                         # one step, all numbers
    ("1 5 5 5", FIFTHS),
    ("1 5 5 5", [*FIFTHS[:2], "24/5 * 5 = 24"]),
    ("3 3 8 8", ["8 / 3 = 8/3", "3 - 8/3 = 1/3", "8 / 1/3 = 24"]),  # 8 / (1/3)
    ("1 1 4 6", ["1 - 1 = 0", "4 * 6 = 24", "24 + 0 = 24"]),
    ({"numbers": [1, 2, 3], "target": 9}, ["1 + 2 = 3", "3 * 3 = 9 (left: 9)"]),
    ({"numbers": [24]}, []),
]


def test_the_domain_is_stepwise_and_bounds_its_depth() -> None:
    assert is_stepwise(DOMAIN, VERIFIER)
    assert DOMAIN.max_steps(problem("4 4 6 8")) == 3
    assert DOMAIN.max_steps(problem("1 2 3 4 5 6")) == 5
    assert DOMAIN.step_stop(problem("4 4 6 8")) == ["\n"]


@pytest.mark.parametrize(("numbers", "lines"), VALID)
def test_valid_prefixes_are_alive(numbers: Any, lines: list[str]) -> None:
    result = prefix_verdict(numbers, lines)
    assert result.status is Status.ACCEPT, result.critiques
    assert result.evidence.get("complete") is None
    assert "expression" not in result.evidence  # an alive prefix never shows a solution


@pytest.mark.parametrize(("numbers", "lines", "kind", "location", "message"), DEAD)
def test_dead_prefixes_are_rejected_at_the_step(numbers: Any, lines: list[str], kind: str,
                                                 location: str | None,
                                                 message: str | None) -> None:
    result = prefix_verdict(numbers, lines)
    assert result.status is Status.REJECT
    [critique] = result.critiques
    assert (critique.kind, critique.location) == (kind, location)
    assert kind in VERIFIER.vocabulary()
    if message is not None:
        assert critique.message == message


@pytest.mark.parametrize(("numbers", "lines"), UNDECIDABLE)
def test_undecidable_prefixes_are_unknown(numbers: Any, lines: Any) -> None:
    result = prefix_verdict(numbers, lines)
    assert result.status is Status.UNKNOWN, (result.status, result.critiques)
    assert all(c.kind in VERIFIER.vocabulary() for c in result.critiques)


@pytest.mark.parametrize(("numbers", "lines"), COMPLETE)
def test_complete_chains_say_so(numbers: Any, lines: list[str]) -> None:
    result = prefix_verdict(numbers, lines)
    assert result.status is Status.ACCEPT, result.critiques
    assert result.evidence["complete"] is True
    for k in range(len(lines)):  # every shorter prefix is alive and not complete
        shorter = prefix_verdict(numbers, lines[:k])
        assert shorter.status is Status.ACCEPT and "complete" not in shorter.evidence


# -- reading steps from model output ---------------------------------------------------------

MESSY: list[tuple[str, list[str]]] = [
    ("Step 1: 4 + 8 = 12 (left: 4 6 12)\nStep 2: 6 − 4 = 2 (left: 2 12)\n",
     ["4 + 8 = 12 (left: 4 6 12)", "6 - 4 = 2 (left: 2 12)"]),
    ("  - 4 × 6 = 24 (left: 4 8 24)", ["4 * 6 = 24 (left: 4 8 24)"]),
    ("1. 4+8=12\n2. 6-4=2\nAnswer: (4+8)*(6-4) = 24", ["4+8 = 12", "6-4 = 2"]),
    ("**4 + 8 = 12** (left: 4 6 12)", ["4 + 8 = 12 (left: 4 6 12)"]),
    ("$4 + 8 = 12$", ["4 + 8 = 12"]),
    ("\n\n4 + 8 = 12\n\n6 - 4 = 2\n", ["4 + 8 = 12", "6 - 4 = 2"]),
    ("4 + 8 = 13 (left: 4, 6, 13)", ["4 + 8 = 13 (left: 4 6 13)"]),  # read, not judged
    ("8 / 3 = 8/3 (left: 8/3 3 8)", ["8 / 3 = 8/3 (left: 8/3 3 8)"]),
    ("4 + 8 = 12\nnow 6 - 4 = 2", ["4 + 8 = 12"]),                   # the first bad line ends
    ("4 + 8 = 12\n6 - 4 = 2\n2 * 12 = 24\n24 + 0 = 24", ["4 + 8 = 12", "6 - 4 = 2",
                                                         "2 * 12 = 24"]),  # max_steps
]


@pytest.mark.parametrize(("completion", "texts"), MESSY)
def test_parse_steps_reads_messy_output(completion: str, texts: list[str]) -> None:
    parsed = DOMAIN.parse_steps(problem("4 4 6 8"), [], completion)
    assert isinstance(parsed, StepParse)
    assert [s.text for s in parsed.steps] == texts
    assert parsed.error is None


@pytest.mark.parametrize("completion", [
    "", "\n\n", "Let's think. 4 + 8 = 12", "Answer: (4+8)*(6-4)", "1+" * 10_000 + "1 = 2",
    "(" * 5000, "4 + 8 = 12 (left: " + "4 " * 5000 + ")", "\\boxed{24}", "24",
])
def test_parse_steps_without_a_step_says_why(completion: str) -> None:
    parsed = DOMAIN.parse_steps(problem("4 4 6 8"), [], completion)
    assert parsed.steps == () and parsed.error


def test_parse_steps_reads_only_what_is_left_after_the_prefix() -> None:
    p = problem("4 4 6 8")
    prefix = list(DOMAIN.parse_steps(p, [], "\n".join(SOLVED[:2])).steps)
    parsed = DOMAIN.parse_steps(p, prefix, "2 * 12 = 24\n24 - 0 = 24")
    assert [s.text for s in parsed.steps] == ["2 * 12 = 24"]
    full = DOMAIN.parse_steps(p, [*prefix, parsed.steps[0]], "24 - 0 = 24")
    assert full.steps == () and full.error


def test_parse_steps_is_bounded_on_huge_output() -> None:
    start = time.monotonic()
    parsed = DOMAIN.parse_steps(problem("4 4 6 8"), [], "4 + 8 = 12\n" * 200_000)
    assert len(parsed.steps) == 3
    parsed = DOMAIN.parse_steps(problem("4 4 6 8"), [], "\n" * 1_000_000 + "4 + 8 = 12")
    assert parsed.steps == ()  # past the characters read
    assert time.monotonic() - start < 30  # a hang guard, not a speed claim


def test_steps_carry_what_was_read() -> None:
    [step] = DOMAIN.parse_steps(problem("4 4 6 8"), [], "8 / 6 = 4/3 (left: 4 4 4/3)").steps
    assert step.data == {"expression": "8/6", "value": "4/3", "left": "4 4 4/3"}


def test_step_messages_show_the_steps_and_the_numbers_left() -> None:
    p = problem("4 4 6 8")
    steps = list(DOMAIN.parse_steps(p, [], "4 + 8 = 12").steps)
    messages = DOMAIN.step_messages(p, steps)
    text = messages[-1].content
    assert "make 24 from 4 4 6 8" in text
    assert "4 + 8 = 12" in text and "Numbers left: 4 6 12" in text
    assert "in exactly that format" in text
    assert "Steps so far: none" in DOMAIN.step_messages(p, [])[-1].content
    # the worked example is for another target, never a puzzle's answer
    assert "to make 10 from 1 2 3 4" in text


# -- assembled answers and the worker pool ---------------------------------------------------


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.mark.parametrize(("numbers", "lines"), [c for c in COMPLETE if c[1]])
def test_complete_chains_assemble_into_accepted_answers(pool: WorkerPool, numbers: Any,
                                                        lines: list[str]) -> None:
    p = problem(numbers)

    async def go() -> Any:
        [ext] = await extend(DOMAIN, VERIFIER, p, [((), "\n".join(lines))], pool=pool)
        assert ext.complete, (ext.error, ext.verdicts)
        text = DOMAIN.assemble(p, ext.steps)
        [(candidate, verdict)] = await judge(DOMAIN, VERIFIER, p, [text], pool=pool)
        return ext, candidate, verdict

    ext, _, verdict = _run(go())
    assert len(ext.steps) == len(lines)
    assert verdict.status is Status.ACCEPT, verdict.critiques
    assert set(json.loads(DOMAIN.assemble(p, ext.steps))) == {"expression"}


def test_extend_stops_at_the_dead_step_with_its_label(pool: WorkerPool) -> None:
    p = problem("4 4 6 8")
    prefix = list(DOMAIN.parse_steps(p, [], SOLVED[0]).steps)

    async def go() -> Any:
        return await extend(DOMAIN, VERIFIER, p, [
            (prefix, "12 + 6 = 18\n18 + 4 = 22"),   # dead after its first step
            (prefix, "6 - 4 = 2\n2 * 12 = 24"),     # completes
            (prefix, "I think 6 - 4 = 2"),          # reads nothing
        ], pool=pool)

    dead, done, nothing = _run(go())
    assert dead.dead and len(dead.steps) == 1
    assert dead.verdicts[0].critiques[0].kind == "dead_end"
    assert dead.verdicts[0].critiques[0].location == "step 2"
    assert done.complete and [s.text for s in done.steps] == ["6 - 4 = 2", "2 * 12 = 24"]
    assert nothing.steps == () and nothing.error


def test_assemble_writes_the_steps_arithmetic_exactly() -> None:
    p = problem("4 4 6 8")
    steps = DOMAIN.parse_steps(p, [], "8 - 4 = 4\n4 + 4 = 8\n8 * 6 = 48").steps
    # 8 - 4 - 4 * 6 would not be these steps: every operation is in parentheses
    assert json.loads(DOMAIN.assemble(p, steps)) == {"expression": "((8-4)+4)*6"}
    incomplete = DOMAIN.assemble(p, steps[:1])
    result = VERIFIER.check(p, DOMAIN.parse_candidate(p, incomplete))
    assert result.status is not Status.ACCEPT


# -- the dead-end check never rejects a prefix a solution extends ----------------------------

_OPS = ("+", "-", "*", "/")


def _combine(a: Fraction, b: Fraction, op: str) -> Fraction | None:
    if op == "/":
        return a / b if b else None
    return a + b if op == "+" else a - b if op == "-" else a * b


def _operand(v: Fraction) -> str | None:
    """How a step writes a value as an operand (a negative one cannot be written)."""
    return None if v < 0 else format_fraction(v)


def _moves(values: tuple[Fraction, ...]) -> Iterator[tuple[str, tuple[Fraction, ...]]]:
    """Every writable step from ``values``: its line (with the numbers left) and what it
    leaves."""
    for i, j in itertools.permutations(range(len(values)), 2):
        a, b = values[i], values[j]
        ta, tb = _operand(a), _operand(b)
        if ta is None or tb is None:
            continue
        rest = [v for k, v in enumerate(values) if k not in (i, j)]
        for op in _OPS:
            r = _combine(a, b, op)
            if r is None:
                continue
            left = (*rest, r)
            line = f"{ta} {op} {tb} = {format_fraction(r)} (left: " \
                   f"{' '.join(format_fraction(v) for v in left)})"
            yield line, left


def _alive(values: tuple[Fraction, ...], target: Fraction) -> bool:
    """The test's own oracle: some sequence of steps (any operand, negative too) ends at
    ``target``."""
    if len(values) == 1:
        return values[0] == target
    for i, j in itertools.permutations(range(len(values)), 2):
        rest = tuple(v for k, v in enumerate(values) if k not in (i, j))
        for op in _OPS:
            r = _combine(values[i], values[j], op)
            if r is not None and _alive((*rest, r), target):
                return True
    return False


def _solution(values: tuple[Fraction, ...], target: Fraction,
              dead: set[tuple[Fraction, ...]] | None = None) -> list[str] | None:
    """A chain of writable steps from ``values`` to ``target`` (depth-first, values only,
    remembering the multisets that failed; the lines are written for the path found)."""
    dead = set() if dead is None else dead
    key = tuple(sorted(values))
    if len(values) == 1 or key in dead:
        return [] if values == (target,) else None
    for i, j in itertools.permutations(range(len(values)), 2):
        a, b = values[i], values[j]
        if a < 0 or b < 0:
            continue
        rest = tuple(v for k, v in enumerate(values) if k not in (i, j))
        for op in _OPS if i < j else ("-", "/"):  # + and * once per pair
            r = _combine(a, b, op)
            if r is None:
                continue
            tail = _solution((*rest, r), target, dead)
            if tail is not None:
                left = " ".join(format_fraction(v) for v in (*rest, r))
                return [f"{format_fraction(a)} {op} {format_fraction(b)} = "
                        f"{format_fraction(r)} (left: {left})", *tail]
    dead.add(key)
    return None


def _shared_puzzles() -> list[str]:
    if not SHARED.is_file():
        return []
    return [json.loads(line)["numbers"] for line in SHARED.read_text().splitlines() if line]


@pytest.mark.skipif(not SHARED.is_file(), reason="../shared data missing")
def test_every_prefix_of_a_solution_to_every_shared_puzzle_is_alive() -> None:
    puzzles = _shared_puzzles()
    assert len(puzzles) == 1362
    unwritable = 0
    for numbers in puzzles:
        values = tuple(Fraction(int(x)) for x in numbers.split())
        chain = _solution(values, Fraction(24))
        if chain is None:
            unwritable += 1
            continue
        for k in range(len(chain) + 1):
            result = prefix_verdict(numbers, chain[:k])
            assert result.status is Status.ACCEPT, (numbers, chain[:k], result.critiques)
            assert (result.evidence.get("complete") is True) == (k == len(chain))
    assert unwritable == 0  # every shared puzzle has a solution without negative operands


@settings(max_examples=300, deadline=None)
@given(numbers=st.lists(st.integers(0, 13), min_size=2, max_size=4),
       picks=st.lists(st.integers(0, 10_000), min_size=3, max_size=3),
       target=st.sampled_from([24, 24, 24, 10, 0]))
def test_prefix_verdicts_match_an_exhaustive_oracle(numbers: list[int], picks: list[int],
                                                    target: int) -> None:
    """A random chain of true steps: each prefix is REJECT exactly when no sequence of steps
    from it reaches the target (never a REJECT a solution extends), else ACCEPT (UNKNOWN only
    when a fraction is an operand)."""
    p = problem({"numbers": numbers, "target": target})
    values = tuple(Fraction(n) for n in numbers)
    lines: list[str] = []
    for pick in picks[: len(numbers) - 1]:
        options = list(_moves(values))
        if not options:
            break
        line, values = options[pick % len(options)]
        lines.append(line)
        result = VERIFIER.check_prefix(p, Candidate(raw="", answer={"steps": lines}))
        alive = _alive(values, Fraction(target))
        if result.status is Status.UNKNOWN:
            assert "/" in line, (lines, result.critiques)
            break
        assert result.status is (Status.ACCEPT if alive else Status.REJECT), (
            lines, result.critiques)
        if not alive:
            assert result.critiques[0].kind in ("dead_end", "value")
            break
        assert (result.evidence.get("complete") is True) == (len(values) == 1)


@settings(max_examples=200, deadline=None)
@given(numbers=st.lists(st.integers(1, 13), min_size=4, max_size=4),
       picks=st.lists(st.integers(0, 10_000), min_size=3, max_size=3),
       at=st.integers(0, 2), off=st.sampled_from([1, -1, 2]), where=st.booleans())
def test_a_false_statement_in_a_step_is_rejected_at_or_before_it(
        numbers: list[int], picks: list[int], at: int, off: int, where: bool) -> None:
    values = tuple(Fraction(n) for n in numbers)
    lines: list[str] = []
    for pick in picks:
        options = [m for m in _moves(values) if "/" not in m[0].partition("=")[0]
                   or all(v.denominator == 1 for v in values)]
        if not options:  # two negative numbers left: no step can be written
            break
        line, values = options[pick % len(options)]
        lines.append(line)
    at = min(at, len(lines) - 1)
    head, _, tail = lines[at].partition(" = ")
    value, _, left = tail.partition(" (left: ")
    if where:  # the stated value is off
        lines[at] = f"{head} = {format_fraction(Fraction(value) + off)} (left: {left}"
    else:  # one of the numbers left is off
        nums = left.rstrip(")").split()
        nums[0] = format_fraction(Fraction(nums[0]) + off)
        lines[at] = f"{head} = {value} (left: {' '.join(nums)})"
    result = prefix_verdict(" ".join(map(str, numbers)), lines)
    assert result.status is Status.REJECT, (lines, result.critiques)
    [critique] = result.critiques
    assert critique.location is not None
    assert int(critique.location.split()[1]) <= at + 1
    if int(critique.location.split()[1]) == at + 1:
        assert critique.kind == ("step" if where else "left")


def test_steps_round_trip_through_the_text_prompts_show() -> None:
    p = problem("3 3 8 8")
    steps = DOMAIN.parse_steps(p, [], "8/3 = 8/3\n3 - 8/3 = 1/3\n8 / 1/3 = 24").steps
    again = DOMAIN.parse_steps(p, [], "\n".join(s.text for s in steps)).steps
    assert again == steps
    assert all(isinstance(s, Step) for s in steps)


_PIECES = st.sampled_from(["4", "8", "12", "1/5", "-", "+", "*", "/", "=", " ", "(", ")",
                           "(left:", "left", ",", "\n", "Step 1:", "- ", "0", "x", "×", "$",
                           "**", "24", "1.5", "\\frac{1}{2}", "é"])


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=200), st.lists(_PIECES, max_size=40).map("".join)))
def test_hostile_step_text_never_raises(text: str) -> None:
    p = problem("4 4 6 8")
    parsed = DOMAIN.parse_steps(p, [], text)
    assert isinstance(parsed, StepParse) and (parsed.steps or parsed.error)
    for lines in ([s.text for s in parsed.steps], text.splitlines()[:12]):
        result = prefix_verdict("4 4 6 8", lines)
        assert result.status in (Status.ACCEPT, Status.REJECT, Status.UNKNOWN)
        assert all(c.kind in VERIFIER.vocabulary() for c in result.critiques)
    DOMAIN.assemble(p, parsed.steps)
