"""``llm-modulo study CONFIG.yaml``: run a study grid and write its report."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from llm_modulo.cli.common import (
    DEFAULT_REQUEST_TIMEOUT_S,
    BaseUrlOpt,
    ModelOpt,
    RequestTimeoutOpt,
    base_urls,
    endpoint,
    err,
    errors_as_messages,
    out,
)
from llm_modulo.engines import Engine, EngineOpt, RayActorsOpt, RayAddressOpt, check_engine
from llm_modulo.errors import UsageError


def study(
    config: Annotated[Path, typer.Argument(help="The study file (YAML), e.g. "
                                                "presets/graph_coloring.yaml.")],
    limit: Annotated[int | None, typer.Option(
        "--limit", min=1, help="At most this many problems per problem set (a quick "
                               "smoke test of a preset).")] = None,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    critic_base_url: Annotated[str | None, typer.Option(
        "--critic-base-url", help="The LLM critic's endpoint (default: the generator's).")
    ] = None,
    critic_model: Annotated[str | None, typer.Option(
        "--critic-model", help="The LLM critic's model (default: the generator's).")] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Output directory: results.jsonl (resumable), corpus.sqlite and "
                      "report/ (default: studies/<study file name>).")] = None,
    corpus: Annotated[Path | None, typer.Option(
        "--corpus", help="Record into this corpus instead of OUT/corpus.sqlite.")] = None,
    max_cells: Annotated[int | None, typer.Option(
        "--max-cells", min=1, help="Run at most this many unfinished cells, then report.")
    ] = None,
    request_timeout: RequestTimeoutOpt = DEFAULT_REQUEST_TIMEOUT_S,
    engine: EngineOpt = Engine.LOCAL,
    ray_address: RayAddressOpt = None,
    ray_actors: RayActorsOpt = None,
) -> None:
    """Run a study: a grid of domains x problem sets x models x strategies x critic modes x
    feedback levels x round limits. Resumable (finished cells and problems are not solved
    again), recorded in the corpus (a run per cell), reported in OUT/report/ (tables, plots,
    report.md with the published figures beside ours). With --engine ray the cells' problems
    are sharded over Ray actors."""
    from llm_modulo.study.config import load_config
    from llm_modulo.study.report import write_report
    from llm_modulo.study.results import read_results
    from llm_modulo.study.runner import StudyOptions, run_study

    with errors_as_messages():
        check_engine(engine, ray_address, ray_actors)  # a missing Ray: before anything else
        cfg = load_config(config)
        if engine is Engine.RAY and ray_address and not (base_url or all(
                m.base_url for m in cfg.models)):
            raise UsageError("--engine ray with --ray-address needs --base-url (or a base_url "
                             "for every model): the embedded server would listen on this "
                             "machine's 127.0.0.1 only")
        folder = out_dir or Path("studies") / config.stem
        options = StudyOptions(
            out_dir=folder, base=config.resolve().parent, limit=limit,
            base_url=base_urls(base_url),
            model=model, critic_base_url=critic_base_url, critic_model=critic_model,
            corpus=corpus, max_cells=max_cells, request_timeout_s=request_timeout,
            log=lambda line: err.print(f"[dim]{escape(line)}[/]", highlight=False))
        with contextlib.ExitStack() as stack:
            if engine is Engine.RAY:
                from llm_modulo.ray_engine import ray_session
                from llm_modulo.runtime import data_dir

                options.ray = stack.enter_context(ray_session(ray_address, data_dir()))
                options.ray_actors = ray_actors
            run = run_study(cfg, options, endpoint)
        results, unreadable = read_results(folder)
        report = write_report(cfg, run.cells, results, folder, sets=run.sets,
                              dropped=run.dropped, unreadable=unreadable)
    out.print(f"{len(run.cells)} cells ({run.cells_run} run now: {run.problems_solved_now} "
              f"problems solved now, {run.problems_skipped} already done); report: "
              f"{escape(str(report))}", highlight=False)
