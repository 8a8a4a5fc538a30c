"""Throughput and CPU per request of the client and the loop against a GPU-like server.

A scripted OpenAI-compatible server runs in its own process (a small asyncio server written
for this benchmark: a thread-per-request server would spend more CPU than the client it
measures). It answers each request after a latency drawn uniformly in ``[--lat-lo,
--lat-hi]`` whatever the load, like a GPU serving a small model, with game24 answers: wrong
on the first prompt, right after a back-prompt (``game24.scripted_responder``), so every
problem takes two requests.

Measured in one run, per setting (``20-50 ms, 256 in flight`` and ``500 ms, 64 in flight``):

- ``raw`` (first setting): the floor, the same request pattern over a benchmark-only
  ``asyncio.Protocol`` that writes each request in one call and reads the reply by its
  Content-Length (the same messages, ``n`` and ``max_tokens``; JSON encode and decode
  included; no bounds, no timeouts, no errors handled; its connections opened on the clock,
  as the clients' are): what any asyncio HTTP client pays per request on this machine;
- ``bare``: a bare ``OpenAICompatClient`` sending the same request pattern (first prompt,
  then a back-prompt), no loop, no verification;
- ``bare n=1``, ``bare n=16`` (first setting): the same with 1 and 16 samples per request;
- ``loop+pool``: ``Solver.solve_many`` with every candidate verified in the ``WorkerPool``;
- ``loop+corpus`` (first setting): the same, every round committed to a corpus (SQLite in a
  temporary directory) through ``CorpusMemory``;
- ``loop+inline``: the same loop with a benchmark-only stand-in for the pool that runs each
  task in the event-loop thread (no deadline, no memory cap: not a product mode; it prices
  the hand-off to the pool, and at 500 ms shows what the hops between processes cost in
  latency on a loaded machine).
- ``loop alone`` (first setting): the loop's own CPU per request, with a benchmark-only
  in-process generator (the server's answers, at once) and verdicts answered from memory
  (each distinct check run once, before the clock starts): no HTTP, no check, no hand-off.
  Its wall ratio means nothing (no latency); its CPU is what the loop adds to the bare client
  and the checks.

Printed per row: requests/s against the server-bound ideal (the makespan of the same requests
on ``in_flight`` workers at the mean latency); the client process's CPU time (user+sys, all
its threads: the event loop and the pool's dispatch threads, not the worker processes) per
request and per candidate; and the worker processes' CPU per candidate verified (read from
``/proc/<pid>/stat`` of each worker before and after). On a shared 2-core machine the server
competes with the client for CPU, so the 20-50 ms wall ratio mostly measures the machine;
CPU per request is the headline figure.

    .venv/bin/python benchmarks/throughput.py [--quick] [--samples 4]
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# -- the server (its own process) -----------------------------------------------------------


def serve(lat_lo: float, lat_hi: float, answers: str) -> None:
    """Serve until killed; print the port first. Keep-alive HTTP/1.1, Content-Length bodies."""
    from llm_modulo.domains import game24

    with open(answers) as fh:
        game24.KNOWN_SOLUTIONS.update((tuple(n), e) for n, e in json.load(fh))
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    rng = random.Random(0)
    counter = [0]

    def answer(body: dict[str, Any]) -> bytes:
        texts = game24.scripted_responder(body)
        n = int(body.get("n", 1))
        texts = (texts * n)[:n]
        counter[0] += 1
        doc = {"id": f"s-{counter[0]}", "object": "chat.completion",
               "model": body.get("model", "scripted"),
               "choices": [{"index": i, "message": {"role": "assistant", "content": t},
                            "finish_reason": "stop"} for i, t in enumerate(texts)],
               "usage": {"prompt_tokens": 60, "completion_tokens": 12 * n,
                         "total_tokens": 60 + 12 * n}}
        return json.dumps(doc).encode()

    class Proto(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.t = transport
            self.buf = b""

        def data_received(self, data: bytes) -> None:
            self.buf += data
            while True:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = self.buf[:end].decode("latin-1")
                length = 0
                for line in head.split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                if len(self.buf) < end + 4 + length:
                    return
                body, self.buf = self.buf[end + 4:end + 4 + length], self.buf[end + 4 + length:]
                path = head.split(" ", 2)[1]
                if "/models" in path:
                    out = json.dumps({"object": "list", "data": [{"id": "scripted"}]}).encode()
                    self.reply(out)
                else:
                    out = answer(json.loads(body))
                    asyncio.get_running_loop().call_later(rng.uniform(lat_lo, lat_hi),
                                                          self.reply, out)

        def reply(self, out: bytes) -> None:
            if not self.t.is_closing():
                self.t.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(out), out))

    async def run() -> None:
        server = await asyncio.get_running_loop().create_server(
            Proto, "127.0.0.1", 0, backlog=2048)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(run())


def start_server(lat_lo: float, lat_hi: float, problems: Sequence[Any]
                 ) -> tuple[subprocess.Popen[str], str]:
    from llm_modulo.domains.game24 import solve24

    pairs = {tuple(p.payload["numbers"]) for p in problems}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump([(n, solve24(n)) for n in pairs], fh)
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(lat_lo), str(lat_hi), fh.name],
        stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    os.unlink(fh.name)
    return proc, f"http://127.0.0.1:{port}/v1"


# -- measuring ------------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """User+sys CPU seconds of process ``pid`` (0 when it is gone)."""
    return proc_cpu_path(f"/proc/{pid}/stat")


def dispatch_cpu() -> float:
    """CPU seconds of this process's pool dispatch threads (part of the client's CPU)."""
    import threading

    total = 0.0
    for t in threading.enumerate():
        if t.name == "llm-modulo-pool" and t.native_id is not None:
            total += proc_cpu_path(f"/proc/self/task/{t.native_id}/stat")
    return total


def proc_cpu_path(path: str) -> float:
    """User+sys CPU seconds in a ``/proc`` ``stat`` file (a process's or a thread's; 0 when
    it is gone)."""
    try:
        with open(path) as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def workers_cpu(pool: Any) -> dict[int, float]:
    return {w.proc.pid: proc_cpu(w.proc.pid) for w in list(pool._workers)}


@dataclass
class Row:
    name: str
    requests: int
    candidates: int
    wall_s: float
    ideal_s: float
    client_cpu_s: float
    worker_cpu_s: float | None = None
    solved: int | None = None
    dispatch_cpu_s: float | None = None

    def show(self) -> str:
        us_req = 1e6 * self.client_cpu_s / self.requests
        us_cand = 1e6 * self.client_cpu_s / self.candidates
        worker = ("" if self.worker_cpu_s is None else
                  f"  workers {1e6 * self.worker_cpu_s / self.candidates:6.0f} us/cand")
        if self.dispatch_cpu_s is not None:
            worker += (f"  (of the client's: dispatch threads "
                       f"{1e6 * self.dispatch_cpu_s / self.requests:.0f} us/req)")
        return (f"{self.name:<13} {self.requests / self.wall_s:8.1f} req/s  "
                f"ideal/wall {self.ideal_s / self.wall_s:5.3f}  "
                f"client CPU {us_req:6.0f} us/req {us_cand:6.0f} us/cand{worker}  "
                f"({self.requests} req, {self.wall_s:.2f} s)")


def ideal_wall(per_problem: Sequence[int], in_flight: int, latency: float) -> float:
    """Makespan of problems taken in order by ``in_flight`` workers, each request
    ``latency`` long (what ``solve_many`` would achieve with a free client)."""
    free = [0.0] * in_flight
    for count in per_problem:
        heapq.heappush(free, heapq.heappop(free) + count * latency)
    return max(free)


class InlinePool:
    """Benchmark-only stand-in for the WorkerPool: runs each task in the calling thread
    (no deadline, no memory cap, no isolation). Prices the hand-off, nothing more."""

    def __init__(self) -> None:
        self._warmed: set[str] = set()

    async def arun_many(self, tasks: Sequence[Any]) -> list[Any]:
        from llm_modulo.pool import Outcome, OutcomeKind, _warm

        out = []
        for task in tasks:
            for entry in task.warm:
                if entry not in self._warmed:
                    _warm(entry)
                    self._warmed.add(entry)
            start = time.perf_counter()
            try:
                out.append(Outcome(OutcomeKind.OK, task.fn(*task.args),
                                   elapsed_s=time.perf_counter() - start))
            except Exception as exc:
                out.append(Outcome(OutcomeKind.ERROR, detail=repr(exc)))
        return out


class MemoPool(InlinePool):
    """Benchmark-only: runs each distinct task (problem and completion) once in this thread,
    then answers it from memory. With :class:`Canned`, it leaves the loop's own CPU per
    round: no HTTP, no check, no hand-off."""

    def __init__(self) -> None:
        super().__init__()
        self._memo: dict[tuple[Any, int, Any], Any] = {}

    async def arun_many(self, tasks: Sequence[Any]) -> list[Any]:
        out = []
        for task in tasks:
            key = (task.fn, id(task.args[2]), task.args[3])  # (fn, problem, text)
            if key not in self._memo:
                self._memo[key] = (await super().arun_many([task]))[0]
            out.append(self._memo[key])
        return out


class Canned:
    """Benchmark-only generator: the scripted server's answers, in-process, at once. Each
    distinct request is answered once and then from memory, so a measured pass costs a
    dictionary lookup here, not the scripted server's work."""

    model: str | None = "scripted"

    def __init__(self) -> None:
        self._memo: dict[tuple[int, str, int], Any] = {}

    async def generate(self, messages: Any, params: Any, structured: Any = None) -> Any:
        key = (len(messages), messages[min(1, len(messages) - 1)].content, params.n)
        made = self._memo.get(key)
        if made is None:
            made = self._memo[key] = self._answer(messages, params.n)
        return made

    @staticmethod
    def _answer(messages: Any, n: int) -> Any:
        from llm_modulo.domains.game24 import scripted_responder
        from llm_modulo.generator import Completion, GeneratedChoice
        from llm_modulo.types import Usage

        texts = scripted_responder({"messages": [{"role": m.role, "content": m.content}
                                                 for m in messages]})
        choices = [GeneratedChoice(index=i, text=texts[i % len(texts)], finish_reason="stop")
                   for i in range(n)]
        return Completion(model="scripted", choices=choices, retries=0,
                          usage=Usage(prompt_tokens=60, completion_tokens=12 * n))


