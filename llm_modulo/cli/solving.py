"""``solve``, ``run`` and ``demo``: the generate-test loop from the command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from llm_modulo.cli.common import (
    DEFAULT_REQUEST_TIMEOUT_S,
    EXIT_GENERATOR,
    EXIT_OK,
    EXIT_REJECT,
    BaseUrlOpt,
    DomainOpt,
    FeedbackOpt,
    GeneratedBudgetOpt,
    JsonOpt,
    MaxTokensOpt,
    ModelOpt,
    RequestBudgetOpt,
    RequestTimeoutOpt,
    RoundsOpt,
    SamplesOpt,
    SeedOpt,
    StrategyOpt,
    StrategyOptionOpt,
    StructuredOpt,
    TemperatureOpt,
    TokenBudgetOpt,
    WallTimeOpt,
    base_urls,
    endpoint,
    err,
    errors_as_messages,
    make_config,
    out,
)
from llm_modulo.corpus.cli import CacheOpt, CorpusOpt, open_memory
from llm_modulo.engines import (
    Engine,
    EngineOpt,
    RayActorsOpt,
    RayAddressOpt,
    RayChunkOpt,
    check_engine,
)
from llm_modulo.errors import UsageError
from llm_modulo.registry import default_registry
from llm_modulo.types import FeedbackLevel, Problem, SolveResult, Status, StopReason

if TYPE_CHECKING:  # the loop, the HTTP client and the corpus load when a command runs
    from llm_modulo.batch import BatchSummary
    from llm_modulo.config import LoopConfig
    from llm_modulo.corpus.memory import CorpusMemory
    from llm_modulo.endpoints import GeneratorSpec
    from llm_modulo.routing import RoutingClient
    from llm_modulo.strategy import AttemptStore


def solve(
    problem: Annotated[str, typer.Option("--problem", "-p",
                                         help="The problem: inline text/JSON or a file path.")],
    domain: DomainOpt = "game24",
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    rounds: RoundsOpt = 4,
    samples: SamplesOpt = 8,
    feedback: FeedbackOpt = FeedbackLevel.ALL,
    temperature: TemperatureOpt = 1.0,
    seed: SeedOpt = 0,
    max_tokens: MaxTokensOpt = 128,
    token_budget: TokenBudgetOpt = None,
    wall_time: WallTimeOpt = None,
    structured: StructuredOpt = True,
    corpus: CorpusOpt = None,
    cache: CacheOpt = True,
    as_json: JsonOpt = False,
    request_timeout: RequestTimeoutOpt = DEFAULT_REQUEST_TIMEOUT_S,
    strategy: StrategyOpt = "backprompt",
    strategy_option: StrategyOptionOpt = None,
    generated_budget: GeneratedBudgetOpt = None,
    request_budget: RequestBudgetOpt = None,
) -> None:
    """Solve one problem: generate, verify, back-prompt until a verified answer or budget end.

    Every attempt is recorded in the corpus; a stored solution that still verifies is
    served without generating (--no-cache: always generate).
    """
    with errors_as_messages():
        dom, ver = default_registry.domain_and_verifier(domain)
        prob = dom.load_problem(problem)
        config = make_config(rounds, samples, feedback, temperature, seed, max_tokens,
                             token_budget, wall_time, structured, strategy=strategy,
                             strategy_options=strategy_option,
                             generated_budget=generated_budget, request_budget=request_budget,
                             fits=(dom, ver))
        from llm_modulo.generator import checked_api_key

        urls = base_urls(base_url)  # before a run is registered
        checked_api_key()
        with open_memory(corpus, "solve", dom.name, config, reuse=cache) as memory:
            result = _solve_one(dom, ver, prob, config, memory, urls, model,
                                request_timeout)
    if as_json:
        out.print_json(result.model_dump_json())
    else:
        _report(result)
    if result.stop_reason is StopReason.ERROR:
        raise typer.Exit(EXIT_GENERATOR)
    raise typer.Exit(EXIT_OK if result.solved else EXIT_REJECT)


def _solve_one(dom: Any, ver: Any, prob: Problem, config: LoopConfig, memory: AttemptStore,
               base_url: str | None, model: str | None,
               request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S) -> SolveResult:
    """A stored solution that still verifies, else the loop (starting a server if needed)."""

    async def recall() -> Any:
        return await memory.lookup(prob, ver, None)

    from llm_modulo.corpus.memory import CorpusMemory
    from llm_modulo.loop import Solver

    cached = asyncio.run(recall())
    if cached is not None:
        return SolveResult(problem=prob, solution=cached, stop_reason=StopReason.CACHED)
    if isinstance(memory, CorpusMemory):
        memory.reuse = False  # looked up already: the solver need not do it again
    with endpoint(base_url, model) as (url, model_name):

        async def go() -> SolveResult:
            async with generator_spec(url, model_name, request_timeout).build() as client:
                return await Solver(dom, ver, client, config, store=memory).solve(prob)

        with err.status("solving ..."):
            return asyncio.run(go())


def _answer_text(result: SolveResult) -> str:
    assert result.solution is not None
    answer = result.solution.candidate.answer
    if answer is not None and len(answer) == 1:
        return str(next(iter(answer.values())))
    return json.dumps(answer)


def _report(result: SolveResult) -> None:
    if result.solution is not None:
        v = result.solution.verdict
        source = ("from the corpus, re-verified now" if result.stop_reason is StopReason.CACHED
                  else f"round {result.solution.round}, sample {result.solution.sample}")
        out.print(f"[bold green]verified[/] {escape(_answer_text(result))}   "
                  f"[dim]({v.verifier} {v.verifier_version}, {source})[/]", highlight=False)
    elif result.stop_reason is StopReason.ERROR:
        out.print(f"[bold red]generator failed:[/] {escape(str(result.error))}",
                  highlight=False, soft_wrap=True)
    else:
        out.print(f"[bold yellow]no verified answer[/] within budget "
                  f"(stopped: {result.stop_reason.value})")
    if result.stop_reason is StopReason.CACHED:
        return
    from llm_modulo.strategies.backprompt import feedback_target

    table = Table(box=None, show_header=True, header_style="dim")
    for col in ("round", "accept", "reject", "unknown", "critique of the back-prompted answer"):
        table.add_column(col)
    for r in range(1, result.rounds + 1):
        attempts = [a for a in result.attempts if a.round == r]
        counts = {s: sum(a.verdict.status is s for a in attempts) for s in Status}
        first = feedback_target(attempts)
        note = first.verdict.critiques[0].message if first and first.verdict.critiques else ""
        table.add_row(str(r), str(counts[Status.ACCEPT]), str(counts[Status.REJECT]),
                      str(counts[Status.UNKNOWN]), escape(note[:80]))
    if result.attempts:
        out.print(table)
    if result.search is not None:
        nodes = result.search.nodes[1:]
        dead = sum(n.verdict is not None and n.verdict.status is Status.REJECT for n in nodes)
        depth = max((n.depth for n in nodes), default=0)
        out.print(f"[dim]search tree: {len(nodes)} steps checked, {dead} proven dead, "
                  f"depth {depth}[/]")
    out.print(f"[dim]{result.strategy or 'backprompt'}: {result.requests} requests; tokens: "
              f"{result.usage.prompt_tokens} prompt + {result.usage.completion_tokens} "
              f"completion; {result.elapsed_s:.1f} s[/]")


def run(
    problems_file: Annotated[Path, typer.Argument(help="JSONL, one problem per line.",
                                                  metavar="PROBLEMS.jsonl")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Results JSONL (appended; "
                                                              "finished problems are skipped).")],
    domain: DomainOpt = "game24",
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    rounds: RoundsOpt = 4,
    samples: SamplesOpt = 8,
    feedback: FeedbackOpt = FeedbackLevel.ALL,
    temperature: TemperatureOpt = 1.0,
    seed: SeedOpt = 0,
    max_tokens: MaxTokensOpt = 128,
    token_budget: TokenBudgetOpt = None,
    wall_time: WallTimeOpt = None,
    structured: StructuredOpt = True,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=4096,
                                             help="Problems in flight.")] = 64,
    limit: Annotated[int | None, typer.Option("--limit", min=1,
                                              help="Only the first N problems.")] = None,
    corpus: CorpusOpt = None,
    cache: CacheOpt = True,
    request_timeout: RequestTimeoutOpt = DEFAULT_REQUEST_TIMEOUT_S,
    strategy: StrategyOpt = "backprompt",
    strategy_option: StrategyOptionOpt = None,
    generated_budget: GeneratedBudgetOpt = None,
    request_budget: RequestBudgetOpt = None,
    engine: EngineOpt = Engine.LOCAL,
    ray_address: RayAddressOpt = None,
    ray_actors: RayActorsOpt = None,
    ray_chunk: RayChunkOpt = None,
) -> None:
    """Solve a batch of problems; resumable (problems already in --out are skipped).

    Every round is committed to the corpus as it ends; problems solved before (by this run
    before a crash, or any earlier one) are served from it, re-verified, without generating.
    With --engine ray the problems are sharded over Ray actors and each problem's whole
    result is committed by this process when it comes back.
    """
    from llm_modulo.batch import check_appendable, pending, read_problems
    from llm_modulo.corpus.store import check_output_path, default_corpus_path
    from llm_modulo.generator import checked_api_key

    with errors_as_messages():
        check_engine(engine, ray_address, ray_actors, ray_chunk)  # a missing Ray: first
        if engine is Engine.RAY and ray_address and not base_url:
            raise UsageError("--engine ray with --ray-address needs --base-url: the embedded "
                             "server would listen on this machine's 127.0.0.1 only")
        dom, ver = default_registry.domain_and_verifier(domain)
        check_output_path(out_path, corpus or default_corpus_path())
        check_appendable(out_path)
        urls = base_urls(base_url)  # before a run is registered
        checked_api_key()
        config = make_config(rounds, samples, feedback, temperature, seed, max_tokens,
                             token_budget, wall_time, structured, concurrency,
                             strategy=strategy, strategy_options=strategy_option,
                             generated_budget=generated_budget, request_budget=request_budget,
                             fits=(dom, ver))
        problems = read_problems(problems_file, dom)[:limit]
        todo, bad = pending(problems, out_path)
        if bad:
            err.print(f"[yellow]warning:[/] {bad} unreadable line(s) in {escape(str(out_path))} "
                      "kept as is")
        err.print(f"{len(problems)} problems, {len(problems) - len(todo)} already done, "
                  f"{len(todo)} to solve")
        if not todo:
            raise typer.Exit(EXIT_OK)
        with (open_memory(corpus, "run", dom.name, config, reuse=cache) as memory,
              endpoint(urls, model) as (url, model_name)):
            err.print(f"[dim]recording to {escape(str(memory.corpus.path))} "
                      f"(run {memory.run_id})[/]",
                      highlight=False)
            if engine is Engine.RAY:
                summary = _run_on_ray(dom.name, url, model_name, config, problems, todo, bad,
                                      out_path, memory, request_timeout, ray_address,
                                      ray_actors, ray_chunk, reuse=cache)
            else:
                summary = asyncio.run(_run_batch(dom, ver, url, model_name, config, todo,
                                                 out_path, memory, request_timeout))
            if memory.served:
                err.print(f"{memory.served} served from the corpus (re-verified)")
    failed = summary.failed
    err.print(f"solved {summary.solved} of {len(todo)}"
              + (f"; {failed} generator errors" if failed else "") + f"; results in {out_path}",
              markup=False)
    raise typer.Exit(EXIT_GENERATOR if failed == len(todo) else EXIT_OK)


def demo(
    count: Annotated[int, typer.Option("--count", min=1, help="Puzzles to solve.")] = 8,
    base_url: BaseUrlOpt = None,
    rounds: RoundsOpt = 4,
    samples: SamplesOpt = 16,
    # the grammar keeps every sample well-formed, so a hot temperature only adds diversity
    # (SmolLM2 at 1.0 repeats itself: 24 distinct of 32 samples for 4 4 6 8, none right)
    temperature: TemperatureOpt = 1.5,
    seed: SeedOpt = 0,
    corpus: CorpusOpt = None,
    strategy: StrategyOpt = "backprompt",
    strategy_option: StrategyOptionOpt = None,
    generated_budget: GeneratedBudgetOpt = None,
    request_timeout: RequestTimeoutOpt = DEFAULT_REQUEST_TIMEOUT_S,
) -> None:
    """The main job: start the embedded model, solve Game-of-24 puzzles, print verified answers.

    The attempts are recorded in the corpus; stored solutions are not reused (the demo shows
    the model at work).
    """
    with errors_as_messages():
        dom, ver = default_registry.domain_and_verifier("game24")
        problems = dom.demo_problems()[:count]
        config = make_config(rounds, samples, FeedbackLevel.ALL, temperature, seed, 64, None, None,
                             True, strategy=strategy, strategy_options=strategy_option,
                             generated_budget=generated_budget, fits=(dom, ver))
        urls = base_urls(base_url)
        with (open_memory(corpus, "demo", dom.name, config, reuse=False) as memory,
              endpoint(urls, None) as (url, model_name)):
            results = asyncio.run(_collect(_solve_with_progress(
                dom, ver, url, model_name, config, problems, memory, request_timeout)))
    table = Table("puzzle", "verified answer", "round", "samples drawn")
    for r in sorted(results, key=lambda r: problems.index(r.problem)):
        nums = " ".join(str(n) for n in r.problem.payload["numbers"])
        answer = escape(_answer_text(r)) if r.solved else "[yellow]none within budget[/]"
        table.add_row(nums, answer, str(r.solution.round) if r.solution else "-",
                      str(len(r.attempts)))
    out.print(table)
    solved = sum(r.solved for r in results)
    out.print(f"solved {solved}/{len(results)}; every answer shown was accepted by the "
              f"{ver.name} verifier (exact rational arithmetic)")


async def _run_batch(dom: Any, ver: Any, url: str, model: str | None, config: LoopConfig,
                     todo: list[Problem], out_path: Path,
                     store: AttemptStore | None = None,
                     request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S) -> BatchSummary:
    """``solve_to_jsonl`` with a generator for ``url`` (one endpoint or several, comma-
    separated) and a progress bar on stderr; with several, a line per endpoint at the end."""
    from llm_modulo.batch import solve_to_jsonl
    from llm_modulo.loop import Solver
    from llm_modulo.routing import RoutingClient

    async with generator_spec(url, model, request_timeout).build() as client:
        solver = Solver(dom, ver, client, config, store=store)
        try:
            with _progress(dom.name, len(todo)) as advance:
                return await solve_to_jsonl(solver, todo, out_path, on_result=advance)
        finally:
            if isinstance(client, RoutingClient):
                _endpoint_report(client)


def generator_spec(url: str, model: str | None, request_timeout: float) -> GeneratorSpec:
    """The generator of a command: the endpoint(s) of ``url`` (comma-separated)."""
    from llm_modulo.endpoints import GeneratorSpec

    return GeneratorSpec(base_urls=url, model=model, deadline_s=request_timeout)


def _endpoint_report(client: RoutingClient) -> None:
    for s in client.stats():
        state = "healthy" if s.healthy else f"down ({s.reason})"
        err.print(f"endpoint {s.base_url}: {s.requests} requests, {s.failures} failed, "
                  f"{state}", markup=False, highlight=False, soft_wrap=True)


def _run_on_ray(domain: str, url: str, model: str | None, config: LoopConfig,
                problems: list[Problem], todo: list[Problem], bad: int, out_path: Path,
                memory: CorpusMemory, request_timeout: float, ray_address: str | None,
                ray_actors: int | None, ray_chunk: int | None, *, reuse: bool
                ) -> BatchSummary:
    """``run --engine ray``: the problems over Ray actors, each result recorded in the
    corpus (once) and then appended to ``out_path``, with one progress bar."""
    from llm_modulo.batch import results_to_jsonl
    from llm_modulo.ray_engine import (
        DEFAULT_CHUNK,
        ActorSpec,
        Job,
        cluster_cpus,
        ray_session,
        solve_on_ray,
    )
    from llm_modulo.runtime import data_dir

    unique = list({p.hash: p for p in reversed(todo)}.values())[::-1]  # first of each hash
    spec = ActorSpec(generator_spec(url, model, request_timeout))
    job = Job(domain, config, memory.run_id or "", reuse=reuse)
    with ray_session(ray_address, data_dir()) as ray:
        actors = ray_actors or cluster_cpus(ray)
        nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
        err.print(f"[dim]Ray: {actors} solver actors over {nodes} node(s)[/]", highlight=False)

        def results() -> Iterator[SolveResult]:
            for outcome in solve_on_ray(ray, spec, ((p, job) for p in unique), memory.corpus,
                                        actors=actors, concurrency=config.concurrency,
                                        chunk=ray_chunk or DEFAULT_CHUNK):
                memory.served += outcome.served
                yield outcome.result

        with _progress(domain, len(unique)) as advance:
            return results_to_jsonl(results(), problems, todo, out_path, unreadable_lines=bad,
                                    on_result=advance)


async def _collect(results: AsyncIterator[SolveResult]) -> list[SolveResult]:
    return [r async for r in results]


@contextlib.contextmanager
def _progress(name: str, total: int) -> Iterator[Callable[[SolveResult], None]]:
    """A progress bar on stderr; the yielded function counts one finished result."""
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(),
               MofNCompleteColumn(), TextColumn("solved {task.fields[solved]}"),
               TimeElapsedColumn())
    solved = 0
    with Progress(*columns, console=err) as progress:
        task = progress.add_task(name, total=total, solved=0)

        def advance(result: SolveResult) -> None:
            nonlocal solved
            solved += result.solved
            progress.update(task, advance=1, solved=solved)

        yield advance


async def _solve_with_progress(
    dom: Any, ver: Any, url: str, model: str | None, config: LoopConfig, problems: list[Problem],
    store: AttemptStore | None = None,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S,
) -> AsyncIterator[SolveResult]:
    """Solve ``problems`` with a progress bar on stderr, yielding each result as it finishes."""
    from llm_modulo.loop import Solver

    async with generator_spec(url, model, request_timeout).build() as client:
        solver = Solver(dom, ver, client, config, store=store)
        with _progress(dom.name, len(problems)) as advance:
            async for result in solver.solve_many(problems):
                advance(result)
                yield result
