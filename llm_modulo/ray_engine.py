"""``--engine ray``: problems sharded over Ray actors, results recorded once by the driver.

Each :class:`SolverActor` builds its own generator from a picklable
:class:`~llm_modulo.endpoints.GeneratorSpec` (one per model), strategies per :class:`Job`
(a ``run``, or a study's cell), its own killable
:class:`~llm_modulo.pool.WorkerPool` (the deadline and memory cap hold per check, as
locally) and runs the ordinary :class:`~llm_modulo.loop.Solver`, many problems at once on
the actor's event loop. A call carries a chunk of problems of one job (``chunk``, fewer
when there is not enough work left to feed every actor) and returns each problem's whole
:class:`~llm_modulo.recording.ProblemOutcome`; the driver is the corpus's only writer (one
SQLite file has one writer at a time anyway, and the driver already holds the run): it
records the outcomes of every call that has come back in one transaction, then hands the
results on (``run --out``), one per problem.

Ray does the distributing and the recovering: actors are placed with the ``SPREAD``
strategy, restarted after a node dies (``max_restarts``) and their unfinished calls re-run
(``max_task_retries``); the driver keeps a bounded window of problems in flight with
``ray.wait``. A call that fails for good becomes an ``error`` result for each of its
problems (retried by the next ``run``); nothing is recorded for them.

Ray is an optional dependency (``pip install 'llm-modulo[ray]'``): importing this module
never imports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import os
import socket
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_modulo.config import LoopConfig
from llm_modulo.corpus.store import Corpus, StoredSolution
from llm_modulo.endpoints import GeneratorSpec
from llm_modulo.errors import ClusterError, LLMModuloError, MissingExtraError, UsageError
from llm_modulo.recording import CapturingStore, ProblemOutcome, record_outcomes
from llm_modulo.types import Problem, SolveResult, StopReason

#: How to get Ray, named in the one-line error when it is missing.
RAY_EXTRA = "pip install 'llm-modulo[ray]'"
#: The object store of a Ray started here: results are small (a problem's attempts).
OBJECT_STORE_BYTES = 100_000_000
#: An actor is restarted this often after its node dies; its calls are re-run as often.
MAX_RESTARTS = 8
MAX_TASK_RETRIES = 8
#: Problems in flight per actor slot (the driver keeps every actor fed, never all at once).
WINDOW_PER_SLOT = 2
#: Problems per actor call, at most: each call costs the driver about 1.6 ms of Ray's own
#: work however many problems it carries (``benchmarks/ray_engine.py --chunks``).
DEFAULT_CHUNK = 16
#: How long a --ray-address gets to accept a connection.
CONNECT_TIMEOUT_S = 10.0
#: How long the actors get to close their clients and pools at the end.
CLOSE_TIMEOUT_S = 10.0


def import_ray() -> Any:
    """The ``ray`` module, or :class:`MissingExtraError` naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise MissingExtraError(f"--engine ray needs Ray, which is not installed: "
                                f"{RAY_EXTRA}") from None
    return ray


@dataclass(frozen=True)
class CriticSpec:
    """The LLM critic a ``self_critique`` job's actor builds for itself (study arms)."""

    base_url: str | None
    model: str | None
    max_tokens: int
    deadline_s: float


@dataclass(frozen=True)
class Job:
    """What a problem is solved as, picklable: the domain by name (each node loads it from
    its own registry), the loop's config (its strategy by name), the corpus run its rounds
    are serialized under, whether stored solutions are served, and for a ``self_critique``
    job the critic to build (its verdicts come back as the outcome's ``observed``)."""

    domain: str
    config: LoopConfig
    run_id: str
    reuse: bool = True
    critic: CriticSpec | None = None


@dataclass(frozen=True)
class ActorSpec:
    """What a solver actor is built from: the generator to build, its pool's size and how
    many problems it solves at once (None: as many as its calls bring)."""

    generator: GeneratorSpec
    pool_size: int = 1
    in_flight: int | None = None


@dataclass
class _Prepared:
    domain: Any
    verifier: Any
    strategy: Any
    recorder: Any = None
    critic: Any = None


