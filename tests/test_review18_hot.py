"""Adversarial review of the issue-18 hot-path changes: the game24 fast reader never accepts
what lark refuses (nor reads it differently), the aiohttp backend maps every hostile answer
into the error tree with one line and closes what it opens, ``solve_many``'s batch GC setting
and its worker tasks end when the generator is closed."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import gzip
import itertools
import json
import logging
import socket
import struct
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest

from llm_modulo import Message, OpenAICompatClient, RetryPolicy, SamplingParams
from llm_modulo.errors import GeneratorError
from llm_modulo.loop import BATCH_GC_THRESHOLD, Solver
from llm_modulo.testing import Reply, ScriptedServer
from llm_modulo.types import Problem, SolveResult
from llm_modulo.verifiers.game24 import arith
from llm_modulo.verifiers.game24.arith import (
    ExpressionSyntaxError,
    _parse_lark,
    _read_fast,
    parse_expression,
)

# -- the game24 fast reader ------------------------------------------------------------------


def _lark(text: str) -> object:
    try:
        return _parse_lark(text)
    except ExpressionSyntaxError as exc:
        return exc


def test_every_short_text_reads_fast_as_lark_reads_it_or_goes_to_lark() -> None:
    """Exhaustive over a small alphabet (newline, vertical tab, NUL and a non-ASCII digit
    included): a tree from the fast reader is always lark's tree."""
    alphabet = "10+-*/() \n\v\x00\u0663"
    read = 0
    for n in range(5):
        for letters in itertools.product(alphabet, repeat=n):
            text = "".join(letters)
            fast = _read_fast(text)
            if fast is not None:
                read += 1
                assert fast == _lark(text), text
    assert read > 100  # the alphabet makes expressions, not only errors


@pytest.mark.parametrize("text", [
    "\u0663+4",  # ARABIC-INDIC DIGIT THREE
    "\uff14*6",  # FULLWIDTH DIGIT FOUR (not a look-alike the normalizer maps)
    "4\u00b2",  # superscript two
    "4**4", "4//4", "4*/4", "()", "(4)()", "-4", "+4", "4--4", "4+-4", "4 4", "4(4)",
    "4\x00", "\x004", "4\v+4", "4+4\u00a0", "4\u2009+4", "4\u3000+4", "4+4\n", "4+\r\n4",
    "1234567890123", "0000000000004", "4)", "(4", "((4)", ")4(", "4+", "*4", "4.0", "4e2",
    "0x10", "1_000", "4=24", "",
])
def test_hostile_texts_are_never_read_where_lark_refuses(text: str) -> None:
    fast = _read_fast(text)
    lark = _lark(text)
    if fast is not None:
        assert fast == lark
    if isinstance(lark, ExpressionSyntaxError):
        assert fast is None
        arith._parse_checked.cache_clear()
        with pytest.raises(ExpressionSyntaxError):
            parse_expression(text)


def test_leading_zeros_and_twelve_digits_read_as_lark_reads_them() -> None:
    for text in ("007*4", "000000000007", "999999999999+1", "(0)/(0)"):
        assert _read_fast(text) == _parse_lark(text)


def test_the_bounds_hold_before_the_fast_reader() -> None:
    deep = "(" * arith.MAX_DEPTH + "4" + ")" * arith.MAX_DEPTH
    assert parse_expression(deep) == _parse_lark(deep)
    with pytest.raises(ExpressionSyntaxError, match="nest deeper"):
        parse_expression("(" + deep + ")")
    longest = "+".join(["1"] * 250) + " " * (arith.MAX_LENGTH - 499)
    assert len(longest) == arith.MAX_LENGTH
    assert arith.leaves(parse_expression(longest)) == [1] * 250
    with pytest.raises(ExpressionSyntaxError, match="characters long"):
        parse_expression(longest + " ")


def test_the_parse_cache_is_bounded_and_its_trees_cannot_change() -> None:
    assert arith._parse_checked.cache_info().maxsize is not None
    tree = parse_expression("(4+8)*(6-4)")
    assert isinstance(tree, arith.BinOp)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tree.op = "+"  # type: ignore[misc]
    assert arith.evaluate(parse_expression("(4+8)*(6-4)")) == 24


# -- hostile answers on the aiohttp path -----------------------------------------------------

_OK = json.dumps({"model": "m", "choices": [{"index": 0, "finish_reason": "stop",
                                             "message": {"role": "assistant",
                                                         "content": "hi"}}]}).encode()
_H = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        more = conn.recv(65536)
        if not more:
            return
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(rest) < length:
        more = conn.recv(65536)
        if not more:
            return
        rest += more


