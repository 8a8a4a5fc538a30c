"""The shared core of the rewards: verify a batch of (problem, completion) pairs in the
killable worker pool, from any thread or event loop.

* Verdicts come from :func:`llm_modulo.judge.judge` (the completion is read and checked in a
  worker, under the verifier's deadline), one call per problem, all problems at once.
* Sync callers (TRL's trainer thread, veRL's Ray workers, executor threads) are served by one
  private event loop in a daemon thread of this process; async callers await
  :meth:`Scorer.ascore` in their own loop. No ``signal.alarm``, no event loop needed in the
  caller's thread, and a sync call from inside a running loop works (it blocks that loop).
* One worker pool per process for all rewards (``LLM_MODULO_WORKERS`` workers, default one
  per core), created on the first check and closed at exit. A process forked after that
  (a dataloader worker, a ``fork``-started Ray worker) gets its own pool and private loop:
  threads do not survive a fork, so the parent's would never answer.
* ACCEPT is 1.0, REJECT 0.0, anything else ``None``: an UNKNOWN verdict, an unsound one, a
  row that cannot be read, a domain that cannot be loaded, a batch past its deadline. One bad
  row never fails the batch; each is logged once per batch as a warning.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import threading
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from llm_modulo.domain import Domain
from llm_modulo.judge import judge
from llm_modulo.pool import WorkerPool
from llm_modulo.types import Candidate, Problem, Status, Verdict
from llm_modulo.verifier import Verifier

log = logging.getLogger("llm_modulo.rewards")
T = TypeVar("T")

#: How long one sync batch may take before its unfinished items score ``None``. The pool
#: bounds every check by its verifier's deadline; this only guards against a stuck pool.
BATCH_DEADLINE_S = 900.0


@dataclass(frozen=True, slots=True)
class Pair:
    """One completion to score, for one problem."""

    problem: Problem
    text: str


@dataclass(frozen=True, slots=True)
class Scored:
    """A pair's candidate and verdict (both ``None`` when it could not be verified) and why."""

    candidate: Candidate | None
    verdict: Verdict | None
    detail: str = ""

    @property
    def status(self) -> Status:
        """ACCEPT and REJECT only when sound; everything else is UNKNOWN."""
        v = self.verdict
        if v is None or not v.sound:
            return Status.UNKNOWN
        return v.status


def reward_of(scored: Scored) -> float | None:
    """1.0 for a sound ACCEPT, 0.0 for a sound REJECT, ``None`` otherwise."""
    status = scored.status
    if status is Status.ACCEPT:
        return 1.0
    if status is Status.REJECT:
        return 0.0
    return None


def shaped_reward_of(scored: Scored) -> float | None:
    """Partial credit: ACCEPT 1.0; a REJECTed answer that was read, ``0.5 / critiques``
    (fewer problems found, more credit); an unreadable one 0.0; UNKNOWN ``None``.

    UNSOUND FOR DATA: a critique count is not a measure of closeness (one critique can be a
    worse error than three), so shaped values are a training heuristic only; never store or
    export them as labels."""
    status = scored.status
    if status is Status.ACCEPT:
        return 1.0
    if status is not Status.REJECT or scored.verdict is None:
        return None
    if scored.candidate is None or scored.candidate.answer is None:
        return 0.0
    return 0.5 / max(1, len(scored.verdict.critiques))


# -- the private event loop ---------------------------------------------------------------


class _LoopThread:
    """An event loop running forever in a daemon thread of one process."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever,
                                       name="llm-modulo-rewards", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.pid == os.getpid() and self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


_runner: _LoopThread | None = None
_runner_lock = threading.Lock()
_pool: tuple[int, WorkerPool] | None = None


def shared_pool() -> WorkerPool:
    """This process's rewards pool (a fresh one after a fork)."""
    global _pool
    with _runner_lock:
        if _pool is None or _pool[0] != os.getpid() or _pool[1]._closed:
            size = int(os.environ.get("LLM_MODULO_WORKERS", "0") or 0) or None
            pool = WorkerPool(size)
            atexit.register(pool.close)
            _pool = (os.getpid(), pool)
        return _pool[1]


