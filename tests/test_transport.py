"""The sharded transport spreads requests over small pools and keeps its counts right."""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from llm_modulo.testing import ScriptedServer
from llm_modulo.transport import ShardedTransport


def test_requests_spread_and_counts_return_to_zero(scripted: ScriptedServer) -> None:
    scripted.latency_s = 0.2
    transport = ShardedTransport(max_connections=32, per_shard=4)

    async def go() -> list[int]:
        async with httpx.AsyncClient(transport=transport) as client:
            url = f"{scripted.base_url}/chat/completions"
            body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
            responses = await asyncio.gather(*(client.post(url, json=body) for _ in range(16)))
            return [r.status_code for r in responses]

    assert asyncio.run(go()) == [200] * 16
    assert transport._in_flight == [0] * 8
    assert scripted.max_in_flight == 16  # 16 at once: not serialised by one small pool


def test_failed_request_releases_its_slot() -> None:
    from llm_modulo.embedded import free_port

    transport = ShardedTransport(max_connections=8, per_shard=4)

    async def go() -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            with contextlib.suppress(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{free_port()}/")

    asyncio.run(go())
    assert transport._in_flight == [0, 0]
