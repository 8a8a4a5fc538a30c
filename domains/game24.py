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
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from llm_modulo.domain import Domain, OtherAnswers
from llm_modulo.errors import ProblemError
from llm_modulo.jsonanswer import Answer, several_answers_message, undecided_message
from llm_modulo.stepwise import NoStepLeft, StepParse, StepwiseDomain
from llm_modulo.structured import Grammar, StructuredOutput
from llm_modulo.types import Candidate, Message, Problem, Step
from llm_modulo.verifiers.game24.arith import (
    BinOp,
    DivisionByZero,
    Expr,
    ExpressionSyntaxError,
    Num,
    evaluate,
    format_fraction,
    leaves,
    normalize,
    parse_expression,
    render,
)
from llm_modulo.verifiers.game24.chain import read_chain
from llm_modulo.verifiers.game24.steps import (
    chain_expression,
    format_values,
    numbers_left,
    read_step_line,
)

MIN_NUMBERS, MAX_NUMBERS = 1, 6
MAX_VALUE = 10_000
# digits, operators (also the times, divide and minus signs), parentheses
_EXPRESSION_LINE = re.compile(r"^[\d\s()+\-*/\u00d7\u00f7\u2212.=]+$")
_EXPRESSION_PREFIX = re.compile(r"[\d\s()+\-*/\u00d7\u00f7\u2212.=]*")
# a fenced code block of any language: its body (the language word is on the fence line)
_FENCE_ANY = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)


class Game24Answer(BaseModel):
    expression: str = Field(description="An arithmetic expression over the given numbers",
                            max_length=200)


