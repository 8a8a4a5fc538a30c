"""Test fakes: a scripted OpenAI-compatible HTTP server on 127.0.0.1.

Real HTTP (keep-alive HTTP/1.1, a thread per connection), so clients are tested
through their whole stack. Script it with a queue of :class:`Action` objects
(consumed one per completion request, in order) and a ``responder`` that
answers when the queue is empty::

    with ScriptedServer(responder=lambda body: ["{\\"expression\\":\\"(4+8)*(6-4)\\"}"]) as srv:
        srv.script(Status(500), Drop(), Reply(["..."]))
        client = OpenAICompatClient(srv.base_url, model="scripted")

For loop tests that need no HTTP at all, :class:`FunctionGenerator` is an in-process
generator built from a plain function (messages, sampling parameters -> texts).

Fault modes for hostile-server tests: :class:`Trickle` (one byte every few seconds),
:class:`HugeBody`, :class:`EndlessChunked`, :class:`GzipBomb`, :class:`LoneSurrogate`,
:class:`BadRetryAfter`, :class:`HugeUsage`, :class:`DeepNesting`; ``srv.flood_bytes``
counts what the floods managed to send.

Every request body is kept in ``srv.requests``. ``latency_s`` makes each
completion take that long from its arrival, however many are in flight
(GPU-like server-bound benchmarks). Run
``python -m llm_modulo.testing --port P --latency 0.5 --responder MODULE:FUNCTION``
to serve from a separate process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from llm_modulo.generator import Completion, GeneratedChoice, SamplingParams
from llm_modulo.structured import StructuredOutput
from llm_modulo.types import Message, Usage

Responder = Callable[[dict[str, Any]], list[str]]
GenerateFunction = Callable[[list[Message], SamplingParams], "list[str] | str"]


class FunctionGenerator:
    """An in-process generator: ``fn(messages, params)`` returns the samples' texts.

    It satisfies the loop's ``Generator`` protocol, so a ``Solver`` runs against it with
    no server and no sockets. A single string is one sample; a list shorter than
    ``params.n`` is cycled to ``n`` samples. Every call is kept in ``calls``; token usage
    counts whitespace-separated words, as :class:`ScriptedServer` does::

        gen = FunctionGenerator(lambda messages, params: '{"expression": "(4+8)*(6-4)"}')
        result = await Solver(domain, verifier, gen).solve(problem)
    """

    def __init__(self, fn: GenerateFunction, *, model: str = "function") -> None:
        self.fn = fn
        self.model: str | None = model
        self.calls: list[tuple[list[Message], SamplingParams, StructuredOutput | None]] = []

    async def generate(
        self,
        messages: list[Message],
        params: SamplingParams,
        structured: StructuredOutput | None = None,
    ) -> Completion:
        self.calls.append((list(messages), params, structured))
        produced = self.fn(list(messages), params)
        texts = [produced] if isinstance(produced, str) else list(produced)
        if not texts:
            raise ValueError("the generate function returned no texts")
        samples = [texts[i % len(texts)] for i in range(params.n)]
        prompt = sum(_words(m.content) for m in messages)
        return Completion(
            model=self.model or "function",
            choices=[GeneratedChoice(index=i, text=t, finish_reason="stop")
                     for i, t in enumerate(samples)],
            usage=Usage(prompt_tokens=prompt, completion_tokens=sum(map(_words, samples))),
        )


@dataclass
class Reply:
    """Answer with these completions (one per choice; repeated to fill ``n``)."""

    texts: list[str]
    delay_s: float = 0.0
    finish_reason: str = "stop"


@dataclass
class Status:
    """Answer with an HTTP error status."""

    code: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = '{"error": {"message": "scripted error"}}'


@dataclass
class Drop:
    """Close the connection without answering."""


@dataclass
class Delay:
    """Sleep, then answer from the responder (to provoke a client read timeout)."""

    seconds: float


@dataclass
class Raw:
    """Answer HTTP 200 with this body, verbatim (e.g. malformed JSON)."""

    body: str
    content_type: str = "application/json"


@dataclass
class Trickle:
    """Answer with a complete, valid completion (from the responder), one byte every
    ``interval_s`` seconds: each read arrives in time, the whole never does."""

    interval_s: float = 5.0


@dataclass
class HugeBody:
    """HTTP 200 announcing (``Content-Length``) and sending ``size`` bytes of JSON-looking
    padding, as fast as the client reads."""

    size: int = 300 * 1024 * 1024


@dataclass
class EndlessChunked:
    """HTTP 200, ``Transfer-Encoding: chunked``, chunks that never end (until the client
    hangs up)."""

    chunk_size: int = 64 * 1024


@dataclass
class GzipBomb:
    """HTTP 200, ``Content-Encoding: gzip``: ``size`` bytes of zeros, compressed (about
    1,000:1) and streamed chunked, compressed as it is sent."""

    size: int = 4 * 1024 * 1024 * 1024


@dataclass
class LoneSurrogate:
    """A completion from the responder with a lone surrogate (``\\ud800`` in the JSON)
    appended to every text."""

    suffix: str = "\ud800"


@dataclass
class BadRetryAfter:
    """An HTTP ``code`` (429) whose ``Retry-After`` is ``value``: ``soon``, ``NaN``, ``1e400``,
    a date that is not one."""

    value: str = "soon"
    code: int = 429


@dataclass
class HugeUsage:
    """A completion from the responder whose ``usage`` claims ``tokens`` tokens each way."""

    tokens: int = 10**30


@dataclass
class DeepNesting:
    """HTTP 200 whose ``choices`` nest ``depth`` lists deep."""

    depth: int = 100_000


Action = (Reply | Status | Drop | Delay | Raw | Trickle | HugeBody | EndlessChunked | GzipBomb
          | LoneSurrogate | BadRetryAfter | HugeUsage | DeepNesting)

#: Actions that answer with the responder's texts (after the server's latency).
_RESPONDER_FAULTS = (Trickle, LoneSurrogate, HugeUsage)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hangs up (a test's read timeout, a closed pool) is not news
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _words(text: str) -> int:
    return max(1, len(text.split()))


class ScriptedServer:
    """An OpenAI-compatible server whose answers are scripted. See the module docstring."""

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        model: str = "scripted",
        latency_s: float = 0.0,
        port: int = 0,
    ) -> None:
        self.responder = responder or (lambda body: ["{}"])
        self.model = model
        self.latency_s = latency_s
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._actions: deque[Action] = deque()
        #: completion requests being answered now, and the most seen at once
        self.in_flight = 0
        self.max_in_flight = 0
        #: bytes written by HugeBody, EndlessChunked and GzipBomb answers (before hang-up)
        self.flood_bytes = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()  # ends trickles and floods when the server stops
        self._httpd = _HTTPServer(("127.0.0.1", port), self._handler_class())
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *actions: Action) -> None:
        with self._lock:
            self._actions.extend(actions)

    def completion_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r.get("_path", "").endswith("completions")]

    def start(self) -> ScriptedServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling -------------------------------------------------------------

    def _count(self, sent: int) -> None:
        with self._lock:
            self.flood_bytes += sent

    def _next_action(self) -> Action | None:
        with self._lock:
            return self._actions.popleft() if self._actions else None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in two writes: without TCP_NODELAY, Nagle's
            # algorithm and the client's delayed ACK add ~40 ms to every answer
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, code: int, body: bytes, content_type: str = "application/json",
                      headers: dict[str, str] | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _hang_up_if_stopped(self) -> bool:
                """A stopped server hangs up on a request that arrives on a connection
                kept alive from before (as a dead server's connections would fail)."""
                if server._stopped.is_set():
                    self.close_connection = True
                    return True
                return False

            def do_GET(self) -> None:
                if self._hang_up_if_stopped():
                    return
                if self.path.rstrip("/") in ("/v1/models", "/models"):
                    body = {"object": "list", "data": [{"id": server.model, "object": "model"}]}
                    self._send(200, json.dumps(body).encode())
                elif self.path in ("/health", "/v1/health"):
                    self._send(200, b"{}")
                else:
                    self._send(404, b'{"error": "not found"}')

            def do_POST(self) -> None:
                if self._hang_up_if_stopped():
                    return
                self.arrived = time.monotonic()
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._send(400, b'{"error": "bad json"}')
                    return
                body["_path"] = self.path
                with server._lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._answer(body)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self, body: dict[str, Any]) -> None:
                chat = self.path.endswith("/chat/completions")
                if not (chat or self.path.endswith("/completions")):
                    self._send(404, b'{"error": "not found"}')
                    return
                action = server._next_action()
                if isinstance(action, Drop):
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if isinstance(action, Status):
                    self._send(action.code, action.body.encode(), headers=action.headers)
                    return
                if isinstance(action, Raw):
                    self._send(200, action.body.encode(), action.content_type)
                    return
                if isinstance(action, BadRetryAfter):
                    self._send(action.code, b'{"error": "slow down"}',
                               headers={"Retry-After": action.value})
                    return
                if isinstance(action, HugeBody | EndlessChunked | GzipBomb | DeepNesting):
                    with contextlib.suppress(OSError):  # the client hangs up: that is the point
                        self._flood(action)
                    self.close_connection = True
                    return
                delay = server.latency_s
                if isinstance(action, Delay):
                    delay += action.seconds
                if isinstance(action, Reply):
                    delay += action.delay_s
                    texts, finish = action.texts, action.finish_reason
                else:
                    texts, finish = server.responder(body), "stop"
                # latency counts from arrival: the responder's own work is part of it
                remaining = self.arrived + delay - time.monotonic()
                if remaining > 0:
                    time.sleep(remaining)
                n = int(body.get("n", 1))
                texts = (texts * n)[:n] if texts else [""] * n
                if isinstance(action, LoneSurrogate):
                    texts = [t + action.suffix for t in texts]
                answer = server._completion(body, texts, finish, chat)
                if isinstance(action, HugeUsage):
                    answer["usage"] = {"prompt_tokens": action.tokens,
                                       "completion_tokens": action.tokens,
                                       "total_tokens": 2 * action.tokens}
                data = json.dumps(answer).encode()  # ensure_ascii: "\ud800" stays an escape
                if isinstance(action, Trickle):
                    with contextlib.suppress(OSError):
                        self._trickle(data, action.interval_s)
                    self.close_connection = True
                    return
                self._send(200, data)

            def _trickle(self, data: bytes, interval_s: float) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.flush()
                for i in range(len(data)):
                    self.wfile.write(data[i:i + 1])
                    self.wfile.flush()
                    if server._stopped.wait(interval_s):
                        return

            def _flood(self, action: HugeBody | EndlessChunked | GzipBomb | DeepNesting) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if isinstance(action, DeepNesting):
                    data = (b'{"choices": ' + b"[" * action.depth + b"]" * action.depth
                            + b"}")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if isinstance(action, HugeBody):
                    self.send_header("Content-Length", str(action.size))
                    self.end_headers()
                    block = b'{"choices": [' + b" " * (64 * 1024 - 13)
                    sent = 0
                    while sent < action.size and not server._stopped.is_set():
                        piece = block[: action.size - sent]
                        self.wfile.write(piece)
                        sent += len(piece)
                        server._count(len(piece))
                        block = b" " * len(block)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                if isinstance(action, GzipBomb):
                    self.send_header("Content-Encoding", "gzip")
                self.end_headers()
                for chunk in _flood_chunks(action):
                    if server._stopped.is_set():
                        return
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    server._count(len(chunk))
                self.wfile.write(b"0\r\n\r\n")

        return Handler

    def _completion(self, body: dict[str, Any], texts: list[str], finish: str,
                    chat: bool) -> dict[str, Any]:
        if chat:
            prompt_tokens = sum(_words(m.get("content", "")) for m in body.get("messages", []))
            choices: list[dict[str, Any]] = [
                {"index": i, "message": {"role": "assistant", "content": t},
                 "finish_reason": finish} for i, t in enumerate(texts)]
        else:
            prompt_tokens = _words(str(body.get("prompt", "")))
            choices = [{"index": i, "text": t, "finish_reason": finish}
                       for i, t in enumerate(texts)]
        completion_tokens = sum(_words(t) for t in texts)
        return {
            "id": f"scripted-{len(self.requests)}",
            "object": "chat.completion" if chat else "text_completion",
            "model": body.get("model", self.model),
            "choices": choices,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }


