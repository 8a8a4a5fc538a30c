"""One HTTP try over aiohttp: the client's default path when no httpx transport is injected.

Measured (``benchmarks/throughput.py``): an httpx request costs about 1 ms of client CPU,
an aiohttp one about a fifth of that (its HTTP parser is C). What the server sends is read
with the same bounds as the httpx path: :func:`llm_modulo.generator.read_stream` counts the
body as it arrives and after gzip/deflate decompression (aiohttp's own decompression is
off), and aiohttp refuses a status line or header over 8,190 bytes, or more than 128 headers.

The session is built on first use, in the running event loop (aiohttp binds it to that
loop); a client used from a later event loop gets a fresh session there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import aiohttp
import httpx

__all__ = ["AiohttpExchange", "ExchangeError", "client_timeout", "dumps_body", "env_proxy"]


class ExchangeError(Exception):
    """One try failed on the wire (connect, read timeout, dropped connection, bad HTTP)."""


def client_timeout(timeout: httpx.Timeout | float) -> aiohttp.ClientTimeout:
    """httpx's per-phase timeouts as aiohttp's: connect, read between bytes, pool wait."""
    if not isinstance(timeout, httpx.Timeout):
        timeout = httpx.Timeout(timeout)
    return aiohttp.ClientTimeout(total=None, connect=timeout.pool, sock_connect=timeout.connect,
                                 sock_read=timeout.read)


def dumps_body(body: Any) -> bytes:
    """A request body as httpx's ``json=`` would send it (compact, UTF-8, no NaN)."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (e.g. "\ud800" in a problem file): escaped
        return json.dumps(body, ensure_ascii=True, separators=(",", ":"),
                          allow_nan=False).encode("ascii")


def _proxy_password(proxy: str | None) -> str | None:
    if not proxy:
        return None
    try:
        return urllib.parse.urlsplit(proxy).password
    except ValueError:
        return None


def env_proxy(url: str) -> str | None:
    """The proxy ``HTTP_PROXY``/``HTTPS_PROXY`` name for ``url`` (None when unset or when
    ``NO_PROXY`` covers its host)."""
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy or (parts.hostname and urllib.request.proxy_bypass(parts.hostname)):
        return None
    return proxy


class AiohttpExchange:
    """A lazily built :class:`aiohttp.ClientSession` with the client's headers and limits."""

    def __init__(self, *, headers: dict[str, str], timeout: httpx.Timeout | float,
                 max_connections: int, https: bool, base_url: str = "") -> None:
        self._headers = headers
        # the proxy the environment names for this server (HTTP(S)_PROXY, NO_PROXY), as
        # httpx honours it; looked up once here (aiohttp's trust_env costs two thread hops
        # per request)
        self._proxy = env_proxy(base_url) if base_url else None
        self._timeout = client_timeout(timeout)
        self._max_connections = max(1, max_connections)
        self._https = https
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _current(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._loop is not loop and self._loop is not None and self._loop.is_closed():
            await self.aclose()  # the last loop's session: closed here, not reported unclosed
        if self._session is None or self._loop is not loop or self._session.closed:
            ssl: Any = True
            if self._https:
                from llm_modulo.transport import shared_ssl_context

                ssl = shared_ssl_context()
            connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0,
                                             ssl=ssl)
            self._session = aiohttp.ClientSession(
                connector=connector, headers=self._headers, timeout=self._timeout,
                auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(),
                raise_for_status=False)
            self._loop = loop
        return self._session

    async def exchange(self, method: str, url: str, body: Any, *, limit: Callable[[int], int],
                       read: Callable[..., Any]) -> tuple[int, str | None, bytes]:
        """One try: the status, the ``Retry-After`` header and the body, read by ``read``
        within ``limit(status)`` bytes (truncated, not refused, for an error status)."""
        session = await self._current()
        data = None if body is None else dumps_body(body)
        headers = None if body is None else {"Content-Type": "application/json"}
        try:
            response = await session.request(method, url, data=data, headers=headers,
                                             allow_redirects=False, proxy=self._proxy)
            try:
                status = response.status
                error = status >= 400
                encoding = response.headers.get("Content-Encoding", "")
                length = response.headers.get("Content-Length", "")
                if (not error and not encoding and "Transfer-Encoding" not in response.headers
                        and length.isascii() and length.isdigit() and len(length) < 20
                        and int(length) <= limit(status)):
                    # the common answer: plain, not chunked, its length announced and within
                    # the cap; aiohttp's parser delivers exactly that many bytes, never more
                    raw: bytes = await response.read()
                else:
                    raw = await read(response.content.iter_any(), encoding, length,
                                     limit(status), error)
                return status, response.headers.get("Retry-After"), raw
            except BaseException:
                response.close()  # a body not read to its end: the connection is not reused
                raise
            finally:
                response.release()
        except (aiohttp.ClientError, OSError) as exc:  # includes aiohttp's read timeouts
            name = {"ServerTimeoutError": "ReadTimeout", "SocketTimeoutError": "ReadTimeout",
                    "ConnectionTimeoutError": "ConnectTimeout"}.get(type(exc).__name__,
                                                                    type(exc).__name__)
            text = str(exc)
            if type(exc) is aiohttp.ClientResponseError:  # the answer is not valid HTTP; its
                # str() starts "400, message=" (aiohttp's own code, not the server's status)
                name, text = "InvalidHTTPAnswer", exc.message
            detail = " ".join(text.split())  # one line (aiohttp quotes the header)
            secret = _proxy_password(self._proxy)
            if secret:  # a proxy URL from the environment may carry a password: never echo it
                detail = detail.replace(secret, "***")
            detail = detail[:300]
            raise ExchangeError(f"{name}: {detail}".rstrip(": ")) from None

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            with contextlib.suppress(RuntimeError):  # built in an event loop that is gone
                await session.close()
