"""A pool of reusable, killable worker processes with per-task deadlines and a memory cap.

Unlike :class:`concurrent.futures.ProcessPoolExecutor`, one task that hangs, eats
memory or kills its process costs only its own result: the worker is killed
(SIGKILL) or reaped, replaced, and the tasks queued behind it run on a fresh worker.
No ``signal.alarm``: deadlines are enforced from the parent.

How a task's deadline is counted (a deadline never pays for start-up):

- A worker is started and *warmed* (e.g. its verifier's module imported and its
  ``warm_up`` run) under a separate, generous start-up deadline. A worker that dies or
  stalls before it begins a batch is replaced and the batch retried, uncharged.
- Tasks go to a worker in batches (whatever is queued, split over the workers): one pipe
  round trip for many cheap checks. The worker says when it begins the batch; deadlines
  run from then, and each message of results restarts them for the tasks not yet answered.
- A task that kills its worker gets CRASH; the rest of its batch goes back to the front of
  the queue for a fresh worker. When a deadline passes with several tasks unanswered, each
  of them runs again alone on a fresh worker, where the one that hangs gets TIMEOUT.

Workers are kept (warm) while they stay small and young: one is retired when its resident
memory grows by ``recycle_rss_mb`` over its size after warm-up, or after ``recycle_age_s``.
Workers come from the ``forkserver`` start method, so they never inherit the parent's
threads or event loop. Each worker has one driver thread in the parent.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib
import math
import multiprocessing
import multiprocessing.connection
import os
import pickle
import resource
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

#: Start-up and warm-up deadline of a worker (never charged to a task).
STARTUP_TIMEOUT_S = 120.0
#: Starts tried for one batch before its tasks are given up as CRASH.
_START_ATTEMPTS = 3
#: Most tasks sent to a worker in one message.
MAX_BATCH = 64
_BEGIN = b"B"
#: A worker sends results that finish within this many seconds of each other together.
FLUSH_S = 0.002


class OutcomeKind(StrEnum):
    OK = "ok"
    ERROR = "error"  # the task raised
    MEMORY = "memory"  # the task hit the memory cap
    TIMEOUT = "timeout"  # the deadline passed; the worker was killed
    CRASH = "crash"  # the worker process died


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: OutcomeKind
    value: Any = None
    detail: str = ""
    elapsed_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Task:
    """``fn(*args)`` with a deadline (seconds of its own run) and an address-space cap.

    ``warm`` names what the task needs ready, each ``"module"`` (imported) or
    ``"module:attr.path"`` (imported, then called, e.g. a verifier's ``warm_up``): each
    worker does it once, under the start-up deadline, before it takes the task."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    timeout_s: float = 10.0
    memory_bytes: int | None = None
    warm: tuple[str, ...] = ()

    def with_args(self, args: tuple[Any, ...]) -> Task:
        """This task with other ``args`` (a third of ``dataclasses.replace``'s cost: a
        round's tasks are built from one template; a test checks every field is kept)."""
        return Task(self.fn, args, self.timeout_s, self.memory_bytes, self.warm)


# -- the worker process ---------------------------------------------------------------------


def _set_memory_cap(cap_bytes: int | None) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = resource.RLIM_INFINITY if cap_bytes is None else cap_bytes
    if hard != resource.RLIM_INFINITY and (soft == resource.RLIM_INFINITY or soft > hard):
        soft = hard
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _rss_bytes() -> int:
    """This process's resident set size now (its peak where /proc is missing)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _run_one(blob: bytes) -> tuple[str, Any, str]:
    try:
        fn, args, cap = pickle.loads(blob)
    except BaseException as exc:  # e.g. a class the worker cannot import
        return "error", None, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"
    try:
        _set_memory_cap(cap)
        return "ok", fn(*args), ""
    except MemoryError:
        return "memory", None, "memory limit exceeded"
    except BaseException as exc:  # report everything; the parent decides
        return "error", None, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"
    finally:
        with contextlib.suppress(Exception):
            _set_memory_cap(None)


def _warm(entry: str) -> None:
    """Import ``module``, or import it and call ``module:attr.path()``."""
    module, _, attr = entry.partition(":")
    target: Any = importlib.import_module(module)
    if attr:
        for part in attr.split("."):
            target = getattr(target, part)
        target()


def _worker_main(conn: multiprocessing.connection.Connection) -> None:
    """Serve messages from ``conn`` until it closes: ``("warm", modules)`` or ``("run",
    n)`` followed by ``n`` messages, each a blob: a pickled (fn, args, memory cap). A batch
    is acknowledged with ``_BEGIN`` when it has arrived, then answered in order, results that
    finish within ``FLUSH_S`` of each other in one message."""
    while True:
        try:
            op, body = conn.recv()
            if op == "run":
                body = [conn.recv_bytes() for _ in range(body)]
        except (EOFError, OSError):
            return
        if op == "warm":
            errors: dict[str, str] = {}
            for name in body:
                try:
                    _warm(name)
                except BaseException as exc:  # the tasks will report it themselves
                    errors[name] = f"{type(exc).__name__}: {exc}"
            conn.send(("warmed", errors, _rss_bytes()))
            continue
        conn.send_bytes(_BEGIN)
        done: list[tuple[str, Any, str]] = []
        flushed = time.monotonic()
        for i, blob in enumerate(body):
            kind, value, detail = _run_one(blob)
            done.append((kind, value, detail))
            last = i == len(body) - 1 or kind == "memory"
            if last or time.monotonic() - flushed >= FLUSH_S:
                _send_results(conn, done, _rss_bytes() if last else 0)
                done, flushed = [], time.monotonic()
            if kind == "memory":
                return  # a process that hit the cap is not trusted again


def _send_results(conn: multiprocessing.connection.Connection,
                  done: list[tuple[str, Any, str]], rss: int) -> None:
    """Send finished results together (one message); one that cannot be sent becomes an
    error (or a memory failure) of its own task only."""
    try:
        conn.send((done, rss))
        return
    except Exception:
        pass
    safe = []
    for kind, value, detail in done:
        try:
            pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            safe.append((kind, value, detail))
        except MemoryError:
            safe.append(("memory", None, "memory limit exceeded while sending the result"))
        except Exception as exc:  # e.g. an unpicklable result
            safe.append(("error", None, f"result could not be sent back: {exc!r}"))
    conn.send((safe, rss))


# -- the parent side ------------------------------------------------------------------------


class _Group:
    """The outcomes of one submission; ``notify`` gets them all when the last one is in."""

    __slots__ = ("left", "lock", "notify", "results")

    def __init__(self, size: int, notify: Callable[[list[Outcome]], object]) -> None:
        self.results: list[Outcome | None] = [None] * size
        self.left = size
        self.lock = threading.Lock()
        self.notify = notify

    def set(self, index: int, outcome: Outcome) -> None:
        with self.lock:
            if self.results[index] is not None:
                return
            self.results[index] = outcome
            self.left -= 1
            done = self.left == 0
        if done:
            with contextlib.suppress(Exception):  # e.g. the caller's event loop closed
                self.notify([o for o in self.results if o is not None])


@dataclass(slots=True)
class _Item:
    group: _Group
    index: int
    blob: bytes
    timeout_s: float
    warm: tuple[str, ...]
    #: Run in a batch of its own (after a batch it was in overran a deadline).
    alone: bool = False

    def finish(self, kind: OutcomeKind, value: Any = None, detail: str = "",
               elapsed_s: float = 0.0) -> None:
        self.group.set(self.index, Outcome(kind, value, detail, elapsed_s))


class _Mailbox:
    """Results for one event loop's callers, handed over by one wake-up of that loop however
    many submissions finish before it runs (each wake-up is a write to the loop's self-pipe:
    one per round was about a sixth of the dispatch threads' CPU at 256 rounds in flight)."""

    __slots__ = ("_lock", "_loop", "_scheduled", "_waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # a weak reference: the pool keeps mailboxes in a WeakKeyDictionary keyed by loop
        self._loop = weakref.ref(loop)
        self._lock = threading.Lock()
        # futures weakly: one whose caller is gone (e.g. its loop closed before the drain
        # ran) must not keep its loop, and so this mailbox, alive
        self._waiting: list[tuple[weakref.ref[asyncio.Future[list[Outcome]]],
                                  list[Outcome]]] = []
        self._scheduled = False

    def post(self, future: asyncio.Future[list[Outcome]], outcomes: list[Outcome]) -> None:
        """From any thread: ``future`` gets ``outcomes`` when its loop next runs the drain.
        Raises what ``call_soon_threadsafe`` raises (e.g. the loop is closed)."""
        with self._lock:
            self._waiting.append((weakref.ref(future), outcomes))
            if self._scheduled:
                return
            self._scheduled = True
        loop = self._loop()
        try:
            if loop is None:
                raise RuntimeError("the event loop is gone")
            loop.call_soon_threadsafe(self._drain)
        except BaseException:
            with self._lock:  # the loop is closed or gone: nobody can take these
                self._waiting.clear()
                self._scheduled = False
            raise

    def _drain(self) -> None:
        with self._lock:
            waiting, self._waiting = self._waiting, []
            self._scheduled = False
        for ref, outcomes in waiting:
            future = ref()
            if future is not None and not future.done():  # e.g. cancelled while it ran
                future.set_result(outcomes)


class _Worker:
    def __init__(self, ctx: Any) -> None:
        parent, child = ctx.Pipe(duplex=True)
        self.conn: multiprocessing.connection.Connection = parent
        self.proc: Any = ctx.Process(target=_worker_main, args=(child,), daemon=True)
        self.proc.start()
        child.close()
        self.started = time.monotonic()
        self.warmed: set[str] = set()
        self.base_rss = 0
        self.rss = 0
        self.used = False

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.join(5)
        with contextlib.suppress(Exception):
            self.conn.close()

    def exit_code(self) -> Any:
        with contextlib.suppress(Exception):
            self.proc.join(1)
        return self.proc.exitcode

    def warm(self, modules: set[str]) -> bool:
        """Do the ``modules`` warm-ups in the worker within the start-up deadline."""
        try:
            self.conn.send(("warm", sorted(modules)))
            if not self.conn.poll(STARTUP_TIMEOUT_S):
                return False
            _tag, _errors, rss = self.conn.recv()
        except (EOFError, OSError, ValueError, pickle.UnpicklingError):
            return False
        self.warmed |= modules
        self.base_rss = self.rss = int(rss)
        return True


class WorkerPool:
    """Run picklable callables in killable worker processes.

    Blocking callers use :meth:`run` / :meth:`run_many` (thread-safe); async callers
    :meth:`arun` / :meth:`arun_many`, which never block the event loop.
    """

    def __init__(
        self,
        size: int | None = None,
        *,
        start_method: str = "forkserver",
        recycle_rss_mb: int = 512,
        recycle_age_s: float = 3600.0,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.size = max(1, size or (os.cpu_count() or 1))
        self.recycle_rss_bytes = recycle_rss_mb * 1024 * 1024
        self.recycle_age_s = recycle_age_s
        self.max_batch = max(1, max_batch)
        self._ctx = multiprocessing.get_context(start_method)
        self._queue: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._workers: set[_Worker] = set()
        self._drivers: list[threading.Thread] = []
        self._closed = False
        #: Workers replaced (killed, crashed, retired or recycled) since the pool started.
        self.restarts = 0
        #: Batches sent to workers (each one pipe round trip for its tasks).
        self.batches = 0
        #: Where results for each event loop's callers wait for that loop to take them.
        self._mailboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Mailbox] = \
            weakref.WeakKeyDictionary()

    # -- submitting ---------------------------------------------------------------------

    def _submit(self, tasks: Sequence[Task], notify: Callable[[list[Outcome]], object]) -> None:
        if self._closed:
            raise RuntimeError("WorkerPool is closed")
        group = _Group(len(tasks), notify)
        if not tasks:
            notify([])
            return
        items: list[_Item] = []
        for i, task in enumerate(tasks):
            try:
                blob = pickle.dumps((task.fn, task.args, task.memory_bytes),
                                    protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # unpicklable task: its own failure only
                group.set(i, Outcome(OutcomeKind.ERROR, detail=f"task could not be sent: {exc!r}"))
                continue
            items.append(_Item(group, i, blob, float(task.timeout_s), task.warm))
        with self._cond:
            if self._closed:
                for item in items:
                    item.finish(OutcomeKind.ERROR, detail="the worker pool was closed")
                return
            self._start_drivers()
            self._queue.extend(items)
            self._cond.notify(min(len(items), self.size))

    def _start_drivers(self) -> None:
        while len(self._drivers) < self.size:
            t = threading.Thread(target=self._drive, name="llm-modulo-pool", daemon=True)
            self._drivers.append(t)
            t.start()

    def run_many(self, tasks: Sequence[Task]) -> list[Outcome]:
        """Outcomes of ``tasks``, in order; blocks the calling thread."""
        done = threading.Event()
        box: list[list[Outcome]] = []

        def notify(outcomes: list[Outcome]) -> None:
            box.append(outcomes)
            done.set()

        self._submit(tasks, notify)
        done.wait()
        return box[0]

    async def arun_many(self, tasks: Sequence[Task]) -> list[Outcome]:
        """Outcomes of ``tasks``, in order, for async callers (one wake-up for all)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Outcome]] = loop.create_future()
        with self._cond:
            mailbox = self._mailboxes.get(loop)
            if mailbox is None:
                mailbox = self._mailboxes[loop] = _Mailbox(loop)
        self._submit(tasks, lambda outcomes: mailbox.post(future, outcomes))
        return await future

    def run(self, fn: Callable[..., Any], args: tuple[Any, ...] = (), *, timeout_s: float,
            memory_bytes: int | None = None, warm: tuple[str, ...] = ()) -> Outcome:
        """Run ``fn(*args)`` in a worker; never raises for the task's own failures."""
        return self.run_many([Task(fn, args, timeout_s, memory_bytes, warm)])[0]

    async def arun(self, fn: Callable[..., Any], args: tuple[Any, ...] = (), *,
                   timeout_s: float, memory_bytes: int | None = None,
                   warm: tuple[str, ...] = ()) -> Outcome:
        """``run`` for async callers."""
        return (await self.arun_many([Task(fn, args, timeout_s, memory_bytes, warm)]))[0]

    # -- the driver threads ---------------------------------------------------------------

    def _next_batch(self) -> list[_Item] | None:
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            if self._queue[0].alone:
                return [self._queue.popleft()]
            share = math.ceil(len(self._queue) / self.size)
            batch: list[_Item] = []
            while self._queue and len(batch) < min(self.max_batch, max(1, share)):
                if self._queue[0].alone:
                    break
                batch.append(self._queue.popleft())
            return batch

    def _requeue(self, items: Iterable[_Item]) -> None:
        with self._cond:
            if self._closed:
                for item in items:
                    item.finish(OutcomeKind.ERROR, detail="the worker pool was closed")
                return
            self._queue.extendleft(reversed(list(items)))
            self._cond.notify()

    def _drive(self) -> None:
        worker: _Worker | None = None
        while (batch := self._next_batch()) is not None:
            try:
                worker = self._serve(worker, batch)
            except BaseException as exc:  # a bug here must not lose a task
                for item in batch:
                    item.finish(OutcomeKind.ERROR, detail=f"worker pool failed: {exc!r}")
                if worker is not None:
                    self._retire(worker)
                worker = None
            # a finished batch is not kept while waiting for the next one (its items hold
            # their callers' futures, and through them the callers' event loops)
            del batch
        if worker is not None:
            self._retire(worker, count=False)

    def _fresh(self) -> _Worker:
        worker = _Worker(self._ctx)
        with self._cond:
            self._workers.add(worker)
            closed = self._closed
        if closed:
            worker.kill()
        return worker

    def _retire(self, worker: _Worker, *, count: bool = True) -> None:
        worker.kill()
        with self._cond:
            self._workers.discard(worker)
            if count and worker.used:
                self.restarts += 1

    def _worn(self, worker: _Worker) -> bool:
        return (worker.rss - worker.base_rss > self.recycle_rss_bytes
                or time.monotonic() - worker.started > self.recycle_age_s)

    def _serve(self, worker: _Worker | None, batch: list[_Item]) -> _Worker | None:
        """Run ``batch`` on ``worker`` (or a fresh one); returns the worker to keep, if any."""
        failure = "the worker pool was closed"
        for _attempt in range(_START_ATTEMPTS):
            if worker is not None and (not worker.proc.is_alive() or self._worn(worker)):
                self._retire(worker)
                worker = None
            if worker is None:
                try:
                    worker = self._fresh()
                except Exception as exc:
                    failure = f"worker process could not be started: {exc!r}"
                    continue
            needed = {m for item in batch for m in item.warm} - worker.warmed
            if not needed or worker.warm(needed):
                began = self._send(worker, batch)
                if began is not None:
                    return self._collect(worker, batch, began)
            failure = f"worker process died or stalled while starting (exit code " \
                      f"{worker.exit_code()})"
            self._retire(worker)
            worker = None
            if self._closed:
                break
        for item in batch:
            item.finish(OutcomeKind.CRASH, detail=f"{failure} ({_START_ATTEMPTS} tries)")
        return worker

    def _send(self, worker: _Worker, batch: list[_Item]) -> float | None:
        """Send ``batch``; the time the worker began it, or None if it never did."""
        try:
            # each blob its own message: one pickled list of them would be a buffer of up to
            # MAX_BATCH blobs (~60 KB) per batch in this thread's malloc arena, of a size that
            # varies with the batch, and glibc kept those freed buffers resident (issue 17)
            worker.conn.send(("run", len(batch)))
            for item in batch:
                worker.conn.send_bytes(item.blob)
            if not worker.conn.poll(STARTUP_TIMEOUT_S):
                return None
            if worker.conn.recv_bytes() != _BEGIN:
                return None
        except (EOFError, OSError, ValueError):
            return None
        with self._cond:
            self.batches += 1
        worker.used = True
        return time.monotonic()

    def _collect(self, worker: _Worker, batch: list[_Item], began: float) -> _Worker | None:
        """Read ``batch``'s results as they come. The worker sends results that finish close
        together in one message, so the next message is due within the longest deadline of
        the tasks not yet answered plus ``FLUSH_S``: past that, one of them overran."""
        last, i = began, 0
        while i < len(batch):
            rest = batch[i:]
            wait = max(item.timeout_s for item in rest) + FLUSH_S
            try:
                ready = worker.conn.poll(max(0.0, last + wait - time.monotonic()))
            except (EOFError, OSError):
                ready = True
            if not ready:
                self._failed(worker, rest, OutcomeKind.TIMEOUT,
                             f"no result within {rest[0].timeout_s:g} s", last)
                return None
            try:
                data = worker.conn.recv_bytes()
            except (EOFError, OSError):
                died = ("the worker pool was closed" if self._closed
                        else f"worker process died (exit code {worker.exit_code()})")
                self._failed(worker, rest, OutcomeKind.CRASH, died, last)
                return None
            now = time.monotonic()
            try:
                results, rss = pickle.loads(data)
                kinds = [OutcomeKind(kind) for kind, _, _ in results]
            except Exception as exc:  # the worker's message is unreadable: retire it
                rest[0].finish(OutcomeKind.ERROR, detail=f"result could not be read: {exc!r}")
                self._abandon(worker, rest[1:])
                return None
            share = (now - last) / max(1, len(results))
            for item, kind, (_, value, detail) in zip(rest, kinds, results, strict=False):
                item.finish(kind, value, detail, share)
            i += len(results)
            if OutcomeKind.MEMORY in kinds:
                self._abandon(worker, batch[i:])
                return None
            if rss:
                worker.rss = int(rss)
                worker.base_rss = worker.base_rss or worker.rss  # its size once started
            last = now
        return worker

    def _failed(self, worker: _Worker, rest: list[_Item], kind: OutcomeKind, detail: str,
                since: float) -> None:
        """One task of ``rest`` (the tasks not answered yet) overran or killed the worker.
        Alone, it is the one; otherwise results may have been waiting to be sent, so all of
        them run again, each alone on a fresh worker, where the culprit costs only itself."""
        if len(rest) == 1 or rest[0].alone or self._closed:
            rest[0].finish(kind, detail=detail, elapsed_s=time.monotonic() - since)
            self._abandon(worker, rest[1:])
            return
        for item in rest:
            item.alone = True
        self._abandon(worker, rest)

    def _abandon(self, worker: _Worker, rest: list[_Item]) -> None:
        """Retire ``worker``; the tasks it had not reached go back to the queue, uncharged."""
        self._retire(worker)
        if rest:
            self._requeue(rest)

    # -- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        with self._cond:
            self._closed = True
            queued, self._queue = list(self._queue), deque()
            workers, self._workers = list(self._workers), set()
            self._cond.notify_all()
        for item in queued:
            item.finish(OutcomeKind.ERROR, detail="the worker pool was closed")
        for w in workers:  # the drivers see their worker die and finish their batches
            with contextlib.suppress(Exception):
                w.proc.kill()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_default: WorkerPool | None = None
_default_lock = threading.Lock()


def default_pool() -> WorkerPool:
    """The process-wide pool, created on first use (never at import)."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            size = int(os.environ.get("LLM_MODULO_WORKERS", "0")) or None
            _default = WorkerPool(size)
            atexit.register(_default.close)
        return _default
