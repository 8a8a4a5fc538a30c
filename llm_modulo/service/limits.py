"""The service's bounds and its bearer token.

Every bound has a default that a small machine can honour; ``llm-modulo serve-verifiers``
flags change them.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

from llm_modulo.errors import UsageError

#: Most bytes of one request body (counted while it is read, before any JSON parsing).
MAX_BODY_BYTES = 8 * 1024 * 1024
#: Most completions in one request.
MAX_BATCH = 256
#: Deepest JSON nesting of a request body (the problems' own nesting included).
MAX_DEPTH = 64
#: Most completions admitted (queued or being checked) at once; past it: 429.
MAX_QUEUE = 1024
#: The longest a request may take; unfinished checks are UNKNOWN then.
DEADLINE_S = 60.0
#: After a shutdown signal, how long in-flight checks may still take before they are UNKNOWN.
DRAIN_S = 5.0
#: The wait a 429 asks for (seconds, the Retry-After header).
RETRY_AFTER_S = 1
#: Shortest bearer token accepted.
MIN_TOKEN_CHARS = 16


@dataclass(frozen=True)
class ServiceLimits:
    """How much the service takes and how long it waits."""

    max_body_bytes: int = MAX_BODY_BYTES
    max_batch: int = MAX_BATCH
    max_depth: int = MAX_DEPTH
    max_queue: int = MAX_QUEUE
    deadline_s: float = DEADLINE_S
    drain_s: float = DRAIN_S
    retry_after_s: int = RETRY_AFTER_S

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_batch", "max_depth", "max_queue", "retry_after_s"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name.replace('_', '-')} must be at least 1")
        if not 0 < self.deadline_s <= 86400 or not 0 <= self.drain_s <= 3600:
            raise UsageError("the deadline must be in (0, 86400] s and the drain in [0, 3600] s")
        if self.max_batch > self.max_queue:
            raise UsageError(f"the batch cap ({self.max_batch}) cannot exceed the queue cap "
                             f"({self.max_queue})")


def checked_token(token: str | None, source: str) -> str | None:
    """A usable bearer token, or None for none; a bad one is a one-line :class:`UsageError`."""
    if token is None:
        return None
    token = token.strip()
    if not token:
        raise UsageError(f"the token from {source} is empty")
    if not (token.isascii() and token.isprintable()) or " " in token:
        raise UsageError(f"the token from {source} must be printable ASCII without spaces")
    if len(token) < MIN_TOKEN_CHARS:
        raise UsageError(f"the token from {source} is shorter than {MIN_TOKEN_CHARS} characters")
    return token


def token_matches(expected: str, authorization: str | None) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <expected>`` (constant time)."""
    if authorization is None:
        return False
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "replace"),
                               expected.encode("utf-8"))


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_token_beyond_loopback(host: str, token: str | None) -> None:
    """Refuse to listen beyond the loopback interface without a token."""
    if token is None and not is_loopback(host):
        raise UsageError(f"refusing to listen on {host} without a token: give --token-env or "
                         "--token-file (or listen on 127.0.0.1)")