class SolverActor:
    """One shard's solver (a Ray actor once wrapped by ``ray.remote``): its own generator
    client, worker pool and strategies; many problems at once on its event loop."""

    def __init__(self, spec: ActorSpec) -> None:
        from llm_modulo.pool import WorkerPool

        self.spec = spec
        self.pool = WorkerPool(spec.pool_size)
        self.client: Any = None
        self.jobs: dict[str, _Prepared] = {}
        self.node_id = _node_id()
        self.hostname = socket.gethostname()
        self._gate: asyncio.Semaphore | None = None

    def _prepared(self, job: Job) -> _Prepared:
        """The domain, verifier and strategy of a job, made once per job on this actor."""
        from llm_modulo.registry import default_registry

        made = self.jobs.get(job.run_id)
        if made is not None:
            return made
        domain, verifier = default_registry.domain_and_verifier(job.domain)
        if job.critic is None:
            made = _Prepared(domain, verifier, default_registry.strategy(
                job.config.strategy, job.config.strategy_options))
        else:
            from llm_modulo.critic import Critic
            from llm_modulo.strategies.self_critique import SelfCritique
            from llm_modulo.study.runner import Recorder

            c = job.critic
            factory: Any = default_registry.verifiers.get("llm_critic")
            critic = factory(c.base_url, model=c.model, max_tokens=c.max_tokens,
                             deadline_s=c.deadline_s)
            if not isinstance(critic, Critic):
                raise UsageError("the registered llm_critic verifier is not a critic")
            recorder = Recorder()
            made = _Prepared(domain, verifier, SelfCritique(critic=critic, observer=recorder),
                             recorder, critic)
        self.jobs[job.run_id] = made
        return made

    async def solve(self, problem: Problem, stored: Sequence[StoredSolution], job: Job
                    ) -> ProblemOutcome:
        from llm_modulo.loop import Solver

        if self.client is None:  # built on the actor's own event loop
            self.client = self.spec.generator.build()
        made = self._prepared(job)
        store = CapturingStore(job.run_id, stored, reuse=job.reuse)
        solver = Solver(made.domain, made.verifier, self.client, job.config,
                        strategy=made.strategy, pool=self.pool, store=store)
        result = await solver.solve(problem)
        observed = None
        if made.recorder is not None:  # what the study's recorder saw of this problem
            observed = (made.recorder.judgements.pop(problem.hash, []),
                        made.recorder.outcomes.pop(problem.hash, None))
        return ProblemOutcome.of(result, store, run_id=job.run_id, node_id=self.node_id,
                                 hostname=self.hostname, observed=observed)

    async def solve_many(self, items: Sequence[tuple[Problem, Sequence[StoredSolution]]],
                         job: Job) -> list[ProblemOutcome]:
        """A chunk of problems (each with its stored solutions), solved at once within the
        actor's ``in_flight``; one outcome per problem, in order. A problem whose solving
        raises is a ``lost`` outcome (nothing to record), never the chunk's failure."""
        if self._gate is None and self.spec.in_flight is not None:
            self._gate = asyncio.Semaphore(self.spec.in_flight)  # on the actor's loop
        return list(await asyncio.gather(*(self._solve_gated(p, stored, job)
                                           for p, stored in items)))

    async def _solve_gated(self, problem: Problem, stored: Sequence[StoredSolution], job: Job
                           ) -> ProblemOutcome:
        try:
            if self._gate is None:
                return await self.solve(problem, stored, job)
            async with self._gate:
                return await self.solve(problem, stored, job)
        except Exception as exc:
            return _lost(problem, job, f"solving failed on the actor: {_short(exc)}")

    async def close(self) -> None:
        for made in self.jobs.values():
            if made.critic is not None:
                await made.critic.aclose()
        if self.client is not None:
            await self.client.aclose()
        self.pool.close()


def _node_id() -> str | None:
    """This process's Ray node id; None outside Ray (asking would start a Ray)."""
    try:
        ray = import_ray()
        return str(ray.get_runtime_context().get_node_id()) if ray.is_initialized() else None
    except Exception:
        return None


