"""Where a batch command solves: ``--engine local|ray`` and the Ray options, shared by the
commands (``run``, ``study``, ``improve``, ``export --reverify``). Importing this module
never imports Ray."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer


class Engine(StrEnum):
    """Where a batch command solves: this process, or a Ray cluster."""

    LOCAL = "local"
    RAY = "ray"


EngineOpt = Annotated[Engine, typer.Option(
    "--engine", help="local: work in this process; ray: on Ray actors (solving) or tasks "
                     "(re-verifying), needs the ray extra.")]
RayAddressOpt = Annotated[str | None, typer.Option(
    "--ray-address", metavar="HOST:PORT",
    help="The Ray cluster to join (with --engine ray). Default: start a local Ray.")]
RayActorsOpt = Annotated[int | None, typer.Option(
    "--ray-actors", min=1, max=4096,
    help="Solver actors (with --engine ray). Default: the cluster's CPUs.")]


RayChunkOpt = Annotated[int | None, typer.Option(
    "--ray-chunk", min=1, max=4096,
    help="Problems per actor call, at most (with --engine ray). Default: 16.")]


def check_engine(engine: Engine, ray_address: str | None, ray_actors: int | None,
                 ray_chunk: int | None = None) -> None:
    """Refuse Ray options without ``--engine ray``; with it, refuse a missing Ray (one line
    naming the extra) before anything else is done, and an address that is not ``HOST:PORT``
    or accepts no connection."""
    from llm_modulo.errors import UsageError

    if engine is Engine.RAY:
        from llm_modulo.ray_engine import check_address, import_ray

        import_ray()
        if ray_address is not None:
            check_address(ray_address)
        return
    for flag, value in (("--ray-address", ray_address), ("--ray-actors", ray_actors),
                        ("--ray-chunk", ray_chunk)):
        if value is not None:
            raise UsageError(f"{flag} needs --engine ray")
