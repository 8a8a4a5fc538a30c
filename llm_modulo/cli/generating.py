"""``generate``: a domain's seeded problem generator on the command line (JSONL out)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from llm_modulo.cli.common import DomainOpt, err, errors_as_messages
from llm_modulo.errors import UsageError
from llm_modulo.registry import default_registry

MAX_COUNT = 1_000_000


def generate(
    domain: DomainOpt = "game24",
    count: Annotated[int, typer.Option("--count", "-c", min=1, max=MAX_COUNT,
                                       help="Problems to draw.")] = 10,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**62,
                                      help="The whole source of randomness: the same seed "
                                           "gives the same problems.")] = 0,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="JSONL file to write "
                                             "(default: standard output).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace --out if it exists.")] = False,
) -> None:
    """Draw fresh problems from a domain's seeded generator, one JSON object per line (the
    format `run` reads). Each line has the problem and an id `DOMAIN-SEED-I`."""
    with errors_as_messages():
        dom = default_registry.domain(domain)
        if out is not None and out.exists() and not force:
            raise UsageError(f"{out} exists: choose another --out or pass --force")
        problems = dom.generate_problems(count, seed)
        lines = [json.dumps({**p.payload, "id": p.id or f"{dom.name}-{seed}-{i}"},
                            ensure_ascii=False, sort_keys=True) + "\n"
                 for i, p in enumerate(problems)]
        if out is None:
            sys.stdout.writelines(lines)
            return
        _write_atomically(out, lines)
    err.print(f"{len(lines)} {escape(dom.name)} problems (seed {seed}) written to "
              f"{escape(str(out))}", highlight=False)


def _write_atomically(path: Path, lines: list[str]) -> None:
    """Write ``lines`` to ``path`` through a temporary file in the same folder, so a killed
    command never leaves half a file."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.writelines(lines)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
