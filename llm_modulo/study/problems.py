"""A study's problem sets: a directory of problem files, a JSONL file, or a generator.

Relative paths are read from the study file's directory. A directory's files (``glob``) are
taken in natural order (``instance-2`` before ``instance-10``), each read with the domain's
:meth:`~llm_modulo.domain.Domain.load_problem` (size-capped) and named by its file stem; a
JSONL file is read with :func:`llm_modulo.batch.read_problems`. A bad problem is a
:class:`~llm_modulo.errors.ProblemError` naming its file or line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llm_modulo.batch import read_problems
from llm_modulo.domain import Domain
from llm_modulo.errors import ProblemError, UsageError
from llm_modulo.study.config import ProblemSet
from llm_modulo.types import Problem

#: Most files a problem directory may hold for one set.
MAX_FILES = 100_000


@dataclass(frozen=True)
class LoadedSet:
    """The problems of a set and where they came from (said in the report)."""

    label: str
    source: str
    problems: list[Problem]


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """``instance-10`` after ``instance-2``: digit runs compare as numbers."""
    parts: list[tuple[int, int | str]] = []
    run = ""
    for ch in name:
        if ch.isdigit() != run[:1].isdigit() and run:
            parts.append((0, int(run)) if run[0].isdigit() else (1, run))
            run = ""
        run += ch
    if run:
        parts.append((0, int(run)) if run[0].isdigit() else (1, run))
    return tuple(parts)


def load_set(spec: ProblemSet, domain: Domain, base: Path, limit: int | None = None
             ) -> LoadedSet:
    """The problems of ``spec`` (at most ``limit`` or the set's own limit, the smaller)."""
    cap = min(x for x in (limit, spec.limit, 10**9) if x is not None)
    if spec.generate is not None:
        problems = domain.generate_problems(min(spec.generate, cap), spec.seed)
        label = spec.label or f"{domain.name}-generated-seed{spec.seed}"
        return LoadedSet(label, f"{domain.name} generator, seed {spec.seed}", problems)
    assert spec.path is not None
    path = Path(spec.path).expanduser()
    if not path.is_absolute():
        path = base / path
    label = spec.label or Path(spec.path).name or domain.name
    if not path.exists():
        if spec.fallback is not None:
            fallen = load_set(spec.fallback, domain, base, limit)
            return LoadedSet(label, f"{path} is missing: {fallen.source} instead",
                             fallen.problems)
        raise UsageError(f"problem path {path} does not exist")
    if path.is_file():
        chosen = read_problems(path, domain)[spec.offset:spec.offset + cap]
        return LoadedSet(label, _described(path, spec), chosen)
    files = []
    for i, f in enumerate(path.glob(spec.glob)):
        if i >= MAX_FILES:
            raise UsageError(f"problem directory {path} holds more than {MAX_FILES} files")
        if f.is_file():
            files.append(f)
    files.sort(key=lambda f: natural_key(f.name))
    if not files:
        raise UsageError(f"no problem files matching {spec.glob!r} in {path}")
    problems = []
    for f in files[spec.offset:spec.offset + cap]:
        try:
            problem = domain.load_problem(str(f))
        except ProblemError as exc:
            raise ProblemError(f"{f}: {exc}") from None
        problems.append(problem if problem.id is not None
                        else problem.model_copy(update={"id": f.stem}))
    return LoadedSet(label, _described(path / spec.glob, spec), problems)


def _described(path: Path, spec: ProblemSet) -> str:
    return f"{path}" + (f" (skipping the first {spec.offset})" if spec.offset else "")
