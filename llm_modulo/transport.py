"""An httpx transport that spreads requests over several small connection pools.

httpcore's pool scans every connection for every request it assigns, so with
dozens of requests in flight on one pool the client, not the server, becomes
the bottleneck (encode/httpx#3215, encode/httpcore#1035). Keeping each pool
small and sending each request to the least-loaded pool keeps that scan short.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator

import httpx


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One default-verifying SSL context per process.

    Loading the CA bundle costs about 20 ms; building it once and handing it to every
    shard (instead of each shard loading its own) makes a client cheap to construct.
    """
    return httpx.create_ssl_context()


class _CountedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, in_flight: list[int], index: int) -> None:
        self._inner, self._in_flight, self._index, self._closed = inner, in_flight, index, False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._in_flight[self._index] -= 1
        await self._inner.aclose()


class ShardedTransport(httpx.AsyncBaseTransport):
    """``shards`` independent :class:`httpx.AsyncHTTPTransport` pools, least-loaded first."""

    def __init__(self, *, max_connections: int = 512, per_shard: int = 8,
                 verify: ssl.SSLContext | None = None) -> None:
        count = max(1, -(-max_connections // per_shard))
        limits = httpx.Limits(max_connections=per_shard, max_keepalive_connections=per_shard)
        context = verify if verify is not None else shared_ssl_context()
        self._shards = [httpx.AsyncHTTPTransport(limits=limits, verify=context)
                        for _ in range(count)]
        self._in_flight = [0] * count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = min(range(len(self._shards)), key=self._in_flight.__getitem__)
        self._in_flight[index] += 1
        try:
            response = await self._shards[index].handle_async_request(request)
        except BaseException:
            self._in_flight[index] -= 1
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _CountedStream(response.stream, self._in_flight, index)
        return response

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()
