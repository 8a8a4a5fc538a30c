"""Running a study: each cell's pending problems through a :class:`~llm_modulo.loop.Solver`.

Per cell: a corpus run (``command="study"``, the cell's id and settings as its config; stored
solutions are not reused, so every arm generates its own), the cell's strategy (``self``
arms: ``self_critique`` with the LLM critic and a recorder of its verdicts), and one
:class:`~llm_modulo.study.results.ProblemResult` line per problem as it ends. Problems a
previous run finished are skipped (no request is made for them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm_modulo.config import Budget, LoopConfig
from llm_modulo.critic import (
    Critic,
    CriticJudgement,
    CriticMode,
    CriticOutcome,
)
from llm_modulo.errors import UsageError
from llm_modulo.generator import Generator, SamplingParams
from llm_modulo.loop import Solver
from llm_modulo.study.cells import Cell, grid
from llm_modulo.study.config import ModelEntry, StudyConfig
from llm_modulo.study.problems import LoadedSet, load_set
from llm_modulo.study.results import (
    ProblemResult,
    ResultWriter,
    finished,
    read_results,
)
from llm_modulo.types import Problem, SolveResult, Status, Usage

#: ``endpoint(base_url, model)``: a context giving (base URL, model name), e.g. the CLI's
#: (which starts the embedded server when the URL is None).
EndpointFactory = Callable[[str | None, str | None],
                           AbstractContextManager[tuple[str, str | None]]]


@dataclass
class StudyOptions:
    """What the command line adds to a study file."""

    out_dir: Path
    base: Path
    limit: int | None = None
    base_url: str | None = None
    model: str | None = None
    critic_base_url: str | None = None
    critic_model: str | None = None
    corpus: Path | None = None
    max_cells: int | None = None
    request_timeout_s: float = 600.0
    log: Callable[[str], None] = field(default=lambda _line: None)
    #: the connected ``ray`` module: cells solved on Ray actors (``--engine ray``)
    ray: Any = None
    #: solver actors on Ray (default: the cluster's CPUs)
    ray_actors: int | None = None


@dataclass
class StudyRun:
    """What a study invocation did."""

    cells: list[Cell]
    dropped: list[str]
    sets: list[LoadedSet]
    cells_run: int = 0
    problems_solved_now: int = 0
    problems_skipped: int = 0
    unreadable_lines: int = 0


class Recorder:
    """The ``self_critique`` observer of one cell: judgements and outcomes per problem."""

    def __init__(self) -> None:
        self.judgements: dict[str, list[CriticJudgement]] = {}
        self.outcomes: dict[str, CriticOutcome] = {}

    def judged(self, problem: Problem, judgement: CriticJudgement) -> None:
        self.judgements.setdefault(problem.hash, []).append(judgement)

    def answered(self, problem: Problem, outcome: CriticOutcome) -> None:
        self.outcomes[problem.hash] = outcome


def models_of(config: StudyConfig, options: StudyOptions) -> list[ModelEntry]:
    """The study's endpoints, with ``--base-url`` / ``--model`` applied to every one."""
    if options.base_url is None and options.model is None:
        return config.models
    return [m.model_copy(update={
        "base_url": options.base_url or m.base_url, "model": options.model or m.model,
        "label": "endpoint" if options.base_url and m.label == "embedded" else m.label})
        for m in config.models]


def plan(config: StudyConfig, options: StudyOptions) -> StudyRun:
    """Load the problem sets and lay out the grid (no request is made)."""
    from llm_modulo.registry import default_registry

    sets = []
    for entry in config.domains:
        domain = default_registry.domain(entry.domain)
        sets.append(load_set(entry.problems, domain, options.base, options.limit))
    labels = [s.label for s in sets]
    if len(set(zip(labels, [e.domain for e in config.domains], strict=True))) != len(labels):
        raise UsageError("two problem sets of one domain share a label: give each a label")
    study = config.model_copy(update={"models": models_of(config, options)})
    cells, dropped = grid(study, labels)
    for strategy in {c.run_strategy for c in cells}:
        default_registry.strategies.get(strategy)  # an unknown strategy: one line, now
    return StudyRun(cells, dropped, sets)


