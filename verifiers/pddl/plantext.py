r"""Plan text -> steps, leniently, line by line: for plans written by language models.

IPC: one ``(action arg ...)`` per line (several per line are allowed), ``;``
comments, optional ``N:`` time stamps (VAL's numbers: ``3``, ``-1``, ``0.5``, ``1.``)
and one ``[duration]``, a trailing ``; cost = ...`` line. Natural language: each line
is read through the domain's templates (:mod:`llm_modulo.verifiers.pddl.nl`).

Extraction, with ``lenient`` (the default): bullets, ``1.``/``1)``/``Step 1:``
numbering, PlanBench's ``[PLAN]`` / ``[PLAN END]`` markers and the lines of one
Markdown code fence (```` ``` ```` or ```` ```pddl ````) are ignored, and a line ending
in ``\`` continues on the next. Several answers are a hedge, never a choice: two
fenced blocks or two ``[PLAN]`` blocks are an error on the line where the second one
starts. Without ``lenient`` only comments are dropped and every other line must be a
step (``N:`` stamps and ``[duration]`` included).

VAL's own plan-file format is :mod:`llm_modulo.verifiers.pddl.valplan`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from llm_modulo.verifiers.pddl.nl import NLReader
from llm_modulo.verifiers.pddl.sexpr import fold
from llm_modulo.verifiers.pddl.simulate import Step

MAX_PLAN_CHARS = 5_000_000
MAX_STEPS = 200_000
_COMMENT = re.compile(r";.*$")
_STAMP = re.compile(r"^\s*(-?\d+(?:\.\d*)?)\s*:\s*")
_NUMBER = r"-?\d+(?:\.\d*)?"
#: one step: an optional stamp, the action, an optional duration
_STEP = re.compile(rf"(?:({_NUMBER})\s*:\s*)?\(\s*([^\s();]+)((?:\s+[^\s();]+)*)\s*\)"
                   rf"(?:\s*\[\s*{_NUMBER}\s*\])?")
_PLAIN = re.compile(r"\s*\(\s*([^\s();]+)((?:\s+[^\s();]+)*)\s*\)\s*")
_DECORATION = re.compile(r"^\s*(?:[-*\u2022]\s+|(?:step\s*)?\d+\s*[.)]\s*|step\s*\d+\s*:\s*"
                         r"|step\s+\d+\s*-\s*)", re.IGNORECASE)
_MARKER = re.compile(r"^\s*\[\s*plan(?:\s+end)?\s*\]\s*$", re.IGNORECASE)
_FENCE = re.compile(r"^\s*```\s*[\w+-]*\s*$")


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    text: str
    reason: str


def parse_plan(text: str | Sequence[str], reader: NLReader | None = None,
               choose: Callable[[list[tuple[str, tuple[str, ...]]]],
                                tuple[str, tuple[str, ...]] | None] | None = None,
               *, lenient: bool = True) -> tuple[list[Step], list[LineError]]:
    """Steps of a plan and the lines that could not be read as actions.

    An English line with several readings goes to ``choose``, which returns the one
    reading that can be meant or None (then the line is an error: never a guess).
    """
    lines = text.splitlines() if isinstance(text, str) else list(text)
    if sum(len(x) for x in lines) > MAX_PLAN_CHARS:
        return [], [LineError(0, "", f"the plan is longer than {MAX_PLAN_CHARS} characters")]
    steps: list[Step] = []
    errors: list[LineError] = []
    extract = _Extraction()
    for lineno, raw in _joined(lines) if lenient else enumerate(lines, 1):
        if len(steps) > MAX_STEPS:
            errors.append(LineError(lineno, "", f"the plan has more than {MAX_STEPS} steps"))
            break
        plain = _PLAIN.fullmatch(raw)
        if plain is not None:  # the common case, one action alone on its line
            steps.append(Step(len(steps) + 1, fold(plain.group(1)),
                              tuple(fold(plain.group(2)).split()), lineno, raw.strip()))
            continue
        body = _COMMENT.sub("", raw).strip()
        if not body:
            continue
        if lenient and (_MARKER.match(body) or _FENCE.match(body)):
            hedge = extract.see(body)
            if hedge:
                errors.append(LineError(lineno, raw.strip(), hedge))
            continue
        found = _ipc_steps(body, lineno, len(steps))
        if found is None and lenient:
            found = _ipc_steps(_DECORATION.sub("", body, count=1), lineno, len(steps))
        if found is not None:
            steps.extend(found)
            continue
        stamp = _STAMP.match(body)
        english = body[stamp.end():] if stamp else body
        if lenient:
            english = _DECORATION.sub("", english, count=1)
        readings = reader.read(english) if reader is not None else []
        if not readings:
            why = ("is not an action in PDDL form `(action arg ...)`" if reader is None else
                   "is not an action of this domain")
            errors.append(LineError(lineno, raw.strip(), why))
            continue
        pick = readings[0] if len(readings) == 1 else choose(readings) if choose else None
        if pick is None:
            shown = ", ".join("(" + " ".join((a, *x)) + ")" for a, x in readings[:4])
            errors.append(LineError(lineno, raw.strip(), f"can be read as more than one "
                                    f"action ({shown}); write it in PDDL form"))
            continue
        action, args = pick
        time = float(stamp.group(1)) if stamp else None
        steps.append(Step(len(steps) + 1, action, args, lineno, raw.strip(), time))
    return steps, errors


def _ipc_steps(body: str, lineno: int, before: int) -> list[Step] | None:
    """The steps of a line made only of ``[N:] (action arg ...) [[D]]``, else None."""
    out: list[Step] = []
    end = 0
    for m in _STEP.finditer(body):
        if body[end:m.start()].strip():
            return None
        end = m.end()
        time = float(m.group(1)) if m.group(1) is not None else None
        out.append(Step(before + len(out) + 1, fold(m.group(2)), tuple(fold(m.group(3)).split()),
                        lineno, m.group(0).strip(), time))
    if not out or body[end:].strip():
        return None
    return out


def _joined(lines: list[str]) -> list[tuple[int, str]]:
    """Lines numbered from 1, a line ending in ``\\`` joined with the next (its number kept)."""
    out: list[tuple[int, str]] = []
    carry: tuple[int, str] | None = None
    for n, line in enumerate(lines, 1):
        if carry is not None:
            n, line = carry[0], carry[1] + " " + line
            carry = None
        stripped = line.rstrip()
        if stripped.endswith("\\") and ";" not in stripped:
            carry = (n, stripped[:-1])
            continue
        out.append((n, line))
    if carry is not None:
        out.append(carry)
    return out


class _Extraction:
    """Fences and [PLAN] markers seen so far: a second block of either is a hedge."""

    def __init__(self) -> None:
        self.fences = 0
        self.plans = 0

    def see(self, body: str) -> str | None:
        if _FENCE.match(body):
            self.fences += 1
            if self.fences == 3:
                return ("a second fenced block: the reply gives more than one plan (a hedge); "
                        "give exactly one")
            return None
        if "end" not in body.lower():
            self.plans += 1
            if self.plans == 2:
                return ("a second [PLAN] block: the reply gives more than one plan (a hedge); "
                        "give exactly one")
        return None