class Game24Domain(Domain, StepwiseDomain):
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
            read = numbers_text(numbers)
            if read is None:
                raise ProblemError(
                    f"game24 problem must be integers separated by spaces or commas, "
                    f"got {numbers[:60]!r}"
                )
            numbers = read
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
        reading = read_reply(completion, self._given(problem), self._restated(problem))
        if reading.steps is not None:
            return Candidate(raw=completion, answer={"steps": list(reading.steps)})
        if reading.expression is None:
            error = undecided_message(reading.error) if reading.undecided else reading.error
            return Candidate(raw=completion, parse_error=error)
        return Candidate(raw=completion, answer={"expression": reading.expression})

    @staticmethod
    def _given(problem: Problem) -> list[int]:
        return [int(n) for n in problem.payload["numbers"]]

    def _restated(self, problem: Problem) -> int | None:
        """The target, which a reply may restate (``Answer: 24``) without answering, unless
        it is the one given number."""
        target = int(problem.payload.get("target", 24))
        return None if self._given(problem) == [target] else target

    # -- one answer, however it is written ------------------------------------------

    def same_answer(self, problem: Problem, a: Answer, b: Answer) -> bool | None:
        """Two answers are the same when their expressions are the same once parsed (only
        the parentheses the value needs kept; a chain of steps as the expression it builds),
        different when both read and differ; stated values (``= 24``) that differ for the
        same expression leave it undecided."""
        ka, kb = self._key(problem, a), self._key(problem, b)
        if ka is None or kb is None:
            ta, tb = a.get("expression"), b.get("expression")
            same_text = isinstance(ta, str) and isinstance(tb, str) and (
                "".join(ta.split()) == "".join(tb.split()))
            return True if same_text else None
        if ka[0] != kb[0]:
            return False
        if ka[1] is None or kb[1] is None:
            return None
        return True if not ka[1] or not kb[1] or ka[1] == kb[1] else None

    def _key(self, problem: Problem, answer: Answer
             ) -> tuple[str, frozenset[Fraction] | None] | None:
        """(the canonical expression, its stated values or None when one does not read)."""
        steps = answer.get("steps")
        if isinstance(steps, list) and all(isinstance(x, str) for x in steps):
            result = read_chain(steps, self._given(problem),
                                int(problem.payload.get("target", 24)))
            if result.expression is None or result.value is None:
                return None
            return result.expression, frozenset({result.value})
        text = answer.get("expression")
        if not isinstance(text, str) or len(text) > 1000:
            return None
        expr, *claims = text.split("=")
        try:
            tree = parse_expression(expr)
        except ExpressionSyntaxError:
            return None
        try:
            stated = frozenset(evaluate(parse_expression(c)) for c in claims)
        except (ExpressionSyntaxError, DivisionByZero):
            return render(tree), None
        return render(tree), stated

    def other_answers(self, problem: Problem, answer: Answer, outside: str,
                      tail: str) -> OtherAnswers:
        """Boxes, ``Answer:`` lines and one-expression code blocks outside the JSON (the
        target alone restates it), and what follows the JSON
        (:func:`trailing_doubt`)."""
        restated = self._restated(problem)
        lines = [c for c in (_clean(x) for x in outside.splitlines()) if c]
        found: list[Answer] = []
        for text in _marked(outside, lines)[:_MAX_MARKED]:
            chain = _chain(text)
            if chain is not None:
                found.append({"steps": list(chain)})
            elif _is_expression(text) and not _restates(text, restated):
                found.append({"expression": text})
        expression = answer.get("expression")
        doubt = trailing_doubt(tail.splitlines(),
                               expression if isinstance(expression, str) else None, restated)
        return OtherAnswers(tuple(found), doubt)

    # -- one step at a time (Tree-of-Thoughts step lines) ----------------------------

    def step_messages(self, problem: Problem, prefix: Sequence[Step]) -> list[Message]:
        """The puzzle, the steps so far, the numbers left and a short worked example (for
        another target, so it is never a puzzle's answer)."""
        given = self._given(problem)
        lines = [s.text for s in prefix]
        left = numbers_left(lines, given)
        prompt = [
            "Game of 24, one step at a time. Each step takes two of the numbers left, "
            "combines them with + - * or /, and is one line: a op b = result (left: the "
            "numbers left).",
            "Example: to make 10 from 1 2 3 4:",
            *_EXAMPLE,
            f"Now make {problem.payload['target']} from {' '.join(map(str, given))}.",
            "Steps so far:" if lines else "Steps so far: none",
            *lines,
        ]
        if left is not None:
            prompt.append(f"Numbers left: {format_values(left)}")
        prompt.append("Write the next step, one line in exactly that format.")
        return [Message(role="system", content="You solve the Game of 24 step by step."),
                Message(role="user", content="\n".join(prompt))]

    def step_stop(self, problem: Problem) -> list[str] | None:
        return ["\n"]

    def parse_steps(self, problem: Problem, prefix: Sequence[Step], completion: str
                    ) -> StepParse:
        """Step lines from the start of ``completion`` (blank lines skipped; bullets,
        ``Step 1:`` / ``1.``, Markdown and Unicode operators removed as in whole answers);
        the first line that is not a step ends them."""
        room = self.max_steps(problem) - len(prefix)
        if room <= 0:
            return StepParse(error="the prefix already has the most steps an answer takes")
        steps: list[Step] = []
        error = "the completion holds no step"
        for raw in completion[:_MAX_STEP_TEXT].splitlines():
            if len(steps) >= room:
                break
            if not raw.strip():
                continue
            line = read_step_line(_clean(raw)) if len(raw) <= _MAX_STEP_LINE else \
                f"the line is longer than {_MAX_STEP_LINE} characters"
            if isinstance(line, str):
                error = f"`{raw.strip()[:60]}` is not a step: {line}"
                break
            data: dict[str, Any] = {"expression": render(line.tree),
                                    "value": format_fraction(line.value)}
            if line.left is not None:
                data["left"] = format_values(line.left)
            steps.append(Step(text=line.text(), data=data))
        return StepParse(tuple(steps), None if steps else error)

    def prefix_candidate(self, problem: Problem, steps: Sequence[Step]) -> Candidate:
        lines = [s.text for s in steps]
        return Candidate(raw="\n".join(lines), answer={"steps": lines})

    def assemble(self, problem: Problem, steps: Sequence[Step]) -> str:
        """``{"expression": ...}`` with every step's operation in parentheses (the steps'
        arithmetic exactly), or the step lines without their ``(left: ...)`` when they do
        not build one expression over the given numbers (the check then says why)."""
        lines = [s.text for s in steps]
        expression = chain_expression(lines, self._given(problem))
        if expression is not None:
            return json.dumps({"expression": expression})
        return "\n".join(line.partition("(left")[0].strip() for line in lines)

    def max_steps(self, problem: Problem) -> int:
        return max(0, len(problem.payload["numbers"]) - 1)

    def step_structured(self, problem: Problem, prefix: Sequence[Step], steps: int,
                        exclude: Collection[str] = frozenset()) -> StructuredOutput | None:
        """A grammar of *legal moves* from the numbers left: two of them, an operation, its
        exact result and the numbers then left (``steps`` > 1: chains of such moves to the
        last number); one move leaves out the moves in ``exclude``. It only shapes sampling
        (like the whole-answer grammar): every step is still read and checked, and which move
        leads to the target is left to the search."""
        left = numbers_left([s.text for s in prefix], self._given(problem))
        if left is None or len(left) < 2 or len(left) > 4 or any(v < 0 for v in left):
            return None
        if steps > 1:
            return Grammar(ebnf=step_grammar(tuple(left), True))
        moves = [m for m in legal_moves(tuple(left)) if m not in exclude]
        if not moves:
            raise NoStepLeft(f"every legal step from {format_values(left)} was tried")
        return Grammar(ebnf="root ::= " + " | ".join(f'"{m}"' for m in moves) + "\n")


