"""The held-out evaluation split and the fresh training draws, kept apart by problem hash.

The evaluation split is drawn once from a seed derived from the run's seed; each iteration's
training problems come from another derived seed, and any problem whose hash is in the
evaluation split is dropped before it is solved. :func:`check_disjoint` is asserted again on
every training set (a leak raises :class:`~llm_modulo.errors.ImproveError`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable
from pathlib import Path

from llm_modulo.domain import Domain
from llm_modulo.errors import ImproveError
from llm_modulo.types import Problem

#: extra draws when the domain repeats problems (small domains): then fewer is said
MAX_DRAWS = 4


def derived_seed(seed: int, label: str) -> int:
    """A seed for one purpose (``eval``, ``train-3``) from the run's seed."""
    digest = hashlib.sha256(f"llm-modulo-improve:{seed}:{label}".encode()).digest()
    return int.from_bytes(digest[:7], "big")


def held_out(domain: Domain, count: int, seed: int) -> list[Problem]:
    """The fixed evaluation split (distinct problems)."""
    return _draw(domain, count, seed, "eval", set())


def training_draw(domain: Domain, count: int, seed: int, iteration: int,
                  exclude: Collection[str]) -> list[Problem]:
    """``count`` fresh training problems for ``iteration``, none in ``exclude`` (hashes):
    fewer only when the domain keeps repeating itself."""
    chosen = _draw(domain, count, seed, f"train-{iteration}", exclude)
    check_disjoint((p.hash for p in chosen), exclude)
    return chosen


def _draw(domain: Domain, count: int, seed: int, label: str, exclude: Collection[str]
          ) -> list[Problem]:
    """Up to ``count`` distinct problems outside ``exclude``, drawing again (another derived
    seed) while the domain repeats itself, at most :data:`MAX_DRAWS` times."""
    chosen: list[Problem] = []
    seen = set(exclude)
    for draw in range(MAX_DRAWS):
        name = label + (f"-{draw}" if draw else "")
        fresh = _distinct(domain.generate_problems(count, derived_seed(seed, name)), seen)
        chosen.extend(fresh[: count - len(chosen)])
        if len(chosen) >= count:
            break
    return chosen


def _distinct(problems: Iterable[Problem], seen: set[str]) -> list[Problem]:
    out = []
    for p in problems:
        if p.hash not in seen:
            seen.add(p.hash)
            out.append(p)
    return out


def check_disjoint(train_hashes: Iterable[str], eval_hashes: Collection[str]) -> None:
    """Raise :class:`ImproveError` when a training problem is an evaluation problem."""
    leaked = sorted({h for h in train_hashes if h in eval_hashes})
    if leaked:
        raise ImproveError(f"{len(leaked)} evaluation problem(s) reached a training set "
                           f"(first: {leaked[0][:12]}); refusing to train on them")


def write_problems(path: Path, problems: list[Problem]) -> None:
    """The problems as JSONL (payload, id, hash), written atomically."""
    from llm_modulo.improve.state import write_atomically

    lines = [json.dumps({"payload": p.payload, "id": p.id, "hash": p.hash}, sort_keys=True)
             for p in problems]
    write_atomically(path, "".join(line + "\n" for line in lines))


def read_problems(path: Path, domain: Domain) -> list[Problem]:
    """Problems written by :func:`write_problems`, re-parsed by the domain (hash checked)."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        row = json.loads(line)
        problem = domain.parse_problem(row["payload"])
        if row.get("id") is not None:
            problem = problem.model_copy(update={"id": row["id"]})
        if problem.hash != row.get("hash"):
            raise ImproveError(f"{path}:{n}: the problem does not match its hash")
        out.append(problem)
    return out
