"""The phases of one iteration: solve, data, train, save, serve, evaluate, report.

Each phase is a function of the run's :class:`RunContext` and the iteration number that
returns what it produced (stored in the state file when it finishes). A phase may be run
again after a kill before its end: it must not do its expensive part twice (training checks
its completion marker) and must not depend on anything but finished phases.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm_modulo.config import Budget, LoopConfig
from llm_modulo.corpus import lineage
from llm_modulo.corpus.store import Corpus
from llm_modulo.domain import Domain
from llm_modulo.generator import SamplingParams
from llm_modulo.improve import data as training_data
from llm_modulo.improve import training
from llm_modulo.improve.config import ImproveConfig
from llm_modulo.improve.serving import Checkpoint, Serving
from llm_modulo.improve.splits import read_problems, training_draw, write_problems
from llm_modulo.improve.state import RunState, write_atomically
from llm_modulo.types import FeedbackLevel, Problem, SolveResult
from llm_modulo.verifier import Verifier

COMMAND = "improve"


@dataclass
class RunContext:
    config: ImproveConfig
    state: RunState
    domain: Domain
    verifier: Verifier
    corpus: Corpus
    serving: Serving
    trainer: training.Trainer
    base: Checkpoint
    eval_problems: list[Problem]
    say: Callable[[str], None] = print
    eval_hashes: frozenset[str] = field(default=frozenset())
    #: the connected ``ray`` module: problems solved on Ray actors (``--engine ray``)
    ray: Any = None
    #: solver actors on Ray (default: the cluster's CPUs)
    ray_actors: int | None = None

    @property
    def run_dir(self) -> Path:
        return self.config.run_dir

    def iteration_dir(self, k: int) -> Path:
        return self.run_dir / f"iteration-{k}"

    def checkpoint(self, k: int) -> Checkpoint:
        """The checkpoint iteration ``k`` ends with (its parent when it trained nothing)."""
        if k == 0:
            return self.base
        saved = self.state.result(k, "save")
        if saved.get("checkpoint"):
            return Checkpoint(saved["checkpoint"], Path(saved["path"]))
        return self.checkpoint(k - 1)

    def checkpoint_name(self, k: int) -> str:
        return f"{self.config.base_name}-improve-{self.state.run_id[:8]}-it{k}"


# -- solving --------------------------------------------------------------------------


def system2_config(config: ImproveConfig) -> LoopConfig:
    """The chosen strategy and budget (System 2)."""
    return LoopConfig(budget=config.budget, feedback=config.feedback,
                      sampling=SamplingParams(temperature=config.temperature,
                                              max_tokens=config.max_tokens, seed=config.seed),
                      structured=config.structured, concurrency=config.concurrency,
                      strategy=config.strategy, strategy_options=config.strategy_options)


def system1_config(config: ImproveConfig) -> LoopConfig:
    """pass@1 greedy: one request of one sample at temperature 0, no feedback, no search."""
    return LoopConfig(budget=Budget(rounds=1, samples=1), feedback=FeedbackLevel.NONE,
                      sampling=SamplingParams(temperature=0.0, max_tokens=config.max_tokens,
                                              seed=config.seed, n=1),
                      structured=config.structured, concurrency=config.concurrency,
                      strategy="backprompt")


def solve_recorded(ctx: RunContext, k: int, checkpoint: Checkpoint, problems: list[Problem],
                   loop: LoopConfig, role: lineage.Role) -> dict[str, Any]:
    """Solve ``problems`` on ``checkpoint`` (served now), recording a new corpus run that the
    lineage tables tie to the checkpoint; stored solutions are never reused."""
    from llm_modulo.corpus.memory import CorpusMemory
    from llm_modulo.endpoints import GeneratorSpec
    from llm_modulo.loop import Solver

    endpoint = ctx.serving.serve(checkpoint)
    run_id = ctx.corpus.start_run(f"{COMMAND}-{role}", ctx.domain.name, loop)
    lineage.record_run(ctx.corpus, run_id=run_id, checkpoint=checkpoint.name, role=role,
                       improve_run=ctx.state.run_id, iteration=k)
    start = time.monotonic()
    if ctx.ray is not None:
        results = _solve_on_ray(ctx, endpoint.base_url, endpoint.model, problems, loop,
                                run_id)
    else:
        memory = CorpusMemory(ctx.corpus, run_id=run_id, reuse=False)

        async def go() -> list[SolveResult]:
            spec = GeneratorSpec(base_urls=endpoint.base_url, model=endpoint.model,
                                 deadline_s=ctx.config.request_timeout)
            async with spec.build() as client:
                solver = Solver(ctx.domain, ctx.verifier, client, loop, store=memory)
                return [r async for r in solver.solve_many(problems)]

        try:
            results = asyncio.run(go())
        finally:
            memory.close()
    solved = sum(r.solved for r in results)
    return {"run_id": run_id, "checkpoint": checkpoint.name, "problems": len(results),
            "solved": solved, "rate": solved / len(results) if results else 0.0,
            "errors": sum(r.stop_reason.value == "error" for r in results),
            "prompt_tokens": sum(r.usage.prompt_tokens for r in results),
            "completion_tokens": sum(r.usage.completion_tokens for r in results),
            "requests": sum(r.requests for r in results),
            "seconds": time.monotonic() - start}


def _solve_on_ray(ctx: RunContext, url: str, model: str | None, problems: list[Problem],
                  loop: LoopConfig, run_id: str) -> list[SolveResult]:
    """The problems over Ray actors, each result recorded once (under ``run_id``) here."""
    from llm_modulo.endpoints import GeneratorSpec
    from llm_modulo.ray_engine import ActorSpec, Job, cluster_cpus, solve_on_ray

    spec = ActorSpec(GeneratorSpec(base_urls=url, model=model,
                                   deadline_s=ctx.config.request_timeout))
    job = Job(ctx.domain.name, loop, run_id, reuse=False)
    return [o.result for o in solve_on_ray(
        ctx.ray, spec, ((p, job) for p in problems), ctx.corpus,
        actors=ctx.ray_actors or cluster_cpus(ctx.ray), concurrency=loop.concurrency)]


def solve(ctx: RunContext, k: int) -> dict[str, Any]:
    """Draw fresh training problems (none from the held-out split) and solve them with the
    strategy on the previous iteration's checkpoint (System 2)."""
    path = ctx.iteration_dir(k) / "train-problems.jsonl"
    if path.exists():  # drawn before a kill: the same problems
        problems = read_problems(path, ctx.domain)
    else:
        problems = training_draw(ctx.domain, ctx.config.train_problems, ctx.config.seed, k,
                                 ctx.eval_hashes)
        write_problems(path, problems)
    from llm_modulo.improve.splits import check_disjoint

    check_disjoint((p.hash for p in problems), ctx.eval_hashes)
    if len(problems) < ctx.config.train_problems:
        ctx.say(f"iteration {k}: the domain gave only {len(problems)} fresh training "
                f"problems outside the held-out split")
    return solve_recorded(ctx, k, ctx.checkpoint(k - 1), problems, system2_config(ctx.config),
                          "train")