async def loop_alone(problems: Sequence[Any], in_flight: int, samples: int,
                     latency: float) -> Row:
    """The loop's own CPU: :class:`Canned` answers, :class:`MemoPool` verdicts (a first
    pass fills both memos; the second is measured)."""
    from llm_modulo import Budget, LoopConfig, SamplingParams, Solver
    from llm_modulo.domains.game24 import Game24Domain
    from llm_modulo.verifiers.game24.verifier import Game24Verifier

    config = LoopConfig(budget=Budget(rounds=3, samples=samples),
                        sampling=SamplingParams(max_tokens=64), concurrency=in_flight)
    memo: Any = MemoPool()  # the pool's arun_many, nothing else
    solver = Solver(Game24Domain(), Game24Verifier(), Canned(), config, pool=memo)
    async for _ in solver.solve_many(problems):
        pass
    per_problem: list[int] = []
    cpu, start = time.process_time(), time.perf_counter()
    async for result in solver.solve_many(problems):
        per_problem.append(result.requests)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    requests = sum(per_problem)
    return Row("loop alone", requests, requests * samples, wall,
               ideal_wall(per_problem, in_flight, latency), cpu)


async def bare(url: str, problems: Sequence[Any], in_flight: int, samples: int,
               latency: float) -> Row:
    from loop_overhead import two_rounds  # this folder (sys.path[0] when run as a script)

    from llm_modulo import OpenAICompatClient, SamplingParams
    from llm_modulo.domains.game24 import Game24Domain

    domain = Game24Domain()
    params = SamplingParams(n=samples, max_tokens=64)
    source = iter(problems)

    async with OpenAICompatClient(url, model="scripted") as client:
        await client.list_models()  # one connection made before the clock starts
        cpu, start = time.process_time(), time.perf_counter()
        sent = await asyncio.gather(*(two_rounds(client, domain, source, params)
                                      for _ in range(in_flight)))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    count = sum(sent)
    return Row(f"bare n={samples}", count, count * samples, wall,
               ideal_wall([2] * len(problems), in_flight, latency), cpu)


