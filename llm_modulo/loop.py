"""The LLM-Modulo generate-test loop.

Per problem: rounds of ``n`` samples; every candidate is verified (in the
worker pool); the first sound ACCEPT ends the problem; otherwise the next
round back-prompts with the critiques at the configured feedback level.
Budgets: rounds, samples per round, total tokens and wall time per problem.
Many problems run at once (bounded), so the server stays busy while
verifiers work.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, Field

from llm_modulo.bounds import has_surrogate, replace_surrogates
from llm_modulo.domain import Domain
from llm_modulo.errors import CorpusError, GeneratorError
from llm_modulo.generator import MAX_TOKEN_COUNT, Generator, SamplingParams
from llm_modulo.judge import DomainParseError, judge
from llm_modulo.pool import WorkerPool
from llm_modulo.types import (
    Attempt,
    FeedbackLevel,
    Problem,
    SolveResult,
    Status,
    StopReason,
    Usage,
)
from llm_modulo.verifier import Verifier


class Budget(BaseModel):
    """How much one problem may spend."""

    rounds: int = Field(default=4, ge=1, description="generate-verify rounds")
    samples: int = Field(default=4, ge=1, le=128, description="samples (n) per round")
    max_tokens: int | None = Field(default=None, ge=1, description="total tokens, all rounds")
    wall_time_s: float | None = Field(default=None, gt=0, description="wall time per problem")


class LoopConfig(BaseModel):
    budget: Budget = Field(default_factory=Budget)
    feedback: FeedbackLevel = FeedbackLevel.ALL
    sampling: SamplingParams = Field(default_factory=lambda: SamplingParams(temperature=1.0))
    #: Ask the generator to enforce the domain's decoding constraint (grammar / schema).
    structured: bool = True
    #: Problems in flight at once in :meth:`Solver.solve_many`.
    concurrency: int = Field(default=64, ge=1)


AttemptHook = Callable[[Problem, Attempt], Any]


class AttemptStore(Protocol):
    """Where the loop records rounds and looks problems up (e.g. ``corpus.CorpusMemory``)."""

    async def lookup(
        self, problem: Problem, verifier: Verifier, pool: WorkerPool | None
    ) -> Attempt | None:
        """A stored solution that ``verifier`` accepts today, or None."""

    async def record(
        self, problem: Problem, attempts: Sequence[Attempt], sampling: SamplingParams,
        model: str | None,
    ) -> None:
        """Durably store one round's attempts; the loop waits for it."""