def _loop_thread() -> _LoopThread:
    global _runner
    with _runner_lock:
        if _runner is None or _runner.pid != os.getpid() or not _runner.thread.is_alive():
            _runner = _LoopThread()
            atexit.register(_runner.stop)
        return _runner


def run_sync(coro: Coroutine[Any, Any, T], timeout_s: float | None = BATCH_DEADLINE_S) -> T:
    """Run ``coro`` on the private loop and wait for it from any thread (raises
    ``TimeoutError`` past ``timeout_s``, after cancelling it)."""
    runner = _loop_thread()
    if threading.current_thread() is runner.thread:
        coro.close()
        raise RuntimeError("run_sync called from the rewards' own event loop")
    future = asyncio.run_coroutine_threadsafe(coro, runner.loop)
    try:
        return future.result(timeout_s)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise TimeoutError(f"the batch did not finish within {timeout_s:g} s") from None


# -- scoring ------------------------------------------------------------------------------


class Scorer:
    """Verifies pairs of any registered domain in the worker pool (see the module doc).

    ``pool``: a :class:`WorkerPool` to use instead of the process's default one (tests).
    """

    def __init__(self, *, pool: WorkerPool | None = None, registry: Any = None) -> None:
        self._pool = pool
        self._registry = registry
        self._plugins: dict[str, tuple[Domain, Verifier] | str] = {}
        self._lock = threading.Lock()

    def _plugin(self, name: str) -> tuple[Domain, Verifier] | str:
        """The domain and its verifier, or why they cannot be had."""
        with self._lock:
            found = self._plugins.get(name)
            if found is None:
                from llm_modulo.registry import default_registry

                try:
                    found = (self._registry or default_registry).domain_and_verifier(name)
                except Exception as exc:
                    found = f"domain {name!r} cannot be loaded: {exc}"
                self._plugins[name] = found
            return found

    async def ascore(self, pairs: Sequence[Pair | None]) -> list[Scored]:
        """Each pair's verdict, in order (``None`` pairs: rows that could not be read)."""
        out = [Scored(None, None, "the row could not be read")] * len(pairs)
        groups: dict[tuple[str, str], list[int]] = {}
        for i, pair in enumerate(pairs):
            if pair is not None:
                groups.setdefault((pair.problem.domain, pair.problem.hash), []).append(i)
        pool = self._pool or shared_pool()

        async def one(indices: list[int]) -> None:
            first = pairs[indices[0]]
            assert first is not None
            plugin = self._plugin(first.problem.domain)
            if isinstance(plugin, str):
                for i in indices:
                    out[i] = Scored(None, None, plugin)
                return
            domain, verifier = plugin
            texts = [p.text for i in indices if (p := pairs[i]) is not None]
            try:
                judged = await judge(domain, verifier, first.problem, texts, pool=pool)
            except Exception as exc:  # e.g. the domain's parse_candidate raised
                for i in indices:
                    out[i] = Scored(None, None, f"{type(exc).__name__}: {exc}")
                return
            for i, (candidate, verdict) in zip(indices, judged, strict=True):
                out[i] = Scored(candidate, verdict)

        await asyncio.gather(*(one(ix) for ix in groups.values()))
        return out

    def score(self, pairs: Sequence[Pair | None], *,
              timeout_s: float | None = BATCH_DEADLINE_S) -> list[Scored]:
        """:meth:`ascore` for sync callers in any thread (past ``timeout_s``: all ``None``)."""
        try:
            return run_sync(self.ascore(pairs), timeout_s)
        except TimeoutError as exc:
            log.warning("llm-modulo reward: %s; its %d items score None", exc, len(pairs))
            return [Scored(None, None, str(exc))] * len(pairs)


_scorer: Scorer | None = None


def default_scorer() -> Scorer:
    """The process-wide scorer (default pool and registry)."""
    global _scorer
    with _runner_lock:
        if _scorer is None:  # holds no pool or thread: safe across a fork
            _scorer = Scorer()
        return _scorer


def warn_unread(errors: Sequence[tuple[int, str]], total: int, where: str) -> None:
    """One warning for the rows of a batch that could not be read."""
    if errors:
        index, first = errors[0]
        log.warning("%s: %d of %d rows could not be read and score None (row %d: %s)",
                    where, len(errors), total, index, first)
