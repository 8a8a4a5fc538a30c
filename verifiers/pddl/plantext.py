"""Plan text -> steps. IPC style and natural language, by regular grammar, never eval.

IPC: one ``(action arg ...)`` per line (several per line are allowed), ``;``
comments, optional ``N:`` / ``N.N:`` time stamps and ``[duration]``, a
trailing ``; cost = ...`` line. Natural language: each line is read through the
domain's templates (:mod:`verifiers.pddl.nl`). Bullets, ``1.``/``Step 1:``
numbering and PlanBench's ``[PLAN]`` / ``[PLAN END]`` markers are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from verifiers.pddl.nl import NLReader
from verifiers.pddl.sexpr import fold
from verifiers.pddl.simulate import Step

MAX_PLAN_CHARS = 5_000_000
MAX_STEPS = 200_000
_COMMENT = re.compile(r";.*$")
_STAMP = re.compile(r"^\s*\d+(?:\.\d+)?\s*:\s*")
_DURATION = re.compile(r"\s*\[[^\]]*\]\s*$")
_ACTIONS_LINE = re.compile(r"^(?:\(\s*[^\s()]+(?:\s+[^\s()]+)*\s*\)\s*)+$")
_ACTION = re.compile(r"\(\s*([^\s()]+)((?:\s+[^\s()]+)*)\s*\)")
_PLAIN = re.compile(r"\s*\(\s*([^\s();]+)((?:\s+[^\s();]+)*)\s*\)\s*")
_DECORATION = re.compile(r"^\s*(?:[-*\u2022]\s+|(?:step\s*)?\d+\s*[.):]\s*|step\s+\d+\s*-\s*)",
                         re.IGNORECASE)
_MARKER = re.compile(r"^\s*\[\s*plan(?:\s+end)?\s*\]\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    text: str
    reason: str


def parse_plan(text: str | Sequence[str], reader: NLReader | None = None,
               choose: Callable[[list[tuple[str, tuple[str, ...]]]],
                                tuple[str, tuple[str, ...]] | None] | None = None,
               ) -> tuple[list[Step], list[LineError]]:
    """Steps of a plan and the lines that could not be read as actions.

    An English line with several readings goes to ``choose``, which returns the one
    reading that can be meant or None (then the line is an error: never a guess).
    """
    lines = text.splitlines() if isinstance(text, str) else list(text)
    if sum(len(x) for x in lines) > MAX_PLAN_CHARS:
        return [], [LineError(0, "", f"the plan is longer than {MAX_PLAN_CHARS} characters")]
    steps: list[Step] = []
    errors: list[LineError] = []
    for lineno, raw in enumerate(lines, 1):
        if len(steps) > MAX_STEPS:
            errors.append(LineError(lineno, "", f"the plan has more than {MAX_STEPS} steps"))
            break
        plain = _PLAIN.fullmatch(raw)
        if plain is not None:  # the common case, one action alone on its line
            steps.append(Step(len(steps) + 1, fold(plain.group(1)),
                              tuple(fold(plain.group(2)).split()), lineno, raw.strip()))
            continue
        body = _COMMENT.sub("", raw).strip()
        if not body or _MARKER.match(body):
            continue
        ipc = _DURATION.sub("", _STAMP.sub("", body))
        if not _ACTIONS_LINE.match(ipc):
            ipc = _DECORATION.sub("", ipc)
        if _ACTIONS_LINE.match(ipc):
            for m in _ACTION.finditer(ipc):
                steps.append(Step(len(steps) + 1, fold(m.group(1)),
                                  tuple(fold(m.group(2)).split()), lineno, m.group(0)))
        else:
            english = _DECORATION.sub("", body)
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
            steps.append(Step(len(steps) + 1, action, args, lineno, raw.strip()))
    return steps, errors
