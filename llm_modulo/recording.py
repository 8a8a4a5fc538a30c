"""Exactly-once recording of whole results, for engines whose solvers cannot reach the corpus.

A solver far from the corpus (a Ray actor on another machine) solves with a
:class:`CapturingStore`: it captures exactly what :class:`~llm_modulo.corpus.CorpusMemory`
would have committed (every round with its sampling parameters and model, the search tree,
the flag changes of the corpus lookup), and serves stored solutions that the driver shipped
with the problem, re-verified where the solver runs. Rounds and trees are
serialized where they are solved (as ``CorpusMemory`` does it off the writer), so the driver,
the corpus's only writer, runs nothing but SQLite: it records the outcomes
(:class:`ProblemOutcome`) that came back together with :func:`record_outcomes`, in one
transaction (one outcome: :func:`record_outcome`).

Identity: a result is ``(run id, problem hash)`` (a second copy of it, from a retried task or
a repeated problem, is not stored again), a solution is ``(problem hash, answer)`` (the
corpus keeps one row whichever run finds it). A solver that dies mid-problem has recorded
nothing, so its retry starts clean: nothing accepted is lost and nothing is stored twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from llm_modulo.corpus.memory import recheck_stored
from llm_modulo.corpus.store import (
    Corpus,
    FlagChange,
    Prepared,
    PreparedResult,
    PreparedSearch,
    Round,
    StoredSolution,
    prepare,
    prepare_result,
    prepare_search,
)
from llm_modulo.pool import WorkerPool
from llm_modulo.types import Attempt, Problem, SearchTree, SolveResult
from llm_modulo.verifier import Verifier


class CapturingStore:
    """The loop's store for a solver that cannot write the corpus itself: it serializes what
    :class:`~llm_modulo.corpus.CorpusMemory` would commit, under ``run_id``, and keeps it
    (an :class:`~llm_modulo.strategy.AttemptStore` and
    :class:`~llm_modulo.strategy.SearchStore`); it looks problems up in ``stored`` (the
    problem's stored solutions, shipped by the driver; ``reuse=False``: never)."""

    def __init__(self, run_id: str, stored: Sequence[StoredSolution] = (), *,
                 reuse: bool = True) -> None:
        self.run_id = run_id
        self.stored = list(stored)
        self.reuse = reuse
        self.rounds: list[Prepared] = []
        self.search: PreparedSearch | None = None
        self.flags: list[FlagChange] = []
        self.served = False

    async def lookup(self, problem: Problem, verifier: Verifier,
                     pool: WorkerPool | None) -> Attempt | None:
        if not self.reuse:
            return None
        found, self.flags = await recheck_stored(problem, self.stored, verifier, pool)
        self.served = found is not None
        return found

    async def record(self, problem: Problem, attempts: Sequence[Attempt],
                     sampling: BaseModel, model: str | None) -> None:
        # serialized now, as CorpusMemory does: what cannot be stored fails here, as there
        self.rounds.append(prepare(Round(problem, attempts, sampling, model), self.run_id))

    async def record_search(self, problem: Problem, tree: SearchTree,
                            model: str | None) -> None:
        self.search = prepare_search(problem, tree, model, self.run_id)


@dataclass(frozen=True)
class ProblemOutcome:
    """What a remote solver returns for one problem: the result as the local engine reports
    it, what the corpus must record of it (serialized) and where it was solved."""

    result: SolveResult
    rounds: list[Prepared] = field(default_factory=list)
    search: PreparedSearch | None = None
    flags: list[FlagChange] = field(default_factory=list)
    served: bool = False
    #: the corpus run it belongs to
    run_id: str | None = None
    node_id: str | None = None
    hostname: str | None = None
    #: what a strategy's observer saw of this problem (a study's self-critique arm: the
    #: critic's judgements and the outcome)
    observed: Any = None
    #: the problem was not finished (its solver raised, its Ray call was lost): ``result``
    #: is an ``error`` naming why and nothing is recorded (the next run retries it)
    lost: bool = False

    @classmethod
    def of(cls, result: SolveResult, store: CapturingStore, *, run_id: str | None = None,
           node_id: str | None = None, hostname: str | None = None,
           observed: Any = None) -> ProblemOutcome:
        return cls(result, store.rounds, store.search, store.flags, store.served,
                   run_id or store.run_id, node_id, hostname, observed)


def record_outcome(corpus: Corpus, run_id: str, outcome: ProblemOutcome, *,
                   engine: str) -> bool:
    """Record one problem's outcome in one transaction; False when this run had recorded
    that problem already (then nothing is written)."""
    return corpus.write_result(_prepared(run_id, outcome, engine))


def record_outcomes(corpus: Corpus, outcomes: Sequence[tuple[str, ProblemOutcome]], *,
                    engine: str) -> list[bool]:
    """Record several (run id, outcome) pairs in one transaction: all of them or, if it
    fails, none; per outcome, False when its run had recorded that problem already (a
    retried call, a second copy in ``outcomes``: then nothing of it is written)."""
    return corpus.write_results([_prepared(run_id, o, engine) for run_id, o in outcomes])


def _prepared(run_id: str, outcome: ProblemOutcome, engine: str) -> PreparedResult:
    r = outcome.result
    return prepare_result(r.problem, outcome.rounds, outcome.search, outcome.flags,
                          run_id=run_id, stop_reason=r.stop_reason.value, solved=r.solved,
                          engine=engine, node_id=outcome.node_id, hostname=outcome.hostname)
