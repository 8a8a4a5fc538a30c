"""Read and decide a round of completions in the worker pool, never in the event loop.

A completion is model output of up to ~100 KB: reading the answer out of it
(:meth:`Domain.parse_candidate`) is candidate-sized work, so it runs in the worker, in the
same task and under the same deadline as the check. The parent gets back the candidate and
the check's result; the verdicts are those of parsing in the parent and then verifying.

When a check does not finish cleanly (a timeout, a crash, the memory cap), the candidate is
read again by a parse-only task, also in the pool, so the attempt still records it.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import time
import traceback
import weakref
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from llm_modulo.domain import Domain
from llm_modulo.pool import Outcome, OutcomeKind, Task, WorkerPool, default_pool
from llm_modulo.types import Candidate, Problem, Verdict
from llm_modulo.verifier import Verifier

#: How long a parse-only task may take (a parse is linear in the reply's size).
PARSE_TIMEOUT_S = 10.0


class DomainParseError(Exception):
    """The domain's ``parse_candidate`` raised (a domain bug, not the model's fault)."""


class _ParseFailed:
    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


class _CheckRaised:
    __slots__ = ("detail",)

    def __init__(self, detail: str) -> None:
        self.detail = detail


def _parse(domain: Domain, problem: Problem, text: str) -> Candidate | _ParseFailed:
    try:
        return domain.parse_candidate(problem, text)
    except Exception as exc:
        return _ParseFailed(f"{type(exc).__name__}: {exc}")


def _raised(exc: BaseException) -> _CheckRaised:
    return _CheckRaised(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}")


def _parse_and_check(domain: Domain, verifier: Verifier, problem: Problem,
                     text: str) -> tuple[Candidate | _ParseFailed, Any]:
    candidate = _parse(domain, problem, text)
    if isinstance(candidate, _ParseFailed):
        return candidate, None
    try:
        return candidate, verifier.check(problem, candidate)
    except MemoryError:
        raise  # the worker reports it (and retires)
    except BaseException as exc:
        return candidate, _raised(exc)


def _parse_and_check_many(domain: Domain, verifier: Verifier, problem: Problem,
                          texts: list[str]) -> tuple[list[Candidate | _ParseFailed], Any]:
    candidates = [_parse(domain, problem, text) for text in texts]
    failed = next((c for c in candidates if isinstance(c, _ParseFailed)), None)
    if failed is not None:
        return candidates, None
    pairs = [(problem, c) for c in candidates if isinstance(c, Candidate)]
    try:
        return candidates, verifier.check_many(pairs)
    except MemoryError:
        raise
    except BaseException as exc:
        return candidates, _raised(exc)


def _as_outcome(result: Any) -> Outcome:
    if isinstance(result, _CheckRaised):
        return Outcome(OutcomeKind.ERROR, detail=result.detail)
    return Outcome(OutcomeKind.OK, value=result)


#: Whether each domain object could be pickled when first judged (pickling it costs about as
#: much as a cheap check; a domain object's picklability does not change while it lives).
_PICKLABLE: weakref.WeakKeyDictionary[Domain, bool] = weakref.WeakKeyDictionary()


def _picklable(domain: Domain) -> bool:
    try:
        return _PICKLABLE[domain]
    except (KeyError, TypeError):  # not seen yet, or not weakly referable / hashable
        pass
    try:
        pickle.dumps(domain)
        ok = True
    except Exception:
        ok = False
    with contextlib.suppress(TypeError):
        _PICKLABLE[domain] = ok
    return ok


async def judge(domain: Domain, verifier: Verifier, problem: Problem, texts: Sequence[str],
                *, pool: WorkerPool | None = None) -> list[tuple[Candidate, Verdict]]:
    """Each completion's candidate and verdict, in order. Raises :class:`DomainParseError`
    when the domain's ``parse_candidate`` raised on one of them."""
    if not texts:
        return []
    pool = pool or default_pool()
    if verifier.remote:  # decided elsewhere (over HTTP): only the reading happens here
        candidates = await _reparse(domain, problem, texts, pool)
        verdicts = await verifier.averify_many([(problem, c) for c in candidates], pool=pool)
        return list(zip(candidates, verdicts, strict=True))
    if not _picklable(domain):  # a domain the workers cannot receive: parse off-loop here
        return await _judge_in_thread(domain, verifier, problem, texts, pool)
    start = time.monotonic()
    if verifier.batched:
        task = verifier.task(_parse_and_check_many, (domain, verifier, problem, list(texts)),
                             verifier.batch_timeout_s(len(texts)))
        task = with_domain(task, domain)
        outcome = (await pool.arun_many([task]))[0]
        if outcome.kind is OutcomeKind.OK:
            candidates, result = outcome.value
            _raise_parse_failure(candidates)
            verdicts = verifier._verdicts_of_batch(_as_outcome(result), len(texts), start)
            return list(zip(candidates, verdicts, strict=True))
        candidates = await _reparse(domain, problem, texts, pool)
        return [(c, verifier._verdict(outcome, start)) for c in candidates]
    shape = with_domain(verifier.task(_parse_and_check, ()), domain)  # one per round
    tasks = [shape.with_args((domain, verifier, problem, text)) for text in texts]
    outcomes = await pool.arun_many(tasks)
    out: list[tuple[Candidate, Verdict] | None] = [None] * len(texts)
    lost = [i for i, o in enumerate(outcomes) if o.kind is not OutcomeKind.OK]
    for i, outcome in enumerate(outcomes):
        if outcome.kind is OutcomeKind.OK:
            candidate, result = outcome.value
            _raise_parse_failure([candidate])
            out[i] = (candidate, verifier._verdict(_as_outcome(result), start))
    if lost:
        again = await _reparse(domain, problem, [texts[i] for i in lost], pool)
        for i, candidate in zip(lost, again, strict=True):
            out[i] = (candidate, verifier._verdict(outcomes[i], start))
    return [pair for pair in out if pair is not None]


