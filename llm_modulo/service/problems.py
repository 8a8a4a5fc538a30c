"""Problems from clients, read in the worker pool and kept for reuse.

A problem is read by its domain's ``parse_problem`` in a worker (a hostile problem costs a
killable worker, not the event loop) under :func:`~llm_modulo.bounds.no_file_reads`: a
problem from a client that names a file (a PDDL path) is refused, never read. Read problems
are kept in a small LRU, since RL trainers send one problem with many completions, request
after request.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from llm_modulo.bounds import no_file_reads
from llm_modulo.domain import Domain
from llm_modulo.errors import LLMModuloError
from llm_modulo.pool import OutcomeKind, Task, WorkerPool
from llm_modulo.types import Problem, canonical_json

#: How long reading one problem may take.
PROBLEM_TIMEOUT_S = 10.0
#: Address-space cap of the worker while it reads a problem.
PROBLEM_MEMORY_BYTES = 2048 * 1024 * 1024
#: Problems kept, and the longest (canonical JSON characters) that is kept at all.
CACHE_ENTRIES = 256
CACHE_MAX_CHARS = 100_000
MAX_MESSAGE_CHARS = 500


class ProblemRefused(Exception):
    """The problem cannot be used: the message says why (one line)."""


def read_problem(domain: Domain, raw: str | dict[str, object]) -> Problem | str:
    """Runs in a worker: the problem, or why it cannot be read (one line)."""
    with no_file_reads():
        try:
            return domain.parse_problem(raw)
        except LLMModuloError as exc:
            message = str(exc)
        except Exception as exc:  # a domain that breaks on odd input: still the input's fault
            message = f"the {domain.name} domain could not read it ({type(exc).__name__}: {exc})"
    return " ".join(message.split())[:MAX_MESSAGE_CHARS]


class ProblemReader:
    """Reads problems in ``pool``, remembering the last :data:`CACHE_ENTRIES`."""

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool
        self._cache: OrderedDict[tuple[str, str], Problem] = OrderedDict()

    async def read(self, domain: Domain, raw: str | dict[str, object]) -> Problem:
        """The problem; :class:`ProblemRefused` when it cannot be read."""
        key = (domain.name, canonical_json(raw))
        if (hit := self._cache.get(key)) is not None:
            self._cache.move_to_end(key)
            return hit
        outcome = await self.pool.arun_many([Task(
            read_problem, (domain, raw), PROBLEM_TIMEOUT_S, PROBLEM_MEMORY_BYTES,
            warm=(type(domain).__module__,))])
        result = outcome[0]
        if result.kind is not OutcomeKind.OK:
            raise ProblemRefused(f"the problem could not be read ({result.kind.value})")
        if isinstance(result.value, str):
            raise ProblemRefused(result.value)
        if not isinstance(result.value, Problem):
            raise ProblemRefused("the domain returned something that is not a problem")
        if len(key[1]) <= CACHE_MAX_CHARS:
            self._cache[key] = result.value
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return result.value

    def read_task(self, domain: Domain, raw: str | dict[str, object]) -> asyncio.Task[Problem]:
        return asyncio.ensure_future(self.read(domain, raw))
