"""Under load: a burst of cheap checks on an oversubscribed machine (4x as many busy
processes as CPUs, started by the test) comes back complete and decided: no spurious
UNKNOWN (a deadline that counted worker start-up or queueing), no lost check."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from llm_modulo import Candidate, Problem, Status
from llm_modulo.pool import WorkerPool
from llm_modulo.verifiers.game24.verifier import Game24Verifier

CHECKS = 10_000  # the burst
ROUND = 8  # candidates per loop round, as the loop sends them


@pytest.fixture
def oversubscribed() -> Iterator[None]:
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(4 * (os.cpu_count() or 1))]
    try:
        yield
    finally:
        for proc in busy:
            proc.kill()
        for proc in busy:
            proc.wait()


def test_burst_of_cheap_checks_under_oversubscription(oversubscribed: None) -> None:
    problem = Problem(domain="game24", payload={"numbers": [4, 4, 6, 8], "target": 24})
    good = Candidate(raw="a", answer={"expression": "(4+8)*(6-4)"})
    bad = Candidate(raw="b", answer={"expression": "4+4+6+8"})
    pairs = [(problem, good if i % 3 else bad) for i in range(CHECKS)]
    expected = [Status.ACCEPT if i % 3 else Status.REJECT for i in range(CHECKS)]
    verifier = Game24Verifier()
    # a fresh pool: its workers start (and import the verifier) under the load, and the
    # deadline is a tenth of the default, so start-up counted against it would show
    with WorkerPool() as pool:
        async def burst() -> list[Status]:
            rounds = [verifier.averify_many(pairs[i:i + ROUND], pool=pool, timeout_s=1.0)
                      for i in range(0, CHECKS, ROUND)]
            return [v.status for verdicts in await asyncio.gather(*rounds) for v in verdicts]

        statuses = asyncio.run(burst())
    assert len(statuses) == CHECKS  # none lost
    assert statuses.count(Status.UNKNOWN) == 0
    assert statuses == expected
