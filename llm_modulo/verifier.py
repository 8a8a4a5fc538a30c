"""The verifier contract.

A verifier implements only :meth:`Verifier.check` and declares ``name``,
``version`` and ``sound``. The public :meth:`Verifier.verify` runs the check in
a killable worker process with a deadline and a memory cap; a crash, a timeout,
an exception or a malformed result becomes UNKNOWN with the reason. Nothing
escapes it and nothing hangs it.
"""

from __future__ import annotations

import asyncio
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from llm_modulo.pool import Outcome, OutcomeKind, Task, WorkerPool, default_pool
from llm_modulo.types import Candidate, Critique, Problem, Status, Verdict

#: Critique kinds any verifier may return: the framework's (a check that did not finish
#: cleanly) and the shared answer readers' (no answer, several answers).
COMMON_CRITIQUE_KINDS: Mapping[str, str] = {
    "timeout": "the check did not finish before its deadline (UNKNOWN)",
    "memory": "the check exceeded its memory cap (UNKNOWN)",
    "crash": "the worker process died (UNKNOWN)",
    "verifier_error": "the check raised or returned something that is not a verdict (UNKNOWN)",
    "rejected": "a REJECT that came without a critique",
    "unparseable": "no answer could be read from the reply",
    "hedge": "the reply gives more than one answer",
    "undecided": "the verifier could not decide (UNKNOWN)",
    "unavailable": "the verification service was unreachable, overloaded or shutting down, or "
                   "answered with something that is not a verdict (UNKNOWN)",
}


