"""What bounding a server's replies costs the client, and what it saves.

1. Throughput: ``OpenAICompatClient.chat`` (streamed body with a size cap, total deadline,
   bounded JSON, surrogate and count checks) against a bare ``httpx.AsyncClient`` posting the
   same requests and calling ``response.json()``, on the same zero-latency scripted server
   (its own process), in the same run; both use the client's ``ShardedTransport``, so the
   ratio is the cost of the bounds alone. Goal: bounded / bare >= 0.9.
2. Faults: how long and how much memory (tracemalloc peak in this process) the client spends
   refusing a 300 MB body and a 4 GiB gzip bomb at the default 64 MiB cap.

Run: ``.venv/bin/python benchmarks/client_bounds.py [--requests 2000] [--in-flight 16]``.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
import tracemalloc

import httpx

from llm_modulo import MalformedResponseError, Message, OpenAICompatClient, SamplingParams
from llm_modulo.testing import GzipBomb, HugeBody, ScriptedServer
from llm_modulo.transport import ShardedTransport

MESSAGES = [Message(role="user", content="Numbers: 4 4 6 8")]
PARAMS = SamplingParams(n=4, max_tokens=64)
MiB = 1024 * 1024


def start_server() -> tuple[subprocess.Popen[str], str]:
    serve = ("from llm_modulo import testing\n"
             "testing.main([], responder=lambda body: ['{\"expression\": \"(4+8)*(6-4)\"}'])\n")
    proc = subprocess.Popen([sys.executable, "-c", serve], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, f"http://127.0.0.1:{int(proc.stdout.readline())}/v1"


async def bounded(url: str, requests: int, in_flight: int) -> float:
    left = iter(range(requests))
    async with OpenAICompatClient(url, model="scripted") as client:
        async def worker() -> None:
            for _ in left:
                await client.chat(MESSAGES, PARAMS)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        return time.perf_counter() - start


async def bare(url: str, requests: int, in_flight: int) -> float:
    left = iter(range(requests))
    body = {"model": "scripted", "messages": [m.model_dump() for m in MESSAGES],
            **PARAMS.chat_fields()}
    async with httpx.AsyncClient(base_url=url, transport=ShardedTransport(), timeout=300) as client:
        async def worker() -> None:
            for _ in left:
                response = await client.post("/chat/completions", json=body)
                data = response.json()
                assert data["choices"][0]["message"]["content"]

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        return time.perf_counter() - start


def fault(action: HugeBody | GzipBomb) -> tuple[float, float, int]:
    """Seconds to refuse, peak traced MiB, bytes the server managed to send."""
    with ScriptedServer() as server:
        server.script(action)

        async def go() -> None:
            async with OpenAICompatClient(server.base_url, model="m") as client:
                await client.chat(MESSAGES, SamplingParams())

        tracemalloc.start()
        start = time.perf_counter()
        try:
            asyncio.run(go())
        except MalformedResponseError:
            pass
        else:
            raise AssertionError("the fault was accepted")
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / MiB
        tracemalloc.stop()
        time.sleep(0.2)
        return elapsed, peak, server.flood_bytes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--in-flight", type=int, default=16)
    args = ap.parse_args()
    proc, url = start_server()
    try:
        asyncio.run(bare(url, 100, 4))  # warm both paths
        asyncio.run(bounded(url, 100, 4))
        bare_times, ours_times = [], []
        for _ in range(3):  # interleaved: a shared machine's load hits both alike
            bare_times.append(asyncio.run(bare(url, args.requests, args.in_flight)))
            ours_times.append(asyncio.run(bounded(url, args.requests, args.in_flight)))
        bare_s, ours_s = min(bare_times), min(ours_times)
    finally:
        proc.terminate()
        proc.wait()
    print(f"bare httpx:     {args.requests / bare_s:8.0f} requests/s")
    print(f"bounded client: {args.requests / ours_s:8.0f} requests/s   "
          f"ratio {bare_s / ours_s:.2f} (goal >= 0.9)")
    for name, action in (("300 MB body", HugeBody(300 * MiB)),
                         ("4 GiB gzip bomb", GzipBomb(4 * 1024 * MiB))):
        elapsed, peak, sent = fault(action)
        print(f"{name:16s} refused in {elapsed:5.2f} s, peak traced {peak:6.1f} MiB, "
              f"server sent {sent / MiB:6.1f} MiB")


if __name__ == "__main__":
    main()
