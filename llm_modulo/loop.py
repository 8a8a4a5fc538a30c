"""The LLM-Modulo generate-test loop.

Per problem, a :class:`~llm_modulo.strategy.Strategy` spends the budget: ``backprompt`` (the
default) runs rounds of ``n`` samples, every candidate verified in the worker pool, the next
round back-prompting with the critiques at the configured feedback level; ``best_of_n``,
``beam`` and ``mcts`` spend the same budget differently. The first sound ACCEPT ends the
problem. Budgets: rounds, samples per request, total and generated tokens, requests and wall
time per problem. Many problems run at once (bounded), so the server stays busy while
verifiers work.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Iterator

from llm_modulo.config import Budget, LoopConfig
from llm_modulo.domain import Domain
from llm_modulo.errors import CorpusError
from llm_modulo.generator import Generator
from llm_modulo.pool import WorkerPool
from llm_modulo.strategies.backprompt import feedback_target
from llm_modulo.strategy import (
    AttemptHook,
    AttemptStore,
    SearchContext,
    Stop,
    Strategy,
    bounded_usage,
)
from llm_modulo.types import Attempt, Problem, SolveResult, StopReason
from llm_modulo.verifier import Verifier

__all__ = ["AttemptHook", "AttemptStore", "Budget", "LoopConfig", "Solver", "bounded_usage",
           "feedback_target"]


#: The young-generation threshold of the garbage collector while problems are being solved
#: (Python's default is 700): a round allocates a few thousand short-lived objects, and at
#: the default the collector costs about 250 us of CPU per request (measured with
#: ``benchmarks/throughput.py``), more than the HTTP request itself.
BATCH_GC_THRESHOLD = 20_000

_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, int, int] | None = None


@contextlib.contextmanager
def batch_gc() -> Iterator[None]:
    """Collect garbage less often while inside (nested and concurrent uses share one
    setting; the last to leave restores the thresholds it found). Only the young generation's
    threshold is raised; the older generations keep their ratios, so cyclic garbage is still
    collected, later."""
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            if 0 < _gc_saved[0] < BATCH_GC_THRESHOLD:
                gc.set_threshold(BATCH_GC_THRESHOLD, *_gc_saved[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0 and _gc_saved is not None:
                if gc.get_threshold()[0] == BATCH_GC_THRESHOLD:  # nobody else changed it
                    gc.set_threshold(*_gc_saved)
                _gc_saved = None


class Solver:
    """Solve problems of one domain with one generator, the domain's verifier and a strategy
    (default: the one ``config.strategy`` names, ``backprompt`` unless set)."""

    def __init__(
        self,
        domain: Domain,
        verifier: Verifier,
        generator: Generator,
        config: LoopConfig | None = None,
        *,
        strategy: Strategy | None = None,
        pool: WorkerPool | None = None,
        on_attempt: AttemptHook | None = None,
        store: AttemptStore | None = None,
    ) -> None:
        self.domain = domain
        self.verifier = verifier
        self.generator = generator
        self.config = config or LoopConfig()
        if strategy is None:
            from llm_modulo.registry import default_registry

            strategy = default_registry.strategy(self.config.strategy,
                                                 self.config.strategy_options)
        strategy.check_fits(domain, verifier)
        self.strategy = strategy
        self.pool = pool
        self.on_attempt = on_attempt
        self.store = store

    async def solve(self, problem: Problem) -> SolveResult:
        """Solve one problem. Generator failures end it with ``stop_reason=error``.

        With a ``store``, a stored solution that the verifier accepts again is returned first
        (``stop_reason=cached``, no generation), and every round is recorded as it ends (and
        a search tree when the strategy builds one).
        """
        start = time.monotonic()
        if self.store is not None:
            cached = await self.store.lookup(problem, self.verifier, self.pool)
            if cached is not None:
                return SolveResult(problem=problem, solution=cached,
                                   stop_reason=StopReason.CACHED,
                                   elapsed_s=time.monotonic() - start)
        ctx = SearchContext(problem, self.domain, self.verifier, self.generator, self.config,
                            strategy=self.strategy.name, pool=self.pool, store=self.store,
                            on_attempt=self.on_attempt)
        solution: Attempt | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(self.config.budget.wall_time_s):
                solution = await self.strategy.search(ctx)
            reason = StopReason.ACCEPTED if solution is not None else StopReason.ROUNDS
        except Stop as stop:
            reason, error = stop.reason, stop.error
        except TimeoutError:
            reason = StopReason.WALL_TIME
        except CorpusError:
            raise  # the corpus itself is failing: every problem would lose its rounds
        except Exception as exc:  # a strategy plugin's bug ends this problem, not the batch
            reason = StopReason.ERROR
            error = f"strategy {self.strategy.name} failed: {type(exc).__name__}: {exc}"
        if solution is not None and not solution.verdict.accepted:
            # a strategy's bug must never pass a non-accepted attempt off as a solution
            solution, reason = None, StopReason.ERROR
            error = f"strategy {self.strategy.name} returned an attempt that was not accepted"
        try:
            await ctx.save_tree()
        except Stop as stop:  # the solution stands (its attempt is stored); the loss is said
            reason = StopReason.ERROR if solution is None else reason
            error = stop.error
        return SolveResult(
            problem=problem,
            solution=solution,
            attempts=ctx.trace,
            stop_reason=reason,
            error=error,
            usage=ctx.usage,
            elapsed_s=time.monotonic() - start,
            model=ctx.model,
            strategy=self.strategy.name,
            requests=ctx.requests,
            search=ctx.tree,
        )

    async def solve_many(
        self, problems: Iterable[Problem], *, concurrency: int | None = None
    ) -> AsyncIterator[SolveResult]:
        """Solve ``problems`` with at most ``concurrency`` in flight; yield as each finishes.
        While it runs, the garbage collector's young generation is collected less often
        (:func:`batch_gc`)."""
        # aclosing: closing this generator closes the inner one now (its finally cancels the
        # solves in flight), not whenever the inner one is garbage-collected
        with batch_gc():
            async with contextlib.aclosing(self._solve_many(problems, concurrency)) as results:
                async for result in results:
                    yield result

    async def _solve_many(self, problems: Iterable[Problem], concurrency: int | None
                          ) -> AsyncGenerator[SolveResult, None]:
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