def numbers_text(text: str) -> list[int] | None:
    """``"4 5 6 10"`` / ``"4, 5, 6, 10"``: integers separated by whitespace or one comma,
    else None (read without a regex: the old pattern backtracked on long whitespace)."""
    tokens = text.replace(",", " , ").split()
    if not tokens or tokens[0] == "," or tokens[-1] == ",":
        return None
    out: list[int] = []
    for prev, token in zip([",", *tokens], tokens, strict=False):
        if token == ",":
            if prev == ",":
                return None
            continue
        digits = token[1:] if token.startswith("-") else token
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 12:
            return None
        out.append(int(token))
    return out


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
_STEP_NUMBER = re.compile(r"^(?:step[ \t]*\d{1,3}[ \t]*[:.)]|\d{1,3}[.)][ \t])[ \t]*",
                          re.IGNORECASE)  # "Step 2:", "2." and "2)" before a step
# `x` as a times sign between numbers or parentheses (a fixed look-behind, one blank run)
_TIMES_X = re.compile(r"(?<=[\d)])[ \t]*[xX][ \t]*(?=[\d(])")
_FRACS = ("\\dfrac", "\\tfrac", "\\frac")
_MAX_FRACS = 16
# steps written on one line: "4*5 = 20, 10-6 = 4 and 20+4 = 24"
_STEP_SEPARATOR = re.compile(r"[,;]|\band\b|\bthen\b", re.IGNORECASE)
# an arithmetic fragment inside prose (after the operators are made ASCII)
_ARITHMETIC_RUN = re.compile(r"[\d \t()+\-*/.=]+")
# words that take back or replace an answer already given
_CORRECTION = re.compile(
    r"\b(?:wait|actually|wrong|mistake|incorrect|oops|hold on|reconsider|instead|"
    r"correction|miscalculat|second thought|not correct|not right|doesn't work|"
    r"does not work|let me redo|scratch that)", re.IGNORECASE)
_CHECK_MARKS = " \t.\u2713\u2714\u2705"
_MAX_MARKED = 64
_MAX_STEP_TEXT = 20_000  # characters of a completion read for steps
_MAX_STEP_LINE = 1_000
_EXAMPLE = ("2 * 3 = 6 (left: 1 4 6)", "4 + 6 = 10 (left: 1 10)", "10 * 1 = 10 (left: 10)")
_MAX_FRAGMENTS = 64  # arithmetic fragments checked after the final answer


