"""Async client for OpenAI-compatible endpoints (vLLM first), over httpx.

Transport retries live here and only here: connection errors, read timeouts,
HTTP 429 (honouring ``Retry-After``) and 5xx are retried with exponential
backoff and jitter. Re-asking the model after a verifier rejects an answer is
the loop's business, not the client's.

The httpx transport is a constructor argument, so tests can inject one.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import random
import time
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, Field

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


class SamplingParams(BaseModel):
    """Sampling parameters sent with every request of a round."""

    n: int = Field(default=1, ge=1, le=128)
    temperature: float = Field(default=1.0, ge=0.0, le=5.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int | None = None
    max_tokens: int = Field(default=256, ge=1)
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
        value = response.headers.get("retry-after")
        if value is None:
            return None
        try:
            seconds = float(value)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value) if value else None
            if parsed is None:
                return None
            seconds = parsed.timestamp() - time.time()
        return max(0.0, min(seconds, self.retry_after_max_s))


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
    ) -> None:
        self.base_url = checked_base_url(base_url)
        self.model = model
        self.retry = retry or RetryPolicy()
        key = api_key or _api_key()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout,
            transport=transport or ShardedTransport(max_connections=max_connections),
        )
        self._model_lock = asyncio.Lock()

    async def __aenter__(self) -> OpenAICompatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- requests ---------------------------------------------------------------------

    async def list_models(self) -> list[str]:
        data, _ = await self._request("GET", "/models")
        try:
            return [str(m["id"]) for m in data["data"]]
        except (KeyError, TypeError) as exc:
            raise MalformedResponseError(f"/models answer has no model list: {exc!r}") from None

    async def resolve_model(self) -> str:
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
    ) -> Completion:
        body: dict[str, Any] = {
            "model": await self.resolve_model(),
            "messages": [m.model_dump() for m in messages],
            **params.chat_fields(),
        }
        if structured is not None:
            body.update(structured.request_fields())
        data, retries = await self._request("POST", "/chat/completions", body)
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
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[Any, int]:
        url = f"{self.base_url}{path}"
        last: Exception | None = None
        for attempt in range(self.retry.max_retries + 1):
            delay: float | None = None
            try:
                response = await self._http.request(method, path, json=body)
            # connect, read timeout, dropped connection; also a body that fails to decode
            except httpx.RequestError as exc:
                last = TransportError(f"{type(exc).__name__} talking to {url}: {exc}".rstrip(": "))
            else:
                if response.status_code < 400:
                    try:
                        return response.json(), attempt
                    except ValueError:
                        raise MalformedResponseError(
                            f"{url} answered HTTP {response.status_code} with a body that is "
                            f"not JSON: {response.text[:200]!r}"
                        ) from None
                last = HTTPStatusError(response.status_code, response.text, url)
                if response.status_code not in self.retry.retry_statuses:
                    raise last
                delay = self.retry.retry_after(response)
            if attempt == self.retry.max_retries:
                break
            await asyncio.sleep(self.retry.backoff(attempt) if delay is None else delay)
        assert last is not None
        if isinstance(last, TransportError | HTTPStatusError):
            last.args = (f"{last.args[0]} (after {self.retry.max_retries + 1} tries)",)
        raise last


def _parse_completion(data: Any, retries: int, *, chat: bool) -> Completion:
    try:
        choices = []
        for i, c in enumerate(data["choices"]):
            text = c["message"]["content"] if chat else c["text"]
            choices.append(GeneratedChoice(
                index=int(c.get("index", i)),
                text=text if isinstance(text, str) else "",
                finish_reason=c.get("finish_reason"),
                logprobs=c.get("logprobs"),
            ))
        usage_data = data.get("usage") or {}
        usage = Usage(
            prompt_tokens=int(usage_data.get("prompt_tokens") or 0),
            completion_tokens=int(usage_data.get("completion_tokens") or 0),
        )
        model = str(data.get("model", ""))
        if usage.prompt_tokens < 0 or usage.completion_tokens < 0:
            raise ValueError(f"negative token counts {usage_data}")  # would undo the budget
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedResponseError(
            f"completion response is missing fields ({type(exc).__name__}: {exc})"
        ) from None
    choices.sort(key=lambda c: c.index)
    return Completion(model=model, choices=choices, usage=usage, retries=retries)
