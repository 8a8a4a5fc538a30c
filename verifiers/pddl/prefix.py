"""Prefix checks: can a plan that starts with these steps still be valid?

A prefix is a list of lines, each exactly one unstamped action (PDDL ``(unstack b a)`` or,
with templates, an English step), read alone by the line reader the whole-plan check uses
(:func:`~llm_modulo.verifiers.pddl.validator.read_lines`). It is run from the initial state
by the simulator's own rules (:meth:`~llm_modulo.verifiers.pddl.simulate.Task.advance`):

- a step with an unknown action or object, a wrong arity or type: dead (REJECT). VAL
  type-checks every step of a plan before running any, so any plan containing the step is
  invalid, whatever follows;
- a step whose precondition is false in the state the earlier steps lead to: dead (REJECT).
  Any plan of unstamped steps that starts with these steps runs them in this order from the
  same state, so it fails at that step;
- every step runs and the goal holds: ACCEPT with ``{"complete": True}`` (the prefix itself
  is a valid plan);
- every step runs and the goal does not hold yet: ACCEPT (alive; whether the goal can still
  be reached is not decided).

"Dead" is about extensions by unstamped steps, the only steps a stepwise search adds (its
domains read steps without time stamps). A stamped step could be scheduled before the prefix,
so a prefix with a stamp is UNKNOWN, and so is a line that is not exactly one action (blank,
unreadable, ambiguous, several actions, a ``\\`` continuation) and a task the simulator
cannot decide (unsupported PDDL).

A search checks every growing prefix of the same plan, so the state after an alive prefix is
kept (a few per worker process): checking a prefix that extends a known one runs only the
new steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llm_modulo.verifier import CheckResult
from llm_modulo.verifiers.pddl.formula import Atom
from llm_modulo.verifiers.pddl.nl import NLReader, Templates
from llm_modulo.verifiers.pddl.plantext import MAX_PLAN_CHARS, MAX_STEPS
from llm_modulo.verifiers.pddl.simulate import Result, Step, Task
from llm_modulo.verifiers.pddl.validator import STRUCTURAL, Report, read_lines

#: alive prefixes remembered per worker process (a search's current branches)
KEEP = 8
#: a prefix longer than this (in characters) is not remembered (bounds a worker's memory)
REMEMBER_CHARS = 1_000_000


@dataclass(frozen=True)
class _Known:
    """An alive prefix of a task: its lines, their length and the state they lead to."""

    task: Task
    templates: Templates | None
    reader: NLReader | None
    lines: tuple[str, ...]
    chars: int
    state: frozenset[Atom]


_KNOWN: list[_Known] = []


def _longest_known(task: Task, templates: Templates | None, lines: tuple[str, ...]
                   ) -> tuple[_Known | None, NLReader | None, bool]:
    """The longest remembered alive prefix of ``lines`` (or None), a reader for the task,
    and whether the best entry is the most recent one."""
    best: _Known | None = None
    reader: NLReader | None = None
    found_reader = False
    most_recent = False
    for i, known in enumerate(_KNOWN):
        if known.task is not task or known.templates is not templates:
            continue
        if not found_reader:
            reader, found_reader = known.reader, True
        n = len(known.lines)
        if n <= len(lines) and (best is None or n > len(best.lines)) and \
                lines[:n] == known.lines:
            best, most_recent = known, i == 0
    if not found_reader and templates is not None:
        reader = templates.reader(task.object_types)
    return best, reader, most_recent


def _remember(known: _Known, replace_first: bool) -> None:
    if replace_first and _KNOWN:
        _KNOWN[0] = known
    else:
        _KNOWN.insert(0, known)
        del _KNOWN[KEEP:]


def _read_step(task: Task, reader: NLReader | None, line: str, index: int
               ) -> Step | str:
    """The one unstamped action ``line`` is, or why it is not one."""
    if line.rstrip().endswith("\\"):
        return "ends in `\\` (the line reader would join it with the next line)"
    steps, errors = read_lines(task, [line], reader=reader)
    if errors:
        return errors[0].reason
    if len(steps) != 1:
        return "is not one action" if steps else "has no action"
    step = steps[0]
    if step.time is not None:
        return ("has a time stamp (a stamped step could be scheduled before the earlier "
                "steps, so whether the prefix is dead cannot be decided)")
    return Step(index, step.action, step.args, index, line.strip())


def check_prefix(task: Task, lines: Sequence[str], templates: Templates | None = None
                 ) -> CheckResult:
    """The prefix verdict on ``lines`` (see the module docstring)."""
    key = tuple(lines)
    known, reader, most_recent = _longest_known(task, templates, key)
    start = 0 if known is None else len(known.lines)
    chars = (0 if known is None else known.chars) + sum(len(x) for x in key[start:])
    if len(key) > MAX_STEPS or chars > MAX_PLAN_CHARS:
        return CheckResult.unknown(f"the prefix is longer than {MAX_STEPS} steps or "
                                   f"{MAX_PLAN_CHARS} characters")
    state = task.init if known is None else known.state
    new: list[Step] = []
    for i in range(start, len(key)):
        step = _read_step(task, reader, key[i], i + 1)
        if isinstance(step, str):
            return CheckResult.unknown(f"prefix line {i + 1} `{key[i].strip()[:200]}` {step}; "
                                       f"a prefix is one unstamped action per line")
        new.append(step)
    after, issues = task.advance(state, new)
    if issues:
        report = Report(task, new, [], Result(issues, len(key), 0, None), templates)
        first = issues[0]
        assert first.step is not None
        executed = 0 if first.kind in STRUCTURAL else first.step.index - 1
        return CheckResult.reject(*report.critiques(), steps=len(key), complete=False,
                                  failure=first.kind, step=first.step.index, executed=executed)
    if (new or known is None) and chars <= REMEMBER_CHARS:
        _remember(_Known(task, templates, reader, key, chars, after),
                  replace_first=most_recent and bool(new))
    return CheckResult.accept(complete=task.goal_holds(after), steps=len(key))
