"""Corpus commands (``export``, ``corpus stats``) and the corpus options of ``solve``/``run``.

:func:`register` adds the commands to the main app; it takes the app's error guard and
consoles so this module never imports :mod:`llm_modulo.cli` (no import cycle).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from llm_modulo.corpus.kinds import CORPUS_ENV, ExportFormat, SftStyle
from llm_modulo.engines import Engine, EngineOpt, RayAddressOpt, check_engine
from llm_modulo.errors import UsageError

if TYPE_CHECKING:
    from llm_modulo.corpus.memory import CorpusMemory
    from llm_modulo.corpus.store import Corpus

CorpusOpt = Annotated[
    Path | None,
    typer.Option("--corpus", envvar=CORPUS_ENV,
                 help="Corpus database (SQLite). Default: corpus.sqlite in the data directory "
                      "($LLM_MODULO_HOME, else ~/.cache/llm-modulo)."),
]
CacheOpt = Annotated[bool, typer.Option("--cache/--no-cache",
                                        help="Serve a stored solution (re-verified now) "
                                             "instead of generating.")]


@contextlib.contextmanager
def open_memory(path: Path | None, command: str, domain: str, config: BaseModel, *,
                reuse: bool) -> Iterator[CorpusMemory]:
    """The corpus as the loop's store for one command: a new run, recorded as it goes."""
    from llm_modulo.corpus.memory import CorpusMemory
    from llm_modulo.corpus.store import Corpus

    with Corpus(path) as corpus:
        memory = CorpusMemory(corpus, run_id=corpus.start_run(command, domain, config),
                              reuse=reuse)
        try:
            yield memory
        finally:
            memory.close()


def existing_corpus(path: Path | None) -> Corpus:
    """Open a corpus that must already exist (reading commands never create one)."""
    from llm_modulo.corpus.store import Corpus, default_corpus_path

    target = path or default_corpus_path()
    if not target.is_file():
        raise UsageError(f"no corpus at {target}: solve or run something first, or pass "
                         f"--corpus PATH")
    return Corpus(target)


def _when(value: str | None, flag: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{flag} {value!r} is not an ISO date or time, e.g. 2026-11-22 or "
                         f"2026-11-22T16:00") from None


