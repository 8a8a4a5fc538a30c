"""One generator over many OpenAI-compatible endpoints: least-loaded routing, per-endpoint
health.

:class:`RoutingClient` holds one :class:`~llm_modulo.generator.OpenAICompatClient` per base
URL and satisfies the loop's :class:`~llm_modulo.generator.Generator` protocol:

- each request goes to the healthy endpoint with the fewest requests in flight (ties: round
  robin);
- a connection error, a timeout or a 5xx that the endpoint's client still gets after its
  own retries marks the endpoint down for a backoff that doubles with each consecutive
  failure (``backoff_base_s`` up to ``backoff_max_s``); the request that failed is sent to
  another healthy endpoint. The caller sees one request and one completion, so its budget
  counts it once; a failed try brings no usage back;
- a down endpoint is used again only after its backoff and a probe (``GET /v1/models``
  within ``probe_timeout_s``) that lists the model;
- with every endpoint down, :class:`~llm_modulo.errors.TransportError` names each endpoint
  and why it is down;
- every endpoint must serve the model: ``model=None`` takes the first model the first
  endpoint that answers lists; an endpoint that answers at the start without that model is
  a :class:`~llm_modulo.errors.UsageError` naming it and what it serves (one serving another
  model later is set aside, never used).

Anything else the endpoint answers (a 4xx, a malformed body) is the request's own failure,
raised as the single client raises it. :meth:`RoutingClient.stats` gives a typed snapshot of
the per-endpoint counters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from llm_modulo.errors import (
    GeneratorError,
    HTTPStatusError,
    TransportError,
    UsageError,
)
from llm_modulo.generator import MAX_NAME_CHARS, Completion, OpenAICompatClient, SamplingParams
from llm_modulo.structured import StructuredOutput
from llm_modulo.types import Message

#: How long a probe (``GET /v1/models``) may take, all tries included.
DEFAULT_PROBE_TIMEOUT_S = 10.0
DEFAULT_BACKOFF_BASE_S = 1.0
DEFAULT_BACKOFF_MAX_S = 60.0
#: Of an endpoint's model list, this many names are quoted in a mismatch message.
MAX_MODELS_QUOTED = 5
#: The all-down error names this many endpoints (then a count), each reason cut to
#: MAX_REASON_CHARS: the message lands in every failed problem's result.
MAX_ENDPOINTS_NAMED = 8
MAX_REASON_CHARS = 300


class EndpointStats(BaseModel):
    """One endpoint's counters at the moment :meth:`RoutingClient.stats` was called."""

    model_config = ConfigDict(frozen=True)

    base_url: str
    healthy: bool
    in_flight: int
    requests: int
    """Requests sent to it (each try the router made, not the client's own retries)."""
    failures: int
    """Requests that failed there (an error of any kind, cancellation excluded)."""
    marked_down: int
    """Times it was marked down (a failure while healthy, a failed probe)."""
    reason: str | None = None
    """Why it is down or set aside (None while healthy)."""


@dataclass
class _Endpoint:
    client: OpenAICompatClient
    healthy: bool = False  # until the first probe lists the model
    in_flight: int = 0
    requests: int = 0
    failures: int = 0
    marked_down: int = 0
    consecutive: int = 0  # failures since it was last healthy, for the backoff
    down_until: float = 0.0
    reason: str | None = "not probed yet"
    set_aside: bool = False  # serves another model: never used again
    probe: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return self.client.base_url


def _marks_down(exc: BaseException) -> bool:
    """A failure that says the endpoint (not the request) is broken."""
    if isinstance(exc, HTTPStatusError):
        return exc.status_code >= 500 or exc.status_code == 408
    return isinstance(exc, TransportError)


