"""The sharded transport spreads requests over small pools and keeps its counts right."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest

from llm_modulo.testing import ScriptedServer
from llm_modulo.transport import ShardedTransport


def test_requests_spread_and_counts_return_to_zero(scripted: ScriptedServer) -> None:
    scripted.latency_s = 1.0  # long enough that all 16 are in flight even on a loaded machine
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


def test_shards_share_one_ssl_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every shard of every client uses the process's one SSL context: the CA bundle is
    loaded once, not once per shard (64 loads made a client cost seconds)."""
    import ssl

    from llm_modulo import transport as transport_module

    built: list[ssl.SSLContext] = []
    seen: list[object] = []
    real_create = httpx.create_ssl_context
    real_transport = httpx.AsyncHTTPTransport

    def counting_create(*args: object, **kwargs: object) -> ssl.SSLContext:
        context = real_create()
        built.append(context)
        return context

    def recording_transport(*args: object, **kwargs: object) -> httpx.AsyncHTTPTransport:
        seen.append(kwargs.get("verify"))
        return real_transport(*args, **kwargs)  # type: ignore[arg-type]

    transport_module.shared_ssl_context.cache_clear()
    monkeypatch.setattr(httpx, "create_ssl_context", counting_create)
    monkeypatch.setattr(httpx, "AsyncHTTPTransport", recording_transport)
    try:
        ShardedTransport(max_connections=64, per_shard=8)
        ShardedTransport(max_connections=64, per_shard=8)
    finally:
        transport_module.shared_ssl_context.cache_clear()
    assert len(built) == 1
    assert len(seen) == 16 and all(v is built[0] for v in seen)
