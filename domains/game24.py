"""Game of 24: combine the given numbers with + - * / to reach the target (24).

Problems: ``"4 4 6 8"``, ``[4, 4, 6, 8]`` or ``{"numbers": [4, 4, 6, 8], "target": 24}``.
The decoding constraint is a per-problem grammar (a format critic moved into
decoding) under which every sampled expression uses exactly the given numbers,
so the verifier is left to judge the value.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections import Counter
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from llm_modulo.domain import Domain
from llm_modulo.errors import ProblemError
from llm_modulo.structured import Grammar, StructuredOutput
from llm_modulo.types import Candidate, Problem

MIN_NUMBERS, MAX_NUMBERS = 1, 6
MAX_VALUE = 10_000
_NUMBERS_TEXT = re.compile(r"^\s*-?\d+(\s*[,\s]\s*-?\d+)*\s*$")
# digits, operators (also the times, divide and minus signs), parentheses
_EXPRESSION_LINE = re.compile(r"^[\d\s()+\-*/\u00d7\u00f7\u2212.]+$")


class Game24Answer(BaseModel):
    expression: str = Field(description="An arithmetic expression over the given numbers",
                            max_length=200)


class Game24Domain(Domain):
    name = "game24"
    version = "1.0"
    verifier = "game24"
    answer_model = Game24Answer
    description = "Combine the given numbers with + - * / and parentheses to make the target."

    # -- problems ---------------------------------------------------------------------

    def parse_problem(self, raw: str | dict[str, Any] | list[Any]) -> Problem:
        pid: str | None = None
        target: Any = 24
        numbers: Any
        if isinstance(raw, dict):
            if "numbers" not in raw:
                raise ProblemError('game24 problem needs a "numbers" field, e.g. "4 4 6 8"')
            numbers, target = raw["numbers"], raw.get("target", 24)
            if raw.get("id") is not None:
                pid = str(raw["id"])
        else:
            numbers = raw
        if isinstance(numbers, str):
            if not _NUMBERS_TEXT.match(numbers):
                raise ProblemError(
                    f"game24 problem must be integers separated by spaces or commas, "
                    f"got {numbers[:60]!r}"
                )
            numbers = [int(x) for x in re.split(r"[,\s]+", numbers.strip())]
        if not isinstance(numbers, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in numbers
        ):
            raise ProblemError("game24 numbers must be a list of integers")
        if not MIN_NUMBERS <= len(numbers) <= MAX_NUMBERS:
            raise ProblemError(f"game24 takes {MIN_NUMBERS} to {MAX_NUMBERS} numbers, "
                               f"got {len(numbers)}")
        if any(not 0 <= n <= MAX_VALUE for n in numbers):
            raise ProblemError(f"game24 numbers must be between 0 and {MAX_VALUE}")
        if isinstance(target, bool) or not isinstance(target, int):
            raise ProblemError("game24 target must be an integer")
        return Problem(domain=self.name, payload={"numbers": numbers, "target": target}, id=pid)

    def generate_problems(self, count: int, seed: int = 0, *, low: int = 1,
                          high: int = 13) -> list[Problem]:
        """``count`` solvable four-number puzzles, deterministic for ``seed``."""
        rng = random.Random(seed)
        out: list[Problem] = []
        while len(out) < count:
            numbers = sorted(rng.randint(low, high) for _ in range(4))
            if solve24(tuple(numbers)) is not None:
                out.append(self.parse_problem({"numbers": numbers}))
        return out

    # -- prompts ----------------------------------------------------------------------

    def system_prompt(self) -> str:
        return ("You are an expert at the Game of 24. You answer with a single JSON object "
                "and nothing else.")

    def render_prompt(self, problem: Problem) -> str:
        nums = " ".join(str(n) for n in problem.payload["numbers"])
        target = problem.payload["target"]
        return (
            f"Use the numbers {nums} and the operations + - * / with parentheses to make "
            f"{target}. Use every number exactly once.\n"
            # The worked example uses another target, so it is never a puzzle's answer.
            "Example: to make 9 from 1 2 3 an answer is {\"expression\":\"(1+2)*3\"}.\n"
            f"Numbers: {nums}\n"
            + self.answer_instruction(problem)
        )

    def answer_instruction(self, problem: Problem) -> str:
        return 'Answer as {"expression":"..."}.'

    # -- structured output and extraction ---------------------------------------------

    def structured_output(self, problem: Problem) -> StructuredOutput:
        return Grammar(ebnf=expression_grammar(tuple(sorted(problem.payload["numbers"]))))

    def parse_fallback(self, problem: Problem, completion: str) -> Candidate:
        lines = [ln.strip() for ln in completion.strip().splitlines() if ln.strip()]
        for line in reversed(lines):
            text = re.sub(r"=\s*-?\d+\s*$", "", line).strip()
            if text and _EXPRESSION_LINE.match(text) and any(c.isdigit() for c in text):
                return Candidate(raw=completion, answer={"expression": text})
        return Candidate(raw=completion, parse_error="no expression found in the reply")


@lru_cache(maxsize=4096)
def expression_grammar(numbers: tuple[int, ...]) -> str:
    """An xgrammar EBNF for ``{"expression":"..."}`` whose expressions use exactly ``numbers``.

    One nonterminal per sub-multiset S: a single number, or ``(A op B)`` for
    every split of S into two non-empty parts. The top level drops the outer
    parentheses. Every expression tree over the numbers is reachable.
    """
    full = Counter(numbers)
    values = sorted(full)
    names: dict[tuple[int, ...], str] = {}
    rules: list[str] = []

    def rest(counts: tuple[int, ...], part: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(c - x for c, x in zip(counts, part, strict=True))

    def subsets(counts: tuple[int, ...]) -> list[tuple[int, ...]]:
        ranges = [range(c + 1) for c in counts]
        return [s for s in itertools.product(*ranges) if any(s) and s != counts]

    def name(counts: tuple[int, ...]) -> str:
        if counts in names:
            return names[counts]
        nm = f"e{len(names)}"
        names[counts] = nm
        if sum(counts) == 1:
            rules.append(f'{nm} ::= "{values[counts.index(1)]}"')
        else:
            alts = [f'"(" {name(a)} op {name(rest(counts, a))} ")"' for a in subsets(counts)]
            rules.append(f"{nm} ::= " + " | ".join(alts))
        return nm

    top_counts = tuple(full[v] for v in values)
    if sum(top_counts) == 1:
        top = name(top_counts)
    else:
        top = " | ".join(
            f"({name(a)} op {name(rest(top_counts, a))})"
            for a in subsets(top_counts)
        )
    head = ['root ::= "{\\"expression\\":\\"" top "\\"}"', f"top ::= {top}",
            'op ::= "+" | "-" | "*" | "/"']
    return "\n".join(head + rules) + "\n"


def solve24(numbers: tuple[int, ...], target: int = 24) -> str | None:
    """An expression over ``numbers`` equal to ``target``, or None (exhaustive, exact)."""
    return _solve(tuple((Fraction(n), str(n)) for n in numbers), Fraction(target))


def _solve(items: tuple[tuple[Fraction, str], ...], target: Fraction) -> str | None:
    if len(items) == 1:
        return items[0][1] if items[0][0] == target else None
    for i, j in itertools.combinations(range(len(items)), 2):
        (a, ta), (b, tb) = items[i], items[j]
        rest = tuple(x for k, x in enumerate(items) if k not in (i, j))
        options = [(a + b, f"({ta}+{tb})"), (a * b, f"({ta}*{tb})"),
                   (a - b, f"({ta}-{tb})"), (b - a, f"({tb}-{ta})")]
        if b != 0:
            options.append((a / b, f"({ta}/{tb})"))
        if a != 0:
            options.append((b / a, f"({tb}/{ta})"))
        for value, text in options:
            found = _solve((*rest, (value, text)), target)
            if found is not None:
                return found
    return None


def load_puzzles(path: Path) -> list[dict[str, Any]]:
    """Rows of a puzzles JSONL file (``{"numbers": "1 1 4 6", ...}`` per line)."""
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


#: Puzzles the demo solves: a spread of the Tree-of-Thoughts ranking (easy to hard).
DEMO_PUZZLES = ["4 4 6 8", "1 2 3 4", "6 6 6 6", "2 2 6 6", "1 1 4 6", "2 3 4 5",
                "1 1 3 8", "3 3 8 8", "1 5 5 5", "5 5 5 5"]
