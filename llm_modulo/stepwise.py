"""The stepwise contract: domains whose answers are built one step at a time.

A stepwise domain (a :class:`~llm_modulo.domain.Domain` that also implements
:class:`StepwiseDomain`) says how to prompt for the next steps after a prefix, how to read the
steps a completion proposes, how to turn a prefix into the partial answer its verifier's
:meth:`~llm_modulo.verifier.Verifier.check_prefix` decides, and how to write a whole answer
from steps (a completion its own ``parse_candidate`` reads, judged by the ordinary check).

:func:`extend` reads and checks proposed steps **in the worker pool** (reading is
candidate-sized work): for each completion, the steps it proposes after its prefix, each one
checked as the prefix grows, stopping at the first that is not ACCEPT or that completes the
answer. Those verdicts are sound process labels: REJECT is a proven dead prefix.
"""

from __future__ import annotations

import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from llm_modulo.domain import Domain
from llm_modulo.errors import LLMModuloError
from llm_modulo.judge import with_domain
from llm_modulo.pool import Outcome, OutcomeKind, WorkerPool, default_pool
from llm_modulo.structured import StructuredOutput
from llm_modulo.types import Candidate, Message, Problem, Status, Step, Verdict
from llm_modulo.verifier import CheckResult, Verifier


class NoStepLeft(LLMModuloError):
    """Every step the domain's constraint admits after a prefix was tried already (a search
    signal, caught by the strategies; in the one exception tree like ``Stop``)."""


@dataclass(frozen=True)
class StepParse:
    """The steps a completion proposes after a prefix, or why none could be read."""

    steps: tuple[Step, ...] = ()
    error: str | None = None


class StepwiseDomain(ABC):
    """Mix into a :class:`~llm_modulo.domain.Domain` whose answers are sequences of steps.

    The domain's verifier must implement
    :meth:`~llm_modulo.verifier.Verifier.check_prefix` on the partial answers
    :meth:`prefix_candidate` builds (a verifier never imports a domain, so the partial answer
    is written in the verifier's own answer format).
    """

    @abstractmethod
    def step_messages(self, problem: Problem, prefix: Sequence[Step]) -> list[Message]:
        """The prompt asking for the steps that follow ``prefix`` (the remaining steps, one
        per line; a strategy may read only the first)."""

    @abstractmethod
    def parse_steps(self, problem: Problem, prefix: Sequence[Step], completion: str
                    ) -> StepParse:
        """The steps ``completion`` proposes after ``prefix``, in order. Never raises: what
        cannot be read ends the steps (``error`` says why when no step was read)."""

    @abstractmethod
    def prefix_candidate(self, problem: Problem, steps: Sequence[Step]) -> Candidate:
        """The partial answer ``steps`` stand for, as the verifier's ``check_prefix`` reads it."""

    @abstractmethod
    def assemble(self, problem: Problem, steps: Sequence[Step]) -> str:
        """A whole-answer completion for ``steps`` that :meth:`Domain.parse_candidate` reads
        (what a one-shot answer to :meth:`Domain.initial_messages` would look like)."""

    @abstractmethod
    def max_steps(self, problem: Problem) -> int:
        """The most steps an answer to ``problem`` may take (bounds every search's depth)."""

    def step_stop(self, problem: Problem) -> list[str] | None:
        """Stop sequences for a request that wants just the next step (default: none)."""
        return None

    def step_structured(self, problem: Problem, prefix: Sequence[Step], steps: int,
                        exclude: Collection[str] = frozenset()) -> StructuredOutput | None:
        """The decoding constraint for a request that wants the next ``steps`` steps after
        ``prefix`` (1: one step; more: a rollout), or None (default: unconstrained). It only
        shapes what is sampled: every step is still read and checked as if unconstrained.

        ``exclude`` holds the texts of steps already tried after ``prefix``: a constraint
        that can leave them out does (sampling without replacement), and raises
        :class:`NoStepLeft` when it would then admit no step at all."""
        return None


def is_stepwise(domain: Domain, verifier: Verifier) -> bool:
    """True when ``domain`` builds answers in steps and ``verifier`` checks prefixes."""
    return isinstance(domain, StepwiseDomain) and verifier.checks_prefixes()


