"""Async client for OpenAI-compatible endpoints (vLLM first), over aiohttp or httpx.

Transport retries live here and only here: connection errors, read timeouts,
HTTP 429 (honouring ``Retry-After``) and 5xx are retried with exponential
backoff and jitter. Re-asking the model after a verifier rejects an answer is
the loop's business, not the client's.

Requests go over aiohttp (about a fifth of httpx's CPU per request, see
``benchmarks/throughput.py``) unless an httpx transport is passed to the constructor (tests
inject one) or ``backend="httpx"`` is asked for; both read the answer with the same bounds.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import os
import random
import time
import zlib
from collections.abc import AsyncIterator, Collection
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel, Field

from llm_modulo.aiohttp_exchange import AiohttpExchange, ExchangeError, dumps_body
from llm_modulo.bounds import NestingError, loads_bounded
from llm_modulo.errors import (
    HTTPStatusError,
    MalformedResponseError,
    TransportError,
    UsageError,
)
from llm_modulo.structured import StructuredOutput
from llm_modulo.transport import ShardedTransport
from llm_modulo.types import Message, Usage

API_KEY_ENV = ("LLM_MODULO_API_KEY", "OPENAI_API_KEY")
#: Generation on a CPU can take minutes; connecting should not.
DEFAULT_TIMEOUT = httpx.Timeout(300.0, connect=10.0)
#: The whole of one call (every try, every wait between tries, every byte of the answer):
#: a server that trickles a byte every few seconds, or says nothing, is cut off here.
DEFAULT_DEADLINE_S = 600.0
#: The most a response body may hold, counted as it arrives and again after decompression.
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
#: The deepest nesting a response may have (a completion with logprobs nests about 6 deep).
MAX_RESPONSE_DEPTH = 32
#: Token counts above this are clamped to it (the budget still sees an enormous count, and
#: the corpus's SQLite integers cannot overflow when summed).
MAX_TOKEN_COUNT = 2**31 - 1
#: Longest ``model`` and ``finish_reason`` strings kept from a response.
MAX_NAME_CHARS = 256
#: Of an error status's body, this much is read (it is quoted in the error message).
MAX_ERROR_BODY_BYTES = 64 * 1024
#: Only encodings decoded here with a bounded output are asked for.
ACCEPT_ENCODING = "gzip, deflate"


class SamplingParams(BaseModel):
    """Sampling parameters sent with every request of a round."""

    n: int = Field(default=1, ge=1, le=128)
    temperature: float = Field(default=1.0, ge=0.0, le=5.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int | None = Field(default=None, ge=-(2**62), le=2**62)
    max_tokens: int = Field(default=256, ge=1, le=MAX_TOKEN_COUNT)
    stop: list[str] | None = None
    logprobs: int | None = Field(default=None, ge=0, le=20, description="top logprobs per token")

    def chat_fields(self) -> dict[str, Any]:
        body = self.model_dump(exclude_none=True, exclude={"logprobs"})
        if self.logprobs is not None:
            body["logprobs"] = True
            body["top_logprobs"] = self.logprobs
        return body

    def completion_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class RetryPolicy(BaseModel):
    """Transport-level retries (never model re-asks)."""

    max_retries: int = Field(default=4, ge=0)
    backoff_base_s: float = Field(default=0.5, ge=0.0)
    backoff_max_s: float = Field(default=20.0, ge=0.0)
    retry_after_max_s: float = Field(default=60.0, ge=0.0)
    retry_statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})

    def backoff(self, attempt: int) -> float:
        delay = min(self.backoff_max_s, self.backoff_base_s * (2.0**attempt))
        return float(delay * (0.5 + random.random() / 2))

    def retry_after(self, response: httpx.Response) -> float | None:
        """The wait a ``Retry-After`` header asks for, capped at ``retry_after_max_s``; None
        (back off as usual) when it is absent or unreadable (``soon``, ``NaN``, a bad date)."""
        return parse_retry_after(response.headers.get("retry-after"), self.retry_after_max_s)


def _ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def parse_retry_after(value: str | None, cap: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay seconds or an HTTP date), clamped
    to ``[0, cap]``; None for anything unreadable. Never raises."""
    if value is None:
        return None
    value = value.strip()[:100]
    if not value:
        return None
    whole, dot, fraction = value.partition(".")
    if _ascii_digits(whole) and (not dot or _ascii_digits(fraction)):
        seconds = float(value)  # delay-seconds (ASCII digits; a fraction tolerated)
    else:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
            seconds = parsed.timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError, OSError):
            return None
    if not math.isfinite(seconds):
        return None
    return max(0.0, min(seconds, cap))