def with_domain(task: Task, domain: Domain) -> Task:
    """``task`` on workers that have also imported ``domain``'s module (outside the deadline)."""
    return replace(task, warm=(*task.warm, type(domain).__module__))


def _raise_parse_failure(candidates: Sequence[Candidate | _ParseFailed]) -> None:
    for c in candidates:
        if isinstance(c, _ParseFailed):
            raise DomainParseError(c.message)


async def _reparse(domain: Domain, problem: Problem, texts: Sequence[str],
                   pool: WorkerPool) -> list[Candidate]:
    """The candidates of completions whose check did not finish, read by parse-only tasks."""
    tasks = [Task(_parse, (domain, problem, t), PARSE_TIMEOUT_S,
                  warm=(type(domain).__module__,)) for t in texts]
    outcomes = await pool.arun_many(tasks)
    out = []
    for text, outcome in zip(texts, outcomes, strict=True):
        if outcome.kind is OutcomeKind.OK and isinstance(outcome.value, Candidate):
            out.append(outcome.value)
            continue
        if outcome.kind is OutcomeKind.OK and isinstance(outcome.value, _ParseFailed):
            raise DomainParseError(outcome.value.message)
        detail = outcome.detail.strip().splitlines()[0] if outcome.detail.strip() else ""
        out.append(Candidate(raw=text[:100_000],
                             parse_error=f"the reply could not be read ({outcome.kind.value}"
                                         f"{': ' + detail if detail else ''})"))
    return out


async def _judge_in_thread(domain: Domain, verifier: Verifier, problem: Problem,
                           texts: Sequence[str], pool: WorkerPool
                           ) -> list[tuple[Candidate, Verdict]]:
    candidates = await asyncio.to_thread(
        lambda: [_parse(domain, problem, text) for text in texts])
    _raise_parse_failure(candidates)
    cands = [c for c in candidates if isinstance(c, Candidate)]
    verdicts = await verifier.averify_many([(problem, c) for c in cands], pool=pool)
    return list(zip(cands, verdicts, strict=True))

