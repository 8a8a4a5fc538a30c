"""``check``: verify one candidate, no model."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.markup import escape

from llm_modulo.bounds import read_text_capped
from llm_modulo.cli.common import (
    EXIT_OK,
    EXIT_REJECT,
    EXIT_UNKNOWN,
    DomainOpt,
    JsonOpt,
    errors_as_messages,
    out,
)
from llm_modulo.domain import spec_file
from llm_modulo.errors import UsageError
from llm_modulo.pool import WorkerPool
from llm_modulo.registry import default_registry
from llm_modulo.types import Status


def check(
    problem: Annotated[str, typer.Option("--problem", "-p", help="Inline text/JSON or a file.")],
    candidate: Annotated[str, typer.Option("--candidate", "-c",
                                           help="Candidate: text, JSON, @file or a path.")],
    domain: DomainOpt = "game24",
    timeout: Annotated[float | None, typer.Option("--timeout", min=0.001, max=86400.0,
                                                  help="Verifier deadline, seconds.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify one candidate with no LLM. Exit 0 accept, 1 reject, 3 unknown, 2 usage error."""
    with errors_as_messages():
        dom, ver = default_registry.domain_and_verifier(domain)
        prob = dom.load_problem(problem)
        text = candidate
        if (path := spec_file(candidate)) is not None:
            text = read_text_capped(path, "candidate file", error=UsageError)
        cand = dom.parse_candidate(prob, text)
        # One check: a single worker forked from this (thread-free) process starts in
        # milliseconds with the verifier already imported; it keeps the deadline and the
        # memory cap of the pool's isolation.
        with WorkerPool(1, start_method="fork") as pool:
            verdict = ver.verify(prob, cand, timeout_s=timeout, pool=pool)
    if as_json:
        payload = {
            "status": verdict.status.value,
            "critiques": [c.model_dump(mode="json") for c in verdict.critiques],
            "verifier": verdict.verifier,
            "verifier_version": verdict.verifier_version,
            "sound": verdict.sound,
            "elapsed_s": round(verdict.elapsed_s, 6),
            "evidence": verdict.evidence,
            "problem_hash": prob.hash,
        }
        sys.stdout.write(json.dumps(payload) + "\n")
    else:
        style = {Status.ACCEPT: "green", Status.REJECT: "red", Status.UNKNOWN: "yellow"}
        out.print(f"[bold {style[verdict.status]}]{verdict.status.value.upper()}[/] "
                  f"[dim]({verdict.verifier} {verdict.verifier_version})[/]")
        for c in verdict.critiques:
            where = f" [dim]at {escape(str(c.location))}[/]" if c.location else ""
            out.print(f"  - {escape(c.message)}{where}", highlight=False, soft_wrap=True)
    codes = {Status.ACCEPT: EXIT_OK, Status.REJECT: EXIT_REJECT, Status.UNKNOWN: EXIT_UNKNOWN}
    raise typer.Exit(codes[verdict.status])


