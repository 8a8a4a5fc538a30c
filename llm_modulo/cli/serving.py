"""``serve`` and ``fetch-model``: the embedded vLLM CPU server."""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer

from llm_modulo.cli.common import (
    errors_as_messages,
    out,
)


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