def run_study(config: StudyConfig, options: StudyOptions, endpoint: EndpointFactory
              ) -> StudyRun:
    """Solve every pending (cell, problem) of ``config``; write ``results.jsonl``."""
    from llm_modulo.corpus.store import Corpus

    run = plan(config, options)
    options.out_dir.mkdir(parents=True, exist_ok=True)
    done_before, run.unreadable_lines = read_results(options.out_dir)
    done = finished(done_before)
    corpus_path = options.corpus or options.out_dir / "corpus.sqlite"
    writer = ResultWriter(options.out_dir)
    budget = options.max_cells
    try:
        with Corpus(corpus_path) as corpus:
            for model in _unique_models(run.cells):
                cells = [c for c in run.cells if c.model.label == model.label]
                work = [(c, [p for p in run.sets[c.set_index].problems
                             if (c.key(config), p.hash) not in done]) for c in cells]
                run.problems_skipped += sum(len(run.sets[c.set_index].problems) - len(p)
                                            for c, p in work)
                work = [(c, p) for c, p in work if p]
                if budget is not None:
                    work = work[:max(0, budget - run.cells_run)]
                if not work:
                    continue
                with endpoint(model.base_url, model.model) as (url, model_name):
                    if options.ray is not None:
                        _run_model_on_ray(config, options, corpus, writer, work, url,
                                          model_name, run)
                    else:
                        asyncio.run(_run_model(config, options, corpus, writer, work, url,
                                               model_name, run))
    finally:
        writer.close()
    return run


def _unique_models(cells: list[Cell]) -> Iterator[ModelEntry]:
    seen: set[str] = set()
    for cell in cells:
        if cell.model.label not in seen:
            seen.add(cell.model.label)
            yield cell.model


async def _run_model(config: StudyConfig, options: StudyOptions, corpus: Any,
                     writer: ResultWriter, work: list[tuple[Cell, list[Problem]]], url: str,
                     model_name: str | None, run: StudyRun) -> None:
    from llm_modulo.endpoints import GeneratorSpec

    spec = GeneratorSpec(base_urls=url, model=model_name, deadline_s=options.request_timeout_s)
    async with spec.build() as client:
        critic: Critic | None = None
        try:
            for cell, problems in work:
                if cell.mode is CriticMode.SELF and critic is None:
                    critic = _critic(config, options, url, model_name or client.model)
                options.log(f"cell {cell.key(config)}: {len(problems)} problems")
                await _run_cell(config, cell, problems, client, critic, corpus, writer)
                run.cells_run += 1
                run.problems_solved_now += len(problems)
        finally:
            if critic is not None:
                await critic.aclose()


def _run_model_on_ray(config: StudyConfig, options: StudyOptions, corpus: Any,
                      writer: ResultWriter, work: list[tuple[Cell, list[Problem]]], url: str,
                      model_name: str | None, run: StudyRun) -> None:
    """One model's cells on Ray actors: a corpus run per cell as locally, every cell's
    problems in flight together, each result recorded once by this process."""
    from llm_modulo.endpoints import GeneratorSpec
    from llm_modulo.ray_engine import (
        ActorSpec,
        CriticSpec,
        Job,
        cluster_cpus,
        solve_on_ray,
    )

    jobs: list[tuple[Cell, Job, list[Problem]]] = []
    for cell, problems in work:
        loop = loop_config(config, cell)
        critic = None
        if cell.mode is CriticMode.SELF:
            critic = CriticSpec(options.critic_base_url or config.critic.base_url or url,
                                options.critic_model or config.critic.model or model_name,
                                config.critic.max_tokens, options.request_timeout_s)
        run_id = corpus.start_run("study", cell.domain, _run_config(config, cell, loop))
        jobs.append((cell, Job(cell.domain, loop, run_id, reuse=False, critic=critic),
                     problems))
        options.log(f"cell {cell.key(config)}: {len(problems)} problems (on Ray)")
    cells = {job.run_id: cell for cell, job, _ in jobs}
    spec = ActorSpec(GeneratorSpec(base_urls=url, model=model_name,
                                   deadline_s=options.request_timeout_s))
    outcomes = solve_on_ray(options.ray, spec,
                            ((p, job) for _, job, problems in jobs for p in problems),
                            corpus, actors=options.ray_actors or cluster_cpus(options.ray),
                            concurrency=config.concurrency)
    for outcome in outcomes:
        recorder = Recorder()
        key = outcome.result.problem.hash
        if outcome.observed is not None:
            recorder.judgements[key], outcome_seen = outcome.observed
            if outcome_seen is not None:
                recorder.outcomes[key] = outcome_seen
        writer.write(problem_result(config, cells[outcome.run_id or ""], outcome.result,
                                    recorder))
    run.cells_run += len(jobs)
    run.problems_solved_now += sum(len(problems) for _, _, problems in jobs)