class GeneratedChoice(BaseModel):
    index: int
    text: str
    finish_reason: str | None = None
    logprobs: Any = None


class Completion(BaseModel):
    """One request's samples and its token usage."""

    model: str
    choices: list[GeneratedChoice]
    usage: Usage = Field(default_factory=Usage)
    retries: int = 0


class Generator(Protocol):
    """What the loop needs from a generator: chat messages in, ``n`` samples out."""

    model: str | None

    async def generate(
        self,
        messages: list[Message],
        params: SamplingParams,
        structured: StructuredOutput | None = None,
    ) -> Completion: ...


def _api_key() -> str | None:
    for name in API_KEY_ENV:
        if value := os.environ.get(name):
            return value
    return None


def checked_api_key(key: str | None = None) -> str | None:
    """``key``, else the environment's (``LLM_MODULO_API_KEY``, ``OPENAI_API_KEY``); a key an
    HTTP header cannot carry is a one-line :class:`UsageError`."""
    key = key or _api_key()
    if key and not (key.isascii() and key.isprintable()):
        raise UsageError("the API key (LLM_MODULO_API_KEY or OPENAI_API_KEY) holds non-ASCII "
                         "or control characters; HTTP headers carry printable ASCII only")
    return key or None


def _auth_headers(key: str | None) -> dict[str, str]:
    key = checked_api_key(key)
    return {"Authorization": f"Bearer {key}"} if key else {}