# -- data, training, saving -----------------------------------------------------------


def build_data(ctx: RunContext, k: int) -> dict[str, Any]:
    """Verified rows from this lineage's training runs (or this iteration's only)."""
    first = 1 if ctx.config.train.data == "lineage" else k
    runs = [ctx.state.result(i, "solve")["run_id"] for i in range(first, k + 1)]
    built = training_data.build(ctx.corpus, domain=ctx.domain.name, runs=runs,
                                eval_hashes=ctx.eval_hashes,
                                out_dir=ctx.iteration_dir(k) / "data", dpo=ctx.config.train.dpo)
    return {"sft": str(built.sft), "dpo": str(built.dpo) if built.dpo else None,
            "sft_rows": built.sft_rows, "dpo_rows": built.dpo_rows,
            "data_hash": built.data_hash, "query": built.query, "runs": runs}


def train(ctx: RunContext, k: int) -> dict[str, Any]:
    """Fine-tune the previous checkpoint on the rows; never twice (a completed training in
    the iteration's folder is reused after a kill)."""
    built = ctx.state.result(k, "data")
    out = ctx.iteration_dir(k) / "trained"
    done = training.finished(out)
    if done is not None:
        return {**done, "out": str(out), "reused": True}
    if built["sft_rows"] == 0 and built["dpo_rows"] == 0:
        ctx.say(f"iteration {k}: no verified solutions to train on; the checkpoint stays "
                f"{ctx.checkpoint(k - 1).name}")
        return {"skipped": True}
    job = training.TrainJob(parent=ctx.checkpoint(k - 1).path, sft=Path(built["sft"]),
                            dpo=Path(built["dpo"]) if built["dpo"] else None, out=out,
                            config=ctx.config.train, seed=ctx.config.seed + k)
    figures = ctx.trainer.train(job)
    training.mark_finished(out, figures)
    return {**figures, "out": str(out)}


