"""Game of 24: combine the given numbers with + - * / to reach the target (24).

Problems: ``"4 4 6 8"``, ``[4, 4, 6, 8]`` or ``{"numbers": [4, 4, 6, 8], "target": 24}``.
The decoding constraint is a per-problem grammar (a format critic moved into
decoding) under which every sampled expression uses exactly the given numbers,
so the verifier is left to judge the value.
"""

from __future__ import annotations

import functools
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
from llm_modulo.jsonanswer import several_answers_message
from llm_modulo.structured import Grammar, StructuredOutput
from llm_modulo.types import Candidate, Problem
from llm_modulo.verifiers.game24.arith import (
    ExpressionSyntaxError,
    Num,
    normalize,
    parse_expression,
    render,
)

MIN_NUMBERS, MAX_NUMBERS = 1, 6
MAX_VALUE = 10_000
_NUMBERS_TEXT = re.compile(r"^\s*-?\d+(\s*[,\s]\s*-?\d+)*\s*$")
# digits, operators (also the times, divide and minus signs), parentheses
_EXPRESSION_LINE = re.compile(r"^[\d\s()+\-*/\u00d7\u00f7\u2212.=]+$")
_EXPRESSION_PREFIX = re.compile(r"[\d\s()+\-*/\u00d7\u00f7\u2212.=]*")
# a fenced code block of any language: its body (the language word is on the fence line)
_FENCE_ANY = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)


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

    def demo_problems(self) -> list[Problem]:
        """A spread of the Tree-of-Thoughts ranking, easy to hard (:data:`DEMO_PUZZLES`)."""
        return [self.parse_problem(p) for p in DEMO_PUZZLES]

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
        target = int(problem.payload.get("target", 24))
        # a bare target value is the answer only when it is the one given number
        alone = [int(n) for n in problem.payload["numbers"]] == [target]
        expression, error = extract_expression(completion, None if alone else target)
        if expression is None:
            return Candidate(raw=completion, parse_error=error)
        return Candidate(raw=completion, answer={"expression": expression})


# -- extraction from free text ---------------------------------------------------------------

# LaTeX and Markdown an expression is often wrapped in, and what each becomes.
_LATEX_OPS = (("\\times", "*"), ("\\cdot", "*"), ("\\ast", "*"), ("\\div", "/"),
              ("\\left", ""), ("\\right", ""), ("\\displaystyle", ""), ("\\(", ""),
              ("\\)", ""), ("\\[", ""), ("\\]", ""), ("\\,", ""), ("\\;", ""),
              ("\\!", ""), ("$", ""), ("**", ""), ("__", ""), ("`", ""))
_MARKER = re.compile(r"^(?:the\s+)?(?:final\s+)?(?:answer|expression|solution)(?:\s+is)?"
                     r"\s*[:\uff1a]?\s*", re.IGNORECASE)
_ANSWER_LINE = re.compile(r"^(?:the\s+)?(?:final\s+)?answer\b", re.IGNORECASE)
_LEADER = re.compile(r"^(?:(?:#{1,6}|>|[*+-])\s+)+")  # headings, quotes, bullets
_CHECK_MARKS = " \t.\u2713\u2714\u2705"
_MAX_MARKED = 64


def extract_expression(completion: str, restated: int | None = None
                       ) -> tuple[str | None, str]:
    """The final expression of a free-text reply, or None and the reason.

    Marked answers come first: every ``\\boxed{...}``, every line starting ``Answer:`` /
    ``Final answer:`` / ``The answer is`` (Markdown bold, ``$``, LaTeX operators and a
    trailing period removed; an empty marker line takes the next line), and every fenced
    code block holding one expression. When they give two different expressions (or two
    different stated values), the reply hedges. Without a readable marked answer, the last
    line that is an expression (optionally ``= value``) is taken. Unicode operators
    (the times sign, the middle dot, the minus sign, ...) read as their ASCII ones.

    A marked answer or line that is only the number ``restated`` (the target: ``EXPR = 24``
    then ``Answer: 24``) restates the result: it is no expression, never one that displaces
    the expression it follows (and never a second answer beside it).
    """
    lines = [ln for ln in (_clean(x) for x in completion.splitlines()) if ln]
    found = [m for m in _marked(completion, lines) if _is_expression(m)][:_MAX_MARKED]
    marked = [m for m in found if not _restates(m, restated)]
    if marked:
        return _agree(marked)
    for line in reversed(lines):
        if _is_expression(line) and not _restates(line, restated):
            return line, ""
    if found or any(_restates(line, restated) for line in lines):
        return None, (f"the reply states only the value {restated}, not an expression over "
                      "the given numbers")
    return None, "no expression found in the reply"


def _restates(text: str, restated: int | None) -> bool:
    """``text`` is just the number ``restated`` (``24``, ``(24)``), nothing computed."""
    if restated is None:
        return False
    try:
        tree = parse_expression(text)
    except ExpressionSyntaxError:
        return False
    return isinstance(tree, Num) and tree.value == restated


