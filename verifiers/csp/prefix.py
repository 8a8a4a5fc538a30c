"""What the CSP prefix checks share: reading a partial answer and naming the failing step.

A partial answer (the ``prefix_candidate`` of a stepwise CSP domain) is
``{KEY: [[variable, value], ...], "partial": true}``: the assignments in the order the steps
made them, step 1 first. A prefix check reads it with :func:`prefix_pairs`; what is not such
a list was built by a domain, not written by the model, so it is UNKNOWN (never a label).
Critiques name the step (``step 3 (vertex 3: colour 2): ...``), never a solution.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from llm_modulo.types import Candidate, Critique
from llm_modulo.verifier import CheckResult

#: Most assignments one prefix may hold (far beyond any problem's variable count).
MAX_PREFIX_PAIRS = 2_000_000


def prefix_pairs(candidate: Candidate, key: str) -> list[tuple[Any, Any]] | str:
    """The ``(variable, value)`` pairs of a partial answer, or why it is not one."""
    answer = candidate.answer
    raw = answer.get(key) if isinstance(answer, dict) else None
    if not isinstance(raw, list):
        return f"the partial answer has no {key!r} list of [variable, value] pairs"
    if len(raw) > MAX_PREFIX_PAIRS:
        return f"the partial answer has {len(raw)} assignments"
    pairs: list[tuple[Any, Any]] = []
    for k, item in enumerate(raw):
        if type(item) not in (list, tuple) or len(item) != 2:
            return f"item {k} of {key!r} is not a [variable, value] pair"
        pairs.append((item[0], item[1]))
    return pairs


def shown(value: Any) -> str:
    """A bounded rendering of a value from the prefix (numbers as numbers)."""
    if type(value) is int:
        return str(value)
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def dead(kind: str, step: int | None, where: str, message: str,
         **data: Any) -> CheckResult:
    """A REJECT of a proven-dead prefix: ``where: message``, located at ``step`` (None: the
    problem's given part already leaves no way on)."""
    location = f"step {step}" if step is not None else "given"
    return CheckResult.reject(
        Critique(kind=kind, message=f"{where}: {message}", location=location,
                 data={"step": step, **data}),
        dead_step=step)


def alive(assigned: int, total: int) -> CheckResult:
    """ACCEPT: nothing proves the prefix dead; ``complete`` when every variable is set."""
    if assigned >= total:
        return CheckResult.accept(complete=True, assigned=assigned)
    return CheckResult.accept(assigned=assigned, remaining=total - assigned)


def undecided(reason: str) -> CheckResult:
    return CheckResult.unknown(f"the prefix cannot be checked: {reason}")


#: The critique kind of a prefix that forward checking proves dead.
DEAD_END = "dead_end"
#: The critique kinds prefix checks add to a CSP verifier's (the others are its own).
PREFIX_CRITIQUE_KINDS: Mapping[str, str] = MappingProxyType({
    DEAD_END: "a variable not yet assigned has no value left that agrees with the assignments "
              "so far (forward checking on a prefix)",
})