def checked_base_url(base_url: str) -> str:
    """The URL without a trailing slash; a URL that can never work is a usage error."""
    example = "e.g. http://127.0.0.1:8000/v1"
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise UsageError(f"base URL {base_url!r} is not a valid URL ({exc}); {example}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise UsageError(f"base URL {base_url!r} is not an http(s) URL with a host; {example}")
    return base_url.rstrip("/")


class OpenAICompatClient:
    """Client for ``/v1/chat/completions`` and ``/v1/completions``.

    ``base_url`` ends in ``/v1`` (``http://127.0.0.1:8000/v1``). The API key
    comes from ``api_key`` or the environment (``LLM_MODULO_API_KEY``, then
    ``OPENAI_API_KEY``). ``model=None`` uses the first model the server lists.

    Everything the server sends is bounded before it is used: one call (all its tries)
    ends within ``deadline_s``; a body over ``max_response_bytes`` (counted as it arrives
    and after gzip/deflate decompression) is refused early; JSON nesting over
    :data:`MAX_RESPONSE_DEPTH`, ``NaN`` or ``Infinity`` make the response malformed; lone
    surrogates in strings become U+FFFD; token counts are clamped to :data:`MAX_TOKEN_COUNT`;
    ``Retry-After`` that cannot be read is ignored (ordinary backoff). A choice that is not a
    completion becomes an empty sample with ``finish_reason="malformed"``; a response whose
    every choice is unusable raises :class:`MalformedResponseError`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 512,
        deadline_s: float | None = DEFAULT_DEADLINE_S,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        backend: Literal["auto", "aiohttp", "httpx"] = "auto",
    ) -> None:
        self.base_url = checked_base_url(base_url)
        self.model = model
        self.retry = retry or RetryPolicy()
        if deadline_s is not None and not deadline_s > 0:
            raise UsageError(f"the request deadline must be positive, not {deadline_s}")
        if max_response_bytes < 1:
            raise UsageError(f"the response size cap must be positive, not {max_response_bytes}")
        self.deadline_s = deadline_s
        self.max_response_bytes = max_response_bytes
        if backend not in ("auto", "aiohttp", "httpx"):
            raise UsageError(f"the HTTP backend is aiohttp or httpx, not {backend!r}")
        if backend == "aiohttp" and transport is not None:
            raise UsageError("an httpx transport needs backend='httpx' (or 'auto')")
        headers = {**_auth_headers(api_key), "Accept-Encoding": ACCEPT_ENCODING}
        self._http: httpx.AsyncClient | None = None
        self._aio: AiohttpExchange | None = None
        if transport is not None or backend == "httpx":
            self._http = httpx.AsyncClient(
                base_url=self.base_url, headers=headers, timeout=timeout,
                transport=transport or ShardedTransport(max_connections=max_connections),
            )
        else:
            self._aio = AiohttpExchange(headers=headers, timeout=timeout,
                                        max_connections=max_connections,
                                        https=self.base_url.lower().startswith("https:"),
                                        base_url=self.base_url)
        self._model_lock = asyncio.Lock()

    async def __aenter__(self) -> OpenAICompatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        if self._aio is not None:
            await self._aio.aclose()

    # -- requests ---------------------------------------------------------------------

    async def list_models(self) -> list[str]:
        data, _ = await self._request("GET", "/models")
        try:
            return [str(m["id"]) for m in data["data"]]
        except (KeyError, TypeError) as exc:
            raise MalformedResponseError(f"/models answer has no model list: {exc!r}") from None

    async def resolve_model(self) -> str:
        if self.model is not None:  # the common case: no lock to take per request
            return self.model
        async with self._model_lock:
            if self.model is None:
                models = await self.list_models()
                if not models:
                    raise MalformedResponseError(f"{self.base_url}/models lists no model")
                self.model = models[0]
            return self.model

    async def generate(
        self,
        messages: list[Message],
        params: SamplingParams,
        structured: StructuredOutput | None = None,
    ) -> Completion:
        """Chat completion: the loop's entry point."""
        return await self.chat(messages, params, structured)

    async def chat(
        self,
        messages: list[Message],
        params: SamplingParams,
        structured: StructuredOutput | None = None,
        *,
        fail_fast: Collection[int] = (),
    ) -> Completion:
        """A chat completion; a status in ``fail_fast`` (429 for a router that has another
        endpoint to try) is raised at its first answer instead of retried here."""
        body: dict[str, Any] = {
            "model": await self.resolve_model(),
            # Message is frozen with exactly these two fields (validated when it was built)
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            **params.chat_fields(),
        }
        if structured is not None:
            body.update(structured.request_fields())
        data, retries = await self._request("POST", "/chat/completions", body, fail_fast)
        return _parse_completion(data, retries, chat=True)

    async def complete(
        self,
        prompt: str,
        params: SamplingParams,
        structured: StructuredOutput | None = None,
    ) -> Completion:
        body: dict[str, Any] = {
            "model": await self.resolve_model(),
            "prompt": prompt,
            **params.completion_fields(),
        }
        if structured is not None:
            body.update(structured.request_fields())
        data, retries = await self._request("POST", "/completions", body)
        return _parse_completion(data, retries, chat=False)

    async def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None,
        fail_fast: Collection[int] = (),
    ) -> tuple[Any, int]:
        url = f"{self.base_url}{path}"
        loop = asyncio.get_running_loop()
        deadline = None if self.deadline_s is None else loop.time() + self.deadline_s
        last: Exception | None = None
        tries = 0
        for attempt in range(self.retry.max_retries + 1):
            delay: float | None = None
            tries = attempt + 1
            try:
                async with asyncio.timeout_at(deadline):
                    status, retry_after, raw = await self._exchange(method, path, body)
            except TimeoutError:
                last = TransportError(f"no complete answer from {url} within the "
                                      f"{self.deadline_s:g} s request deadline")
                break
            # connect, read timeout, dropped connection, a body that cannot be decoded
            except httpx.RequestError as exc:
                last = TransportError(f"{type(exc).__name__} talking to {url}: {exc}".rstrip(": "))
            except ExchangeError as exc:
                last = TransportError(f"{exc} talking to {url}")
            else:
                if status < 400:
                    return _decode_body(raw, url, status), attempt
                delay = parse_retry_after(retry_after, self.retry.retry_after_max_s)
                last = HTTPStatusError(status, raw.decode("utf-8", "replace"), url, delay)
                if status not in self.retry.retry_statuses or status in fail_fast:
                    raise last
            if attempt == self.retry.max_retries:
                break
            wait = self.retry.backoff(attempt) if delay is None else delay
            if deadline is not None and loop.time() + wait >= deadline:
                break  # the next try could not finish in time
            await asyncio.sleep(wait)
        assert last is not None
        if isinstance(last, TransportError | HTTPStatusError):
            last.args = (f"{last.args[0]} (after {tries} tr{'y' if tries == 1 else 'ies'})",)
        raise last

    def _limit(self, status: int) -> int:
        if status >= 400:
            return min(MAX_ERROR_BODY_BYTES, self.max_response_bytes)
        return self.max_response_bytes

    async def _exchange(self, method: str, path: str, body: dict[str, Any] | None
                        ) -> tuple[int, str | None, bytes]:
        """One try: the status, the ``Retry-After`` header and the body, read within the
        size cap (an error status's body only up to :data:`MAX_ERROR_BODY_BYTES`)."""
        if self._aio is not None:
            return await self._aio.exchange(method, f"{self.base_url}{path}", body,
                                            limit=self._limit, read=read_stream)
        assert self._http is not None
        request = (self._http.build_request(method, path) if body is None else
                   self._http.build_request(method, path, content=dumps_body(body),
                                            headers={"Content-Type": "application/json"}))
        response = await self._http.send(request, stream=True)
        try:
            status = response.status_code
            raw = await read_body(response, self._limit(status), truncate=status >= 400)
        finally:
            await response.aclose()
        return status, response.headers.get("retry-after"), raw