@contextlib.contextmanager
def ray_session(address: str | None, data_dir: Path) -> Iterator[Any]:
    """Ray connected for a command: the cluster at ``address``, else a local one started
    here (CPUs of this machine, a small object store, no dashboard, its logs and sockets
    under ``data_dir/ray``, usage stats off). Shut down (the driver only) at the end."""
    ray = import_ray()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address is None:
        temp_dir = data_dir / "ray"
        options.update(num_cpus=os.cpu_count() or 1, object_store_memory=OBJECT_STORE_BYTES,
                       include_dashboard=False, _temp_dir=str(temp_dir))
    if address is not None:
        check_address(address)  # Ray itself keeps retrying an address nobody answers
    try:
        if address is None:
            temp_dir.mkdir(parents=True, exist_ok=True)
        ray.init(address=address, **options)
    except Exception as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise ClusterError(f"cannot start or reach {where}: {type(exc).__name__}: "
                           f"{' '.join(str(exc).split())[:300]}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def check_address(address: str) -> None:
    """Refuse a ``HOST:PORT`` (or ``ray://HOST:PORT``) that accepts no connection within
    :data:`CONNECT_TIMEOUT_S`; other forms (``auto``) are left to Ray."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit() or not host:
        if address in ("auto", "local"):
            return
        raise UsageError(f"--ray-address {address[:200]!r} is not HOST:PORT (or auto)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)),
                                      timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise ClusterError(f"cannot reach the Ray cluster at {address[:200]}: "
                           f"{exc.strerror or exc}") from None
    except ValueError as exc:  # a port out of range
        raise UsageError(f"--ray-address {address[:200]!r}: {exc}") from None


def cluster_cpus(ray: Any) -> int:
    """Logical CPUs of the connected cluster (at least 1)."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def solve_on_ray(ray: Any, spec: ActorSpec, work: Iterable[tuple[Problem, Job]],
                 corpus: Corpus, *, actors: int, concurrency: int, chunk: int = DEFAULT_CHUNK
                 ) -> Iterator[ProblemOutcome]:
    """Solve each (problem, job) of ``work`` on ``actors`` solver actors, ``concurrency``
    problems in flight in all, up to ``chunk`` problems of one job per actor call; record
    the outcomes (each under its job's run) of every call back so far in one transaction,
    then yield them one by one (a problem lost to Ray yields an ``error`` result with
    nothing recorded).

    A problem given twice for one run is solved once. A result its run recorded already is
    not yielded again. Every actor dead for good raises :class:`ClusterError` (what finished
    is recorded).
    """
    exceptions = ray.exceptions
    per_actor = max(1, math.ceil(concurrency / actors))
    chunk = max(1, min(chunk, per_actor))  # a call never holds more than an actor solves
    window = actors * per_actor * WINDOW_PER_SLOT  # problems in flight, all calls together
    remote = ray.remote(SolverActor).options(
        num_cpus=0, max_restarts=MAX_RESTARTS, max_task_retries=MAX_TASK_RETRIES,
        max_concurrency=per_actor * WINDOW_PER_SLOT, scheduling_strategy="SPREAD")
    spec = dataclasses.replace(spec, in_flight=per_actor)
    handles = [remote.remote(spec) for _ in range(actors)]
    live = set(range(actors))
    load = [0] * actors  # problems in flight per actor
    in_flight: dict[Any, tuple[list[Problem], Job, int]] = {}
    waiting = 0  # problems in flight, all calls
    seen: set[tuple[str, str]] = set()
    shipped: dict[str, Any] = {}  # each job in the object store once, not pickled per call
    source = iter(work)
    ahead: deque[tuple[Problem, Job]] = deque()  # read, not sent yet (at most a window)

    def read_ahead() -> None:
        for problem, job in source:
            if (job.run_id, problem.hash) in seen:
                continue
            seen.add((job.run_id, problem.hash))
            ahead.append((problem, job))
            if len(ahead) >= window:
                return

    def submit() -> bool:
        nonlocal waiting
        if len(ahead) < window:
            read_ahead()
        if not ahead:
            return False
        # the work left is spread over every live actor before a call takes a whole chunk
        size = min(chunk, math.ceil(len(ahead) / len(live)))
        job = ahead[0][1]
        problems: list[Problem] = []
        while ahead and len(problems) < size and ahead[0][1].run_id == job.run_id:
            problems.append(ahead.popleft()[0])
        items = [(p, corpus.solutions(p.hash) if job.reuse else []) for p in problems]
        slot = min(live, key=lambda i: load[i])
        if job.run_id not in shipped:
            shipped[job.run_id] = ray.put(job)
        call = handles[slot].solve_many.remote(items, shipped[job.run_id])
        in_flight[call] = (problems, job, slot)
        load[slot] += len(problems)
        waiting += len(problems)
        return True

    try:
        while True:
            while live and waiting < window and submit():
                pass
            if not in_flight:
                break
            refs = list(in_flight)
            ready, rest = ray.wait(refs, num_returns=1)
            if rest:  # every other call back by now: its outcomes share the transaction
                ready += ray.wait(rest, num_returns=len(rest), timeout=0)[0]
            finished: list[tuple[str, ProblemOutcome]] = []
            lost: list[ProblemOutcome] = []
            dead: BaseException | None = None
            for ref in ready:
                problems, job, slot = in_flight.pop(ref)
                load[slot] -= len(problems)
                waiting -= len(problems)
                try:
                    outcomes: list[ProblemOutcome] = ray.get(ref)
                except exceptions.RayActorError as exc:
                    live.discard(slot)  # its restarts are spent: give it no more problems
                    dead = exc
                    why = f"the solver actor died for good ({_short(exc)})"
                    lost += [_lost(p, job, why) for p in problems]
                    continue
                except exceptions.RayError as exc:
                    lost += [_lost(p, job, f"the Ray call failed: {_short(exc)}")
                             for p in problems]
                    continue
                for outcome in outcomes:
                    if outcome.lost:
                        lost.append(outcome)
                    else:
                        finished.append((job.run_id, outcome))
            recorded = record_outcomes(corpus, finished, engine="ray")
            yield from lost
            yield from (o for (_, o), new in zip(finished, recorded, strict=True) if new)
            if not live:
                raise ClusterError(f"every solver actor died; run again to resume "
                                   f"({_short(dead or Exception('no actor left'))})")
    finally:
        closing = []
        for h in handles:  # close clients and pools, then end the actors
            with contextlib.suppress(Exception):
                closing.append(h.close.remote())
        with contextlib.suppress(Exception):
            ray.wait(closing, num_returns=len(closing), timeout=CLOSE_TIMEOUT_S)
        for h in handles:
            with contextlib.suppress(Exception):
                ray.kill(h, no_restart=True)


