"""Math word problems with a reference answer (GSM8K / MATH style), verified by ``math``.

Problems: ``{"question": ..., "answer": ...}``; the answer may be a bare value,
a worked solution ending in ``#### 72`` (GSM8K) or containing ``\\boxed{...}``
(MATH). ``problem`` / ``solution`` are accepted as aliases, and a problem may
declare ``tolerance`` / ``relative_tolerance`` (default: exact), ``assumptions`` about its
variables (``{"x": "positive"}``, read by :mod:`llm_modulo.verifiers.math.equiv`) or, for "solve"
problems, ``equations`` to substitute into instead of (or besides) a reference.
Optional fields that say how to read answers: ``variables`` (names an answer may
use), ``ordered`` (whether a bare list is ordered), ``unit`` (the unit asked for),
``choices`` (multiple-choice letters), ``decimal_comma`` (``1,5`` is 1.5).
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel, Field, field_validator

from llm_modulo.domain import MAX_COMPLETION_CHARS, Domain, OtherAnswers
from llm_modulo.errors import ProblemError
from llm_modulo.jsonanswer import HEDGE, Answer, is_hedge
from llm_modulo.types import Candidate, Problem
from llm_modulo.verifiers.math.equiv import ASSUMPTIONS, assumed_symbols
from llm_modulo.verifiers.math.text import (
    MAX_ANSWER_CHARS,
    UNREADABLE,
    MathSyntaxError,
    TooComplex,
    Unreadable,
    choice_letter,
    extract_answer,
)
from llm_modulo.verifiers.math.verifier import MathVerifier, problem_system, readings

_ANSWER_HINT = ('Answer as {"answer": "..."} with only the final answer in LaTeX or plain '
                'text, for example {"answer": "\\\\frac{3}{4}"}. Give exact values (fractions, '
                "roots, pi) rather than rounded decimals.")


class MathAnswer(BaseModel):
    answer: str = Field(description="The final answer only, in LaTeX or plain text",
                        max_length=MAX_ANSWER_CHARS)

    @field_validator("answer", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        """A JSON number (``{"answer": 0.5}``) is read as its text; booleans are not numbers."""
        if isinstance(value, float) and not math.isfinite(value):
            # JSON 1e400 arrives as inf: reading it as \infty would change the answer
            raise ValueError(f"{value} is not a finite number; give the answer as text")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value


def _number(raw: dict[str, Any], key: str) -> float | int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            math.isfinite(value) and value >= 0):
        raise ProblemError(f'"{key}" must be a finite non-negative number, got {value!r}')
    if key == "relative_tolerance" and value >= 1:
        raise ProblemError(f'"{key}" must be below 1 (a relative tolerance of {value} accepts '
                           "0 for every answer)")
    return value


def _flag(raw: dict[str, Any], key: str) -> bool:
    value = raw.get(key, True)
    if not isinstance(value, bool):
        raise ProblemError(f'"{key}" must be true or false, got {value!r:.60}')
    return value


_VARIABLE = re.compile(r"[A-Za-z](?:_[A-Za-z0-9]+)?|\\?(?:alpha|beta|gamma|delta|theta|lambda|mu|"
                       r"phi|varphi|omega|sigma|tau|rho)")


def _variables(raw: dict[str, Any]) -> list[str]:
    names = _strings(raw, "variables")
    for name in names:
        if not _VARIABLE.fullmatch(name) or name in ("e", "i"):
            raise ProblemError(f'"variables": {name!r} is not a variable name; use one letter '
                               "with an optional subscript (x, y, x_1) other than the constants "
                               "e and i")
    if len(set(names)) != len(names):
        raise ProblemError('"variables" names a variable twice')
    return [n.lstrip("\\") for n in names]


def _assumptions(value: Any) -> dict[str, list[str]]:
    """``{"x": "positive", "n": ["integer", "nonnegative"]}``, checked; ProblemError else."""
    if not isinstance(value, dict):
        raise ProblemError('"assumptions" must map variables to assumptions, e.g. '
                           '{"x": "positive"}')
    out: dict[str, list[str]] = {}
    for name, props in value.items():
        if not isinstance(name, str) or not _VARIABLE.fullmatch(name) or name in ("e", "i"):
            raise ProblemError(f'"assumptions": {name!r:.40} is not a variable name')
        props = [props] if isinstance(props, str) else props
        if not isinstance(props, list) or not props or not all(isinstance(p, str)
                                                                for p in props):
            raise ProblemError(f'"assumptions" of {name!r} must be a name or a list of names '
                               f"({', '.join(ASSUMPTIONS)})")
        out[name.lstrip("\\")] = props
    try:
        assumed_symbols(out)
    except ValueError as exc:
        raise ProblemError(f'"assumptions": {exc}') from None
    return out


def _explain(exc: MathSyntaxError | TooComplex) -> str:
    return exc.with_column() if isinstance(exc, MathSyntaxError) else str(exc)


def _strings(raw: dict[str, Any], key: str) -> list[str]:
    value = raw.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProblemError(f'"{key}" must be a list of strings')
    return value


def math_payload(raw: dict[str, Any], *, need_answer: bool) -> dict[str, Any]:
    """The validated payload shared by the math domains; raises ProblemError."""
    payload: dict[str, Any] = {}
    question = raw.get("question", raw.get("problem"))
    if question is not None:
        payload["question"] = str(question)
    answer = raw.get("answer", raw.get("final_answer"))
    if answer is None and raw.get("solution") is not None:
        answer = raw["solution"]
    for key in ("ordered", "decimal_comma"):
        if key in raw:
            payload[key] = _flag(raw, key)
    if raw.get("unit") is not None:
        if not isinstance(raw["unit"], str) or not _UNIT.fullmatch(raw["unit"]):
            raise ProblemError('"unit" must be a unit written in letters, such as "meters"')
        payload["unit"] = raw["unit"]
    if raw.get("choices") is not None:
        payload["choices"] = _choices(raw["choices"])
    if raw.get("variables") is not None:
        payload["variables"] = _variables(raw)
    if answer is not None:
        if isinstance(answer, bool) or not isinstance(answer, str | int | float) or (
                isinstance(answer, float) and not math.isfinite(answer)):
            raise ProblemError(f'"answer" must be a string or a finite number, got '
                               f"{answer!r:.60}")
        payload.update(_reference(str(answer), payload))
    for key in ("tolerance", "relative_tolerance"):
        if (value := _number(raw, key)) is not None:
            payload[key] = value
    if raw.get("assumptions") is not None:
        payload["assumptions"] = _assumptions(raw["assumptions"])
    equations = _strings(raw, "equations")
    if equations:
        payload["equations"] = equations
        payload["variables"] = _variables(raw)
        payload["real"] = _flag(raw, "real")
        payload["all_solutions"] = _flag(raw, "all_solutions")
        try:
            problem_system(payload)
        except (MathSyntaxError, TooComplex) as exc:
            raise ProblemError(f"the equations cannot be read: {_explain(exc)}") from None
    if need_answer and "answer" not in payload and "equations" not in payload:
        raise ProblemError('a math problem needs an "answer" (or "solution") or "equations"')
    return payload


_UNIT = re.compile(r"[A-Za-z]+(?: [A-Za-z]+){0,3}")


def _choices(value: Any) -> list[str]:
    """``["A", "B", "C"]`` or ``{"A": "12", "B": "13"}``: the letters of the options."""
    letters = list(value) if isinstance(value, list | dict) else None
    if not letters or not all(isinstance(c, str) and len(c) == 1 and c.isascii()
                              and c.isalpha() for c in letters):
        raise ProblemError('"choices" must be a list of option letters such as ["A", "B", '
                           '"C", "D"] (or an object keyed by them)')
    upper = [c.upper() for c in letters]
    if len(set(upper)) != len(upper):
        raise ProblemError('"choices" names a letter twice')
    return upper


def _reference(answer: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The reference's fields: its text, or why no answer can be decided against it.

    Text the grammar cannot read is a problem error; a reference over a size cap or with no
    single reading is kept and every check of it is UNKNOWN."""
    try:
        text = extract_answer(answer, reference=True)
        if payload.get("choices"):
            if choice_letter(text) not in payload["choices"]:
                raise ProblemError(f"the reference answer {answer[:60]!r} is not one of the "
                                   "choices' letters")
            return {"answer": text}
        readings(text, bool(payload.get("decimal_comma")))
    except MathSyntaxError as exc:
        raise ProblemError(f"the reference answer {answer[:60]!r} cannot be read: "
                           f"{_explain(exc)}") from None
    except (TooComplex, Unreadable) as exc:
        return {"answer": answer[:MAX_ANSWER_CHARS], "reference_unreadable": str(exc)}
    return {"answer": text}