class _BodyTooLarge(MalformedResponseError):
    pass


async def read_body(response: httpx.Response, limit: int, *, truncate: bool = False) -> bytes:
    """The body of a streamed ``response``, decompressed (identity, gzip or deflate), with at
    most ``limit`` bytes on the wire and after decompression. Over the limit:
    :class:`MalformedResponseError` as soon as it is known (a gzip bomb is cut off at
    ``limit`` bytes of output), or the first ``limit`` bytes with ``truncate``."""
    if response.is_stream_consumed:  # built in memory (an injected transport): read already
        content = response.content
        if len(content) > limit and not truncate:
            raise MalformedResponseError(f"response body is larger than {limit} bytes")
        return content[:limit]
    return await read_stream(response.aiter_raw(), response.headers.get("content-encoding", ""),
                             response.headers.get("content-length", ""), limit, truncate)


async def read_stream(chunks: AsyncIterator[bytes], content_encoding: str, content_length: str,
                      limit: int, truncate: bool = False) -> bytes:
    """:func:`read_body` for any stream of body chunks and its two headers' values."""
    encodings = [e.strip().lower() for e in content_encoding.split(",")
                 if e.strip() and e.strip().lower() != "identity"]
    if len(encodings) > 1 or (encodings and encodings[0] not in ("gzip", "x-gzip", "deflate")):
        if truncate:
            return b""
        raise MalformedResponseError(f"response uses an encoding that was not asked for: "
                                     f"{content_encoding[:100]!r}")
    announced = content_length.strip()
    if not truncate and announced.isdigit() and len(announced) < 20 and int(announced) > limit:
        raise MalformedResponseError(f"response body is larger than {limit} bytes "
                                     f"(Content-Length: {announced})")
    decoder = _Inflater(encodings[0]) if encodings else None
    parts: list[bytes] = []
    received = produced = 0
    try:
        async for chunk in chunks:
            received += len(chunk)
            if received > limit:
                raise _BodyTooLarge(f"response body is larger than {limit} bytes")
            # asking for one byte more than the room left: getting it means over the limit,
            # and no more than that is ever inflated
            out = chunk if decoder is None else decoder.feed(chunk, limit - produced + 1)
            produced += len(out)
            parts.append(out)
            if produced > limit:
                raise _BodyTooLarge(f"response body is larger than {limit} bytes decompressed")
        if decoder is not None:
            tail = decoder.flush()
            produced += len(tail)
            parts.append(tail)
            if produced > limit:
                raise _BodyTooLarge(f"response body is larger than {limit} bytes decompressed")
    except _BodyTooLarge:
        if not truncate:
            raise
    except zlib.error as exc:
        if not truncate:
            raise MalformedResponseError(f"response body does not decompress: {exc}") from None
    return b"".join(parts)[:limit]


