"""Client CPU per request of Python HTTP clients against one GPU-like server, in one run.

The server is ``throughput.py``'s (its own process, 20-50 ms per request, keep-alive). Each
client sends the same chat-completions body (``n=4``) from 256 concurrent tasks, JSON
encode and decode included, its connections made before the clock starts; the client
process's CPU time (user+sys, all its threads: Rust clients do their I/O on threads of their
own) is divided by the requests. The first row is the floor measured in the same run
(``throughput.py``'s benchmark-only ``raw`` ``asyncio.Protocol``, which does nothing a real
client must: no bounds, no timeouts, no error handling; its connections also made before the
clock); ``ratio`` is each client's CPU per request over the floor's.

Clients that are not installed are skipped with a line. Only ``aiohttp`` and ``httpx`` are
dependencies of llm-modulo; to measure the others, install them into a scratch environment
(``pip install rnet pyreqwest curl_cffi``) and run this script there with the repository on
``PYTHONPATH``.

    .venv/bin/python benchmarks/http_clients.py [--requests 3000] [--in-flight 256]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

Post = Callable[[Any, bytes], Awaitable[bytes]]


def _aiohttp(url: str, width: int) -> tuple[Callable[[], Awaitable[Any]], Post,
                                            Callable[[Any], Awaitable[None]]]:
    import aiohttp

    async def make() -> Any:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=width))

    async def post(session: Any, data: bytes) -> bytes:
        async with session.post(url, data=data,
                                headers={"Content-Type": "application/json"}) as r:
            body: bytes = await r.read()
            return body

    async def close(session: Any) -> None:
        await session.close()

    return make, post, close


def _httpx(url: str, width: int) -> tuple[Callable[[], Awaitable[Any]], Post,
                                          Callable[[Any], Awaitable[None]]]:
    import httpx

    async def make() -> Any:
        return httpx.AsyncClient(limits=httpx.Limits(max_connections=width))

    async def post(client: Any, data: bytes) -> bytes:
        r = await client.post(url, content=data, headers={"Content-Type": "application/json"})
        body: bytes = r.content
        return body

    async def close(client: Any) -> None:
        await client.aclose()

    return make, post, close


def _rnet(url: str, width: int) -> tuple[Callable[[], Awaitable[Any]], Post,
                                         Callable[[Any], Awaitable[None]]]:
    import rnet  # type: ignore[import-not-found]

    async def make() -> Any:
        return rnet.Client()

    async def post(client: Any, data: bytes) -> bytes:
        r = await client.post(url, body=data, headers={"Content-Type": "application/json"})
        return bytes(await r.bytes())

    async def close(client: Any) -> None:
        return None

    return make, post, close


def _pyreqwest(url: str, width: int) -> tuple[Callable[[], Awaitable[Any]], Post,
                                              Callable[[Any], Awaitable[None]]]:
    from pyreqwest.client import ClientBuilder  # type: ignore[import-not-found]

    async def make() -> Any:
        return await ClientBuilder().max_connections(width).build().__aenter__()

    async def post(client: Any, data: bytes) -> bytes:
        request = client.post(url).body_bytes(data).header("Content-Type", "application/json")
        r = await request.build().send()
        return bytes(await r.bytes())

    async def close(client: Any) -> None:
        await client.__aexit__(None, None, None)

    return make, post, close


def _curl_cffi(url: str, width: int) -> tuple[Callable[[], Awaitable[Any]], Post,
                                              Callable[[Any], Awaitable[None]]]:
    from curl_cffi.requests import AsyncSession  # type: ignore[import-not-found]

    async def make() -> Any:
        return AsyncSession(max_clients=width)

    async def post(session: Any, data: bytes) -> bytes:
        r = await session.post(url, data=data, headers={"Content-Type": "application/json"})
        return bytes(r.content)

    async def close(session: Any) -> None:
        await session.close()

    return make, post, close


CLIENTS = {"aiohttp": _aiohttp, "httpx": _httpx, "rnet": _rnet, "pyreqwest": _pyreqwest,
           "curl_cffi": _curl_cffi}


async def measure(name: str, url: str, body: dict[str, Any], count: int, width: int) -> float:
    """CPU seconds per request of client ``name``."""
    make, post, close = CLIENTS[name](url, width)
    client = await make()

    async def worker(k: int) -> None:
        for _ in range(k):
            json.loads(await post(client, json.dumps(body).encode()))

    # every connection made and the client warm before the clock starts (the floor's are
    # made before its clock too)
    await asyncio.gather(*(worker(1) for _ in range(width)))
    cpu = time.process_time()
    await asyncio.gather(*(worker(count // width) for _ in range(width)))
    cpu = time.process_time() - cpu
    await close(client)
    return cpu / (count // width * width)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--in-flight", type=int, default=256)
    ap.add_argument("--clients", default=",".join(CLIENTS),
                    help="comma-separated, from: " + ", ".join(CLIENTS))
    args = ap.parse_args()
    from throughput import raw, start_server

    from llm_modulo.domains.game24 import Game24Domain

    domain = Game24Domain()
    problems = domain.generate_problems(max(2, args.requests // 2), seed=0)
    messages = [{"role": m.role, "content": m.content}
                for m in domain.initial_messages(problems[0])]
    body = {"model": "scripted", "messages": messages, "n": 4, "max_tokens": 64}
    proc, base = start_server(0.020, 0.050, problems)
    url = base + "/chat/completions"
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.requests} requests, "
          f"{args.in_flight} in flight, server at 20-50 ms")
    try:
        floor_row = asyncio.run(raw(base, problems, args.in_flight, 4, 0.035,
                                    connect_on_clock=False))
        floor = floor_row.client_cpu_s / floor_row.requests
        print(f"{'raw (floor)':<12} {1e6 * floor:6.0f} us/req  ratio 1.00")
        for name in [c.strip() for c in args.clients.split(",") if c.strip()]:
            if name not in CLIENTS:
                print(f"{name:<12} unknown (choose from {', '.join(CLIENTS)})")
                continue
            try:
                per = asyncio.run(measure(name, url, body, args.requests, args.in_flight))
            except ImportError as exc:
                print(f"{name:<12} not installed ({exc.name})")
                continue
            print(f"{name:<12} {1e6 * per:6.0f} us/req  ratio {per / floor:4.2f}")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
