"""Plans one action at a time: the stepwise reading and writing behind the planning domains.

A step is one ground action. It is shown in prompts as the one-shot prompt asks for actions
(English through PlanBench's templates when the problem is described in English, PDDL
otherwise) and kept as ``{"action": name, "args": [object, ...]}``; the verifier is always
given the PDDL form ``(unstack b a)``, which both its readers take.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from llm_modulo.stepwise import StepParse
from llm_modulo.types import Step
from llm_modulo.verifiers.pddl.nl import Templates
from llm_modulo.verifiers.pddl.simulate import Task
from llm_modulo.verifiers.pddl.validator import read_lines

#: the most characters of one completion read for steps (a step is a short line)
MAX_STEP_CHARS = 100_000
#: PlanBench's end-of-plan marker: nothing after it is read
_PLAN_END = re.compile(r"\s*\[\s*plan\s+end\s*\]\s*", re.IGNORECASE)


def pddl_action(action: str, args: Sequence[str]) -> str:
    return "(" + " ".join((action, *args)) + ")"


def make_step(action: str, args: Sequence[str], templates: Templates | None) -> Step:
    """The step for one ground action, its text in the prompts' form."""
    text = templates.action_text(action, args) if templates is not None and templates.intro \
        else None
    return Step(text=text or pddl_action(action, args),
                data={"action": action, "args": list(args)})


def step_action(step: Step) -> str:
    """The PDDL form of ``step``'s action (its text when it carries no readable data)."""
    action, args = step.data.get("action"), step.data.get("args")
    if isinstance(action, str) and isinstance(args, list) and \
            all(isinstance(a, str) for a in args):
        return pddl_action(action, args)
    return step.text


def read_steps(task: Task, templates: Templates | None, completion: str, limit: int
               ) -> StepParse:
    """At most ``limit`` steps read from ``completion``, one action per line, by the line
    reader of whole plans (PDDL or, with templates, English; bullets, numbering, ``[PLAN]``
    and fences are skipped). The first line that is no action ends the steps, and so does
    ``[PLAN END]``; a time stamp is dropped (a step is the action)."""
    cut = len(completion) > MAX_STEP_CHARS
    text = completion[:MAX_STEP_CHARS].rpartition("\n")[0] if cut else completion
    most = 4 * max(0, limit) + 64  # room for blank lines, markers and fences between steps
    lines: list[str] = []
    for line in text.splitlines():
        if _PLAN_END.fullmatch(line):
            break
        if len(lines) == most:
            cut = True
            break
        lines.append(line)
    while cut and lines and lines[-1].rstrip().endswith("\\"):
        lines.pop()  # never read a line whose continuation was cut off
    steps, errors = read_lines(task, lines, templates)
    end = errors[0].line if errors else len(lines) + 1
    out = [make_step(s.action, s.args, templates) for s in steps if s.line < end][:max(0, limit)]
    if out:
        return StepParse(tuple(out))
    if errors:
        e = errors[0]
        return StepParse(error=f"line {e.line} `{e.text[:200]}` {e.reason}")
    return StepParse(error="no action found in the reply")


def assemble_plan(steps: Sequence[Step]) -> str:
    """The whole-plan answer for ``steps``, as the one-shot prompt asks for it: each step as
    the prompts write it (English actions for a problem stated in English, PDDL otherwise),
    so a training row pairs a prompt with an answer in its own language."""
    return json.dumps({"plan": [s.text for s in steps]})


def prefix_answer(steps: Sequence[Step]) -> dict[str, Any]:
    """The partial plan as the verifier's prefix check reads it: one PDDL action per item."""
    return {"plan": [step_action(s) for s in steps]}
