"""The cheap request path: the aiohttp backend (the default) behaves like the httpx one, the
garbage-collector setting of a batch is restored, cached parse trees change no verdict."""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any

import httpx
import pytest

from llm_modulo import Message, OpenAICompatClient, RetryPolicy, SamplingParams
from llm_modulo.errors import TransportError, UsageError
from llm_modulo.loop import BATCH_GC_THRESHOLD, batch_gc
from llm_modulo.testing import Delay, Reply, ScriptedServer, Status

FAST = RetryPolicy(max_retries=1, backoff_base_s=0.01, backoff_max_s=0.02)
MESSAGES = [Message(role="user", content="hi")]


async def _ask(url: str, **kw: Any) -> Any:
    kw.setdefault("retry", FAST)
    async with OpenAICompatClient(url, model="m", **kw) as client:
        return await client.chat(MESSAGES, SamplingParams(n=2, max_tokens=8))


def test_the_default_backend_is_aiohttp_and_answers_like_httpx(scripted: ScriptedServer) -> None:
    client = OpenAICompatClient(scripted.base_url, model="m")
    assert client._aio is not None and client._http is None
    scripted.script(Reply(["a", "b"]), Reply(["a", "b"]))
    by_aiohttp = asyncio.run(_ask(scripted.base_url))
    by_httpx = asyncio.run(_ask(scripted.base_url, backend="httpx"))
    assert by_aiohttp.model_dump() == by_httpx.model_dump()
    assert [c.text for c in by_aiohttp.choices] == ["a", "b"]
    first, second = scripted.completion_requests()
    for request in (first, second):
        request.pop("_path")
    assert first == second  # the same body on the wire
    headers = [{k.lower(): v for k, v in h.items()} for h in scripted.headers]
    assert headers[0]["accept-encoding"] == headers[1]["accept-encoding"] == "gzip, deflate"


def test_an_injected_transport_needs_httpx() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    assert OpenAICompatClient("http://x/v1", transport=transport)._http is not None
    with pytest.raises(UsageError, match="backend='httpx'"):
        OpenAICompatClient("http://x/v1", transport=transport, backend="aiohttp")
    with pytest.raises(UsageError, match="aiohttp or httpx"):
        OpenAICompatClient("http://x/v1", backend="curl")  # type: ignore[arg-type]


def test_a_read_timeout_is_retried_then_reported(scripted: ScriptedServer) -> None:
    scripted.script(Delay(2.0), Delay(2.0))
    with pytest.raises(TransportError, match=r"ReadTimeout.*\(after 2 tries\)"):
        asyncio.run(_ask(scripted.base_url, timeout=0.3))


def test_an_error_status_is_retried_with_retry_after(scripted: ScriptedServer) -> None:
    scripted.script(Status(503, headers={"Retry-After": "0"}), Reply(["ok"]))
    completion = asyncio.run(_ask(scripted.base_url))
    assert completion.retries == 1 and completion.choices[0].text == "ok"


def test_one_client_serves_two_event_loops(scripted: ScriptedServer) -> None:
    """aiohttp binds a session to its loop: a client used from a later ``asyncio.run`` gets a
    fresh session there instead of failing."""
    client = OpenAICompatClient(scripted.base_url, model="m", retry=FAST)

    async def once() -> str:
        return (await client.chat(MESSAGES, SamplingParams(max_tokens=8))).choices[0].text

    scripted.script(Reply(["one"]), Reply(["two"]))
    assert asyncio.run(once()) == "one"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # the first loop's session is gone
        assert asyncio.run(once()) == "two"
        asyncio.run(client.aclose())
        gc.collect()  # the first loop's sockets are collected here, not in a later test


def test_batch_gc_raises_the_threshold_and_restores_it() -> None:
    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        with batch_gc():
            assert gc.get_threshold() == (BATCH_GC_THRESHOLD, 10, 10)
            with batch_gc():  # nested (two solve_many at once): one setting
                assert gc.get_threshold()[0] == BATCH_GC_THRESHOLD
            assert gc.get_threshold()[0] == BATCH_GC_THRESHOLD
        assert gc.get_threshold() == (700, 10, 10)
        gc.set_threshold(0)  # the collector turned off by the user stays off
        with batch_gc():
            assert gc.get_threshold()[0] == 0
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*saved)


def test_cached_parse_trees_leave_errors_and_verdicts_alone() -> None:
    from llm_modulo.domains.game24 import Game24Domain
    from llm_modulo.types import Problem
    from llm_modulo.verifiers.game24.arith import ExpressionSyntaxError, parse_expression
    from llm_modulo.verifiers.game24.verifier import Game24Verifier

    assert parse_expression("(4+8)*(6-4)") is parse_expression("(4+8)*(6-4)")
    for _ in range(2):  # an error is raised again, not cached as a value
        with pytest.raises(ExpressionSyntaxError, match="ends too early"):
            parse_expression("(4+8)*")
    domain, verifier = Game24Domain(), Game24Verifier()
    problem = Problem(domain="game24", payload={"numbers": [4, 4, 6, 8], "target": 24})
    for text, accepted in (('{"expression": "(4+8)*(6-4)"}', True),
                           ('{"expression": "4+4+6+8"}', False)) * 2:
        candidate = domain.parse_candidate(problem, text)
        assert verifier.check(problem, candidate).status.value == ("accept" if accepted
                                                                   else "reject")


def test_a_length_beside_endless_chunks_is_still_bounded() -> None:
    """A server announcing a small Content-Length *and* sending endless chunks: the answer is
    refused (as bad HTTP or as too large), never read without a bound."""
    import socket
    import threading

    from llm_modulo.errors import GeneratorError

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n%s\r\n" % (4096, b" " * 4096)
            sent = 0
            while not stop.is_set() and sent < 64 * 1024 * 1024:
                try:
                    conn.sendall(chunk)
                except OSError:
                    return
                sent += len(chunk)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with pytest.raises(GeneratorError):
            asyncio.run(_ask(f"http://127.0.0.1:{port}/v1", max_response_bytes=100_000,
                             deadline_s=20, retry=RetryPolicy(max_retries=0)))
    finally:
        stop.set()
        listener.close()


def test_the_environment_proxy_is_found_once_per_server(monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_modulo.aiohttp_exchange import env_proxy

    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy",
                 "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert env_proxy("http://gpu-1:8000/v1") is None
    monkeypatch.setenv("HTTP_PROXY", "http://proxy:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert env_proxy("http://gpu-1:8000/v1") == "http://proxy:3128"
    assert env_proxy("http://127.0.0.1:8000/v1") is None
    assert env_proxy("https://gpu-1/v1") is None  # no HTTPS_PROXY
    client = OpenAICompatClient("http://gpu-1:8000/v1")
    assert client._aio is not None and client._aio._proxy == "http://proxy:3128"