def problem_id(raw: dict[str, Any]) -> str | None:
    for key in ("id", "unique_id", "idx"):
        if raw.get(key) is not None:
            return str(raw[key])
    return None


class MathDomain(Domain):
    """What the math domains share: the ``math`` verifier, the answer model, extraction."""

    verifier = "math"
    answer_model = MathAnswer

    def system_prompt(self) -> str:
        return ("You are a careful mathematician. Reason briefly, then give the final answer as "
                "a single JSON object.")

    def parse_fallback(self, problem: Problem, completion: str) -> Candidate:
        return answer_candidate(completion)

    def same_answer(self, problem: Problem, a: Answer, b: Answer) -> bool | None:
        """Two answers of one reply are the same when the math verifier proves ``a`` equal to
        ``b`` under this problem's reading rules (units, order, assumptions), different when
        it proves them different, and undecided otherwise."""
        first, second = a.get("answer"), b.get("answer")
        if not isinstance(first, str) or not isinstance(second, str):
            return super().same_answer(problem, a, b)  # a JSON number: compared by value
        if first.strip() == second.strip() or super().same_answer(problem, a, b):
            return True
        # each against the other, as the verifier would judge it: a decision only when both
        # directions agree (the reading rules are not symmetric: names, units, forms)
        one, two = _decided(problem, first, second), _decided(problem, second, first)
        return one if one is two else None

    def other_answers(self, problem: Problem, answer: Answer, outside: str,
                      tail: str) -> OtherAnswers:
        """A box, ``####`` or an answer phrase outside the JSON states an answer too; its text
        is read as a free-text reply is (an answer phrase with nothing after it, as in "The
        answer is:" before the JSON, states nothing)."""
        text = outside[:MAX_COMPLETION_CHARS]
        if _MARKED.search(text) is None:
            return OtherAnswers()
        try:
            stated = extract_answer(text)
        except MathSyntaxError as exc:
            return OtherAnswers(doubt=f"the reply also {exc}")
        except (TooComplex, Unreadable) as exc:
            return OtherAnswers(doubt=f"an answer stated outside the JSON cannot be read: {exc}")
        if not stated.strip():
            return OtherAnswers()
        return OtherAnswers(answers=({"answer": stated},))


