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
  within ``probe_timeout_s``) that lists the model; the probe is the client's own background
  task (one per down endpoint, started when the backoff is over, cancelled by
  :meth:`RoutingClient.aclose`), so an endpoint comes back without a request having to ask
  for it;
- a 429 (rate-limited, queue full) sends the request at once to another healthy endpoint
  that is not rate-limited itself, and makes the endpoint that answered it the last choice
  for its ``Retry-After`` (capped at ``rate_limit_max_s``; absent or unreadable: the
  backoff); it is not marked down (it is alive). When no other endpoint can take the
  request, it goes to the endpoint whose limit ends first and that endpoint's client waits
  and retries as a single client does;
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
#: The longest a 429's Retry-After keeps an endpoint the last choice.
DEFAULT_RATE_LIMIT_MAX_S = 60.0
#: The background probe of a down endpoint never runs more often than this (a zero backoff
#: would otherwise probe in a tight loop).
MIN_PROBE_INTERVAL_S = 0.01
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
    rate_limited: int = 0
    """Times it answered 429 to a request (that request then went elsewhere or waited)."""
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
    probe: asyncio.Task[None] | None = None  # the background watch while it is down
    probing: bool = False  # a probe request is out now
    probes: int = 0  # background probes finished (a request waits for one of them at most)
    rate_limited: int = 0
    consecutive_limited: int = 0  # 429s without Retry-After since its last success
    limited_until: float = 0.0  # a 429 asked it to be left alone until then

    @property
    def url(self) -> str:
        return self.client.base_url


_NO_STATUSES: frozenset[int] = frozenset()
_RATE_LIMITED = frozenset({429})


