"""Reading one request body within its bounds, before anything parses it.

The size is checked against ``Content-Length`` first and then counted while the body
arrives (a client that lies or streams gets cut off at the cap); the JSON is parsed with its
nesting capped (:func:`~llm_modulo.bounds.loads_bounded`) and validated by the request
models. Each refusal is a :class:`Refused` with an HTTP status and one line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pydantic import ValidationError

from llm_modulo.bounds import NestingError, loads_bounded
from llm_modulo.service.schema import VerifyBatch, VerifyItem, VerifySingle


class Refused(Exception):
    """A request the service does not take: its status and a one-line reason."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None
                 ) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


async def read_capped(chunks: AsyncIterator[bytes], content_length: str | None,
                      limit: int) -> bytes:
    """The body, at most ``limit`` bytes; a larger one is refused (413) as soon as known."""
    if content_length is not None:
        value = content_length.strip()
        if not value.isdigit() or len(value) > 20:
            raise Refused(400, "Content-Length is not a number")
        if int(value) > limit:
            raise Refused(413, f"the request body is {int(value)} bytes; the limit is {limit}")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"the request body is larger than {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _where(error: Any) -> str:
    return ".".join(str(p) for p in error.get("loc", ())) or "body"


def parse_request(raw: bytes, max_depth: int) -> tuple[list[VerifyItem], float | None]:
    """The items and the asked-for deadline of a request body; :class:`Refused` otherwise."""
    if not raw.strip():
        raise Refused(400, "the request body is empty; send a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the request body is not UTF-8") from None
    try:
        data = loads_bounded(text, max_depth=max_depth)
    except NestingError as exc:
        raise Refused(400, f"the request body {exc}") from None
    except ValueError as exc:
        raise Refused(400, f"the request body is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise Refused(422, f"the request body is a JSON {type(data).__name__}, not an object")
    model: type[VerifyBatch] | type[VerifySingle] = VerifyBatch if "items" in data \
        else VerifySingle
    try:
        request = model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise Refused(422, f"{_where(first)}: {first['msg']}{more}"[:1000]) from None
    if isinstance(request, VerifyBatch):
        return request.items, request.deadline_s
    item = VerifyItem(domain=request.domain, problem=request.problem,
                      completion=request.completion, completions=request.completions)
    return [item], request.deadline_s