@dataclass(frozen=True)
class Reading:
    """What a free-text reply answers: an expression, a chain of steps, or nothing (with the
    reason; ``undecided`` when the reply may state another answer that could not be read)."""

    expression: str | None = None
    steps: tuple[str, ...] | None = None
    error: str = ""
    undecided: bool = False


def extract_expression(completion: str, restated: int | None = None
                       ) -> tuple[str | None, str]:
    """The final expression of a free-text reply, or None and the reason
    (:func:`read_reply` without the given numbers: no step chains)."""
    reading = read_reply(completion, (), restated)
    return reading.expression, reading.error


def read_reply(completion: str, given: Sequence[int], restated: int | None = None
               ) -> Reading:
    """The final answer of a free-text reply.

    Marked answers come first: every ``\\boxed{...}``, every line starting ``Answer:`` /
    ``Final answer:`` / ``The answer is`` (Markdown bold, ``$``, LaTeX operators and a
    trailing period removed; an empty marker line takes the next line), and every fenced
    code block holding one expression. When they give two different expressions (or two
    different stated values), the reply hedges. Without a readable marked answer, the last
    line that is an expression (optionally ``= value``) is taken. Unicode operators
    (the times sign, the middle dot, the minus sign, ...), ``x`` between numbers and
    ``\\frac{a}{b}`` read as their ASCII ones.

    When the answer is one step (``20+4 = 24``) that does not use the ``given`` numbers and
    the reply shows steps (lines ``a op b = c``, or several on the ``Answer:`` line), the
    steps are the answer (checked as a chain by the verifier). Text after the final marked
    answer that corrects it (``Wait, actually: ...``) or states another expression makes the
    reply undecided.

    A marked answer or line that is only the number ``restated`` (the target: ``EXPR = 24``
    then ``Answer: 24``) restates the result: it is no expression, never one that displaces
    the expression it follows (and never a second answer beside it).
    """
    pairs = [(_clean(x), x) for x in completion.splitlines()]
    lines = [c for c, _ in pairs if c]
    marked = _marked(completion, lines)[:_MAX_MARKED]
    chains = [c for c in (_chain(m) for m in marked) if c is not None]
    found = [m for m in marked if _is_expression(m)]
    exprs = [m for m in found if not _restates(m, restated)]
    reading = _choose(exprs, chains, lines, given)
    if reading is None:
        for line in reversed(lines):
            if _is_expression(line) and not _restates(line, restated):
                return _as_steps(line, lines, given)
        if found or any(_restates(line, restated) for line in lines):
            return Reading(error=f"the reply states only the value {restated}, not an "
                                 "expression over the given numbers")
        return Reading(error="no expression found in the reply")
    last = max((k for k, (c, raw) in enumerate(pairs) if _ANSWER_LINE.match(c)
                or "\\boxed" in raw), default=len(pairs))
    doubt = trailing_doubt([raw for _, raw in pairs[last + 1:]], reading.expression,
                           restated)
    if doubt is not None and reading.expression is not None:
        return Reading(error=doubt, undecided=True)
    return reading


def _choose(exprs: list[str], chains: list[tuple[str, ...]], lines: list[str],
            given: Sequence[int]) -> Reading | None:
    """The marked answer: an expression they agree on, a chain of steps, or a hedge."""
    if chains and (len(set(chains)) > 1 or exprs):
        return Reading(error="the reply marks both steps and an expression (or several "
                             "chains) as its answer; they could not be compared",
                       undecided=True)
    if chains:
        return Reading(steps=chains[0])
    if not exprs:
        return None
    expression, error = _agree(exprs)
    if expression is None:
        return Reading(error=error)
    return _as_steps(expression, lines, given)


def _as_steps(expression: str, lines: list[str], given: Sequence[int]) -> Reading:
    """``expression``, or the reply's steps when it is one step of them (a step that does
    not use the given numbers, after other step lines)."""
    if not given or not _is_step(expression) or _uses(expression, given):
        return Reading(expression=expression)
    run = _step_run(lines)
    if run and _canonical(run[-1]) != _canonical(expression):
        run.append(expression)
    if len(run) >= 2:
        return Reading(steps=tuple(run))
    if sum(1 for line in lines if _chain(line) or _is_step(line)) >= 2:
        return Reading(error="the reply shows steps that do not read as one chain (a step "
                             "written in words?)", undecided=True)
    return Reading(expression=expression)