class _RawConnection(asyncio.Protocol):
    """Benchmark-only floor: the least an asyncio HTTP/1.1 client can do per request (one
    write, reads until the Content-Length body is in, one future). No timeouts, no bounds,
    no error handling: not a client, a measure of what every client pays on this machine."""

    def __init__(self) -> None:
        self.buf = b""
        self.waiter: asyncio.Future[bytes] | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buf[:end].lower()
        at = head.find(b"content-length:")
        stop = head.find(b"\r\n", at)
        length = int(head[at + 15:stop if stop >= 0 else None])
        if len(self.buf) >= end + 4 + length and self.waiter is not None:
            body, self.buf = self.buf[end + 4:end + 4 + length], self.buf[end + 4 + length:]
            self.waiter.set_result(body)

    async def post(self, host: bytes, path: bytes, doc: dict[str, Any]) -> Any:
        body = json.dumps(doc).encode()
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json"
                             b"\r\nContent-Length: %d\r\n\r\n%s" % (path, host, len(body), body))
        return json.loads(await self.waiter)


async def raw(url: str, problems: Sequence[Any], in_flight: int, samples: int,
              latency: float, *, connect_on_clock: bool = True) -> Row:
    """The bare client's request pattern over :class:`_RawConnection` (the CPU floor); its
    connections opened on the clock (as the bare client's are) or before it."""
    from llm_modulo.domains.game24 import Game24Domain

    domain = Game24Domain()
    source = iter(problems)
    hostport = url.split("//", 1)[1].split("/", 1)[0]
    host, port = hostport.rsplit(":", 1)
    path = ("/" + url.split("//", 1)[1].split("/", 1)[1] + "/chat/completions").encode()
    loop = asyncio.get_running_loop()

    async def worker(conn: _RawConnection) -> int:
        sent = 0
        for p in source:
            first = [{"role": m.role, "content": m.content} for m in domain.initial_messages(p)]
            fields = {"model": "scripted", "n": samples, "max_tokens": 64}
            reply = await conn.post(hostport.encode(), path, {"messages": first, **fields})
            text = reply["choices"][0]["message"]["content"]
            follow = [*first, {"role": "assistant", "content": text},
                      {"role": "user", "content": "That answer is not correct."}]
            await conn.post(hostport.encode(), path, {"messages": follow, **fields})
            sent += 2
        return sent

    async def connect() -> _RawConnection:
        _, conn = await loop.create_connection(_RawConnection, host, int(port))
        conns.append(conn)
        return conn

    async def connected() -> int:
        return await worker(await connect())

    conns: list[_RawConnection] = []
    if connect_on_clock:
        cpu, start = time.process_time(), time.perf_counter()
        sent = await asyncio.gather(*(connected() for _ in range(in_flight)))
    else:
        opened = [await connect() for _ in range(in_flight)]
        cpu, start = time.process_time(), time.perf_counter()
        sent = await asyncio.gather(*(worker(c) for c in opened))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    for c in conns:
        c.transport.close()
    count = sum(sent)
    return Row(f"raw n={samples}", count, count * samples, wall,
               ideal_wall([2] * len(problems), in_flight, latency), cpu)