def _retrieve(task: asyncio.Task[None]) -> None:
    """A background task's end: its exception (none is expected) is taken, never logged
    as 'Task exception was never retrieved'."""
    if not task.cancelled():
        task.exception()


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
        rate_limit_max_s: float = DEFAULT_RATE_LIMIT_MAX_S,
    ) -> None:
        if not clients:
            raise UsageError("a routing client needs at least one endpoint")
        urls = [c.base_url for c in clients]
        if len(set(urls)) != len(urls):
            raise UsageError(f"an endpoint is given twice: {', '.join(urls)}")
        if not (probe_timeout_s > 0 and backoff_base_s >= 0 and backoff_max_s >= backoff_base_s):
            raise UsageError("probe timeout must be positive and 0 <= backoff base <= max")
        if not rate_limit_max_s >= 0:
            raise UsageError("the rate-limit cap must be 0 or more seconds")
        self.rate_limit_max_s = rate_limit_max_s
        self.model = model
        self.probe_timeout_s = probe_timeout_s
        self.backoff_base_s, self.backoff_max_s = backoff_base_s, backoff_max_s
        self._endpoints = [_Endpoint(c) for c in clients]
        self._next = 0  # round-robin cursor among equally loaded endpoints
        self._started = False
        self._closed = False
        self._start_lock = asyncio.Lock()
        self._probed = asyncio.Event()  # set (and replaced) after every background probe

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
        self._closed = True
        probes = [e.probe for e in self._endpoints if e.probe is not None]
        for task in probes:
            task.cancel()
        await asyncio.gather(*probes, return_exceptions=True)
        self._wake()  # a request waiting for a probe sees the client closed
        await asyncio.gather(*(e.client.aclose() for e in self._endpoints))

    def stats(self) -> tuple[EndpointStats, ...]:
        """The per-endpoint counters now, in the order the endpoints were given."""
        return tuple(EndpointStats(
            base_url=e.url, healthy=e.healthy, in_flight=e.in_flight, requests=e.requests,
            failures=e.failures, marked_down=e.marked_down, rate_limited=e.rate_limited,
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
        endpoint.down_until = asyncio.get_running_loop().time() + self._backoff(
            endpoint.consecutive)
        self._watch(endpoint)

    def _backoff(self, failures: int) -> float:
        return float(min(self.backoff_max_s, self.backoff_base_s * 2.0 ** (failures - 1)))

    def _watch(self, endpoint: _Endpoint) -> None:
        """Make sure a down endpoint has its background watch (one at a time)."""
        if self._closed or endpoint.set_aside:
            return
        if endpoint.probe is None or endpoint.probe.done():
            endpoint.probe = asyncio.create_task(self._recover(endpoint),
                                                 name=f"probe {endpoint.url}")
            endpoint.probe.add_done_callback(_retrieve)

    async def _recover(self, endpoint: _Endpoint) -> None:
        """The background watch of a down endpoint: wait out its backoff, probe it, again
        until it is up or set aside (cancelled by :meth:`aclose`)."""
        loop = asyncio.get_running_loop()
        while not (endpoint.healthy or endpoint.set_aside or self._closed):
            await asyncio.sleep(max(MIN_PROBE_INTERVAL_S, endpoint.down_until - loop.time()))
            endpoint.probing = True
            try:
                await self._probe(endpoint)
            except Exception as exc:  # not expected: keep watching, say why in the stats
                self._down(endpoint, f"probe failed: {type(exc).__name__}: {exc}")
            finally:
                endpoint.probing = False
                endpoint.probes += 1
                self._wake()

    def _wake(self) -> None:
        """Wake every request waiting for a probe to come back."""
        event, self._probed = self._probed, asyncio.Event()
        event.set()

    async def _probe(self, endpoint: _Endpoint) -> None:
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

    def _limit(self, endpoint: _Endpoint, retry_after: float | None) -> None:
        """A 429 from ``endpoint``: the last choice for the ``Retry-After`` it asked (capped),
        for the backoff when it named none."""
        endpoint.rate_limited += 1
        if retry_after is None:
            endpoint.consecutive_limited += 1
            wait = self._backoff(endpoint.consecutive_limited)
        else:
            wait = min(retry_after, self.rate_limit_max_s)
        until = asyncio.get_running_loop().time() + wait
        endpoint.limited_until = max(endpoint.limited_until, until)

    # -- routing ------------------------------------------------------------------------

    def _pick(self, tried: set[int], now: float) -> int | None:
        """The least-loaded healthy endpoint not tried yet (ties: round robin); one that a
        429 is keeping the last choice only when every other is too (then the one whose
        limit ends first)."""
        n = len(self._endpoints)
        best: int | None = None
        best_limited, best_until, best_load = True, 0.0, 0
        for step in range(n):
            i = (self._next + step) % n
            e = self._endpoints[i]
            if i in tried or not e.healthy:
                continue
            limited = e.limited_until > now
            until = e.limited_until if limited else 0.0
            if best is None or (limited, until, e.in_flight) < (best_limited, best_until,
                                                               best_load):
                best, best_limited, best_until, best_load = i, limited, until, e.in_flight
        if best is not None:
            self._next = (best + 1) % n
        return best

    def _alternative(self, index: int, tried: set[int], now: float) -> bool:
        """Whether another endpoint could take a request at once, were ``index`` to say 429."""
        for j, e in enumerate(self._endpoints):
            if e.healthy and e.limited_until <= now and j != index and j not in tried:
                return True
        return False

    async def _choose(self, tried: set[int]) -> int:
        loop = asyncio.get_running_loop()
        index = self._pick(tried, loop.time())
        #: per endpoint waited for, its finished probes when this request began to wait:
        #: a request waits for one probe of each endpoint at most (with a zero backoff a
        #: down endpoint is due again at once, and the request would wait forever)
        waited: dict[int, int] = {}
        while index is None:  # nothing healthy: wait for a probe that is due to come back
            if self._closed:
                raise TransportError("the routing client is closed")
            now = loop.time()
            due = [i for i, e in enumerate(self._endpoints)
                   if not (e.healthy or e.set_aside) and (e.probing or now >= e.down_until)
                   and waited.get(i, e.probes) == e.probes]
            if not due:
                raise TransportError(self._all_down())
            for i in due:
                waited.setdefault(i, self._endpoints[i].probes)
                self._watch(self._endpoints[i])  # (it has one; this only makes sure)
            await self._probed.wait()
            index = self._pick(tried, loop.time())
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
        when an endpoint fails (connection, timeout, 5xx) or says 429 while another could
        take it at once."""
        if not self._started:
            await self.start()
        loop = asyncio.get_running_loop()
        tried: set[int] = set()  # endpoints that failed this request (not by a 429)
        handoffs = 0  # 429s this request moved away from: at most as many as endpoints
        while True:
            index = await self._choose(tried)
            endpoint = self._endpoints[index]
            fail_fast = _RATE_LIMITED if handoffs < len(self._endpoints) and \
                self._alternative(index, tried, loop.time()) else _NO_STATUSES
            endpoint.in_flight += 1
            endpoint.requests += 1
            try:
                completion = await endpoint.client.chat(messages, params, structured,
                                                        fail_fast=fail_fast)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                endpoint.failures += 1
                if isinstance(exc, HTTPStatusError) and exc.status_code == 429:
                    self._limit(endpoint, exc.retry_after)
                    if not fail_fast:
                        raise  # its client waited and retried as a single client does
                    handoffs += 1
                    continue  # alive: not tried, not down, only the last choice for now
                if not _marks_down(exc):
                    raise
                tried.add(index)
                if endpoint.healthy:
                    self._down(endpoint, str(exc))
            else:
                endpoint.consecutive_limited = 0
                return completion
            finally:
                endpoint.in_flight -= 1
