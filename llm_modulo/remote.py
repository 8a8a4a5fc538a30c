"""``RemoteVerifier``: the :class:`~llm_modulo.verifier.Verifier` interface over HTTP, against
``llm-modulo serve-verifiers`` (a fleet behind one URL).

The seam. A local verifier's :meth:`~llm_modulo.verifier.Verifier.check` runs in a worker
process; a remote one must not (a worker blocked on a socket, one request per candidate,
under a check deadline that knows nothing of retries). So ``RemoteVerifier`` overrides the
async entry points: :meth:`averify_many` sends the pairs from the event loop, batched (one
request per ``max_batch`` candidates, each problem sent once per request), and
:meth:`verify` / :meth:`verify_many` run that on a private event loop. It sets
``remote = True``, so :func:`llm_modulo.judge.judge` (the loop's and the reward functions'
path) reads the replies in the local pool and hands the candidates here, instead of running
``check`` in a worker. :meth:`check` still works where a caller insists on a worker (one
blocking request).

What is sent is the candidate's reply text (``candidate.raw``) and the problem's payload; the
service reads both with the same domain. Its reading must agree with the local one: a result
whose ``problem_hash`` differs from ``problem.hash``, or whose answer differs from
``candidate.answer``, is UNKNOWN (a different domain version on the server, or a candidate
not made by the domain from its ``raw``), never trusted.

Failures: a connection error, a timeout, a 429 or 5xx after the retries (the generator's
:class:`~llm_modulo.generator.RetryPolicy`, ``Retry-After`` honoured, all within
``deadline_s``), any other error status, or a reply that is not a valid verify response
(bounded in size and nesting, validated with pydantic, one result per candidate) make each
affected candidate UNKNOWN (critique kind ``unavailable``) with the reason, never REJECT.
The verdict's ``verifier``, ``verifier_version`` and ``sound`` are the service's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import time
from collections.abc import Coroutine, Sequence
from typing import Any, ClassVar, TypeVar

import httpx
from pydantic import ValidationError

from llm_modulo.bounds import NestingError, loads_bounded
from llm_modulo.errors import LLMModuloError, UsageError
from llm_modulo.generator import RetryPolicy, checked_base_url, read_body
from llm_modulo.pool import WorkerPool
from llm_modulo.service.schema import ItemResult, VerifyResponse
from llm_modulo.types import Candidate, Critique, Problem, Status, Verdict, canonical_json
from llm_modulo.verifier import CheckResult, Verifier

#: The environment variable read for the service's bearer token when none is given.
TOKEN_ENV = "LLM_MODULO_VERIFIER_TOKEN"
#: Largest reply read (a verdict is a few KB; 256 of them fit many times over).
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
#: Deepest nesting of a reply (critique data included).
MAX_RESPONSE_DEPTH = 64
#: Most characters of an error reply quoted in a critique.
MAX_REASON_CHARS = 300

T = TypeVar("T")


class _Failed(Exception):
    """Why a request gave no usable verdicts (the message becomes the critique)."""


def _run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from synchronous code, even inside a running event loop
    (then on a helper thread with its own loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        return executor.submit(asyncio.run, coro).result()


class RemoteVerifier(Verifier):
    """Verifies through a verification service at ``base_url`` (e.g.
    ``http://127.0.0.1:8100``); any domain the service serves (``problem.domain``)."""

    name: ClassVar[str] = "remote"
    version: ClassVar[str] = "1"
    remote: ClassVar[bool] = True
    #: The deadline of :meth:`check` when a caller runs it in a worker.
    timeout_s: ClassVar[float] = 120.0
    memory_mb: ClassVar[int | None] = None

    def __init__(self, base_url: str, *, token: str | None = None,
                 retry: RetryPolicy | None = None, deadline_s: float = 90.0,
                 server_deadline_s: float | None = None, max_batch: int = 256,
                 concurrency: int = 4, max_response_bytes: int = MAX_RESPONSE_BYTES,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = checked_base_url(base_url)
        token = token or os.environ.get(TOKEN_ENV) or None
        if token is not None and not (token.isascii() and token.isprintable()):
            raise UsageError("the verifier token must be printable ASCII")
        if not deadline_s > 0 or max_batch < 1 or concurrency < 1 or max_response_bytes < 1:
            raise UsageError("deadline_s, max_batch, concurrency and max_response_bytes must "
                             "be positive")
        self.token = token
        self.retry = retry or RetryPolicy(max_retries=3, backoff_max_s=5.0,
                                          retry_after_max_s=10.0)
        self.deadline_s = deadline_s
        self.server_deadline_s = server_deadline_s
        self.max_batch = max_batch
        self.concurrency = concurrency
        self.max_response_bytes = max_response_bytes
        self.transport = transport
        self._http: httpx.AsyncClient | None = None
        self._http_loop: asyncio.AbstractEventLoop | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_http=None, _http_loop=None, transport=None)
        return state

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "base_url": self.base_url}

    # -- the entry points ------------------------------------------------------------------

    async def averify_many(self, pairs: Sequence[tuple[Problem, Candidate]], *,
                           timeout_s: float | None = None, pool: WorkerPool | None = None
                           ) -> list[Verdict]:
        """Verdicts for ``pairs``, in order; ``timeout_s`` bounds the whole call (default
        ``deadline_s``); ``pool`` is not used. Never raises."""
        if not pairs:
            return []
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else self.deadline_s)
        chunks = [list(pairs[i:i + self.max_batch])
                  for i in range(0, len(pairs), self.max_batch)]
        gate = asyncio.Semaphore(self.concurrency)

        async def one(chunk: list[tuple[Problem, Candidate]]) -> list[Verdict]:
            async with gate:
                return await self._decide(chunk, deadline)

        done = await asyncio.gather(*(one(c) for c in chunks))
        return [v for chunk in done for v in chunk]

    def verify(self, problem: Problem, candidate: Candidate, *, timeout_s: float | None = None,
               pool: WorkerPool | None = None) -> Verdict:
        return self.verify_many([(problem, candidate)], timeout_s=timeout_s)[0]

    def verify_many(self, pairs: Sequence[tuple[Problem, Candidate]], *,
                    timeout_s: float | None = None, pool: WorkerPool | None = None
                    ) -> list[Verdict]:
        return _run_blocking(self._once(pairs, timeout_s))

    async def _once(self, pairs: Sequence[tuple[Problem, Candidate]],
                    timeout_s: float | None) -> list[Verdict]:
        try:
            return await self.averify_many(pairs, timeout_s=timeout_s)
        finally:
            await self.aclose()

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        """One blocking request (for callers that run checks in a worker)."""
        verdict = self.verify(problem, candidate)
        return CheckResult(verdict.status, list(verdict.critiques), dict(verdict.evidence))

    async def aclose(self) -> None:
        """Close the HTTP client of the running event loop, if any."""
        http, self._http, self._http_loop = self._http, None, None
        if http is not None:
            await http.aclose()

    # -- one request -------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._http is None or self._http_loop is not loop:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            self._http = httpx.AsyncClient(
                base_url=self.base_url, headers=headers, transport=self.transport,
                timeout=httpx.Timeout(self.deadline_s, connect=10.0),
                limits=httpx.Limits(max_connections=max(8, self.concurrency)))
            self._http_loop = loop
        return self._http

    async def _decide(self, pairs: list[tuple[Problem, Candidate]], deadline: float
                      ) -> list[Verdict]:
        start = time.monotonic()
        body, where = self._body(pairs, deadline)
        try:
            data = await self._post(body, deadline)
            response = VerifyResponse.model_validate(data)
        except _Failed as exc:
            return [self._failed(str(exc), start) for _ in pairs]
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            loc = ".".join(str(p) for p in first["loc"])
            return [self._failed(f"the service's reply is not a verify response ({loc}: "
                                  f"{first['msg']})", start) for _ in pairs]
        found: dict[tuple[int, int], ItemResult] = {}
        for result in response.results:
            found.setdefault((result.item, result.completion), result)
        out = []
        for (problem, candidate), key in zip(pairs, where, strict=True):
            got = found.get(key)
            out.append(self._failed("the service's reply has no result for this candidate",
                                    start) if got is None
                       else self._served(problem, candidate, got, start))
        return out

    def _body(self, pairs: list[tuple[Problem, Candidate]], deadline: float
              ) -> tuple[dict[str, Any], list[tuple[int, int]]]:
        """The request (each problem once, with its candidates' texts) and where each pair's
        result will be: (item, completion)."""
        items: list[dict[str, Any]] = []
        index: dict[str, int] = {}
        where = []
        for problem, candidate in pairs:
            key = problem.hash
            if key not in index:
                index[key] = len(items)
                items.append({"domain": problem.domain, "problem": problem.payload,
                              "completions": []})
            item = items[index[key]]
            where.append((index[key], len(item["completions"])))
            item["completions"].append(candidate.raw)
        left = max(0.001, deadline - time.monotonic())
        asked = left if self.server_deadline_s is None else min(left, self.server_deadline_s)
        return {"items": items, "deadline_s": asked}, where

    async def _post(self, body: dict[str, Any], deadline: float) -> Any:
        """The reply's JSON, after the retries; :class:`_Failed` with the reason otherwise."""
        url = f"{self.base_url}/v1/verify"
        last = "no try was made"
        tries = 0
        for attempt in range(self.retry.max_retries + 1):
            tries = attempt + 1
            left = deadline - time.monotonic()
            if left <= 0:
                break
            delay: float | None = None
            try:
                async with asyncio.timeout(left):
                    status, response, raw = await self._exchange(body)
            except TimeoutError:
                last = f"no complete answer from {url} in time"
                break
            except (httpx.RequestError, LLMModuloError) as exc:
                last = f"{type(exc).__name__} talking to {url}: {exc}"[:MAX_REASON_CHARS]
            else:
                if status < 300:
                    return self._decode(raw)
                reason = self._error_reason(raw)
                last = f"the service answered HTTP {status}: {reason}"
                if status not in self.retry.retry_statuses:
                    break
                delay = self.retry.retry_after(response)
            if attempt == self.retry.max_retries:
                break
            wait = self.retry.backoff(attempt) if delay is None else delay
            if time.monotonic() + wait >= deadline:
                break
            await asyncio.sleep(wait)
        raise _Failed(f"{last} (after {tries} tr{'y' if tries == 1 else 'ies'})")

    async def _exchange(self, body: dict[str, Any]) -> tuple[int, httpx.Response, bytes]:
        http = self._client()
        request = http.build_request("POST", "/v1/verify", json=body)
        response = await http.send(request, stream=True)
        try:
            raw = await read_body(response, self.max_response_bytes,
                                  truncate=response.status_code >= 300)
        finally:
            await response.aclose()
        return response.status_code, response, raw

    def _decode(self, raw: bytes) -> Any:
        try:
            return loads_bounded(raw.decode("utf-8", "replace"), max_depth=MAX_RESPONSE_DEPTH,
                                 surrogates="replace")
        except NestingError as exc:
            raise _Failed(f"the service's reply {exc}") from None
        except ValueError:
            raise _Failed("the service's reply is not JSON") from None

    @staticmethod
    def _error_reason(raw: bytes) -> str:
        text = raw[:4096].decode("utf-8", "replace")
        try:
            detail = loads_bounded(text, max_depth=4, surrogates="replace").get("detail")
        except Exception:
            detail = None
        reason = detail if isinstance(detail, str) else text
        return " ".join(reason.split())[:MAX_REASON_CHARS] or "(no reason given)"

    # -- verdicts ------------------------------------------------------------------------------

    def _served(self, problem: Problem, candidate: Candidate, result: ItemResult,
                 start: float) -> Verdict:
        if result.problem_hash != problem.hash:
            return self._failed("the service read the problem differently (its hash differs:"
                                 " another domain version?)", start)
        local = None if candidate.answer is None else canonical_json(candidate.answer)
        served = None if result.answer is None else canonical_json(result.answer)
        if local != served:
            return self._failed("the service read a different answer from the reply than "
                                 "the local domain did", start)
        return Verdict(status=result.status, critiques=result.critiques,
                       verifier=result.verifier, verifier_version=result.verifier_version,
                       sound=result.sound, elapsed_s=time.monotonic() - start,
                       evidence={"service": self.base_url})

    def _failed(self, reason: str, start: float) -> Verdict:
        return Verdict(status=Status.UNKNOWN,
                       critiques=[Critique(kind="unavailable", message=reason)],
                       verifier=self.name, verifier_version=self.version, sound=self.sound,
                       elapsed_s=time.monotonic() - start, evidence={"service": self.base_url})