async def loop(url: str, problems: Sequence[Any], in_flight: int, samples: int,
               latency: float, pool: Any, name: str, store: Any = None) -> Row:
    from llm_modulo import Budget, LoopConfig, OpenAICompatClient, SamplingParams, Solver
    from llm_modulo.domains.game24 import Game24Domain
    from llm_modulo.verifiers.game24.verifier import Game24Verifier

    config = LoopConfig(budget=Budget(rounds=3, samples=samples),
                        sampling=SamplingParams(max_tokens=64), concurrency=in_flight)
    per_problem: list[int] = []
    solved = 0
    async with OpenAICompatClient(url, model="scripted") as client:
        await client.list_models()
        solver = Solver(Game24Domain(), Game24Verifier(), client, config, pool=pool,
                        store=store)
        before = workers_cpu(pool) if isinstance(pool, _pool_type()) else None
        threads = dispatch_cpu()
        cpu, start = time.process_time(), time.perf_counter()
        async for result in solver.solve_many(problems):
            per_problem.append(result.requests)
            solved += result.solved
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        threads = dispatch_cpu() - threads
        worker = None
        if before is not None:
            after = workers_cpu(pool)
            worker = sum(after[p] - before.get(p, 0.0) for p in after)
    requests = sum(per_problem)
    return Row(name, requests, requests * samples, wall,
               ideal_wall(per_problem, in_flight, latency), cpu, worker, solved,
               threads if before is not None else None)


