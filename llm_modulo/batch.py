"""Resumable batch solving: problems from a JSONL file, results appended to a JSONL file.

What ``llm-modulo run`` does, as a library::

    problems = read_problems(Path("puzzles.jsonl"), domain)
    summary = await solve_to_jsonl(solver, problems, Path("results.jsonl"))

A problem whose result is already in the output file (any stop reason but ``error``) is
skipped, so a run that was stopped resumes where it was. Each result is written and
flushed as it finishes; a line cut short by a crash is left as it is and the next result
starts on a fresh line. Unreadable lines are counted, never rewritten.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_modulo.bounds import MAX_INPUT_BYTES, NestingError, loads_bounded
from llm_modulo.domain import Domain
from llm_modulo.errors import ProblemError, UsageError
from llm_modulo.loop import Solver
from llm_modulo.types import Problem, SolveResult, StopReason


@dataclass
class BatchSummary:
    """What a batch did: problems given, already finished before, solved and failed now."""

    total: int
    skipped: int
    solved: int = 0
    failed: int = 0
    unreadable_lines: int = 0

    @property
    def attempted(self) -> int:
        return self.total - self.skipped


def read_problems(path: Path, domain: Domain, *,
                  max_line_bytes: int = MAX_INPUT_BYTES) -> list[Problem]:
    """Parse a JSONL problems file; the first bad line is a :class:`ProblemError` naming it.

    A line longer than ``max_line_bytes`` or nesting deeper than
    :data:`~llm_modulo.bounds.MAX_JSON_DEPTH` is a bad line (it is never read whole).
    """
    if not path.exists():
        raise ProblemError(f"problems file {path} does not exist")
    if not path.is_file():
        raise ProblemError(f"problems file {path} is not a regular file")
    problems = []
    with path.open("rb") as fh:
        lineno = 0
        while data := fh.readline(max_line_bytes + 1):
            lineno += 1
            if len(data) > max_line_bytes and not data.endswith(b"\n"):
                raise ProblemError(f"{path}:{lineno}: line longer than {max_line_bytes} bytes")
            try:
                line = data.decode("utf-8")
            except UnicodeDecodeError:
                raise ProblemError(f"{path}:{lineno}: not UTF-8 text") from None
            if not line.strip():
                continue
            try:
                raw = loads_bounded(line)
            except NestingError as exc:
                raise ProblemError(f"{path}:{lineno}: {exc}") from None
            except json.JSONDecodeError as exc:
                raise ProblemError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            except ValueError as exc:  # NaN, Infinity, an integer of over 4300 digits
                raise ProblemError(f"{path}:{lineno}: not valid JSON ({exc})") from None
            try:
                prob = domain.parse_problem(raw)
            except ProblemError as exc:
                raise ProblemError(f"{path}:{lineno}: {exc}") from None
            if prob.id is None and isinstance(raw, dict) and raw.get("idx") is not None:
                prob = prob.model_copy(update={"id": str(raw["idx"])})
            problems.append(prob)
    return problems


def finished_hashes(path: Path) -> tuple[set[str], int]:
    """Problem hashes already finished in a results file (errors are retried), and the
    number of lines that could not be read."""
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
                if row.get("stop_reason") != StopReason.ERROR:
                    done.add(row["problem"]["hash"])
            # ValueError: also NaN, huge integers; RecursionError: a line nested 100,000 deep
            except (ValueError, RecursionError, KeyError, TypeError, AttributeError):
                bad += 1
    return done, bad


def pending(problems: list[Problem], out_path: Path) -> tuple[list[Problem], int]:
    """The problems not finished in ``out_path`` yet, and its unreadable line count."""
    done, bad = finished_hashes(out_path)
    return [p for p in problems if p.hash not in done], bad


def check_appendable(path: Path) -> None:
    """Refuse an output file that cannot be appended to (``/proc/version``, a read-only
    file, a missing directory's child that cannot be made) before any work is registered."""
    existed = path.exists()
    if existed and not path.is_file():
        raise UsageError(f"{path} is not a regular file; give a file name")
    try:
        with path.open("ab"):
            pass
    except OSError as exc:
        if not existed and isinstance(exc, FileNotFoundError):
            return  # its directory is made when the results are written
        raise UsageError(f"cannot write results to {path}: {exc.strerror}") from None
    if not existed:
        path.unlink(missing_ok=True)


def _start_on_a_fresh_line(path: Path) -> None:
    """Never damage what is stored: if a previous run was cut mid-line, end that line."""
    if path.exists() and path.stat().st_size:
        with path.open("rb") as fh:
            fh.seek(-1, os.SEEK_END)
            needs_newline = fh.read(1) != b"\n"
        if needs_newline:
            with path.open("a") as fh:
                fh.write("\n")


async def solve_to_jsonl(
    solver: Solver,
    problems: list[Problem],
    out_path: Path,
    *,
    on_result: Callable[[SolveResult], Any] | None = None,
) -> BatchSummary:
    """Solve the problems not yet finished in ``out_path``, appending each result as one
    JSON line as soon as it is known. ``on_result`` sees every new result (progress bars)."""
    todo, bad = pending(problems, out_path)
    summary = BatchSummary(total=len(problems), skipped=len(problems) - len(todo),
                           unreadable_lines=bad)
    with appending(out_path) as write:
        async for result in solver.solve_many(todo):
            _emit(result, summary, write, on_result)
    return summary


def results_to_jsonl(
    results: Iterable[SolveResult],
    problems: list[Problem],
    todo: list[Problem],
    out_path: Path,
    *,
    unreadable_lines: int = 0,
    on_result: Callable[[SolveResult], Any] | None = None,
) -> BatchSummary:
    """Append ``results`` (of ``todo``, the problems :func:`pending` left of ``problems``),
    each as one JSON line as soon as it comes: the writing half of :func:`solve_to_jsonl`
    for results solved elsewhere (``--engine ray``)."""
    summary = BatchSummary(total=len(problems), skipped=len(problems) - len(todo),
                           unreadable_lines=unreadable_lines)
    with appending(out_path) as write:
        for result in results:
            _emit(result, summary, write, on_result)
    return summary


def _emit(result: SolveResult, summary: BatchSummary, write: Callable[[SolveResult], None],
          on_result: Callable[[SolveResult], Any] | None) -> None:
    """Append ``result``, count it in ``summary``, then tell ``on_result``."""
    write(result)
    summary.solved += result.solved
    summary.failed += result.stop_reason is StopReason.ERROR
    if on_result is not None:
        on_result(result)


@contextlib.contextmanager
def appending(out_path: Path) -> Iterator[Callable[[SolveResult], None]]:
    """A function that appends one result as a JSON line and flushes it, to ``out_path``
    (made if need be; a line a crash cut short is ended first)."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    _start_on_a_fresh_line(out_path)
    with out_path.open("a") as fh:

        def write(result: SolveResult) -> None:
            fh.write(result.model_dump_json() + "\n")
            fh.flush()

        yield write
