"""The FastAPI app: ``POST /v1/verify``, ``GET /v1/verifiers``, ``GET /health``, and
FastAPI's ``/docs`` and ``/openapi.json``.

The verify body is read by hand (:mod:`.body`: size capped while it arrives, JSON nesting
capped, then validated), so FastAPI never parses an unbounded body; its schema is still in
the OpenAPI document. Every refusal is a JSON ``{"detail": "<one line>"}`` with a 4xx (or
503 while shutting down); an unexpected error is a 500 with one line, never a traceback.
With a token, ``/v1/*`` needs ``Authorization: Bearer <token>`` (compared in constant time);
``/health`` and the docs stay open (they tell nothing about the verdicts).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from llm_modulo import __version__
from llm_modulo.pool import WorkerPool
from llm_modulo.registry import Registry
from llm_modulo.service.body import Refused, parse_request, read_capped
from llm_modulo.service.engine import Engine, RemoteJudge
from llm_modulo.service.limits import ServiceLimits, token_matches
from llm_modulo.service.schema import (
    ErrorResponse,
    HealthResponse,
    VerifiersResponse,
    VerifyBatch,
    VerifyResponse,
    VerifySingle,
)

log = logging.getLogger("llm_modulo.service")

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": what} for code, what in (
        (400, "the body is not JSON, or nests too deeply"),
        (401, "a token is required and was not given, or is wrong"),
        (413, "the body or the batch is too large"),
        (422, "the body is JSON but not a verify request (names the field)"),
        (429, "the queue is full: retry after Retry-After seconds"),
        (503, "the service is starting or shutting down"),
    )}


def _request_schema() -> dict[str, Any]:
    single = VerifySingle.model_json_schema(ref_template="#/components/schemas/{model}")
    batch = VerifyBatch.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"oneOf": [single, batch]}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


def create_app(limits: ServiceLimits | None = None, *, token: str | None = None,
               workers: int | None = None, registry: Registry | None = None,
               pool: WorkerPool | None = None,
               remote_judge: RemoteJudge | None = None) -> FastAPI:
    """The verification service as an ASGI app. Its lifespan starts one worker pool
    (``workers`` processes, or ``pool`` if given) and closes it on shutdown; with
    ``remote_judge`` (``ray_engine.RayJudge``) the checks run there instead."""
    limits = limits or ServiceLimits()
    engine = Engine(limits, workers=workers, registry=registry, pool=pool,
                    remote_judge=remote_judge)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await engine.start()
        try:
            yield
        finally:
            await engine.close()

    app = FastAPI(title="llm-modulo verification service", version=__version__,
                  lifespan=lifespan,
                  description="Sound verifiers behind HTTP: ACCEPT only when correctness is "
                              "established, UNKNOWN when it could not be decided.")
    app.state.engine = engine

    def authorized(request: Request) -> bool:
        return token is None or token_matches(token, request.headers.get("authorization"))

    unauthorized = {"WWW-Authenticate": "Bearer"}

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> JSONResponse:
        return _error(exc.status, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Exception)
    async def broken(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error on %s: %s: %s", request.url.path, type(exc).__name__, exc)
        return _error(500, f"internal error ({type(exc).__name__})")

    @app.post("/v1/verify", response_model=VerifyResponse, responses=_ERRORS,
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": _request_schema()}}}})
    async def verify(request: Request) -> VerifyResponse:
        """Verify one completion or a batch: one result per completion, in order."""
        if not authorized(request):
            raise Refused(401, "a valid bearer token is required", unauthorized)
        raw = await read_capped(request.stream(), request.headers.get("content-length"),
                                limits.max_body_bytes)
        items, deadline_s = parse_request(raw, limits.max_depth)
        return await engine.verify(items, deadline_s)

    @app.get("/v1/verifiers", response_model=VerifiersResponse, responses=_ERRORS,
             response_model_by_alias=True)
    async def verifiers(request: Request) -> VerifiersResponse:
        """The verifiers (name, version, soundness, critique kinds) and the domains."""
        if not authorized(request):
            raise Refused(401, "a valid bearer token is required", unauthorized)
        return engine.listing

    @app.get("/health", response_model=HealthResponse)
    async def health() -> HealthResponse:
        """Liveness and load: admitted checks against the queue cap."""
        return HealthResponse(status="draining" if engine.draining else "ok",
                              in_flight=engine.admission.count, max_queue=limits.max_queue,
                              workers=engine.pool.size if engine.pool else 0,
                              draining=engine.draining)

    original_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original_openapi()
            defs: dict[str, Any] = {}
            for model in (VerifySingle, VerifyBatch):
                found = model.model_json_schema(ref_template="#/components/schemas/{model}")
                defs.update(found.pop("$defs", {}))
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, value in defs.items():
                components.setdefault(name, value)
            body = schema["paths"]["/v1/verify"]["post"]["requestBody"]["content"]
            for variant in body["application/json"]["schema"]["oneOf"]:
                variant.pop("$defs", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


#: :func:`create_app` under the name ``llm_modulo`` exports it by.
create_verification_app = create_app