def _decided(problem: Problem, candidate: str, reference: str) -> bool | None:
    """Whether the math verifier proves ``candidate`` equal to ``reference`` (True), proves it
    different (False) or cannot decide (None), under this problem's reading rules."""
    keep = {k: v for k, v in problem.payload.items() if k not in _NOT_FOR_COMPARING}
    try:
        payload = math_payload({**keep, "answer": reference}, need_answer=True)
    except ProblemError:
        return None
    if payload.get("reference_unreadable"):
        return None
    compared = Problem(domain=problem.domain, payload=payload)
    result = MathVerifier().check(compared, Candidate(raw=candidate, answer={"answer": candidate}))
    return {"accept": True, "reject": False}.get(result.status.value)


#: Payload fields that do not take part in comparing two answers of one reply.
_NOT_FOR_COMPARING = frozenset({"answer", "equations", "real", "all_solutions",
                                "reference_unreadable"})
#: Where a free-text reply states an answer: a box, ``####`` or an answer phrase.
_MARKED = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])|####|(?i:\banswer\s*(?:is\b|:|=))")


class MathAnswerDomain(MathDomain):
    name = "math_answer"
    version = "1.0"
    description = ("Math problems with a reference answer (GSM8K/MATH JSONL); proven "
                   "equivalence with sympy.")

    def parse_problem(self, raw: str | dict[str, Any]) -> Problem:
        if not isinstance(raw, dict):
            raise ProblemError('a math_answer problem is JSON such as {"question": "Half of '
                               'one?", "answer": "\\\\frac{1}{2}"}')
        payload = math_payload(raw, need_answer=True)
        return Problem(domain=self.name, payload=payload, id=problem_id(raw))

    def render_prompt(self, problem: Problem) -> str:
        question = problem.payload.get("question") or "Solve: " + "; ".join(
            problem.payload.get("equations", []))
        return f"{question}\n\n{self.answer_instruction(problem)}"

    def answer_instruction(self, problem: Problem) -> str:
        return _ANSWER_HINT


def answer_candidate(completion: str) -> Candidate:
    """The final answer of a free-text reply: boxed, after ``####``, or the last line."""
    try:
        text = extract_answer(completion)
    except MathSyntaxError as exc:  # boxes that are not a list: a hedge
        message = str(exc)
        return Candidate(raw=completion[:1000],
                         parse_error=message if is_hedge(message) else HEDGE + message)
    except (TooComplex, Unreadable) as exc:  # no single answer: the verifier says UNKNOWN
        return Candidate(raw=completion[:1000], parse_error=f"{UNREADABLE}{exc}")
    if not text:
        return Candidate(raw=completion, parse_error="no answer found in the reply")
    return Candidate(raw=completion, answer={"answer": text})