class Solver:
    """Solve problems of one domain with one generator and the domain's verifier."""

    def __init__(
        self,
        domain: Domain,
        verifier: Verifier,
        generator: Generator,
        config: LoopConfig | None = None,
        *,
        pool: WorkerPool | None = None,
        on_attempt: AttemptHook | None = None,
        store: AttemptStore | None = None,
    ) -> None:
        self.domain = domain
        self.verifier = verifier
        self.generator = generator
        self.config = config or LoopConfig()
        self.pool = pool
        self.on_attempt = on_attempt
        self.store = store

    async def solve(self, problem: Problem) -> SolveResult:
        """Run the loop on one problem. Generator failures end it with ``stop_reason=error``.

        With a ``store``, a stored solution that the verifier accepts again is returned first
        (``stop_reason=cached``, no generation), and every round is recorded as it ends.
        """
        start = time.monotonic()
        if self.store is not None:
            cached = await self.store.lookup(problem, self.verifier, self.pool)
            if cached is not None:
                return SolveResult(problem=problem, solution=cached,
                                   stop_reason=StopReason.CACHED,
                                   elapsed_s=time.monotonic() - start)
        trace: list[Attempt] = []
        state: dict[str, Any] = {"usage": Usage()}
        wall = self.config.budget.wall_time_s
        try:
            async with asyncio.timeout(wall):
                reason, solution, error = await self._rounds(problem, trace, state)
        except TimeoutError:
            reason, solution, error = StopReason.WALL_TIME, None, None
        return SolveResult(
            problem=problem,
            solution=solution,
            attempts=trace,
            stop_reason=reason,
            error=error,
            usage=state["usage"],
            elapsed_s=time.monotonic() - start,
            model=getattr(self.generator, "model", None),
        )

    async def _rounds(
        self, problem: Problem, trace: list[Attempt], state: dict[str, Any]
    ) -> tuple[StopReason, Attempt | None, str | None]:
        budget, cfg = self.config.budget, self.config
        try:
            structured = self.domain.structured_output(problem) if cfg.structured else None
        except Exception as exc:  # a domain bug ends this problem, not the batch
            return StopReason.ERROR, None, self._domain_failed("build its output constraint", exc)
        previous: Attempt | None = None
        for round_no in range(1, budget.rounds + 1):
            if budget.max_tokens is not None and state["usage"].total_tokens >= budget.max_tokens:
                return StopReason.TOKENS, None, None
            try:
                messages = self.domain.next_messages(problem, previous, cfg.feedback)
            except Exception as exc:
                return StopReason.ERROR, None, self._domain_failed("render a prompt", exc)
            params = self._params(round_no)
            try:
                completion = await self.generator.generate(messages, params, structured)
            except GeneratorError as exc:
                return StopReason.ERROR, None, str(exc)
            except Exception as exc:  # a generator's bug ends this problem, not the batch
                return StopReason.ERROR, None, f"generator failed: {type(exc).__name__}: {exc}"
            usage = _bounded_usage(completion.usage)
            state["usage"] = state["usage"] + usage
            # a server that sends more samples than asked does not stretch the budget; a lone
            # surrogate (from any generator) becomes U+FFFD, so the round can be stored
            choices = [c if not has_surrogate(c.text)
                       else c.model_copy(update={"text": replace_surrogates(c.text)})
                       for c in completion.choices[: params.n]]
            try:  # read and decided in the worker pool: never candidate-sized work here
                judged = await judge(self.domain, self.verifier, problem,
                                     [c.text for c in choices], pool=self.pool)
            except DomainParseError as exc:  # a domain bug: not the model's fault, never a REJECT
                return StopReason.ERROR, None, (f"domain {self.domain.name} failed to parse a "
                                                f"completion: {exc}")
            candidates = [cand for cand, _ in judged]
            verdicts = [verdict for _, verdict in judged]
            shares = usage.split(len(candidates))
            round_attempts = [
                Attempt(
                    round=round_no, sample=i, prompt=messages, completion=choice.text,
                    candidate=cand, verdict=verdict, usage=share,
                    finish_reason=choice.finish_reason,
                )
                for i, (choice, cand, verdict, share) in enumerate(
                    zip(choices, candidates, verdicts, shares, strict=True)
                )
            ]
            if self.store is not None:
                model = completion.model or getattr(self.generator, "model", None)
                try:
                    await self.store.record(problem, round_attempts, params, model)
                except CorpusError:
                    raise  # the corpus itself is failing: every problem would lose its rounds
                except Exception as exc:  # this round's data: this problem's error, retried
                    trace.extend(round_attempts)
                    return StopReason.ERROR, None, (
                        f"round {round_no} could not be stored: {type(exc).__name__}: {exc}")
            for attempt in round_attempts:
                trace.append(attempt)
                if self.on_attempt is not None:
                    self.on_attempt(problem, attempt)
            accepted = next((a for a in round_attempts if a.verdict.accepted), None)
            if accepted is not None:
                return StopReason.ACCEPTED, accepted, None
            previous = feedback_target(round_attempts)
        return StopReason.ROUNDS, None, None

    def _domain_failed(self, what: str, exc: Exception) -> str:
        return f"domain {self.domain.name} failed to {what}: {type(exc).__name__}: {exc}"

    def _params(self, round_no: int) -> SamplingParams:
        base = self.config.sampling
        seed = None if base.seed is None else base.seed + round_no - 1
        return base.model_copy(update={"n": self.config.budget.samples, "seed": seed})

    async def solve_many(
        self, problems: Iterable[Problem], *, concurrency: int | None = None
    ) -> AsyncIterator[SolveResult]:
        """Solve ``problems`` with at most ``concurrency`` in flight; yield as each finishes."""
        limit = concurrency or self.config.concurrency
        source = iter(problems)
        results: asyncio.Queue[SolveResult | None] = asyncio.Queue()

        async def worker() -> None:
            try:
                for problem in source:
                    await results.put(await self.solve(problem))
            finally:
                await results.put(None)

        workers = [asyncio.create_task(worker()) for _ in range(limit)]
        try:
            finished = 0
            while finished < len(workers):
                item = await results.get()
                if item is None:
                    finished += 1
                    continue
                yield item
            for w in workers:
                await w  # re-raise a worker's unexpected exception
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)


def _bounded_usage(usage: Usage) -> Usage:
    """Token counts within ``[0, MAX_TOKEN_COUNT]`` whatever a generator reports."""
    def bound(n: int) -> int:
        return max(0, min(n, MAX_TOKEN_COUNT))

    if 0 <= usage.prompt_tokens <= MAX_TOKEN_COUNT and \
            0 <= usage.completion_tokens <= MAX_TOKEN_COUNT:
        return usage
    return Usage(prompt_tokens=bound(usage.prompt_tokens),
                 completion_tokens=bound(usage.completion_tokens))


def feedback_target(attempts: list[Attempt]) -> Attempt | None:
    """The rejected attempt to critique next: the one with the fewest problems found."""
    rejected = [a for a in attempts if a.verdict.status is Status.REJECT]
    return min(rejected, key=lambda a: len(a.verdict.critiques)) if rejected else None