def _uses(expression: str, given: Sequence[int]) -> bool:
    """Whether the expression before ``=`` uses exactly the given numbers."""
    try:
        tree = parse_expression(expression.partition("=")[0])
    except ExpressionSyntaxError:
        return False
    return Counter(leaves(tree)) == Counter(int(n) for n in given)


def _is_step(text: str) -> bool:
    """``a op b = c``: an expression with an operator, then ``=`` and a value."""
    head, eq, tail = text.partition("=")
    return bool(eq) and _is_expression(text) and any(c in "+-*/" for c in head.strip()[1:]) \
        and bool(tail.strip())


def _chain(content: str) -> tuple[str, ...] | None:
    """Two or more steps on one line (``4*5 = 20, 10-6 = 4, 20+4 = 24``), else None."""
    parts = [p.strip().rstrip(".").strip() for p in _STEP_SEPARATOR.split(content)]
    parts = [p for p in parts if p]
    if len(parts) >= 2 and all(_is_step(p) for p in parts):
        return tuple(parts)
    return None


def _step_run(lines: list[str]) -> list[str]:
    """The last run of consecutive step lines of the reply (a line may hold several)."""
    run: list[str] = []
    for line in reversed(lines):
        steps = _chain(line) or ((line,) if _is_step(line) else None)
        if steps is None:
            if run:
                break
            continue
        run[:0] = steps
    return run


def trailing_doubt(tail: Sequence[str], expression: str | None, restated: int | None
                   ) -> str | None:
    """Why the text after a final answer may take it back: a correction (``Wait,
    actually``), a false equation, or an expression that is not the answer or a part of it
    (checks such as ``4*5 = 20`` are fine). None when nothing there does."""
    parts = _subexpressions(expression)
    budget = _MAX_FRAGMENTS
    for raw in tail:
        shown = raw.strip()[:60]
        if _CORRECTION.search(raw):
            return f"after the final answer the reply goes on `{shown}`"
        for run in _ARITHMETIC_RUN.finditer(_clean(raw)):
            fragment = run.group(0).strip(" \t.=")
            if not _has_operator(fragment):
                continue
            budget -= 1
            if budget < 0:
                return (f"after the final answer the reply holds more than {_MAX_FRAGMENTS} "
                        "pieces of arithmetic, too many to check")
            if _stray(fragment, parts, restated):
                return f"after the final answer the reply states `{fragment[:60]}`"
    return None


def _has_operator(fragment: str) -> bool:
    return any(c in "+-*/" for c in fragment[1:]) and any(c.isdigit() for c in fragment)


def _stray(fragment: str, parts: set[str], restated: int | None) -> bool:
    """A fragment after the answer that is a false equation or another expression."""
    sides = fragment.split("=")
    try:
        values = {evaluate(parse_expression(side)) for side in sides}
        trees = [parse_expression(side) for side in sides]
    except (ExpressionSyntaxError, DivisionByZero):
        return False  # not arithmetic that reads: prose such as dates or ranges
    if len(sides) > 1:
        return len(values) > 1
    return render(trees[0]) not in parts and not _restates(fragment, restated)


def _subexpressions(expression: str | None) -> set[str]:
    """The canonical text of every part of the expression (before ``=``)."""
    if expression is None:
        return set()
    try:
        tree = parse_expression(expression.partition("=")[0])
    except ExpressionSyntaxError:
        return set()
    out: set[str] = set()
    stack: list[Expr] = [tree]
    while stack:
        node = stack.pop()
        out.add(render(node))
        if isinstance(node, BinOp):
            stack.extend((node.left, node.right))
    return out


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
        out.append(_clean(boxed[-1]) if boxed else (
            content if _chain(content) else _first_sentence(content)))
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
    """One line without Markdown emphasis, math delimiters, LaTeX operators, a step number
    and a trailing period or check mark; ``\\frac{a}{b}`` as ``(a)/(b)``, ``4 x 5`` as
    ``4*5``."""
    text = normalize(text).strip()  # Unicode operators: the ASCII ones the grammar reads
    boxed = boxed_contents(text)
    if len(boxed) == 1 and text.startswith(("\\boxed", "$\\boxed", "\\[\\boxed",
                                                  "\\(\\boxed")):
        text = boxed[0]
    text = _fractions(text)
    for old, new in _LATEX_OPS:
        text = text.replace(old, new)
    text = _LEADER.sub("", text.strip())
    text = _STEP_NUMBER.sub("", text)
    text = _TIMES_X.sub("*", text)
    return text.rstrip(_CHECK_MARKS).strip()