def register(app: typer.Typer, guard: Callable[[], contextlib.AbstractContextManager[None]],
             out: Console, err: Console) -> None:
    """Add ``export`` and ``corpus stats`` to ``app``."""
    corpus_app = typer.Typer(help="Inspect the corpus of verified solutions.",
                             no_args_is_help=True)
    app.add_typer(corpus_app, name="corpus")

    @app.command("export")
    def export_command(
        fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="Output format.")],
        out_path: Annotated[Path, typer.Option("--out", "-o", help="Output file (with "
                                                                  "--split: OUT.train/.test).")],
        corpus: CorpusOpt = None,
        domain: Annotated[list[str] | None, typer.Option(
            "--domain", "-d", metavar="DOMAIN", help="Only this domain (repeatable).")] = None,
        run: Annotated[list[str] | None, typer.Option(
            "--run", metavar="RUN_ID", help="Only this run (repeatable).")] = None,
        since: Annotated[str | None, typer.Option("--since", help="Attempts at or after "
                                                                  "(ISO date/time, UTC).")
                         ] = None,
        until: Annotated[str | None, typer.Option("--until", help="Attempts before.")] = None,
        min_round: Annotated[int | None, typer.Option("--min-round", min=1)] = None,
        max_round: Annotated[int | None, typer.Option("--max-round", min=1)] = None,
        split: Annotated[float | None, typer.Option(
            "--split", help="Train fraction, split by problem hash (e.g. 0.9).")] = None,
        reverify: Annotated[bool, typer.Option(
            "--reverify", help="Re-check every row with today's verifiers; drop failures.")
                            ] = False,
        sft_style: Annotated[SftStyle, typer.Option(
            "--sft-style", help="sft rows as messages or prompt/completion.")
                             ] = SftStyle.MESSAGES,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")
                           ] = False,
        engine: EngineOpt = Engine.LOCAL,
        ray_address: RayAddressOpt = None,
    ) -> None:
        """Export verified solutions (and REJECTed negatives, and process labels) as training
        data. With --reverify --engine ray the re-checks run as Ray tasks."""
        from llm_modulo.corpus.formats import ExportOptions, export

        with guard():
            check_engine(engine, ray_address, None)  # a missing Ray: before anything else
            if engine is Engine.RAY and not reverify:
                raise UsageError("--engine ray runs the re-checks of --reverify on Ray; "
                                 "without --reverify there is nothing to run there")
            try:
                options = ExportOptions(
                    format=fmt.value, out=out_path, domains=tuple(domain or ()),
                    runs=tuple(run or ()), since=_when(since, "--since"),
                    until=_when(until, "--until"), min_round=min_round, max_round=max_round,
                    split=split, reverify=reverify, sft_style=sft_style.value)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise UsageError(f"{where}: {first['msg']}".lstrip(": ")) from None
            with existing_corpus(corpus) as db, contextlib.ExitStack() as stack:
                reverifier = None
                if engine is Engine.RAY:
                    from llm_modulo.ray_engine import RayReverifier, ray_session
                    from llm_modulo.runtime import data_dir

                    reverifier = RayReverifier(stack.enter_context(
                        ray_session(ray_address, data_dir())))
                report = export(db, options, reverifier=reverifier)
        if as_json:
            sys.stdout.write(report.model_dump_json() + "\n")
            return
        for path, rows in report.files.items():
            err.print(f"wrote {rows} {fmt.value} rows to {path}", highlight=False, markup=False)
        if report.dropped:
            err.print(f"--reverify dropped {report.dropped} rows that no longer verify")

    @corpus_app.command("runs")
    def runs_command(
        corpus: CorpusOpt = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """List the runs recorded in the corpus (their ids filter export and stats)."""
        from llm_modulo.corpus.stats import list_runs

        with guard(), existing_corpus(corpus) as db:
            runs = list_runs(db)
        if as_json:
            sys.stdout.write(json.dumps([r.model_dump(mode="json") for r in runs]) + "\n")
        else:
            _runs_table(runs, out)

    @corpus_app.command("stats")
    def stats_command(
        corpus: CorpusOpt = None,
        domain: Annotated[list[str] | None, typer.Option(
            "--domain", "-d", metavar="DOMAIN", help="Only this domain (repeatable).")] = None,
        run: Annotated[list[str] | None, typer.Option(
            "--run", metavar="RUN_ID", help="Only this run (repeatable).")] = None,
        plot: Annotated[Path | None, typer.Option(
            "--plot", help="Draw solve rate against round per domain to this PNG.")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Per domain: problems, solved, acceptance rate, rounds to accept, tokens; per Ray
        node, the results it solved."""
        from llm_modulo.corpus.stats import corpus_stats, plot_solve_rate

        with guard():
            if plot is not None:  # never drawn over the corpus, a database or a directory
                from llm_modulo.corpus.store import check_output_path, default_corpus_path

                check_output_path(plot, corpus or default_corpus_path())
            with existing_corpus(corpus) as db:
                stats = corpus_stats(db, domains=tuple(domain or ()), runs=tuple(run or ()))
            if plot is not None:
                plot_solve_rate(stats, plot)
        if as_json:
            sys.stdout.write(stats.model_dump_json() + "\n")
        else:
            _stats_table(stats, out)
        if plot is not None:
            err.print(f"plot written to {plot}", highlight=False, markup=False)


def _runs_table(runs: list[Any], out: Console) -> None:
    lineage = any(r.checkpoint for r in runs)
    columns = ["run id", "command", "domain", "strategy", "started (UTC)", "problems",
               "attempts", "accepted"]
    table = Table(*columns, *(("checkpoint", "role") if lineage else ()))
    for r in runs:
        extra = (escape(r.checkpoint or "-"), r.role or "-") if lineage else ()
        table.add_row(r.id, r.command, r.domain or "-", r.strategy or "-",
                      r.started_at.strftime("%Y-%m-%d %H:%M"),
                      str(r.problems), str(r.attempts), str(r.accepted_attempts), *extra)
    out.print(table)


def _stats_table(stats: Any, out: Console) -> None:
    table = Table("domain", "problems", "solved", "rate", "attempts acc/rej/unk",
                  "rounds to accept", "tokens / solution", "flagged",
                  title=f"{escape(str(stats.path))} ({stats.runs} runs)")
    for d in stats.domains:
        hist = " ".join(f"{r}:{n}" for r, n in d.rounds_to_accept.items()) or "-"
        tokens = f"{d.tokens_per_solution:.0f}" if d.tokens_per_solution is not None else "-"
        table.add_row(d.domain, str(d.problems), str(d.solved), f"{d.acceptance_rate:.1%}",
                      f"{d.accepted_attempts}/{d.rejected_attempts}/{d.unknown_attempts}",
                      hist, tokens, str(d.flagged_solutions))
    out.print(table)
    if not stats.domains:
        out.print("the corpus holds no attempts yet")
    if stats.searches:
        searches = Table("strategy", "search trees", "nodes", "proven-dead prefixes",
                         title="search trees")
        for st in stats.searches:
            searches.add_row(st.strategy, str(st.trees), str(st.nodes), str(st.dead_prefixes))
        out.print(searches)
    if stats.nodes:
        nodes = Table("host", "Ray node", "results", "solved", title="per node (--engine ray)")
        for n in stats.nodes:
            nodes.add_row(escape(n.hostname or "-"), escape(n.node_id or "-"), str(n.results),
                          str(n.solved))
        out.print(nodes)
    if stats.checkpoints:
        lineage = Table("checkpoint", "parent", "iteration", "trained on (rows)",
                        "trained on solutions of", "runs", "solutions found",
                        title="checkpoint lineage")
        for c in stats.checkpoints:
            rows = "-" if c.train_rows is None else str(c.train_rows)
            lineage.add_row(escape(c.name), escape(c.parent or "-"), str(c.iteration), rows,
                            escape(", ".join(c.trained_on) or "-"), str(c.runs),
                            str(c.solutions))
        out.print(lineage)
