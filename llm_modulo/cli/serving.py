"""``serve`` and ``fetch-model``: the embedded vLLM CPU server; ``serve-verifiers``: the
verification service."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import Annotated

import typer

from llm_modulo.cli.common import (
    err,
    errors_as_messages,
    out,
)
from llm_modulo.engines import Engine, EngineOpt, RayAddressOpt, check_engine
from llm_modulo.errors import UsageError


def serve(
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535,
                                             help="Port (default: a free one).")] = None,
) -> None:
    """Start the embedded vLLM CPU server (SmolLM2-135M-Instruct) on 127.0.0.1 until Ctrl-C."""
    from llm_modulo.embedded import EmbeddedServer

    with errors_as_messages(), EmbeddedServer(port=port) as server:
        out.print(f"serving {server.model} at {server.base_url}  (Ctrl-C stops)")
        out.print(f"use: llm-modulo solve --base-url {server.base_url} --problem '4 4 6 8'")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                import time

                time.sleep(3600)


def fetch_model() -> None:
    """Download and convert the embedded model (done once; cached in the data directory)."""
    from llm_modulo.embedded import ensure_model

    with errors_as_messages():
        path = ensure_model()
    out.print(f"model ready at {path}")




def _token(token_env: str | None, token_file: Path | None) -> str | None:
    import os

    from llm_modulo.bounds import read_text_capped
    from llm_modulo.service.limits import checked_token

    if token_env is not None and token_file is not None:
        raise UsageError("give --token-env or --token-file, not both")
    if token_env is not None:
        value = os.environ.get(token_env)
        if not value:
            raise UsageError(f"--token-env {token_env}: that environment variable is not set")
        return checked_token(value, f"${token_env}")
    if token_file is not None:
        text = read_text_capped(token_file, "token file", limit=4096, error=UsageError)
        return checked_token(text, f"token file {token_file}")
    return None


def serve_verifiers(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8100,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (beyond loopback "
                                                     "only with a token).")] = "127.0.0.1",
    token_env: Annotated[str | None, typer.Option(
        "--token-env", help="Require `Authorization: Bearer` with the token in this "
                            "environment variable.")] = None,
    token_file: Annotated[Path | None, typer.Option(
        "--token-file", help="Require the bearer token stored in this file.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, max=1024,
                                                help="Verifier worker processes (default: "
                                                     "one per CPU).")] = None,
    max_queue: Annotated[int, typer.Option("--max-queue", min=1, max=10_000_000,
                                           help="Checks admitted at once; beyond: 429.")] = 1024,
    max_batch: Annotated[int, typer.Option("--max-batch", min=1, max=100_000,
                                           help="Completions per request.")] = 256,
    max_body: Annotated[int, typer.Option("--max-body-bytes", min=1024, max=2**31,
                                          help="Bytes per request body.")] = 8 * 1024 * 1024,
    deadline: Annotated[float, typer.Option("--deadline", min=0.001, max=86400.0,
                                            help="Seconds a request may take; unfinished "
                                                 "checks are UNKNOWN.")] = 60.0,
    drain: Annotated[float, typer.Option("--drain", min=0.0, max=3600.0,
                                         help="Seconds in-flight checks get after a shutdown "
                                              "signal.")] = 5.0,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request.")] = False,
    engine: EngineOpt = Engine.LOCAL,
    ray_address: RayAddressOpt = None,
) -> None:
    """Serve the registered verifiers over HTTP (POST /v1/verify, GET /v1/verifiers, GET
    /health, /docs) until Ctrl-C or SIGTERM. With --engine ray the checks run as Ray tasks."""
    with errors_as_messages():
        check_engine(engine, ray_address, None)  # a missing Ray: before anything else
        try:
            from llm_modulo.service.limits import ServiceLimits
            from llm_modulo.service.run import serve
        except ImportError as exc:
            raise UsageError(f"the verification service needs FastAPI and uvicorn "
                             f"(pip install 'llm-modulo[service]'): {exc}") from None
        limits = ServiceLimits(max_body_bytes=max_body, max_batch=min(max_batch, max_queue),
                               max_queue=max_queue, deadline_s=deadline, drain_s=drain)
        token = _token(token_env, token_file)

        def ready(url: str) -> None:
            out.print(f"verifying at {url}/v1/verify  (docs: {url}/docs; "
                      f"{'token required' if token else 'no token'}; Ctrl-C stops)",
                      highlight=False, soft_wrap=True)

        with contextlib.ExitStack() as stack:
            remote = None
            if engine is Engine.RAY:
                from llm_modulo.ray_engine import RayJudge, ray_session
                from llm_modulo.runtime import data_dir

                remote = RayJudge(stack.enter_context(ray_session(ray_address, data_dir())))
            try:
                serve(host, port, limits=limits, token=token, workers=workers,
                      access_log=access_log, on_ready=ready, remote_judge=remote)
            except SystemExit as exc:  # uvicorn re-raises the SIGTERM it drained for
                if exc.code != 128 + signal.SIGTERM:
                    raise
                err.print("stopped: every check in flight was answered (a verdict, or "
                          "UNKNOWN when the drain ran out)")
