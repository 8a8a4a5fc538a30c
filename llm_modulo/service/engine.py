"""Admission, deadlines and verdicts: what ``POST /v1/verify`` does behind the HTTP layer.

- **Admission** (the bounded queue): a request's completions are admitted only when the
  completions already admitted plus its own stay within ``max_queue``; otherwise it is
  refused at once (429 with ``Retry-After``), never queued to time out. A completion stays
  admitted until its check has really finished in the pool (also when its request has
  already answered), so the cap bounds the pool's work, not just the requests waiting.
- **Verdicts**: each completion goes through :func:`llm_modulo.judge.judge` (read in the
  worker, then checked, in the shared killable :class:`~llm_modulo.pool.WorkerPool`); a
  batched verifier (Lean) gets one judge call per item.
- **Deadline**: a request answers by its deadline (the server's, or a shorter one it asks
  for); a check not finished by then is UNKNOWN (``timeout``). After a shutdown signal,
  in-flight requests get ``drain_s`` more seconds, then their unfinished checks are UNKNOWN
  (``unavailable``); new requests get 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from llm_modulo.domain import Domain
from llm_modulo.judge import judge
from llm_modulo.pool import WorkerPool
from llm_modulo.registry import Registry, default_registry
from llm_modulo.service.body import Refused
from llm_modulo.service.limits import ServiceLimits
from llm_modulo.service.problems import ProblemReader, ProblemRefused
from llm_modulo.service.schema import ItemResult, VerifiersResponse, VerifyItem, VerifyResponse
from llm_modulo.types import Candidate, Critique, Problem, Status, Verdict
from llm_modulo.verifier import Verifier


def listing(registry: Registry) -> VerifiersResponse:
    """What ``llm-modulo verifiers --json`` lists (with the vocabularies), and the domains."""
    verifiers = [{"name": e.name, "version": e.cls.version, "sound": e.cls.sound,
                  "origin": e.origin, "class": f"{e.cls.__module__}.{e.cls.__qualname__}",
                  "critique_kinds": e.cls.vocabulary()}
                 for e in registry.verifiers.entries()]
    domains = [{"name": e.name, "version": e.cls.version, "verifier": e.cls.verifier}
               for e in registry.domains.entries()]
    errors = [{"name": e.name, "entry_point": e.value, "group": e.group, "error": e.error}
              for e in [*registry.verifiers.errors(), *registry.domains.errors()]]
    return VerifiersResponse.model_validate(
        {"verifiers": verifiers, "domains": domains, "errors": errors})


class _Admission:
    """Completions admitted and not yet finished."""

    def __init__(self, cap: int) -> None:
        self.cap, self.count = cap, 0

    def take(self, n: int, retry_after_s: int) -> None:
        if self.count + n > self.cap:
            raise Refused(429, f"the service is at capacity ({self.count} of {self.cap} checks "
                               f"admitted; this request has {n}); retry later",
                          {"Retry-After": str(retry_after_s)})
        self.count += n

    def give_back(self, n: int) -> None:
        self.count = max(0, self.count - n)


#: Judging elsewhere (``ray_engine.RayJudge``): ``(domain name, problem, texts)`` to what
#: :func:`~llm_modulo.judge.judge` returns; a failure is the completions' UNKNOWN.
RemoteJudge = Callable[[str, Problem, list[str]], Awaitable[list[tuple[Candidate, Verdict]]]]


class Engine:
    """The verification work of one service: its pool, domains, admission and drain. With
    ``remote_judge`` the checks run there (e.g. Ray tasks); problems are still read here."""

    def __init__(self, limits: ServiceLimits, *, workers: int | None = None,
                 registry: Registry | None = None, pool: WorkerPool | None = None,
                 remote_judge: RemoteJudge | None = None) -> None:
        self.limits = limits
        self.remote_judge = remote_judge
        self.registry = registry or default_registry
        self.workers = workers
        self._given_pool = pool
        self.pool: WorkerPool | None = None
        self.admission = _Admission(limits.max_queue)
        self.listing = VerifiersResponse(verifiers=[], domains=[], errors=[])
        self._pairs: dict[str, tuple[Domain, Verifier]] = {}
        self._problems: ProblemReader | None = None
        self._background: set[asyncio.Future[Any]] = set()
        self._drain_event: asyncio.Event | None = None
        self._drain_end: float | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    # -- lifetime ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the registry (plugins import here, once) and start the pool."""
        self.listing, self._pairs = await asyncio.to_thread(self._load)
        self.pool = self._given_pool or WorkerPool(self.workers)
        self._problems = ProblemReader(self.pool)
        self._drain_event = asyncio.Event()
        self.loop = asyncio.get_running_loop()

    def _load(self) -> tuple[VerifiersResponse, dict[str, tuple[Domain, Verifier]]]:
        pairs: dict[str, tuple[Domain, Verifier]] = {}
        for entry in self.registry.domains.entries():
            with contextlib.suppress(Exception):  # its verifier failed to load: listed there
                pairs[entry.name] = self.registry.domain_and_verifier(entry.name)
        return listing(self.registry), pairs

    @property
    def draining(self) -> bool:
        return self._drain_end is not None

    def begin_drain(self) -> None:
        """Stop taking requests; in-flight ones get ``drain_s`` more seconds."""
        if self._drain_end is None:
            self._drain_end = time.monotonic() + self.limits.drain_s
            if self._drain_event is not None:
                self._drain_event.set()

    def begin_drain_threadsafe(self) -> None:
        """:meth:`begin_drain` from a signal handler or another thread."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.begin_drain)

    async def close(self) -> None:
        """Drain, wait for admitted checks up to ``drain_s``, then stop the pool (checks
        still running end as UNKNOWN for whoever waits on them)."""
        self.begin_drain()
        if self._background:
            await asyncio.wait(list(self._background), timeout=self.limits.drain_s)
        if self.pool is not None and self._given_pool is None:
            await asyncio.to_thread(self.pool.close)

    # -- one request ------------------------------------------------------------------------

    async def verify(self, items: Sequence[VerifyItem], deadline_s: float | None
                     ) -> VerifyResponse:
        start = time.monotonic()
        if self.pool is None or self._problems is None or self._drain_event is None:
            raise Refused(503, "the service is starting", {"Retry-After": "1"})
        if self.draining:
            raise Refused(503, "the service is shutting down",
                          {"Retry-After": str(self.limits.retry_after_s)})
        texts = [item.texts() for item in items]
        count = sum(len(t) for t in texts)
        if count > self.limits.max_batch:
            raise Refused(413, f"the request has {count} completions; the limit is "
                               f"{self.limits.max_batch}")
        pairs = [self._pair(i, item.domain) for i, item in enumerate(items)]
        self.admission.take(count, self.limits.retry_after_s)
        deadline = start + min(deadline_s or self.limits.deadline_s, self.limits.deadline_s)
        problems = self._read_problems(items, pairs)
        jobs: list[tuple[int, list[int], asyncio.Task[list[tuple[Candidate, Verdict]]]]] = []
        for i, ((domain, verifier), item_texts) in enumerate(zip(pairs, texts, strict=True)):
            groups = [list(range(len(item_texts)))] if verifier.batched \
                else [[j] for j in range(len(item_texts))]
            for group in groups:
                task = asyncio.ensure_future(self._judge(
                    domain, verifier, problems[i], [item_texts[j] for j in group]))
                self._hold(task, len(group))
                jobs.append((i, group, task))
        await self._wait(list(set(problems)), deadline)
        for i, reading in enumerate(problems):
            if reading.done() and isinstance(reading.exception(), ProblemRefused):
                raise Refused(422, f"items[{i}].problem: {reading.exception()}")
        await self._wait([task for _, _, task in jobs], deadline)
        results: list[ItemResult] = []
        for i, group, task in jobs:
            results.extend(self._results(i, group, task, pairs[i][1], problems[i], start,
                                         deadline_s=deadline - start))
        results.sort(key=lambda r: (r.item, r.completion))
        return VerifyResponse(results=results, elapsed_s=time.monotonic() - start)

    def _pair(self, index: int, name: str) -> tuple[Domain, Verifier]:
        pair = self._pairs.get(name)
        if pair is None:
            known = ", ".join(sorted(self._pairs)) or "none"
            raise Refused(422, f"items[{index}].domain: no domain named {name[:100]!r} "
                               f"(registered: {known})")
        return pair

    def _read_problems(self, items: Sequence[VerifyItem],
                       pairs: list[tuple[Domain, Verifier]]) -> list[asyncio.Task[Problem]]:
        """One reading task per distinct problem of the request."""
        assert self._problems is not None
        seen: dict[tuple[str, str], asyncio.Task[Problem]] = {}
        out = []
        for item, (domain, _) in zip(items, pairs, strict=True):
            key = (domain.name, repr(item.problem) if len(repr(item.problem)) < 10_000
                   else str(id(item)))
            if key not in seen:
                seen[key] = self._problems.read_task(domain, item.problem)
            out.append(seen[key])
        return out

    async def _judge(self, domain: Domain, verifier: Verifier, problem: asyncio.Task[Problem],
                     texts: list[str]) -> list[tuple[Candidate, Verdict]]:
        read = await asyncio.shield(problem)
        if self.remote_judge is not None:
            return await self.remote_judge(domain.name, read, texts)
        assert self.pool is not None
        return await judge(domain, verifier, read, texts, pool=self.pool)

    def _hold(self, task: asyncio.Task[Any], n: int) -> None:
        """Keep ``n`` completions admitted until ``task`` has finished."""
        self._background.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._background.discard(t)
            self.admission.give_back(n)
            if not t.cancelled():
                t.exception()  # retrieved: no "never retrieved" warning

        task.add_done_callback(done)

    async def _wait(self, tasks: list[asyncio.Task[Any]], deadline: float) -> None:
        """Until ``tasks`` are done, the deadline passes or the drain ends."""
        assert self._drain_event is not None
        if not tasks:
            return
        everything = asyncio.gather(*tasks, return_exceptions=True)
        try:
            while not everything.done():
                limit = deadline if self._drain_end is None else min(deadline, self._drain_end)
                remaining = limit - time.monotonic()
                if remaining <= 0:
                    return
                waiters: list[asyncio.Future[Any]] = [everything]
                drain = None
                if not self.draining:
                    drain = asyncio.ensure_future(self._drain_event.wait())
                    waiters.append(drain)
                await asyncio.wait(waiters, timeout=remaining,
                                   return_when=asyncio.FIRST_COMPLETED)
                if drain is not None and not drain.done():
                    drain.cancel()
        finally:
            if not everything.done():
                everything.add_done_callback(lambda f: f.exception())

    def _results(self, item: int, group: list[int],
                 task: asyncio.Task[list[tuple[Candidate, Verdict]]], verifier: Verifier,
                 problem: asyncio.Task[Problem], start: float, deadline_s: float
                 ) -> list[ItemResult]:
        problem_hash = problem.result().hash if problem.done() and not problem.cancelled() \
            and problem.exception() is None else ""
        judged: list[tuple[Candidate | None, Verdict]]
        if task.done() and not task.cancelled() and task.exception() is None:
            judged = list(task.result())
        else:
            if not task.done():
                kind, message = (("unavailable", "the service shut down before this check "
                                                 "finished") if self.draining else
                                 ("timeout", f"the request's deadline of {deadline_s:g} s "
                                             "passed before this check finished"))
            else:
                error = task.exception() if not task.cancelled() else None
                kind = "verifier_error"
                message = f"the check failed: {type(error).__name__}: {error}"[:500]
            verdict = Verdict(status=Status.UNKNOWN, critiques=[Critique(kind=kind,
                              message=message)], verifier=verifier.name,
                              verifier_version=verifier.version, sound=verifier.sound,
                              elapsed_s=time.monotonic() - start)
            judged = [(None, verdict)] * len(group)
        return [ItemResult(item=item, completion=j, status=v.status, critiques=v.critiques,
                           verifier=v.verifier, verifier_version=v.verifier_version,
                           sound=v.sound, elapsed_s=v.elapsed_s, problem_hash=problem_hash,
                           answer=None if c is None else c.answer,
                           parse_error=None if c is None else c.parse_error)
                for j, (c, v) in zip(group, judged, strict=True)]
