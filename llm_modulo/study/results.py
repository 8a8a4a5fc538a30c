"""The study's results: one JSON line per (cell, problem), appended as each problem ends.

``results.jsonl`` in the output directory is the study's memory: a cell's problem whose line
is there (any stop reason but ``error``) is not solved again, so a killed study resumes where
it was. Lines are read bounded and validated; a line cut short by a kill, or one that does
not validate, is skipped (that problem is solved again) and counted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from llm_modulo.bounds import NestingError, loads_bounded
from llm_modulo.types import Status, StopReason

RESULTS_FILE = "results.jsonl"
#: Longest results line read (a line is a few KB; 15 rounds of judgements fit many times).
MAX_LINE_BYTES = 4 * 1024 * 1024


class ProblemResult(BaseModel):
    """How one problem went in one cell."""

    cell: str
    arm: str
    domain: str
    set: str
    model: str
    strategy: str
    mode: str
    feedback: str
    rounds: int
    problem_hash: str
    problem_id: str | None = None
    #: the sound verifier accepts the reported answer (the accuracy counted)
    correct: bool
    #: the round of the reported answer (solved: the accepted one; self: the one the critic
    #: stopped on or the last); None when no answer was made
    answer_round: int | None = None
    stop_reason: StopReason
    error: str | None = None
    #: tokens (prompt + generated, generator and critic) spent through round k, k = 1..
    tokens_by_round: list[int] = Field(default_factory=list)
    tokens: int = 0
    critic_tokens: int = 0
    requests: int = 0
    #: self arms: (critic verdict, sound verdict) of every candidate
    judgements: list[tuple[Status, Status]] = Field(default_factory=list)
    critic_stopped: bool = False

    def solved_by(self, k: int) -> bool:
        """Solved with an answer from round ``k`` or earlier (PlanBench's cumulative count)."""
        return self.correct and self.answer_round is not None and self.answer_round <= k

    def tokens_through(self, k: int) -> int:
        if not self.tokens_by_round:
            return self.tokens
        return self.tokens_by_round[min(k, len(self.tokens_by_round)) - 1]


def read_results(out_dir: Path) -> tuple[list[ProblemResult], int]:
    """The results recorded so far (the last line per cell and problem wins) and how many
    lines could not be read."""
    path = out_dir / RESULTS_FILE
    found: dict[tuple[str, str], ProblemResult] = {}
    bad = 0
    if not path.is_file():
        return [], 0
    for line in _lines(path):
        if line is None:
            bad += 1
            continue
        try:
            result = ProblemResult.model_validate(loads_bounded(line))
        except (ValueError, NestingError, ValidationError):
            bad += 1
            continue
        found[(result.cell, result.problem_hash)] = result
    return list(found.values()), bad


def _lines(path: Path) -> Iterator[str | None]:
    """Each line's text; None for a line too long or not UTF-8 (never read whole)."""
    with path.open("rb") as fh:
        while data := fh.readline(MAX_LINE_BYTES + 1):
            if len(data) > MAX_LINE_BYTES and not data.endswith(b"\n"):
                while (more := fh.readline(MAX_LINE_BYTES + 1)) and not more.endswith(b"\n"):
                    pass
                yield None
                continue
            if not data.strip():
                continue
            try:
                yield data.decode("utf-8")
            except UnicodeDecodeError:
                yield None


def finished(results: list[ProblemResult]) -> set[tuple[str, str]]:
    """(cell, problem hash) pairs that need no new solve."""
    return {(r.cell, r.problem_hash) for r in results if r.stop_reason is not StopReason.ERROR}


class ResultWriter:
    """Appends results, one flushed line each; a line cut short by a kill is ended first."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / RESULTS_FILE
        if self.path.exists() and self.path.stat().st_size:
            with self.path.open("rb") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    with self.path.open("ab") as out:
                        out.write(b"\n")
        self._fh = self.path.open("a", encoding="utf-8")

    def write(self, result: ProblemResult) -> None:
        self._fh.write(result.model_dump_json() + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()