def _raw_server(answer: bytes, *, reset: bool = False) -> tuple[str, Callable[[], None]]:
    """A 127.0.0.1 server answering every request with ``answer`` (then closing, or
    resetting the connection)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def one(conn: socket.socket) -> None:
        with conn:
            try:
                _read_request(conn)
                conn.sendall(answer)
                if reset:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=one, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{port}/v1", listener.close


HOSTILE = {
    "length longer than the body": (_H + b"Content-Length: 500\r\n\r\n" + _OK, False),
    "reset mid-body": (_H + b"Content-Length: 1000\r\n\r\n" + _OK[:10], True),
    "negative length": (_H + b"Content-Length: -1\r\n\r\n" + _OK, False),
    "two lengths": (_H + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n" + _OK, False),
    "bad chunk size": (_H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", False),
    "truncated chunk": (_H + b"Transfer-Encoding: chunked\r\n\r\n10\r\nabc", False),
    "chunks over the cap": (_H + b"Transfer-Encoding: chunked\r\n\r\n"
                            + b"400\r\n" + b" " * 1024 + b"\r\n" + b"0\r\n\r\n", False),
    "close-delimited over the cap": (b"HTTP/1.0 200 OK\r\n\r\n" + b" " * 5000, False),
    "not JSON": (_H + b"Content-Length: 15\r\n\r\n<html>hi</html>", False),
    "empty": (_H + b"Content-Length: 0\r\n\r\n", False),
    "bad status line": (b"HTTP/1.1 abc\r\n\r\n", False),
    "not HTTP": (b"\x00\x01\x02garbage\r\n\r\n", False),
    "huge header": (_H + b"X-A: " + b"a" * 20000 + b"\r\nContent-Length: 2\r\n\r\n{}", False),
    "many headers": (_H + b"".join(b"X-%d: a\r\n" % i for i in range(300))
                     + b"Content-Length: 2\r\n\r\n{}", False),
    "bad header bytes": (_H + b"\xff\xfe bad\r\n\r\n", False),
    "upgrade": (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\n\r\n" + b"x" * 100_000, False),
    "gzip bomb": (_H + b"Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + b"%x\r\n%s\r\n0\r\n\r\n" % (len(bomb := gzip.compress(b" " * 10**7)), bomb),
                  False),
    "corrupt gzip": (_H + b"Content-Encoding: gzip\r\nContent-Length: 10\r\n\r\n\x1f\x8b\x08gar"
                     b"bage", False),
    "brotli": (_H + b"Content-Encoding: br\r\nContent-Length: 2\r\n\r\n{}", False),
    "no answer": (b"", False),
    "reset without an answer": (b"", True),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_answer_is_one_line_of_the_error_tree(name: str) -> None:
    answer, reset = HOSTILE[name]
    url, stop = _raw_server(answer, reset=reset)

    async def ask() -> Any:
        async with OpenAICompatClient(url, model="m", retry=RetryPolicy(max_retries=0),
                                      max_response_bytes=4096, deadline_s=10,
                                      timeout=5) as client:
            return await client.chat([Message(role="user", content="x")],
                                     SamplingParams(max_tokens=4))

    try:
        with pytest.raises(GeneratorError) as caught:
            asyncio.run(ask())
    finally:
        stop()
    message = str(caught.value)
    assert message and "\n" not in message and len(message) < 1000


def _two_loops_then_close(base_url: str) -> None:
    client = OpenAICompatClient(base_url, model="m", retry=RetryPolicy(max_retries=0))

    async def once() -> str:
        completion = await client.chat([Message(role="user", content="x")],
                                       SamplingParams(max_tokens=4))
        return completion.choices[0].text

    assert asyncio.run(once()) == "one"
    assert asyncio.run(once()) == "two"
    asyncio.run(client.aclose())


def test_a_client_used_in_two_event_loops_leaves_no_unclosed_session(
        scripted: ScriptedServer, caplog: pytest.LogCaptureFixture) -> None:
    scripted.script(Reply(["one"]), Reply(["two"]))
    with warnings.catch_warnings(record=True) as seen, caplog.at_level(logging.ERROR):
        warnings.simplefilter("always")
        _two_loops_then_close(scripted.base_url)
        gc.collect()
    unclosed = [str(w.message) for w in seen if "Unclosed client session" in str(w.message)]
    assert not unclosed
    assert "Unclosed client session" not in caplog.text


# -- solve_many: the GC setting and the worker tasks end with the generator --------------------


class _SlowSolver(Solver):
    """``solve`` sleeps; counts the solves in flight."""

    def __init__(self) -> None:  # no domain, verifier or generator needed
        from llm_modulo.config import LoopConfig

        self.config = LoopConfig()
        self.running = 0

    async def solve(self, problem: Problem) -> SolveResult:
        self.running += 1
        try:
            await asyncio.sleep(0.05 if problem.id == "0" else 5)
            return cast(SolveResult, problem.id)
        finally:
            self.running -= 1


@pytest.fixture
def default_gc() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def _problems(n: int) -> list[Problem]:
    return [Problem(id=str(i), domain="x", payload={}) for i in range(n)]


def test_closing_solve_many_cancels_its_solves_and_restores_the_gc(default_gc: None) -> None:
    solver = _SlowSolver()

    async def go() -> tuple[int, int, int]:
        results = solver.solve_many(_problems(4), concurrency=4)
        assert await results.__anext__() == "0"  # the others still running
        during = gc.get_threshold()[0]
        await results.aclose()
        return during, gc.get_threshold()[0], solver.running

    during, after, running = asyncio.run(go())
    assert during == BATCH_GC_THRESHOLD
    assert after == 700
    assert running == 0  # closing the generator cancelled the solves still in flight


def test_a_cancelled_solve_many_restores_the_gc(default_gc: None) -> None:
    solver = _SlowSolver()

    async def consume() -> None:
        async for _ in solver.solve_many(_problems(3)[1:], concurrency=2):
            pass

    async def go() -> int:
        task = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        assert gc.get_threshold()[0] == BATCH_GC_THRESHOLD
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return gc.get_threshold()[0]

    assert asyncio.run(go()) == 700
    assert solver.running == 0


def test_an_answer_that_is_not_http_is_not_reported_as_a_status() -> None:
    """aiohttp words a parse error as ``400, message=...``: the line must not read as if
    the server had answered HTTP 400."""
    url, stop = _raw_server(b"HTTP/1.1 abc\r\n\r\n")

    async def ask() -> Any:
        async with OpenAICompatClient(url, model="m", retry=RetryPolicy(max_retries=0)) as c:
            return await c.chat([Message(role="user", content="x")], SamplingParams())

    try:
        with pytest.raises(GeneratorError) as caught:
            asyncio.run(ask())
    finally:
        stop()
    assert "400" not in str(caught.value)
    assert "Bad status line" in str(caught.value)


class _FailingSolver(_SlowSolver):
    async def solve(self, problem: Problem) -> SolveResult:
        raise LookupError("a bug in solve")


def test_an_exception_out_of_solve_many_restores_the_gc(default_gc: None) -> None:
    async def go() -> None:
        async for _ in _FailingSolver().solve_many(_problems(3), concurrency=2):
            pass

    with pytest.raises(LookupError):
        asyncio.run(go())
    assert gc.get_threshold()[0] == 700


def test_a_proxy_password_from_the_environment_is_never_echoed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # a proxy that refuses connections: the error line names the failure, not the password
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://user:hunter2secret@127.0.0.1:{port}x")  # malformed
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    async def main() -> str:
        async with OpenAICompatClient("http://192.0.2.1:9/v1", model="m", deadline_s=5,
                                      retry=RetryPolicy(max_retries=0)) as client:
            with pytest.raises(GeneratorError) as info:
                await client.chat([Message(role="user", content="hi")], SamplingParams())
            return str(info.value)

    message = asyncio.run(main())
    assert "hunter2secret" not in message


def test_a_lone_surrogate_in_a_prompt_is_sent_escaped_not_an_encoding_crash() -> None:
    from llm_modulo.aiohttp_exchange import dumps_body

    body = {"messages": [{"role": "user", "content": "numbers \ud800 4 4 6 8"}]}
    raw = dumps_body(body)
    assert json.loads(raw) == body  # valid JSON whose text is the prompt, escaped
    assert dumps_body({"x": "é"}) == '{"x":"é"}'.encode()  # the common case is unchanged


@pytest.mark.parametrize("backend", ["aiohttp", "httpx"])
def test_a_lone_surrogate_reaches_the_server_on_either_backend(backend: str) -> None:
    seen: list[str] = []

    def responder(request: dict[str, Any]) -> list[str]:
        seen.append(request["messages"][0]["content"])
        return ['{"expression": "(4+8)*(6-4)"}']

    async def main() -> str:
        async with OpenAICompatClient(server.base_url, model="m", backend=backend,  # type: ignore[arg-type]
                                      retry=RetryPolicy(max_retries=0)) as client:
            done = await client.chat([Message(role="user", content="a \ud800 b")],
                                     SamplingParams())
            return done.choices[0].text

    with ScriptedServer(responder=responder) as server:
        assert "(4+8)" in asyncio.run(main())
    assert seen == ["a \ud800 b"]
