"""``improve``: K iterations of the phases, resumable from the run directory's state file."""

from __future__ import annotations

import contextlib
import fcntl
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from llm_modulo.errors import ImproveError, UsageError
from llm_modulo.improve import state as run_state
from llm_modulo.improve.config import ImproveConfig
from llm_modulo.improve.phases import PHASE_FUNCTIONS, RunContext
from llm_modulo.improve.report import IterationRow, rows
from llm_modulo.improve.serving import Checkpoint, EmbeddedServing, ExternalServing, Serving
from llm_modulo.improve.splits import held_out, read_problems, write_problems
from llm_modulo.improve.training import Trainer, TRLTrainer
from llm_modulo.types import Problem

#: ``hook(iteration, phase, when)`` with ``when`` ``before`` or ``after`` (the phase's work
#: is done but not yet recorded): tests raise here to simulate a kill
PhaseHook = Callable[[int, str, str], None]


def improve(config: ImproveConfig, *, serving: Serving | None = None,
            trainer: Trainer | None = None, hook: PhaseHook | None = None,
            say: Callable[[str], None] = print, ray: Any = None,
            ray_actors: int | None = None) -> list[IterationRow]:
    """Run (or resume) the self-improvement loop; returns the per-iteration table.

    ``serving`` defaults to the embedded vLLM restarted on each checkpoint (or, with
    ``config.base_url``, the user's server); ``trainer`` to TRL. With ``ray`` (the
    connected module) the solving (training problems and evaluation) runs on Ray actors.
    """
    from llm_modulo.corpus.lineage import record_base
    from llm_modulo.corpus.store import Corpus
    from llm_modulo.registry import default_registry

    domain, verifier = default_registry.domain_and_verifier(config.domain)
    default_registry.strategy(config.strategy, config.strategy_options).check_fits(
        domain, verifier)
    if config.base_url:
        from llm_modulo.endpoints import parse_base_urls

        parse_base_urls(config.base_url)  # one or several, comma-separated
    config.run_dir.mkdir(parents=True, exist_ok=True)
    with _locked(config.run_dir):
        state = run_state.load_or_create(config)
        run_state.write_atomically(config.run_dir / "config.json",
                                   config.model_dump_json(indent=1))
        base = _base_checkpoint(config)
        eval_problems = _eval_split(config, domain, say)
        own_serving = serving is None
        if serving is None:
            serving = (ExternalServing(config.base_url, config.model, say=say)
                       if config.base_url else
                       EmbeddedServing(log_dir=config.run_dir / "logs", seed=config.seed,
                                       say=say))
        try:
            with Corpus(config.corpus) as corpus:
                record_base(corpus, name=base.name, path=str(base.path))
                ctx = RunContext(config=config, state=state, domain=domain,
                                 verifier=verifier, corpus=corpus, serving=serving,
                                 trainer=trainer or TRLTrainer(), base=base,
                                 eval_problems=eval_problems, say=say,
                                 eval_hashes=frozenset(p.hash for p in eval_problems),
                                 ray=ray, ray_actors=ray_actors)
                for k in range(config.iterations + 1):
                    _iteration(ctx, k, hook)
        finally:
            if own_serving:
                serving.close()
    return rows(state)


def _iteration(ctx: RunContext, k: int, hook: PhaseHook | None) -> None:
    for phase in run_state.phases_of(k):
        if ctx.state.finished(k, phase):
            continue
        if hook is not None:
            hook(k, phase, "before")
        start = time.monotonic()
        result = PHASE_FUNCTIONS[phase](ctx, k)
        if hook is not None:
            hook(k, phase, "after")
        it = ctx.state.iteration(k)
        it.results[phase] = result
        it.seconds[phase] = time.monotonic() - start
        it.done.append(phase)
        run_state.save(ctx.run_dir, ctx.state)


def _base_checkpoint(config: ImproveConfig) -> Checkpoint:
    if config.base_model is None:
        from llm_modulo.embedded import ensure_model

        return Checkpoint(config.base_name, ensure_model())
    if not (config.base_model / "config.json").is_file():
        raise UsageError(f"base model {config.base_model} is not a Hugging Face model folder "
                         "(no config.json)")
    return Checkpoint(config.base_name, config.base_model.resolve())


def _eval_split(config: ImproveConfig, domain: object, say: Callable[[str], None]
                ) -> list[Problem]:
    from llm_modulo.domain import Domain

    assert isinstance(domain, Domain)
    path = config.run_dir / "eval-problems.jsonl"
    if path.exists():
        problems = read_problems(path, domain)
    else:
        problems = held_out(domain, config.eval_problems, config.seed)
        write_problems(path, problems)
    if not problems:
        raise ImproveError(f"domain {domain.name} gave no evaluation problems")
    if len(problems) < config.eval_problems:
        say(f"the held-out split has {len(problems)} distinct problems "
            f"(asked for {config.eval_problems})")
    return problems


@contextlib.contextmanager
def _locked(run_dir: Path) -> Iterator[None]:
    """One improve process per run directory."""
    with (run_dir / ".lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ImproveError(f"another improve process is using {run_dir}") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def load_report(run_dir: Path) -> list[IterationRow]:
    """The table of a run directory (as the last report phase wrote it)."""
    data = json.loads((run_dir / "report.json").read_text())
    return [IterationRow.model_validate(r) for r in data]
