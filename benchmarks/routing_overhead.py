"""Routing overhead: what spreading requests over several endpoints costs the client.

Two scripted OpenAI-compatible servers run in their own processes with a fixed latency per
request. The same request stream (``--requests`` chat requests, ``--in-flight`` at a time)
is sent three ways, in one run:

- plain: one ``OpenAICompatClient`` to the first server (the reference);
- routed-1: a ``RoutingClient`` over the first server only;
- routed-2: a ``RoutingClient`` over both servers (half the in-flight requests each).

Printed per way: wall seconds, throughput / server-bound ideal (``in_flight / latency``), this
process's CPU per request (the client's cost: the servers run elsewhere), and the ratio of that
CPU to the plain client's (medians of interleaved repeats). Goal: routed CPU per request
within a few percent of plain.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from llm_modulo import Message, OpenAICompatClient, RoutingClient, SamplingParams
from llm_modulo.generator import Generator


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "llm_modulo.testing", "--latency",
                             str(latency)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, f"http://127.0.0.1:{int(proc.stdout.readline())}/v1"


async def send(make: Callable[[], Generator], requests: int, in_flight: int
               ) -> tuple[float, float]:
    """Wall and process CPU seconds to send ``requests`` chats, ``in_flight`` at a time."""
    messages = [Message(role="user", content="Numbers: 4 4 6 8")]
    params = SamplingParams(max_tokens=16)
    left = iter(range(requests))
    client = make()

    async def worker() -> None:
        for _ in left:
            await client.generate(messages, params)

    async with client:  # type: ignore[attr-defined]
        await client.generate(messages, params)  # connect, resolve the model
        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    servers = [start_server(args.latency) for _ in range(2)]
    urls = [url for _, url in servers]
    try:
        ways: dict[str, Callable[[], Generator]] = {
            "plain": lambda: OpenAICompatClient(urls[0], model="scripted"),
            "routed-1": lambda: RoutingClient([OpenAICompatClient(urls[0])], model="scripted"),
            "routed-2": lambda: RoutingClient([OpenAICompatClient(u) for u in urls],
                                              model="scripted"),
        }
        ideal = args.in_flight / args.latency
        print(f"{args.requests} requests, {args.in_flight} in flight, {args.latency} s "
              f"latency, {args.repeat} interleaved repeats (medians); ideal {ideal:.0f} "
              f"requests/s")
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
        for _ in range(args.repeat):
            for name, make in ways.items():
                runs[name].append(asyncio.run(send(make, args.requests, args.in_flight)))
        base_cpu = statistics.median(c for _, c in runs["plain"]) / args.requests * 1e6
        for name, measured in runs.items():
            wall = statistics.median(w for w, _ in measured)
            per = statistics.median(c for _, c in measured) / args.requests * 1e6
            print(f"{name:9} wall {wall:6.2f} s  {args.requests / wall:7.0f} req/s  "
                  f"ideal ratio {args.requests / wall / ideal:5.3f}  "
                  f"CPU {per:6.0f} us/request  CPU vs plain {per / base_cpu:5.2f}")
    finally:
        for proc, _ in servers:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
