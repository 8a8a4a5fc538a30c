"""The ``llm-modulo`` command line.

Exit status: 0 success / accept, 1 reject / not solved, 2 usage or input error,
3 unknown (``check``), 4 generator or model-server failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from llm_modulo.corpus.cli import CacheOpt, CorpusOpt, open_memory
from llm_modulo.corpus.cli import register as register_corpus_commands
from llm_modulo.corpus.memory import CorpusMemory
from llm_modulo.corpus.store import check_output_path, default_corpus_path
from llm_modulo.domain import spec_file
from llm_modulo.errors import (
    GeneratorError,
    LLMModuloError,
    PluginLoadError,
    ProblemError,
    SetupError,
    UsageError,
)
from llm_modulo.generator import OpenAICompatClient, SamplingParams, checked_base_url
from llm_modulo.loop import AttemptStore, Budget, LoopConfig, Solver, feedback_target
from llm_modulo.pool import WorkerPool
from llm_modulo.registry import default_registry
from llm_modulo.types import FeedbackLevel, Problem, SolveResult, Status, StopReason

app = typer.Typer(
    name="llm-modulo",
    help="LLM-Modulo: an LLM proposes, sound verifiers dispose.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

EXIT_OK, EXIT_REJECT, EXIT_USAGE, EXIT_UNKNOWN, EXIT_GENERATOR = 0, 1, 2, 3, 4
BASE_URL_ENV = "LLM_MODULO_BASE_URL"


MAX_ERROR_CHARS = 1000


def one_line(message: str) -> str:
    """An error message as one bounded line (a message may quote megabytes of input)."""
    text = " ".join(line.strip() for line in message.splitlines() if line.strip())
    if len(text) > MAX_ERROR_CHARS:
        text = f"{text[:MAX_ERROR_CHARS]}... ({len(text)} characters)"
    return text


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(one_line(message))}", highlight=False,
              soft_wrap=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def errors_as_messages() -> Iterator[None]:
    """One clear line per known error, never a traceback."""
    try:
        yield
    except (GeneratorError, SetupError) as exc:
        fail(str(exc), EXIT_GENERATOR)
    except LLMModuloError as exc:
        fail(str(exc), EXIT_USAGE)


# -- shared options ----------------------------------------------------------------------

DomainOpt = Annotated[str, typer.Option("--domain", "-d", help="Registered domain name.")]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option("--base-url", envvar=BASE_URL_ENV,
                 help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1. "
                      "Default: start the embedded vLLM CPU server."),
]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Model name (default: the "
                                                               "server's first model).")]
RoundsOpt = Annotated[int, typer.Option("--rounds", min=1, help="Generate-verify rounds.")]
SamplesOpt = Annotated[int, typer.Option("-n", "--samples", min=1, max=128,
                                         help="Samples per round.")]
FeedbackOpt = Annotated[FeedbackLevel, typer.Option("--feedback",
                                                    help="What back-prompts carry.")]
TemperatureOpt = Annotated[float, typer.Option("--temperature", min=0.0, max=5.0)]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Sampling seed (round r uses "
                                                            "seed + r - 1).")]
MaxTokensOpt = Annotated[int, typer.Option("--max-tokens", min=1, help="Tokens per sample.")]
TokenBudgetOpt = Annotated[int | None, typer.Option("--token-budget", min=1,
                                                    help="Total tokens per problem.")]
WallTimeOpt = Annotated[float | None, typer.Option("--wall-time", min=0.001,
                                                   help="Seconds per problem.")]
StructuredOpt = Annotated[bool, typer.Option("--structured/--no-structured",
                                             help="Enforce the domain's output constraint "
                                                  "in decoding.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a report.")]


def _config(rounds: int, samples: int, feedback: FeedbackLevel, temperature: float,
            seed: int | None, max_tokens: int, token_budget: int | None,
            wall_time: float | None, structured: bool, concurrency: int = 64) -> LoopConfig:
    return LoopConfig(
        budget=Budget(rounds=rounds, samples=samples, max_tokens=token_budget,
                      wall_time_s=wall_time),
        feedback=feedback,
        sampling=SamplingParams(temperature=temperature, seed=seed, max_tokens=max_tokens),
        structured=structured,
        concurrency=concurrency,
    )


@contextlib.contextmanager
def endpoint(base_url: str | None, model: str | None) -> Iterator[tuple[str, str | None]]:
    """The given endpoint, or the embedded server started for the command's duration."""
    if base_url:
        yield base_url, model
        return
    from llm_modulo.embedded import EmbeddedServer

    err.print("[dim]no --base-url given: starting the embedded vLLM CPU server "
              "(SmolLM2-135M-Instruct); this takes about a minute...[/]")
    with err.status("starting vLLM ..."), EmbeddedServer() as server:
        pass_through = server
        err.print(f"[dim]vLLM ready at {server.base_url}[/]")
        yield pass_through.base_url, model or pass_through.model