class _Inflater:
    """gzip or deflate (zlib-wrapped, or raw as some servers send it) with bounded output."""

    def __init__(self, encoding: str) -> None:
        self._raw_fallback = encoding == "deflate"
        wbits = zlib.MAX_WBITS | (16 if encoding in ("gzip", "x-gzip") else 0)
        self._d = zlib.decompressobj(wbits)

    def feed(self, data: bytes, max_out: int) -> bytes:
        """At most ``max_out`` bytes of output. Input left over when that is reached is
        dropped: the caller stops there (its limit is passed)."""
        try:
            out = self._d.decompress(data, max_out)
        except zlib.error:
            if not self._raw_fallback:
                raise
            self._raw_fallback = False
            self._d = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._d.decompress(data, max_out)
        self._raw_fallback = False
        return out

    def flush(self) -> bytes:
        """What the decompressor still holds (all input has been consumed by then)."""
        return self._d.flush()


def _decode_body(raw: bytes, url: str, status: int) -> Any:
    """A successful response's JSON, bounded: nesting, NaN/Infinity refused, lone
    surrogates (and invalid UTF-8) replaced by U+FFFD."""
    text = raw.decode("utf-8", "replace")
    try:
        return loads_bounded(text, max_depth=MAX_RESPONSE_DEPTH, surrogates="replace")
    except NestingError as exc:
        raise MalformedResponseError(f"{url} answered HTTP {status} with {exc}") from None
    except ValueError:
        raise MalformedResponseError(
            f"{url} answered HTTP {status} with a body that is not JSON: {text[:200]!r}"
        ) from None


def _token_count(value: Any, what: str) -> int:
    """A usage count: a non-negative whole number (clamped to :data:`MAX_TOKEN_COUNT`)."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{what} is {type(value).__name__}, not a number")
    if isinstance(value, str):
        value = int(value.strip()[:40])  # "12" is read; a 10,000-digit string is not
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{what} is {value!r}, not a whole number")
    count = int(value)
    if count < 0:
        raise ValueError(f"{what} is negative ({count})")  # would undo the budget
    return min(count, MAX_TOKEN_COUNT)


def _name(value: Any) -> str | None:
    return value[:MAX_NAME_CHARS] if isinstance(value, str) else None


def _choice(c: Any, position: int, *, chat: bool) -> GeneratedChoice | None:
    """One choice; None when it is not a completion (that sample's failure)."""
    if not isinstance(c, dict):
        return None
    index = c.get("index", position)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= MAX_TOKEN_COUNT:
        return None
    if chat:
        message = c.get("message")
        if not isinstance(message, dict) or "content" not in message:
            return None
        text = message["content"]
    elif "text" in c:
        text = c["text"]
    else:
        return None
    # every field checked above, so validating cannot fail; pydantic's validated constructor
    # is the cheaper one here (about 2 us against model_construct's 4 in pydantic 2.14)
    return GeneratedChoice(index=index, text=text if isinstance(text, str) else "",
                           finish_reason=_name(c.get("finish_reason")), logprobs=c.get("logprobs"))


def _parse_completion(data: Any, retries: int, *, chat: bool) -> Completion:
    try:
        if not isinstance(data, dict):
            raise TypeError(f"the body is a JSON {type(data).__name__}, not an object")
        raw_choices = data["choices"]
        if not isinstance(raw_choices, list):
            raise TypeError("`choices` is not a list")
        parsed = [_choice(c, i, chat=chat) for i, c in enumerate(raw_choices)]
        if parsed and all(c is None for c in parsed):
            raise KeyError("no choice holds a completion")
        choices = [c if c is not None else
                   GeneratedChoice(index=i, text="", finish_reason="malformed")
                   for i, c in enumerate(parsed)]
        usage_data = data.get("usage") or {}
        if not isinstance(usage_data, dict):
            raise TypeError("`usage` is not an object")
        usage = Usage(
            prompt_tokens=_token_count(usage_data.get("prompt_tokens"), "prompt_tokens"),
            completion_tokens=_token_count(usage_data.get("completion_tokens"),
                                           "completion_tokens"),
        )
        model = _name(data.get("model")) or ""
        choices.sort(key=lambda c: c.index)
        return Completion(model=model, choices=choices, usage=usage, retries=retries)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedResponseError(
            f"completion response is missing fields ({type(exc).__name__}: {exc})"
        ) from None