def _fractions(text: str) -> str:
    """``\\frac{a}{b}`` (also ``\\dfrac``, ``\\tfrac``, nested) as ``((a)/(b))``; the text
    unchanged when a fraction's braces do not close (at most a few fractions, short text)."""
    if "frac" not in text or len(text) > 1000:
        return text
    for _ in range(_MAX_FRACS):
        start = max(text.rfind(name) for name in _FRACS)
        if start < 0:
            return text
        name = next(n for n in _FRACS if text.startswith(n, start))
        first = _braced(text, start + len(name))
        second = _braced(text, first[1]) if first is not None else None
        if first is None or second is None:
            return text
        text = (f"{text[:start]}(({text[first[0]:first[1] - 1]})/"
                f"({text[second[0]:second[1] - 1]})){text[second[1]:]}")
    return text


def _braced(text: str, at: int) -> tuple[int, int] | None:
    """(start of the body, index just past the ``}``) of the ``{...}`` at ``at`` (after
    blanks), or None."""
    while at < len(text) and text[at] == " ":
        at += 1
    if at >= len(text) or text[at] != "{":
        return None
    depth = 0
    for j in range(at, len(text)):
        depth += (text[j] == "{") - (text[j] == "}")
        if depth == 0:
            return at + 1, j + 1
    return None


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


@lru_cache(maxsize=512)
def legal_moves(left: tuple[Fraction, ...]) -> tuple[str, ...]:
    """Every legal step line from the numbers ``left``: sums and products once per pair,
    differences larger minus smaller, quotients both ways with a non-zero divisor."""
    return tuple(line for line, _ in _moves(left))


def _moves(left: tuple[Fraction, ...]) -> list[tuple[str, tuple[Fraction, ...]]]:
    out: dict[str, tuple[Fraction, ...]] = {}
    for i, j in itertools.combinations(range(len(left)), 2):
        a, b = left[i], left[j]
        rest = [v for k, v in enumerate(left) if k not in (i, j)]
        moves = [(a, "+", b, a + b), (a, "*", b, a * b),
                 (max(a, b), "-", min(a, b), abs(a - b))]
        moves += [(x, "/", y, x / y) for x, y in ((a, b), (b, a)) if y != 0]
        for x, op, y, result in moves:
            after = tuple(sorted([*rest, result]))
            line = (f"{format_fraction(x)} {op} {format_fraction(y)} = "
                    f"{format_fraction(result)} (left: {format_values(after)})")
            out.setdefault(line, after)
    return list(out.items())


@lru_cache(maxsize=512)
def step_grammar(left: tuple[Fraction, ...], chain: bool) -> str:
    """xgrammar EBNF of one legal step from ``left`` (``chain``: legal steps down to one
    number, one per line)."""
    names: dict[tuple[Fraction, ...], str] = {}
    rules: list[str] = []

    def name(state: tuple[Fraction, ...]) -> str:
        if state in names:
            return names[state]
        rule = f"s{len(names)}"
        names[state] = rule
        alternatives = []
        for line, after in _moves(state):
            more = f' "\\n" {name(after)}' if chain and len(after) > 1 else ""
            alternatives.append(f'"{line}"{more}')
        rules.append(f"{rule} ::= " + " | ".join(alternatives))
        return rule

    root = name(tuple(sorted(left)))
    return "\n".join([f"root ::= {root}", *rules]) + "\n"
