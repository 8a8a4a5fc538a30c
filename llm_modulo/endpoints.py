"""Where the generator is: base URLs read from flags and settings, and :class:`GeneratorSpec`,
the one factory every command (and a Ray actor, from a pickled spec) builds its generator
with.

A base URL value may name several endpoints separated by commas or whitespace
(``http://a:8000/v1,http://b:8000/v1``); each must be an http(s) URL with a host, and none may
be given twice. One endpoint builds a plain
:class:`~llm_modulo.generator.OpenAICompatClient`; several build a
:class:`~llm_modulo.routing.RoutingClient`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llm_modulo.errors import UsageError

if TYPE_CHECKING:
    from llm_modulo.generator import OpenAICompatClient
    from llm_modulo.routing import RoutingClient

#: The most endpoints one generator routes over.
MAX_ENDPOINTS = 256
#: The longest base URL value read (all its URLs together).
MAX_BASE_URL_CHARS = 64 * 1024
_SEPARATORS = re.compile(r"[,\s]+")


def parse_base_urls(values: str | Iterable[str]) -> list[str]:
    """The endpoints named by ``values`` (each may hold several, separated by commas or
    whitespace), checked and without trailing slashes. Nothing usable, a URL that can never
    work, one given twice or more than :data:`MAX_ENDPOINTS`: a one-line
    :class:`UsageError`."""
    from llm_modulo.generator import checked_base_url

    items = [values] if isinstance(values, str) else list(values)
    if sum(len(v) for v in items) > MAX_BASE_URL_CHARS:
        raise UsageError(f"the base URLs hold more than {MAX_BASE_URL_CHARS} characters")
    urls: list[str] = []
    for value in items:
        for piece in _SEPARATORS.split(value):
            if not piece:
                continue
            url = checked_base_url(piece)
            if url in urls:
                raise UsageError(f"base URL {url!r} is given twice")
            urls.append(url)
    if not urls:
        raise UsageError("no base URL given (an empty value); e.g. http://127.0.0.1:8000/v1")
    if len(urls) > MAX_ENDPOINTS:
        raise UsageError(f"{len(urls)} base URLs: at most {MAX_ENDPOINTS} endpoints")
    return urls


def base_url_text(values: str | Iterable[str] | None) -> str | None:
    """The endpoints of ``values`` as one comma-separated value (what settings that hold one
    string, e.g. a study's or a self-improvement run's ``base_url``, carry); None for none."""
    if values is None or (not isinstance(values, str) and not list(values)):
        return None
    return ",".join(parse_base_urls(values))


class GeneratorSpec(BaseModel):
    """How to build the generator: picklable (plain data, no key, no connection), so a
    worker process or a Ray actor builds the same generator as the command line.

    ``api_key_env`` names the environment variable holding the key (read by :meth:`build`,
    where the generator runs); None reads ``LLM_MODULO_API_KEY``, then ``OPENAI_API_KEY``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_urls: list[str] = Field(min_length=1, max_length=MAX_ENDPOINTS)
    model: str | None = Field(default=None, max_length=1024)
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
    deadline_s: float | None = Field(default=600.0, gt=0.0)
    """One request in all (every try, every wait, the whole answer), per endpoint."""
    timeout_s: float = Field(default=300.0, gt=0.0)
    connect_timeout_s: float = Field(default=10.0, gt=0.0)
    max_connections: int = Field(default=512, ge=1, le=65536)
    """Connections per endpoint (the requests one endpoint may have in flight)."""
    max_retries: int | None = Field(default=None, ge=0, le=100)
    """The client's transport retries per endpoint (None: :class:`RetryPolicy`'s default)."""
    probe_timeout_s: float = Field(default=10.0, gt=0.0)
    backoff_base_s: float = Field(default=1.0, ge=0.0)
    backoff_max_s: float = Field(default=60.0, ge=0.0)

    @field_validator("base_urls", mode="before")
    @classmethod
    def _urls(cls, value: Any) -> Any:
        if isinstance(value, str) or (isinstance(value, list | tuple) and
                                      all(isinstance(v, str) for v in value)):
            return parse_base_urls(value)  # a UsageError is one line, not a ValidationError
        return value

    def build(self) -> OpenAICompatClient | RoutingClient:
        """The generator: a plain client for one endpoint, a routing client for several.
        Use it as an async context manager (it owns HTTP connections)."""
        import httpx

        from llm_modulo.generator import OpenAICompatClient, RetryPolicy
        from llm_modulo.routing import RoutingClient

        api_key = None
        if self.api_key_env is not None:
            api_key = os.environ.get(self.api_key_env)
            if not api_key:
                raise UsageError(f"the API key variable {self.api_key_env} is not set")
        retry = RetryPolicy() if self.max_retries is None else \
            RetryPolicy(max_retries=self.max_retries)
        timeout = httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s)
        clients = [OpenAICompatClient(url, model=self.model, api_key=api_key, timeout=timeout,
                                      retry=retry, max_connections=self.max_connections,
                                      deadline_s=self.deadline_s)
                   for url in self.base_urls]
        if len(clients) == 1:
            return clients[0]
        return RoutingClient(clients, model=self.model, probe_timeout_s=self.probe_timeout_s,
                             backoff_base_s=self.backoff_base_s,
                             backoff_max_s=max(self.backoff_max_s, self.backoff_base_s))