def save(ctx: RunContext, k: int) -> dict[str, Any]:
    """Move the trained model to ``checkpoints/NAME`` with its lineage manifest, and record
    the lineage in the corpus."""
    trained = ctx.state.result(k, "train")
    if trained.get("skipped"):
        return {"checkpoint": None}
    built = ctx.state.result(k, "data")
    parent = ctx.checkpoint(k - 1)
    name = ctx.checkpoint_name(k)
    target = ctx.run_dir / "checkpoints" / name
    source = Path(trained["out"])
    if source.exists():  # a kill after the move leaves only the target
        if target.exists():
            import shutil

            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        source.rename(target)
    manifest = {
        "name": name, "parent": parent.name, "parent_path": str(parent.path),
        "iteration": k, "improve_run": ctx.state.run_id, "domain": ctx.domain.name,
        "training_data_hash": built["data_hash"], "sft_rows": built["sft_rows"],
        "dpo_rows": built["dpo_rows"], "corpus": str(ctx.corpus.path),
        "corpus_query": built["query"],
        "hyperparameters": ctx.config.train.model_dump(mode="json"),
        "seed": ctx.config.seed + k, "versions": training.versions(),
        "training": {key: v for key, v in trained.items() if key != "out"},
    }
    write_atomically(target / "lineage.json", json.dumps(manifest, indent=1, sort_keys=True))
    lineage.record_checkpoint(ctx.corpus, name=name, parent=parent.name, path=str(target),
                              improve_run=ctx.state.run_id, iteration=k,
                              data_hash=built["data_hash"],
                              train_rows=built["sft_rows"] + built["dpo_rows"],
                              trained_on=built["runs"], manifest=manifest)
    return {"checkpoint": name, "path": str(target)}


# -- serving, evaluating, reporting ---------------------------------------------------


def serve(ctx: RunContext, k: int) -> dict[str, Any]:
    """Serve the iteration's checkpoint (restart the embedded vLLM on its folder)."""
    checkpoint = ctx.checkpoint(k)
    endpoint = ctx.serving.serve(checkpoint)
    return {"checkpoint": checkpoint.name, "path": str(checkpoint.path),
            "base_url": endpoint.base_url, "model": endpoint.model}


def evaluate(ctx: RunContext, k: int) -> dict[str, Any]:
    """System 1 (pass@1 greedy, no feedback, no search) and System 2 (the strategy and
    budget) on the held-out split, with token counts."""
    checkpoint = ctx.checkpoint(k)
    s1 = solve_recorded(ctx, k, checkpoint, ctx.eval_problems, system1_config(ctx.config),
                        "system1")
    s2 = solve_recorded(ctx, k, checkpoint, ctx.eval_problems, system2_config(ctx.config),
                        "system2")
    return {"checkpoint": checkpoint.name, "system1": s1, "system2": s2}


def report(ctx: RunContext, k: int) -> dict[str, Any]:
    """Rewrite the run's table and plot with every evaluated iteration."""
    from llm_modulo.improve.report import write_report

    return write_report(ctx.state, ctx.run_dir, ctx.say)


PHASE_FUNCTIONS: dict[str, Callable[[RunContext, int], dict[str, Any]]] = {
    "solve": solve, "data": build_data, "train": train, "save": save, "serve": serve,
    "evaluate": evaluate, "report": report,
}