class CheckResult:
    """What :meth:`Verifier.check` returns: a status, critiques and evidence.

    Kept deliberately plain (the base class adds name, version and timing)."""

    __slots__ = ("critiques", "evidence", "status")

    def __init__(
        self,
        status: Status,
        critiques: list[Critique] | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> None:
        self.status = Status(status)
        self.critiques = list(critiques or [])
        self.evidence = dict(evidence or {})

    @classmethod
    def accept(cls, **evidence: Any) -> CheckResult:
        return cls(Status.ACCEPT, evidence=evidence)

    @classmethod
    def reject(cls, *critiques: Critique, **evidence: Any) -> CheckResult:
        """A REJECT; one with an ``undecided`` critique (a reply whose answer the reader could
        not settle, :data:`~llm_modulo.jsonanswer.UNDECIDED`) is an UNKNOWN instead, since a
        REJECT must be proven."""
        if not critiques:
            raise ValueError("a REJECT needs at least one critique saying what failed")
        if any(c.kind == "undecided" for c in critiques):
            return cls(Status.UNKNOWN, list(critiques), evidence)
        return cls(Status.REJECT, list(critiques), evidence)

    @classmethod
    def unknown(cls, reason: str, kind: str = "undecided", **evidence: Any) -> CheckResult:
        return cls(Status.UNKNOWN, [Critique(kind=kind, message=reason)], evidence)


class Verifier(ABC):
    """Base class of every verifier.

    Subclasses set the class attributes and implement :meth:`check`. The check
    runs in a worker process, so the verifier instance, the problem and the
    candidate must be picklable (plain attributes are).
    """

    name: ClassVar[str]
    version: ClassVar[str] = "0"
    #: True when ACCEPT is a proof of correctness. An unsound verifier's ACCEPT
    #: never ends the loop and never enters the corpus.
    sound: ClassVar[bool] = True
    #: Wall-clock deadline of one check, in seconds.
    timeout_s: ClassVar[float] = 10.0
    #: Address-space cap of the worker during one check, in MiB (None: no cap).
    memory_mb: ClassVar[int | None] = 2048
    #: The critique kinds this verifier returns beside :data:`COMMON_CRITIQUE_KINDS`, each
    #: with what it means: the vocabulary that back-prompts, search pruning, DPO pairs and
    #: process labels key on. ``llm-modulo verifiers --json`` lists it.
    critique_kinds: ClassVar[Mapping[str, str]] = {}

    @abstractmethod
    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        """Decide the candidate. Runs in a worker process; may raise (-> UNKNOWN)."""

    def check_prefix(self, problem: Problem, candidate: Candidate) -> CheckResult:
        """Decide a *partial* answer (a prefix of a stepwise answer, built by the domain's
        :meth:`~llm_modulo.stepwise.StepwiseDomain.prefix_candidate`): ACCEPT when the prefix
        may still be part of a correct answer as far as the check can prove, REJECT with a
        critique naming the step when no completion of it can be correct (proven, like any
        REJECT: it becomes a negative process label), UNKNOWN otherwise. Evidence
        ``{"complete": True}`` says the prefix is a whole answer (a search then judges it
        with :meth:`check`). Runs in a worker process. Verifiers without prefix checks leave
        this as is (:attr:`checks_prefixes` is then False)."""
        return CheckResult.unknown(f"verifier {self.name} has no prefix check")

    @classmethod
    def checks_prefixes(cls) -> bool:
        """True when this verifier implements :meth:`check_prefix`."""
        return cls.check_prefix is not Verifier.check_prefix

    @classmethod
    def warm_up(cls) -> None:
        """Build what the first check would otherwise build (parsers, tables): the pool runs
        it once per worker, before the worker takes a deadline, so one-time start-up never
        counts against a check. Importing the verifier's module always happens first."""
        return None

    #: True when :meth:`check_many` decides a batch cheaper than one check per candidate
    #: (a verifier with a costly start-up, like Lean); :meth:`averify_many` then runs it.
    batched: ClassVar[bool] = False

    #: True when :meth:`averify_many` decides without the worker pool (a verifier behind a
    #: network service, :class:`~llm_modulo.remote.RemoteVerifier`): :func:`llm_modulo.judge.judge`
    #: then reads the replies in the pool and hands the candidates to :meth:`averify_many`,
    #: instead of running :meth:`check` in a worker.
    remote: ClassVar[bool] = False

    def check_many(self, pairs: Sequence[tuple[Problem, Candidate]]) -> list[CheckResult]:
        """Decide many candidates in one worker call (only used when ``batched``)."""
        return [self.check(problem, candidate) for problem, candidate in pairs]

    def batch_timeout_s(self, size: int) -> float:
        """The deadline of one :meth:`check_many` call over ``size`` candidates."""
        return self.timeout_s * size

    # -- the public, safe entry points -------------------------------------------------

    def verify(
        self,
        problem: Problem,
        candidate: Candidate,
        *,
        timeout_s: float | None = None,
        pool: WorkerPool | None = None,
    ) -> Verdict:
        """Run :meth:`check` isolated; always returns a Verdict, never raises."""
        start = time.monotonic()
        try:
            outcome = (pool or default_pool()).run_many(
                [self.task(_run_check, (self, problem, candidate), timeout_s)])[0]
        except Exception as exc:  # the pool itself broke: still a value, not an escape
            return self._unknown("verifier_error", f"verifier pool failed: {exc!r}", start)
        return self._verdict(outcome, start)

    async def averify(
        self,
        problem: Problem,
        candidate: Candidate,
        *,
        timeout_s: float | None = None,
        pool: WorkerPool | None = None,
    ) -> Verdict:
        """The async face of :meth:`verify`: same isolation, never blocks the event loop."""
        return (await self.averify_many([(problem, candidate)], timeout_s=timeout_s,
                                        pool=pool))[0]

    async def averify_many(
        self,
        pairs: Sequence[tuple[Problem, Candidate]],
        *,
        timeout_s: float | None = None,
        pool: WorkerPool | None = None,
    ) -> list[Verdict]:
        """Verdicts for many candidates, in order: one :meth:`check_many` worker call for a
        ``batched`` verifier, otherwise one pool task per candidate, each with its own
        deadline (the pool sends them to its workers in batches)."""
        if not pairs:
            return []
        start = time.monotonic()
        if self.batched:
            tasks = [self.task(_run_check_many, (self, list(pairs)),
                               self.batch_timeout_s(len(pairs)) if timeout_s is None
                               else timeout_s)]
        else:
            tasks = [self.task(_run_check, (self, p, c), timeout_s) for p, c in pairs]
        try:
            outcomes = await (pool or default_pool()).arun_many(tasks)
        except Exception as exc:
            return [self._unknown("verifier_error", f"verifier pool failed: {exc!r}", start)
                    for _ in pairs]
        if not self.batched:
            return [self._verdict(outcome, start) for outcome in outcomes]
        return self._verdicts_of_batch(outcomes[0], len(pairs), start)

    def _verdicts_of_batch(self, outcome: Outcome, size: int, start: float) -> list[Verdict]:
        if outcome.kind is OutcomeKind.OK:
            values = outcome.value
            if isinstance(values, list) and len(values) == size:
                return [self._verdict(Outcome(OutcomeKind.OK, value=v), start) for v in values]
            outcome = Outcome(OutcomeKind.ERROR, detail="check_many() returned "
                              f"{type(values).__name__}, not one CheckResult per candidate")
        return [self._verdict(outcome, start) for _ in range(size)]

    def verify_many(
        self,
        pairs: Sequence[tuple[Problem, Candidate]],
        *,
        timeout_s: float | None = None,
        pool: WorkerPool | None = None,
    ) -> list[Verdict]:
        """The blocking face of :meth:`averify_many` (not for use inside an event loop)."""
        return asyncio.run(self.averify_many(pairs, timeout_s=timeout_s, pool=pool))

    def task(self, fn: Callable[..., Any], args: tuple[Any, ...],
             timeout_s: float | None = None) -> Task:
        """A pool task running ``fn(*args)`` under this verifier's deadline and memory cap,
        on workers that have imported this verifier's module and run its :meth:`warm_up`
        (outside the deadline)."""
        return Task(fn, args, timeout_s=self.timeout_s if timeout_s is None else timeout_s,
                    memory_bytes=None if self.memory_mb is None else self.memory_mb * 1024 * 1024,
                    warm=(f"{type(self).__module__}:{type(self).__qualname__}.warm_up",))

    def _verdict(self, outcome: Outcome, start: float) -> Verdict:
        """Turn a worker outcome into a Verdict; anything but a clean result is UNKNOWN."""
        if outcome.kind is not OutcomeKind.OK:
            first_line = outcome.detail.strip().splitlines()[0] if outcome.detail.strip() else ""
            reasons = {
                OutcomeKind.TIMEOUT: ("timeout", f"verifier did not finish: {outcome.detail}"),
                OutcomeKind.MEMORY: ("memory", f"verifier exceeded {self.memory_mb} MiB"),
                OutcomeKind.CRASH: ("crash", outcome.detail),
                OutcomeKind.ERROR: ("verifier_error", first_line or "verifier raised"),
            }
            kind, message = reasons[outcome.kind]
            if outcome.kind in (OutcomeKind.ERROR, OutcomeKind.CRASH) and (
                    why := unpicklable_reason(type(self))):
                message = why
            return self._unknown(kind, message, start, detail=outcome.detail)
        result = outcome.value
        if not isinstance(result, CheckResult):
            return self._unknown(
                "verifier_error", f"check() returned {type(result).__name__}, not CheckResult",
                start,
            )
        critiques = list(result.critiques)
        if result.status is Status.REJECT and not critiques:
            critiques.append(Critique(kind="rejected", message="the verifier rejected it"))
        try:
            return Verdict(
                status=result.status,
                critiques=critiques,
                verifier=self.name,
                verifier_version=self.version,
                sound=self.sound,
                elapsed_s=time.monotonic() - start,
                evidence=result.evidence,
            )
        except Exception as exc:
            return self._unknown("verifier_error", f"invalid verdict: {exc}", start)

    def _unknown(self, kind: str, message: str, start: float, detail: str = "") -> Verdict:
        return Verdict(
            status=Status.UNKNOWN,
            critiques=[Critique(kind=kind, message=message)],
            verifier=self.name,
            verifier_version=self.version,
            sound=self.sound,
            elapsed_s=time.monotonic() - start,
            evidence={"detail": detail[-2000:]} if detail else {},
        )

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "sound": self.sound,
                "critique_kinds": sorted(self.vocabulary())}

    @classmethod
    def vocabulary(cls) -> dict[str, str]:
        """Every critique kind this verifier may return, with its meaning."""
        return {**COMMON_CRITIQUE_KINDS, **cls.critique_kinds}


def _run_check(verifier: Verifier, problem: Problem, candidate: Candidate) -> CheckResult:
    return verifier.check(problem, candidate)


def _run_check_many(
    verifier: Verifier, pairs: list[tuple[Problem, Candidate]]
) -> list[CheckResult]:
    return verifier.check_many(pairs)


def unpicklable_reason(cls: type) -> str | None:
    """Why instances of ``cls`` cannot reach the worker processes, or None if they can.

    Classes are sent to workers by reference (module and name). A class defined in a
    ``__main__`` that has no file (a notebook, the REPL, ``python -c`` or stdin) cannot be
    found there, so every check of it would come back UNKNOWN.
    """
    if cls.__module__ != "__main__":
        return None
    main = sys.modules.get("__main__")
    if main is not None and getattr(main, "__file__", None):
        return None
    return (f"{cls.__qualname__} is defined in an interactive __main__ (a notebook, the REPL "
            "or stdin), which the verifier's worker processes cannot import; put the class "
            "in a module file (e.g. my_plugin.py) and import it from there")