# -- commands ---------------------------------------------------------------------------


@app.command()
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
) -> None:
    """Solve one problem: generate, verify, back-prompt until a verified answer or budget end.

    Every attempt is recorded in the corpus; a stored solution that still verifies is
    served without generating (--no-cache: always generate).
    """
    with errors_as_messages():
        dom, ver = default_registry.domain_and_verifier(domain)
        prob = dom.load_problem(problem)
        config = _config(rounds, samples, feedback, temperature, seed, max_tokens,
                         token_budget, wall_time, structured)
        with open_memory(corpus, "solve", dom.name, config, reuse=cache) as memory:
            result = _solve_one(dom, ver, prob, config, memory, base_url, model)
    if as_json:
        out.print_json(result.model_dump_json())
    else:
        _report(result)
    if result.stop_reason.value == "error":
        raise typer.Exit(EXIT_GENERATOR)
    raise typer.Exit(EXIT_OK if result.solved else EXIT_REJECT)


def _solve_one(dom: Any, ver: Any, prob: Problem, config: LoopConfig, memory: AttemptStore,
               base_url: str | None, model: str | None) -> SolveResult:
    """A stored solution that still verifies, else the loop (starting a server if needed)."""

    async def recall() -> Any:
        return await memory.lookup(prob, ver, None)

    cached = asyncio.run(recall())
    if cached is not None:
        return SolveResult(problem=prob, solution=cached, stop_reason=StopReason.CACHED)
    if isinstance(memory, CorpusMemory):
        memory.reuse = False  # looked up already: the solver need not do it again
    with endpoint(base_url, model) as (url, model_name):

        async def go() -> SolveResult:
            async with OpenAICompatClient(url, model=model_name) as client:
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
    elif result.stop_reason.value == "error":
        out.print(f"[bold red]generator failed:[/] {escape(str(result.error))}",
                  highlight=False, soft_wrap=True)
    else:
        out.print(f"[bold yellow]no verified answer[/] within budget "
                  f"(stopped: {result.stop_reason.value})")
    if result.stop_reason is StopReason.CACHED:
        return
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
    out.print(table)
    out.print(f"[dim]tokens: {result.usage.prompt_tokens} prompt + "
              f"{result.usage.completion_tokens} completion; {result.elapsed_s:.1f} s[/]")


@app.command()
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
            try:
                text = path.read_text()
            except OSError as exc:
                raise UsageError(f"cannot read candidate file {path}: {exc.strerror}") from None
            except UnicodeDecodeError:
                raise UsageError(f"candidate file {path} is not UTF-8 text") from None
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


def _read_problems(path: Path, dom: Any) -> list[Problem]:
    if not path.exists():
        raise ProblemError(f"problems file {path} does not exist")
    if not path.is_file():
        raise ProblemError(f"problems file {path} is not a regular file")
    problems = []
    with path.open("rb") as fh:
        for lineno, data in enumerate(fh, 1):
            try:
                line = data.decode("utf-8")
            except UnicodeDecodeError:
                raise ProblemError(f"{path}:{lineno}: not UTF-8 text") from None
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ProblemError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            try:
                prob = dom.parse_problem(raw)
            except ProblemError as exc:
                raise ProblemError(f"{path}:{lineno}: {exc}") from None
            if prob.id is None and isinstance(raw, dict) and raw.get("idx") is not None:
                prob = prob.model_copy(update={"id": str(raw["idx"])})
            problems.append(prob)
    return problems


def _done_hashes(path: Path) -> tuple[set[str], int]:
    """Problem hashes already finished in a results file (errors are retried)."""
    done: set[str] = set()
    bad = 0
    if not path.exists():
        return done, bad
    with path.open(encoding="utf-8", errors="replace") as fh:  # a damaged line is just bad
        for line in fh:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if row.get("stop_reason") != "error":
                    done.add(row["problem"]["hash"])
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                bad += 1
    return done, bad


