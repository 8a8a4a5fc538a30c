"""The corpus as the loop's memory: record every round (and every search tree), reuse
re-verified solutions.

:class:`CorpusMemory` is the :class:`~llm_modulo.loop.AttemptStore` a
:class:`~llm_modulo.loop.Solver` takes. Database work runs on one background thread, so the
event loop never blocks on a busy database; the loop awaits each round's commit before it
goes on, so an accepted solution is on disk before the problem counts as solved.

Rounds that end while a commit is running are committed together in the next transaction
(group commit): with many problems in flight, one transaction carries many rounds, yet every
round is still durable before its problem moves on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pydantic import BaseModel

from llm_modulo.corpus.store import (
    Corpus,
    FlagChange,
    Prepared,
    Round,
    StoredSolution,
    prepare,
    prepare_search,
)
from llm_modulo.pool import WorkerPool
from llm_modulo.types import Attempt, Candidate, Problem, SearchTree, Status
from llm_modulo.verifier import Verifier

T = TypeVar("T")


class CorpusMemory:
    """Records attempts into ``corpus`` under ``run_id``; serves stored solutions when ``reuse``.

    A stored solution is served only after today's verifier accepts it again (soundly). One
    that it REJECTs is flagged (not served or exported, and not re-checked by that verifier
    version); an UNKNOWN or unsound re-check neither serves nor flags it.
    """

    def __init__(self, corpus: Corpus, *, run_id: str | None = None, reuse: bool = True) -> None:
        self.corpus = corpus
        self.run_id = run_id
        self.reuse = reuse
        self.served = 0
        self.flagged = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="corpus")
        self._pending: list[tuple[Prepared, asyncio.Future[None]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    async def record(self, problem: Problem, attempts: Sequence[Attempt],
                     sampling: BaseModel, model: str | None) -> None:
        """Commit one round's attempts (the loop awaits this before acting on them)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # serialized here, so the writer thread only runs SQLite (which releases the GIL)
        row = prepare(Round(problem, attempts, sampling, model), self.run_id)
        self._pending.append((row, done))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        await asyncio.shield(done)  # a cancelled caller does not cancel the others' commit

    async def record_search(self, problem: Problem, tree: SearchTree,
                            model: str | None) -> None:
        """Commit one solve's search tree (the :class:`~llm_modulo.strategy.SearchStore`
        protocol). The solve's rounds are committed before it, so the nodes' attempt links
        resolve. A failure raises: the Solver makes it this problem's error."""
        prepared = prepare_search(problem, tree, model, self.run_id)
        await asyncio.shield(asyncio.ensure_future(self._call(self.corpus.write_search,
                                                              prepared)))

    async def _drain(self) -> None:
        """Commit what is pending, one transaction per batch, until nothing is left."""
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._call(self.corpus.write, [r for r, _ in batch])
            except Exception:
                # isolate the round at fault: the others are committed one by one
                for item in batch:
                    try:
                        await self._call(self.corpus.write, [item[0]])
                    except Exception as exc:
                        _settle([item], exc)
                    else:
                        _settle([item], None)
            else:
                _settle(batch, None)

    async def lookup(self, problem: Problem, verifier: Verifier,
                     pool: WorkerPool | None = None) -> Attempt | None:
        """A stored solution that ``verifier`` accepts today (its fresh verdict attached)."""
        if not self.reuse:
            return None
        stored = await self._call(self.corpus.solutions, problem.hash)
        found, changes = await recheck_stored(problem, stored, verifier, pool)
        for solution_id, version, why in changes:
            if version is None:
                await self._call(self.corpus.unflag, solution_id)
            else:
                await self._call(self.corpus.flag, solution_id, version, why)
                self.flagged += 1
        if found is not None:
            self.served += 1
        return found


async def recheck_stored(problem: Problem, stored: Sequence[StoredSolution],
                         verifier: Verifier, pool: WorkerPool | None = None
                         ) -> tuple[Attempt | None, list[FlagChange]]:
    """The first stored solution that ``verifier`` accepts today (its fresh verdict
    attached), and the flag changes that checking found: a REJECT flags its solution, an
    ACCEPT of a flagged one clears the flag; an UNKNOWN changes nothing. A solution this
    very verifier version flagged already is not checked again."""
    changes: list[FlagChange] = []
    for s in stored:
        if s.flag_verifier_version == verifier.version:
            continue  # this very verifier version already refused it
        candidate = Candidate(raw=s.attempt.completion, answer=s.answer)
        verdict = await verifier.averify(problem, candidate, pool=pool)
        if verdict.accepted:
            if s.flag_verifier_version is not None:
                changes.append((s.id, None, ""))
            return s.attempt.model_copy(update={"verdict": verdict}), changes
        if verdict.status is Status.REJECT:
            why = "; ".join(c.message for c in verdict.critiques) or "rejected"
            changes.append((s.id, verifier.version, why))
    return None, changes


def _settle(batch: list[tuple[Prepared, asyncio.Future[None]]], error: Exception | None
            ) -> None:
    for _, future in batch:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