def _flood_chunks(action: EndlessChunked | GzipBomb) -> Iterator[bytes]:
    """The chunks of an endless body, or of a gzip bomb compressed as it is sent."""
    if isinstance(action, EndlessChunked):
        chunk = b" " * action.chunk_size
        while True:
            yield chunk
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = b"\0" * (1024 * 1024)
    left = action.size
    while left > 0:
        piece = zeros[:left]
        left -= len(piece)
        out = compressor.compress(piece)
        if out:
            yield out
    if tail := compressor.flush():
        yield tail


def load_responder(spec: str) -> Responder:
    """``module:function`` (e.g. ``llm_modulo.domains.game24:scripted_responder``) as a
    responder; a usage error says what is wrong."""
    import importlib

    module_name, _, attr = spec.partition(":")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise SystemExit(f"--responder {spec!r}: {exc}") from None
    if not callable(fn):
        raise SystemExit(f"--responder {spec!r} is not a function")
    return fn  # type: ignore[no-any-return]


def main(argv: list[str] | None = None, *, responder: Responder | None = None) -> None:
    """Serve a scripted API until killed; print the port first (one line)."""
    parser = argparse.ArgumentParser(description="Serve a scripted OpenAI-compatible API.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--responder", metavar="MODULE:FUNCTION",
                        help="the function that answers each request's body with texts, e.g. "
                             "llm_modulo.domains.game24:scripted_responder (default: '{}')")
    args = parser.parse_args(argv)
    if args.responder:
        responder = load_responder(args.responder)
    server = ScriptedServer(responder, latency_s=args.latency, port=args.port)
    print(server.port, flush=True)
    server._httpd.serve_forever()


if __name__ == "__main__":
    main()