@app.command()
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
) -> None:
    """Solve a batch of problems; resumable (problems already in --out are skipped).

    Every round is committed to the corpus as it ends; problems solved before (by this run
    before a crash, or any earlier one) are served from it, re-verified, without generating.
    """
    with errors_as_messages():
        dom, ver = default_registry.domain_and_verifier(domain)
        check_output_path(out_path, corpus or default_corpus_path())
        if base_url:
            checked_base_url(base_url)  # before a run is registered
        problems = _read_problems(problems_file, dom)[:limit]
        done, bad = _done_hashes(out_path)
        if bad:
            err.print(f"[yellow]warning:[/] {bad} unreadable line(s) in {escape(str(out_path))} "
                      "kept as is")
        todo = [p for p in problems if p.hash not in done]
        err.print(f"{len(problems)} problems, {len(problems) - len(todo)} already done, "
                  f"{len(todo)} to solve")
        if not todo:
            raise typer.Exit(EXIT_OK)
        config = _config(rounds, samples, feedback, temperature, seed, max_tokens,
                         token_budget, wall_time, structured, concurrency)
        with (open_memory(corpus, "run", dom.name, config, reuse=cache) as memory,
              endpoint(base_url, model) as (url, model_name)):
            err.print(f"[dim]recording to {escape(str(memory.corpus.path))} "
                      f"(run {memory.run_id})[/]",
                      highlight=False)
            solved, failed = asyncio.run(_run_batch(dom, ver, url, model_name, config, todo,
                                                    out_path, memory))
            if memory.served:
                err.print(f"{memory.served} served from the corpus (re-verified)")
    err.print(f"solved {solved} of {len(todo)}" + (f"; {failed} generator errors" if failed
                                                   else "") + f"; results in {out_path}",
              markup=False)
    raise typer.Exit(EXIT_GENERATOR if failed == len(todo) else EXIT_OK)


async def _run_batch(dom: Any, ver: Any, url: str, model: str | None, config: LoopConfig,
                     todo: list[Problem], out_path: Path,
                     store: AttemptStore | None = None) -> tuple[int, int]:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # never damage what is stored: start on a fresh line if a previous run was cut mid-line
    if out_path.exists() and out_path.stat().st_size:
        with out_path.open("rb") as fh:
            fh.seek(-1, os.SEEK_END)
            needs_newline = fh.read(1) != b"\n"
        if needs_newline:
            with out_path.open("a") as fh:
                fh.write("\n")
    solved = failed = 0
    with out_path.open("a") as fh:
        async for result in _solve_with_progress(dom, ver, url, model, config, todo, store):
            fh.write(result.model_dump_json() + "\n")
            fh.flush()
            solved += result.solved
            failed += result.stop_reason.value == "error"
    return solved, failed


@app.command()
def verifiers(as_json: JsonOpt = False) -> None:
    """List registered verifiers with versions and origins (exit 2 if a plugin failed)."""
    rows = [{"name": e.name, "version": e.cls.version, "sound": e.cls.sound, "origin": e.origin,
             "class": f"{e.cls.__module__}.{e.cls.__qualname__}"}
            for e in default_registry.verifiers.entries()]
    _print_listing("verifiers", rows, default_registry.verifiers.errors(), as_json)


@app.command()
def domains(as_json: JsonOpt = False) -> None:
    """List registered domains with versions, verifiers and origins (exit 2 if a plugin failed)."""
    rows = [{"name": e.name, "version": e.cls.version, "verifier": e.cls.verifier,
             "origin": e.origin, "class": f"{e.cls.__module__}.{e.cls.__qualname__}"}
            for e in default_registry.domains.entries()]
    _print_listing("domains", rows, default_registry.domains.errors(), as_json)


def _print_listing(what: str, rows: list[dict[str, Any]], errors: list[PluginLoadError],
                   as_json: bool) -> None:
    if as_json:
        broken = [{"name": e.name, "entry_point": e.value, "group": e.group, "error": e.error}
                  for e in errors]
        sys.stdout.write(json.dumps({what: rows, "errors": broken}) + "\n")
    else:
        table = Table(*(rows[0].keys() if rows else ["name"]))
        for row in rows:
            table.add_row(*(("yes" if v else "no") if isinstance(v, bool) else str(v)
                            for v in row.values()))
        out.print(table)
    for e in errors:
        err.print(f"[bold red]plugin failed to load:[/] {escape(str(e))}", highlight=False,
                  soft_wrap=True)
    if errors:
        raise typer.Exit(EXIT_USAGE)