def with_corpus(url: str, problems: Sequence[Any], in_flight: int, samples: int,
                latency: float, pool: Any) -> Row:
    from llm_modulo.corpus.memory import CorpusMemory
    from llm_modulo.corpus.store import Corpus

    with tempfile.TemporaryDirectory() as tmp, Corpus(Path(tmp) / "c.db") as corpus:
        run_id = corpus.start_run("benchmark", "game24", {"samples": samples})
        memory = CorpusMemory(corpus, run_id=run_id, reuse=False)
        try:
            return asyncio.run(loop(url, problems, in_flight, samples, latency, pool,
                                    "loop+corpus", store=memory))
        finally:
            memory.close()


def _pool_type() -> type:
    from llm_modulo import WorkerPool
    return WorkerPool


def setting(lat_lo: float, lat_hi: float, in_flight: int, count: int, samples: int,
            inline: bool, slow: bool = False) -> list[Row]:
    from llm_modulo import WorkerPool
    from llm_modulo.domains.game24 import Game24Domain

    domain = Game24Domain()
    problems = domain.generate_problems(count, seed=0)
    latency = (lat_lo + lat_hi) / 2
    proc, url = start_server(lat_lo, lat_hi, problems)
    rows: list[Row] = []
    server_before = proc_cpu(proc.pid)
    try:
        with WorkerPool() as pool:
            # warm the workers (start, imports, warm-up) outside every measurement
            asyncio.run(loop(url, problems[:32], 32, samples, latency, pool, "warm"))
            if inline:  # the floor: what any asyncio HTTP client pays per request
                rows.append(asyncio.run(raw(url, problems, in_flight, samples, latency)))
            rows.append(asyncio.run(bare(url, problems, in_flight, samples, latency)))
            if inline:  # samples per request: what one request's cost is spread over
                for n in sorted({1, 16} - {samples}):
                    rows.append(asyncio.run(bare(url, problems, in_flight, n, latency)))
            rows.append(asyncio.run(loop(url, problems, in_flight, samples, latency, pool,
                                         "loop+pool")))
            if inline:  # the same, every round committed to a corpus (SQLite, temp dir)
                rows.append(with_corpus(url, problems, in_flight, samples, latency, pool))
        if inline or slow:
            rows.append(asyncio.run(loop(url, problems, in_flight, samples, latency,
                                         InlinePool(), "loop+inline")))
        if inline:  # the loop's own work: no HTTP, no checks, no pool
            rows.append(asyncio.run(loop_alone(problems, in_flight, samples, latency)))
        server_cpu = proc_cpu(proc.pid) - server_before
    finally:
        proc.terminate()
        proc.wait()
    spread = f"{lat_lo * 1000:g}-{lat_hi * 1000:g} ms" if lat_hi != lat_lo \
        else f"{lat_lo * 1000:g} ms"
    total = sum(r.requests for r in rows) + 64
    print(f"\n== latency {spread}, {in_flight} in flight, n={samples}, {count} problems; "
          f"ideal {in_flight / latency:.0f} req/s; server CPU "
          f"{1e6 * server_cpu / total:.0f} us/req")
    for row in rows:
        print(row.show())
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a run of well under a minute")
    ap.add_argument("--samples", type=int, default=4, help="n per request")
    ap.add_argument("--problems", type=int, default=None,
                    help="problems at 20-50 ms (default 1500, quick 600)")
    ap.add_argument("--slow-problems", type=int, default=None,
                    help="problems at 500 ms (default 640, quick 256)")
    ap.add_argument("--skip-slow", action="store_true", help="only the 20-50 ms setting")
    args = ap.parse_args()
    fast = args.problems or (600 if args.quick else 1500)
    slow = args.slow_problems or (256 if args.quick else 640)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at start")
    setting(0.020, 0.050, 256, fast, args.samples, inline=True)
    if not args.skip_slow:
        rows = setting(0.5, 0.5, 64, slow, args.samples, inline=False, slow=True)
        loop_row = next(r for r in rows if r.name == "loop+pool")
        print(f"loop+pool ideal/wall at 500 ms: {loop_row.ideal_s / loop_row.wall_s:.3f} "
              f"(goal >= 0.95)")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at end")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve(float(sys.argv[2]), float(sys.argv[3]), sys.argv[4])
    else:
        main()