def _marked(completion: str, lines: list[str]) -> list[str]:
    out = [_clean(b) for b in boxed_contents(completion)]
    for k, line in enumerate(lines):
        if not _ANSWER_LINE.match(line):
            continue
        content = line
        for _ in range(3):
            content = _MARKER.sub("", content, count=1)
        if not content and k + 1 < len(lines):
            content = lines[k + 1]
        boxed = boxed_contents(content)
        out.append(_clean(boxed[-1]) if boxed else _first_sentence(content))
    for m in _FENCE_ANY.finditer(completion):
        body = [ln for ln in (_clean(x) for x in m.group(1).splitlines()) if ln]
        if len(body) == 1:
            out.append(body[0])
    return out


def _first_sentence(content: str) -> str:
    """``EXPR = 24. I hope it is correct.`` / ``EXPR = 24, which uses ...``: the expression
    before the sentence ends (only at a period or comma right after it); else ``content``."""
    m = _EXPRESSION_PREFIX.match(content)
    head = m.group(0) if m else ""
    rest = content[len(head):]
    if not rest or not head.strip():
        return content
    if rest.startswith((",", ";")) or head.rstrip().endswith("."):
        return head.rstrip(" .")
    return content


def _agree(marked: list[str]) -> tuple[str | None, str]:
    """The one expression (and stated value) the marked answers agree on, else a hedge."""
    exprs: dict[str, str] = {}
    claims: set[str] = set()
    for text in marked:
        expr, _, claim = text.partition("=")
        exprs.setdefault(_canonical(expr), expr.strip())
        if claim.strip():
            claims.add(claim.replace(" ", ""))
    if len(exprs) > 1:
        shown = "; ".join(f"`{e[:60]}`" for e in list(exprs.values())[:3])
        return None, several_answers_message(len(exprs), f"final expressions {shown}")
    if len(claims) > 1:
        return None, several_answers_message(len(claims), "different stated values")
    expr = next(iter(exprs.values()))
    return (f"{expr} = {claims.pop()}" if claims else expr), ""


def _canonical(expr: str) -> str:
    try:
        return render(parse_expression(expr))
    except ExpressionSyntaxError:
        return "".join(normalize(expr).split())


def _clean(text: str) -> str:
    """One line without Markdown emphasis, math delimiters, LaTeX operators and a trailing
    period or check mark."""
    text = normalize(text).strip()  # Unicode operators: the ASCII ones the grammar reads
    boxed = boxed_contents(text)
    if len(boxed) == 1 and text.startswith(("\\boxed", "$\\boxed", "\\[\\boxed",
                                                  "\\(\\boxed")):
        text = boxed[0]
    for old, new in _LATEX_OPS:
        text = text.replace(old, new)
    text = _LEADER.sub("", text.strip())
    return text.rstrip(_CHECK_MARKS).strip()


def _is_expression(text: str) -> bool:
    """Only expression characters, and a digit before any ``=``."""
    return _EXPRESSION_LINE.match(text) is not None and any(
        c.isdigit() for c in text.partition("=")[0])


def boxed_contents(text: str) -> list[str]:
    """The contents of every ``\\boxed{...}`` (braces balanced; an unclosed box is skipped)."""
    out: list[str] = []
    start = text.find("\\boxed")
    while start >= 0:
        k = start + len("\\boxed")
        while k < len(text) and text[k] == " ":
            k += 1
        if k >= len(text) or text[k] != "{":
            start = text.find("\\boxed", k)
            continue
        depth, j = 0, k
        while j < len(text):
            depth += (text[j] == "{") - (text[j] == "}")
            if depth == 0:
                break
            j += 1
        if depth:
            break
        out.append(text[k + 1 : j])
        start = text.find("\\boxed", j)
    return out


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


def scripted_responder(body: dict[str, Any]) -> list[str]:
    """A :class:`~llm_modulo.testing.ScriptedServer` responder for tests and benchmarks:
    wrong on the first prompt, right after a back-prompt (two rounds per problem)."""
    messages = body.get("messages", [])
    first = messages[1]["content"] if len(messages) > 1 else messages[0]["content"]
    found = re.search(r"Numbers: ([\d ]+)", first)
    numbers = tuple(int(x) for x in found.group(1).split()) if found else (1, 1, 1, 1)
    if len(messages) <= 2:
        return [json.dumps({"expression": "+".join(str(n) for n in numbers)})]
    return [json.dumps({"expression": _cached_solution(numbers)})]


#: Answers known in advance (a benchmark fills it), so a scripted server never searches.
KNOWN_SOLUTIONS: dict[tuple[int, ...], str] = {}


@functools.lru_cache(maxsize=65536)
def _cached_solution(numbers: tuple[int, ...]) -> str:
    if numbers in KNOWN_SOLUTIONS:
        return KNOWN_SOLUTIONS[numbers]
    return solve24(numbers) or "0"
