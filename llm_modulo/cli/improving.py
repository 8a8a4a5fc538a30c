"""``improve``: self-improvement from the command line (see docs/self-improvement.md)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.markup import escape
from rich.table import Table

from llm_modulo.cli.common import (
    BaseUrlOpt,
    DomainOpt,
    GeneratedBudgetOpt,
    ModelOpt,
    RequestBudgetOpt,
    StrategyOpt,
    StrategyOptionOpt,
    base_urls,
    err,
    errors_as_messages,
    out,
    parse_strategy_options,
)
from llm_modulo.corpus.cli import CorpusOpt
from llm_modulo.engines import Engine, EngineOpt, RayActorsOpt, RayAddressOpt, check_engine
from llm_modulo.errors import UsageError


def improve(
    run_dir: Annotated[Path, typer.Option("--run-dir", help="Where the run lives (state, "
                                          "data, checkpoints, report); rerun to resume.")],
    domain: DomainOpt = "game24",
    iterations: Annotated[int, typer.Option("--iterations", "-k", min=1, max=1000)] = 2,
    train_problems: Annotated[int | None, typer.Option(
        "--train-problems", "-N", min=1, help="Fresh training problems per iteration.")] = None,
    eval_problems: Annotated[int | None, typer.Option(
        "--eval-problems", min=1, help="Size of the held-out split.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, max=2**62)] = None,
    base_model: Annotated[Path | None, typer.Option(
        "--base-model", help="First checkpoint (HF folder). Default: the embedded SmolLM2.")
                          ] = None,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    corpus: CorpusOpt = None,
    strategy: StrategyOpt = "backprompt",
    strategy_option: StrategyOptionOpt = None,
    rounds: Annotated[int | None, typer.Option("--rounds", min=1)] = None,
    samples: Annotated[int | None, typer.Option("-n", "--samples", min=1, max=128)] = None,
    generated_budget: GeneratedBudgetOpt = None,
    request_budget: RequestBudgetOpt = None,
    temperature: Annotated[float | None, typer.Option("--temperature", min=0.0, max=5.0)
                           ] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", min=1, max=32768)] = None,
    method: Annotated[str | None, typer.Option("--method", help="lora (default) or full.")
                      ] = None,
    dpo: Annotated[bool, typer.Option("--dpo", help="DPO on verified vs. REJECTed after SFT."
                                      )] = False,
    learning_rate: Annotated[float | None, typer.Option("--learning-rate", min=0.0)] = None,
    epochs: Annotated[float | None, typer.Option("--epochs", min=0.0)] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", min=1)] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1)] = None,
    cpu: Annotated[bool, typer.Option("--cpu", help="Train on the CPU even with a GPU.")
                   ] = False,
    config_file: Annotated[Path | None, typer.Option(
        "--config", help="JSON object of improve settings; flags override it.")] = None,
    engine: EngineOpt = Engine.LOCAL,
    ray_address: RayAddressOpt = None,
    ray_actors: RayActorsOpt = None,
) -> None:
    """Self-improvement: K iterations of solve (System 2) -> train (TRL) -> serve -> evaluate
    (System 1 pass@1 and System 2 on a held-out split); prints the per-iteration table."""
    from llm_modulo.improve.config import parse_config, read_config_file
    from llm_modulo.improve.report import HEADER, table_cells
    from llm_modulo.improve.runner import improve as run_improve

    with errors_as_messages():
        check_engine(engine, ray_address, ray_actors)  # a missing Ray: before anything else
        data: dict[str, Any] = read_config_file(config_file) if config_file else {}
        flags: dict[str, Any] = {
            "run_dir": run_dir, "domain": domain, "iterations": iterations,
            "train_problems": train_problems, "eval_problems": eval_problems, "seed": seed,
            "base_model": base_model, "base_url": base_urls(base_url), "model": model,
            "corpus": corpus,
            "temperature": temperature, "max_tokens": max_tokens,
        }
        data.update({k: v for k, v in flags.items() if v is not None})
        if strategy != "backprompt" or "strategy" not in data:
            data["strategy"] = strategy
        if strategy_option:
            data["strategy_options"] = parse_strategy_options(strategy_option)
        budget = dict(data.get("budget") or {})
        budget.update({k: v for k, v in (("rounds", rounds), ("samples", samples),
                                         ("max_generated_tokens", generated_budget),
                                         ("max_requests", request_budget)) if v is not None})
        if budget:
            data["budget"] = {"rounds": 4, "samples": 8, **budget}
        train = dict(data.get("train") or {})
        device: Literal["cpu"] | None = "cpu" if cpu else None
        train.update({k: v for k, v in (("method", method), ("learning_rate", learning_rate),
                                        ("epochs", epochs), ("max_steps", max_steps),
                                        ("batch_size", batch_size), ("device", device),
                                        ("dpo", dpo or None)) if v is not None})
        data["train"] = train
        config = parse_config(data)
        if engine is Engine.RAY and ray_address and not config.base_url:
            raise UsageError("--engine ray with --ray-address needs --base-url: the embedded "
                             "server would listen on this machine's 127.0.0.1 only")
        with contextlib.ExitStack() as stack:
            ray = None
            if engine is Engine.RAY:
                from llm_modulo.ray_engine import ray_session
                from llm_modulo.runtime import data_dir

                ray = stack.enter_context(ray_session(ray_address, data_dir()))
            table = run_improve(config, say=lambda line: err.print(escape(line),
                                                                   highlight=False),
                                ray=ray, ray_actors=ray_actors)
    view = Table(*HEADER, title=f"self-improvement on {escape(config.domain)} "
                               f"({escape(str(config.run_dir))})")
    for row in table:
        view.add_row(*(escape(c) for c in table_cells(row)))
    out.print(view)
    plot = config.run_dir / "report.png"
    err.print(f"report: {config.run_dir / 'report.md'}"
              + (f", plot: {plot}" if plot.exists() else ""), highlight=False, markup=False)