@app.command()
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


@app.command("fetch-model")
def fetch_model() -> None:
    """Download and convert the embedded model (done once; cached in the data directory)."""
    from llm_modulo.embedded import ensure_model

    with errors_as_messages():
        path = ensure_model()
    out.print(f"model ready at {path}")


@app.command()
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
) -> None:
    """The main job: start the embedded model, solve Game-of-24 puzzles, print verified answers.

    The attempts are recorded in the corpus; stored solutions are not reused (the demo shows
    the model at work).
    """
    from domains.game24 import DEMO_PUZZLES

    with errors_as_messages():
        dom, ver = default_registry.domain_and_verifier("game24")
        problems = [dom.parse_problem(p) for p in DEMO_PUZZLES[:count]]
        config = _config(rounds, samples, FeedbackLevel.ALL, temperature, seed, 64, None, None,
                         True)
        with (open_memory(corpus, "demo", dom.name, config, reuse=False) as memory,
              endpoint(base_url, None) as (url, model_name)):
            results = asyncio.run(_collect(_solve_with_progress(dom, ver, url, model_name,
                                                                config, problems, memory)))
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


async def _collect(results: AsyncIterator[SolveResult]) -> list[SolveResult]:
    return [r async for r in results]


async def _solve_with_progress(
    dom: Any, ver: Any, url: str, model: str | None, config: LoopConfig, problems: list[Problem],
    store: AttemptStore | None = None,
) -> AsyncIterator[SolveResult]:
    """Solve ``problems`` with a progress bar on stderr, yielding each result as it finishes."""
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(),
               MofNCompleteColumn(), TextColumn("solved {task.fields[solved]}"),
               TimeElapsedColumn())
    solved = 0
    async with OpenAICompatClient(url, model=model) as client:
        solver = Solver(dom, ver, client, config, store=store)
        with Progress(*columns, console=err) as progress:
            task = progress.add_task(dom.name, total=len(problems), solved=0)
            async for result in solver.solve_many(problems):
                solved += result.solved
                progress.update(task, advance=1, solved=solved)
                yield result


register_corpus_commands(app, errors_as_messages, out, err)


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwind: context managers stop servers, files close


COMMANDS_GROUP = "llm_modulo.commands"


def add_plugin_commands(argv: list[str] | None = None) -> None:
    """Add the commands plugins declare in the ``llm_modulo.commands`` entry-point group
    (the built-in ``validate`` and ``fetch-lean`` come the same way). Each entry point is a
    function ``register(app: typer.Typer) -> None``; its name is the command's name.

    Given ``argv``, a core command loads no plugin and a plugin command loads only its own
    entry point; help and unknown commands load them all. A plugin that fails to load is
    reported in one line, and the other commands keep working.
    """
    from llm_modulo.registry import allowed_entry_points

    core = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    first = next((a for a in argv or [] if not a.startswith("-")), None)
    if first in core:
        return
    found = allowed_entry_points(COMMANDS_GROUP)
    if any(ep.name == first for ep in found):
        found = [ep for ep in found if ep.name == first]
    for ep in found:
        if ep.name in _added_commands:
            continue
        try:
            ep.load()(app)
        except Exception as exc:
            err.print(f"[bold red]error:[/] command plugin {escape(ep.name)} "
                      f"({escape(ep.value)}) failed to load: "
                      f"{escape(one_line(f'{type(exc).__name__}: {exc}'))}",
                      highlight=False, soft_wrap=True)
            continue
        _added_commands.add(ep.name)


_added_commands: set[str] = set()


def _click_exceptions() -> Any:
    try:  # typer >= 0.2x vendors click
        from typer._click import exceptions
    except ImportError:  # pragma: no cover - older typer on real click
        from click import exceptions  # type: ignore[no-redef]
    return exceptions


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    exceptions = _click_exceptions()
    add_plugin_commands(sys.argv[1:])
    try:
        code = app(standalone_mode=False)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except exceptions.NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except exceptions.ClickException as exc:  # a bad flag or value: one line, not a box
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        err.print(f"[bold red]error:[/] {escape(one_line(exc.format_message()) + hint)}",
                  highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(1)
    except SystemExit as exc:
        if exc.code == 128 + signal.SIGTERM:
            err.print("terminated: what was finished is kept; run the command again to resume")
        raise
    if code == 130:  # typer turns Ctrl-C into exit status 130
        err.print("interrupted: what was finished is kept; run the command again to resume")
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