@dataclass(frozen=True)
class Extension:
    """The steps read from one completion after its prefix, each with the verdict on the
    prefix it ends (``verdicts[i]`` decides ``prefix + steps[:i + 1]``)."""

    prefix: tuple[Step, ...]
    completion: str
    steps: tuple[Step, ...] = ()
    verdicts: tuple[Verdict, ...] = ()
    #: why no step (or no further step) could be read or checked
    error: str | None = None

    @property
    def alive(self) -> bool:
        """Every step read was checked ACCEPT (the extended prefix may still be correct)."""
        return bool(self.verdicts) and all(v.status is Status.ACCEPT for v in self.verdicts)

    @property
    def complete(self) -> bool:
        """The last step completes the answer (as the prefix check says)."""
        return self.alive and self.verdicts[-1].evidence.get("complete") is True

    @property
    def dead(self) -> bool:
        """The last step read was proven dead (a REJECT)."""
        return bool(self.verdicts) and self.verdicts[-1].status is Status.REJECT


class _Raised:
    __slots__ = ("detail",)

    def __init__(self, detail: str) -> None:
        self.detail = detail


def _extend(domain: Any, verifier: Verifier, problem: Problem, prefix: tuple[Step, ...],
            completion: str, limit: int) -> tuple[tuple[Step, ...], list[Any], str | None]:
    """Worker side of :func:`extend`: read the steps, check each growing prefix."""
    try:
        parsed = domain.parse_steps(problem, prefix, completion)
    except Exception as exc:
        return (), [], f"domain {domain.name} failed to read steps: {type(exc).__name__}: {exc}"
    if not isinstance(parsed, StepParse):
        return (), [], f"domain {domain.name} returned {type(parsed).__name__}, not StepParse"
    steps = tuple(parsed.steps[: max(0, limit - len(prefix))])
    if not steps:
        return (), [], parsed.error or "no step could be read"
    results: list[Any] = []
    current = list(prefix)
    for step in steps:
        current.append(step)
        try:
            result: Any = verifier.check_prefix(problem, domain.prefix_candidate(problem,
                                                                                 current))
        except MemoryError:
            raise
        except BaseException as exc:
            result = _Raised(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}")
        results.append(result)
        if not (isinstance(result, CheckResult) and result.status is Status.ACCEPT) or \
                result.evidence.get("complete") is True:
            break
    return steps[: len(results)], results, None


async def extend(domain: Domain, verifier: Verifier, problem: Problem,
                 items: Sequence[tuple[Sequence[Step], str]], *,
                 pool: WorkerPool | None = None) -> list[Extension]:
    """For each ``(prefix, completion)``: the steps the completion proposes after the prefix,
    checked in the worker pool (one task per completion, under the verifier's deadline and
    memory cap). A task that does not finish cleanly gives an :class:`Extension` with no
    steps and the reason in ``error`` (UNKNOWN: never a label)."""
    if not isinstance(domain, StepwiseDomain):
        raise TypeError(f"domain {domain.name} is not stepwise")
    if not items:
        return []
    start = time.monotonic()
    limit = domain.max_steps(problem)
    tasks = [with_domain(verifier.task(_extend, (domain, verifier, problem, tuple(prefix),
                                                 completion, limit)), domain)
             for prefix, completion in items]
    try:
        outcomes = await (pool or default_pool()).arun_many(tasks)
    except Exception as exc:
        return [Extension(tuple(p), c, error=f"verifier pool failed: {exc!r}")
                for p, c in items]
    out = []
    for (prefix, completion), outcome in zip(items, outcomes, strict=True):
        out.append(_extension(verifier, tuple(prefix), completion, outcome, start))
    return out


def _extension(verifier: Verifier, prefix: tuple[Step, ...], completion: str,
               outcome: Outcome, start: float) -> Extension:
    if outcome.kind is not OutcomeKind.OK:
        verdict = verifier._verdict(outcome, start)
        reason = verdict.critiques[0].message if verdict.critiques else outcome.kind.value
        return Extension(prefix, completion, error=f"the steps could not be checked: {reason}")
    steps, results, error = outcome.value
    verdicts = []
    for result in results:
        inner = (Outcome(OutcomeKind.ERROR, detail=result.detail) if isinstance(result, _Raised)
                 else Outcome(OutcomeKind.OK, value=result))
        verdicts.append(verifier._verdict(inner, start))
    return Extension(prefix, completion, tuple(steps), tuple(verdicts), error)