def _run_config(config: StudyConfig, cell: Cell, loop: LoopConfig) -> dict[str, Any]:
    """A cell's corpus run configuration."""
    return {"study": config.name, "cell": cell.key(config), "arm": cell.arm,
            "critic_mode": cell.mode.value, "set": cell.set_label,
            "model": cell.model.label, "loop": loop.model_dump(mode="json")}


def _critic(config: StudyConfig, options: StudyOptions, url: str,
            model_name: str | None) -> Critic:
    from llm_modulo.endpoints import parse_base_urls
    from llm_modulo.registry import default_registry

    factory: Any = default_registry.verifiers.get("llm_critic")
    made = factory(  # with several generator endpoints, the critic asks the first
        options.critic_base_url or config.critic.base_url or parse_base_urls(url)[0],
        model=options.critic_model or config.critic.model or model_name,
        max_tokens=config.critic.max_tokens, deadline_s=options.request_timeout_s)
    if not isinstance(made, Critic):
        raise UsageError("the registered llm_critic verifier is not a critic")
    return made


def loop_config(config: StudyConfig, cell: Cell) -> LoopConfig:
    return LoopConfig(
        budget=Budget(rounds=cell.rounds, samples=config.samples),
        feedback=cell.feedback,
        sampling=SamplingParams(temperature=config.temperature, seed=config.seed,
                                max_tokens=config.max_tokens),
        structured=config.structured, concurrency=config.concurrency,
        strategy=cell.run_strategy)


async def _run_cell(config: StudyConfig, cell: Cell, problems: list[Problem],
                    generator: Generator, critic: Critic | None, corpus: Any,
                    writer: ResultWriter) -> None:
    from llm_modulo.corpus.memory import CorpusMemory
    from llm_modulo.registry import default_registry
    from llm_modulo.strategies.self_critique import SelfCritique

    domain, verifier = default_registry.domain_and_verifier(cell.domain)
    loop = loop_config(config, cell)
    recorder = Recorder()
    if cell.mode is CriticMode.SELF:
        strategy: Any = SelfCritique(critic=critic, observer=recorder)
    else:
        strategy = default_registry.strategy(cell.run_strategy)
    run_id = corpus.start_run("study", cell.domain, _run_config(config, cell, loop))
    memory = CorpusMemory(corpus, run_id=run_id, reuse=False)
    try:
        solver = Solver(domain, verifier, generator, loop, strategy=strategy, store=memory)
        async for result in solver.solve_many(problems, concurrency=config.concurrency):
            writer.write(problem_result(config, cell, result, recorder))
    finally:
        memory.close()


def problem_result(config: StudyConfig, cell: Cell, result: SolveResult,
                   recorder: Recorder) -> ProblemResult:
    """One problem's line: the reported answer's sound verdict and the tokens by round."""
    key = result.problem.hash
    judgements = recorder.judgements.get(key, [])
    outcome = recorder.outcomes.get(key)
    if cell.mode is CriticMode.SELF:
        # the sound verifier's verdict of the answer the critic stopped on (or the last)
        correct = outcome is not None and outcome.sound is Status.ACCEPT
        answer_round = outcome.round if outcome is not None else None
    else:
        correct = result.solved
        answer_round = result.solution.round if result.solution is not None else \
            (result.rounds or None)
    by_round: list[int] = []
    for k in range(1, cell.rounds + 1):
        spent = sum((a.usage for a in result.attempts if a.round <= k), Usage())
        spent = sum((j.usage for j in judgements if j.round <= k), spent)
        by_round.append(spent.total_tokens)
    critic_tokens = sum(j.usage.total_tokens for j in judgements)
    return ProblemResult(
        cell=cell.key(config), arm=cell.arm, domain=cell.domain, set=cell.set_label,
        model=cell.model.label, strategy=cell.run_strategy, mode=cell.mode.value,
        feedback=cell.feedback.value, rounds=cell.rounds, problem_hash=key,
        problem_id=result.problem.id, correct=correct, answer_round=answer_round,
        stop_reason=result.stop_reason, error=result.error, tokens_by_round=by_round,
        tokens=result.usage.total_tokens + critic_tokens, critic_tokens=critic_tokens,
        requests=result.requests,
        judgements=[(j.critic, j.sound) for j in judgements],
        critic_stopped=outcome.critic_stopped if outcome is not None else False)
