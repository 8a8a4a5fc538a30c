"""A pool of reusable, killable worker processes with a deadline and a memory cap.

Unlike :class:`concurrent.futures.ProcessPoolExecutor`, one task that hangs, eats
memory or kills its process costs only its own worker: the worker is killed
(SIGKILL) or reaped, replaced, and the task's outcome says what happened. No
``signal.alarm``: the deadline is enforced from the parent.

Workers come from the ``forkserver`` start method, so they never inherit the
parent's threads or event loop, and start in milliseconds after the first.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import queue
import resource
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

_RECYCLE_AFTER_TASKS = 10_000


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


def _set_memory_cap(cap_bytes: int | None) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = resource.RLIM_INFINITY if cap_bytes is None else cap_bytes
    if hard != resource.RLIM_INFINITY and (soft == resource.RLIM_INFINITY or soft > hard):
        soft = hard
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _worker_main(conn: multiprocessing.connection.Connection) -> None:
    """Run tasks from ``conn`` until it closes. Each task: (fn, args, memory cap)."""
    while True:
        try:
            fn, args, cap = conn.recv()
        except (EOFError, OSError):
            return
        try:
            _set_memory_cap(cap)
            value = fn(*args)
            reply: tuple[str, Any, str] = ("ok", value, "")
        except MemoryError:
            reply = ("memory", None, "memory limit exceeded")
        except BaseException as exc:  # report everything; the parent decides
            tb = traceback.format_exc(limit=6)
            reply = ("error", None, f"{type(exc).__name__}: {exc}\n{tb}")
        finally:
            with contextlib.suppress(Exception):
                _set_memory_cap(None)
        try:
            conn.send(reply)
        except MemoryError:
            conn.send(("memory", None, "memory limit exceeded while sending the result"))
        except Exception as exc:  # e.g. an unpicklable result
            conn.send(("error", None, f"result could not be sent back: {exc!r}"))
        if reply[0] == "memory":
            return  # a process that hit the cap is not trusted again


class _Worker:
    def __init__(self, ctx: Any) -> None:
        parent, child = ctx.Pipe(duplex=True)
        self.conn: multiprocessing.connection.Connection = parent
        self.proc: Any = ctx.Process(target=_worker_main, args=(child,), daemon=True)
        self.proc.start()
        child.close()
        self.tasks = 0

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.join(5)
        with contextlib.suppress(Exception):
            self.conn.close()

    def alive(self) -> bool:
        return bool(self.proc.is_alive())


class WorkerPool:
    """Run picklable callables in killable worker processes.

    ``run`` is thread-safe and blocks the calling thread; async callers use
    ``await asyncio.to_thread(...)`` or the verifier's ``averify``.
    """

    def __init__(self, size: int | None = None, *, start_method: str = "forkserver") -> None:
        self.size = max(1, size or (os.cpu_count() or 1))
        self._ctx = multiprocessing.get_context(start_method)
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(self.size)
        self._lock = threading.Lock()
        self._all: set[_Worker] = set()
        self._closed = False
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self.restarts = 0

    def _take(self) -> _Worker:
        try:
            worker = self._idle.get_nowait()
        except queue.Empty:
            worker = _Worker(self._ctx)
            with self._lock:
                self._all.add(worker)
            return worker
        if worker.alive():
            return worker
        self._discard(worker)
        return self._take()

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)
            self.restarts += 1

    def run(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...] = (),
        *,
        timeout_s: float,
        memory_bytes: int | None = None,
    ) -> Outcome:
        """Run ``fn(*args)`` in a worker; never raises for the task's own failures."""
        if self._closed:
            raise RuntimeError("WorkerPool is closed")
        with self._slots:
            worker = self._take()
            start = time.monotonic()
            try:
                worker.conn.send((fn, args, memory_bytes))
            except Exception as exc:  # unpicklable task or dead pipe
                self._discard(worker)
                return Outcome(OutcomeKind.ERROR, detail=f"task could not be sent: {exc!r}")
            try:
                ready = worker.conn.poll(timeout_s)
            except (EOFError, OSError):
                ready = True
            elapsed = time.monotonic() - start
            if not ready:
                self._discard(worker)
                return Outcome(OutcomeKind.TIMEOUT, detail=f"no result within {timeout_s:g} s",
                               elapsed_s=elapsed)
            try:
                kind, value, detail = worker.conn.recv()
            except (EOFError, OSError, ConnectionResetError):
                worker.proc.join(1)
                code = worker.proc.exitcode
                self._discard(worker)
                return Outcome(OutcomeKind.CRASH, detail=f"worker process died (exit code {code})",
                               elapsed_s=time.monotonic() - start)
            elapsed = time.monotonic() - start
            worker.tasks += 1
            if kind == "memory" or worker.tasks >= _RECYCLE_AFTER_TASKS:
                self._discard(worker)
            else:
                self._idle.put(worker)
            return Outcome(OutcomeKind(kind), value=value, detail=detail, elapsed_s=elapsed)

    async def arun(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...] = (),
        *,
        timeout_s: float,
        memory_bytes: int | None = None,
    ) -> Outcome:
        """``run`` for async callers, on the pool's own threads (one per worker)."""
        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    self.size, thread_name_prefix="llm-modulo-verify"
                )
            executor = self._executor
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            executor, lambda: self.run(fn, args, timeout_s=timeout_s, memory_bytes=memory_bytes)
        )

    def close(self) -> None:
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            workers, self._all = list(self._all), set()
        for w in workers:
            w.kill()

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