class RoutingClient:
    """A :class:`~llm_modulo.generator.Generator` over several endpoints; see the module
    docstring. ``clients`` are owned: :meth:`aclose` closes them."""

    def __init__(
        self,
        clients: Sequence[OpenAICompatClient],
        *,
        model: str | None = None,
        probe_timeout_s: float = DEFAULT_PROBE_TIMEOUT_S,
        backoff_base_s: float = DEFAULT_BACKOFF_BASE_S,
        backoff_max_s: float = DEFAULT_BACKOFF_MAX_S,
    ) -> None:
        if not clients:
            raise UsageError("a routing client needs at least one endpoint")
        urls = [c.base_url for c in clients]
        if len(set(urls)) != len(urls):
            raise UsageError(f"an endpoint is given twice: {', '.join(urls)}")
        if not (probe_timeout_s > 0 and backoff_base_s >= 0 and backoff_max_s >= backoff_base_s):
            raise UsageError("probe timeout must be positive and 0 <= backoff base <= max")
        self.model = model
        self.probe_timeout_s = probe_timeout_s
        self.backoff_base_s, self.backoff_max_s = backoff_base_s, backoff_max_s
        self._endpoints = [_Endpoint(c) for c in clients]
        self._next = 0  # round-robin cursor among equally loaded endpoints
        self._started = False
        self._start_lock = asyncio.Lock()

    @property
    def base_urls(self) -> list[str]:
        return [e.url for e in self._endpoints]

    @property
    def base_url(self) -> str:
        """The first endpoint's URL (what a component needing one URL, e.g. an LLM critic
        defaulting to the generator's endpoint, uses)."""
        return self._endpoints[0].url

    async def __aenter__(self) -> RoutingClient:
        try:
            await self.start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        probes = [e.probe for e in self._endpoints if e.probe is not None]
        for task in probes:
            task.cancel()
        await asyncio.gather(*probes, return_exceptions=True)
        await asyncio.gather(*(e.client.aclose() for e in self._endpoints))

    def stats(self) -> tuple[EndpointStats, ...]:
        """The per-endpoint counters now, in the order the endpoints were given."""
        return tuple(EndpointStats(
            base_url=e.url, healthy=e.healthy, in_flight=e.in_flight, requests=e.requests,
            failures=e.failures, marked_down=e.marked_down,
            reason=None if e.healthy else e.reason) for e in self._endpoints)

    # -- model and health ---------------------------------------------------------------

    async def start(self) -> None:
        """Probe every endpoint once (concurrently): resolve the model, mark the reachable
        ones healthy. An endpoint reachable now that does not serve the model is a
        :class:`UsageError`; an unreachable one is down until a later probe succeeds."""
        async with self._start_lock:
            if self._started:
                return
            listed = await asyncio.gather(*(self._list(e) for e in self._endpoints))
            if self.model is None:
                self.model = next((m[0] for m in listed if m), None)
            if self.model is not None:
                for endpoint, models in zip(self._endpoints, listed, strict=True):
                    if models is not None and self.model not in models:
                        raise UsageError(self._mismatch(endpoint, models))
            for endpoint, models in zip(self._endpoints, listed, strict=True):
                if models is not None and self.model is not None:
                    self._up(endpoint)
                elif models is not None:
                    self._down(endpoint, f"{endpoint.url}/models lists no model")
            self._started = True

    async def resolve_model(self) -> str | None:
        """The model every endpoint must serve (None while no endpoint has answered)."""
        await self.start()
        return self.model

    def _mismatch(self, endpoint: _Endpoint, models: list[str]) -> str:
        served = ", ".join(m[:MAX_NAME_CHARS] for m in models[:MAX_MODELS_QUOTED]) or "no model"
        more = f" and {len(models) - MAX_MODELS_QUOTED} more" if \
            len(models) > MAX_MODELS_QUOTED else ""
        return (f"endpoint {endpoint.url} does not serve model {self.model!r}: it serves "
                f"{served}{more}")

    async def _list(self, endpoint: _Endpoint) -> list[str] | None:
        """The endpoint's models; None (and the endpoint marked down) when it cannot say
        within the probe timeout."""
        try:
            async with asyncio.timeout(self.probe_timeout_s):
                models = await endpoint.client.list_models()
        except TimeoutError:
            self._down(endpoint, f"no model list within {self.probe_timeout_s:g} s")
            return None
        except GeneratorError as exc:
            self._down(endpoint, str(exc))
            return None
        return models

    def _up(self, endpoint: _Endpoint) -> None:
        endpoint.healthy, endpoint.reason, endpoint.consecutive = True, None, 0
        endpoint.client.model = self.model

    def _down(self, endpoint: _Endpoint, reason: str) -> None:
        """Mark ``endpoint`` down until its backoff is over (the caller marks a healthy
        endpoint or a failed probe: requests already in flight that fail there after it is
        down do not stretch its backoff)."""
        endpoint.healthy = False
        endpoint.reason = reason[:MAX_REASON_CHARS]
        endpoint.marked_down += 1
        endpoint.consecutive += 1
        wait = min(self.backoff_max_s, self.backoff_base_s * 2.0 ** (endpoint.consecutive - 1))
        endpoint.down_until = asyncio.get_running_loop().time() + wait

    async def _probe(self, endpoint: _Endpoint) -> None:
        try:
            models = await self._list(endpoint)
            if models is None:
                return
            if self.model is None and models:
                self.model = models[0]
            if self.model is not None and self.model not in models:
                endpoint.set_aside = True
                endpoint.reason = f"{self._mismatch(endpoint, models)} (set aside)"
                return
            self._up(endpoint)
        finally:
            endpoint.probe = None

    def _probe_due(self, now: float) -> list[asyncio.Task[None]]:
        """Start a probe of every down endpoint whose backoff is over; the probes running."""
        running = []
        for endpoint in self._endpoints:
            if endpoint.healthy or endpoint.set_aside:
                continue
            if endpoint.probe is None and now >= endpoint.down_until:
                endpoint.probe = asyncio.create_task(self._probe(endpoint))
            if endpoint.probe is not None:
                running.append(endpoint.probe)
        return running

    # -- routing ------------------------------------------------------------------------

    def _pick(self, tried: set[int]) -> int | None:
        """The least-loaded healthy endpoint not tried yet (ties: round robin)."""
        n = len(self._endpoints)
        best: int | None = None
        for step in range(n):
            i = (self._next + step) % n
            e = self._endpoints[i]
            if i in tried or not e.healthy:
                continue
            if best is None or e.in_flight < self._endpoints[best].in_flight:
                best = i
        if best is not None:
            self._next = (best + 1) % n
        return best

    async def _choose(self, tried: set[int]) -> int:
        index = self._pick(tried)
        probes = set(self._probe_due(asyncio.get_running_loop().time()))
        while index is None and probes:  # nothing healthy: the first probe to come back
            _, pending = await asyncio.wait(probes, return_when=asyncio.FIRST_COMPLETED)
            probes = set(pending)
            index = self._pick(tried)
        if index is None:
            raise TransportError(self._all_down())
        return index

    def _all_down(self) -> str:
        now = asyncio.get_running_loop().time()
        parts = []
        for e in self._endpoints[:MAX_ENDPOINTS_NAMED]:
            if e.healthy:
                parts.append(f"{e.url} (failed this request)")
            elif e.set_aside:
                parts.append(f"{e.url} ({e.reason})")
            else:
                parts.append(f"{e.url} ({e.reason}; next probe in "
                             f"{max(0.0, e.down_until - now):.1f} s)")
        if len(self._endpoints) > MAX_ENDPOINTS_NAMED:
            parts.append(f"and {len(self._endpoints) - MAX_ENDPOINTS_NAMED} more endpoints")
        return f"no generator endpoint can take the request: {'; '.join(parts)}"

    async def generate(
        self,
        messages: list[Message],
        params: SamplingParams,
        structured: StructuredOutput | None = None,
    ) -> Completion:
        """One chat completion from the least-loaded healthy endpoint, tried on the others
        when an endpoint fails (connection, timeout, 5xx)."""
        if not self._started:
            await self.start()
        tried: set[int] = set()
        while True:
            index = await self._choose(tried)
            tried.add(index)
            endpoint = self._endpoints[index]
            endpoint.in_flight += 1
            endpoint.requests += 1
            try:
                return await endpoint.client.chat(messages, params, structured)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                endpoint.failures += 1
                if not _marks_down(exc):
                    raise
                if endpoint.healthy:
                    self._down(endpoint, str(exc))
            finally:
                endpoint.in_flight -= 1