def _reverify_chunk(checks: list[Any]) -> list[bool]:
    """A Ray task: re-check answers with this node's registered verifiers, in this worker's
    pool (pure: a retry gives the same answers)."""
    from llm_modulo.corpus.formats import Reverifier

    return Reverifier().passes(checks)


class RayReverifier:
    """``export --reverify`` on Ray: the checks of each chunk of rows as Ray tasks of
    ``chunk`` checks each, retried by Ray when a node dies (``max_retries``); the same
    ``passes`` as :class:`~llm_modulo.corpus.formats.Reverifier`. A task that fails for good
    is a :class:`ClusterError` (the export stops and writes nothing), never a dropped row."""

    def __init__(self, ray: Any, *, chunk: int = 256) -> None:
        self.ray = ray
        self.chunk = max(1, chunk)
        self._task = ray.remote(num_cpus=1, max_retries=MAX_TASK_RETRIES)(_reverify_chunk)

    def passes(self, checks: list[Any]) -> list[bool]:
        refs = [self._task.remote(checks[i:i + self.chunk])
                for i in range(0, len(checks), self.chunk)]
        try:
            parts = self.ray.get(refs)
        except self.ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, LLMModuloError):
                raise cause from None  # e.g. a domain that is not registered on that node
            raise ClusterError(f"a re-verification task failed: {_short(exc)}") from None
        except self.ray.exceptions.RayError as exc:
            raise ClusterError(f"a re-verification task was lost: {_short(exc)}") from None
        return [ok for part in parts for ok in part]


def _judge_task(domain_name: str, problem: Problem, texts: list[str]) -> list[Any]:
    """A Ray task: read and decide completions with this node's registered domain and
    verifier, in this worker's killable pool (the deadline and memory cap hold per check)."""
    import asyncio

    from llm_modulo.judge import judge
    from llm_modulo.pool import default_pool
    from llm_modulo.registry import default_registry

    domain, verifier = default_registry.domain_and_verifier(domain_name)
    return asyncio.run(judge(domain, verifier, problem, texts, pool=default_pool()))


class RayJudge:
    """The verification service's checks as Ray tasks (``serve-verifiers --engine ray``):
    each group of completions one task, retried by Ray when a node dies (checks are pure);
    awaited on the service's event loop. A task that fails for good raises, which the
    service answers as UNKNOWN (``verifier_error``) for those completions."""

    def __init__(self, ray: Any) -> None:
        self._task = ray.remote(num_cpus=1, max_retries=MAX_TASK_RETRIES)(_judge_task)

    async def __call__(self, domain: str, problem: Problem, texts: list[str]) -> list[Any]:
        result: list[Any] = await self._task.remote(domain, problem, texts)
        return result


def _lost(problem: Problem, job: Job, why: str) -> ProblemOutcome:
    return ProblemOutcome(SolveResult(problem=problem, stop_reason=StopReason.ERROR, error=why),
                          run_id=job.run_id, lost=True)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}"
