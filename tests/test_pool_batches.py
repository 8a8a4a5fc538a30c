"""The pool's deadlines count only the check: start-up and warm-up are free, a batch's hung
or crashing task costs only itself, workers are recycled by memory, and candidate parsing
runs in the workers, never in the event loop."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_modulo import Candidate, Problem, Status
from llm_modulo.judge import DomainParseError, judge
from llm_modulo.pool import OutcomeKind, Task, WorkerPool
from llm_modulo.verifiers.game24.verifier import Game24Verifier
from tests import pool_fakes
from tests.fakes import EchoStatus

PROBLEM = Problem(domain="echo", payload={"q": "1"})


def cand(do: str) -> Candidate:
    return Candidate(raw=do, answer={"do": do})


@pytest.fixture
def control() -> Iterator[dict[str, object]]:
    """What fresh workers do when they import tests.pool_fakes (written before they start)."""
    settings: dict[str, object] = {"parent": os.getpid()}
    yield settings
    pool_fakes.CONTROL.unlink(missing_ok=True)


def write(control: dict[str, object]) -> None:
    pool_fakes.CONTROL.write_text(json.dumps(control))


def test_slow_verifier_import_is_not_charged_to_the_check(control: dict[str, object]) -> None:
    # importing the verifier's module takes 4x the check's deadline; the check still decides
    write({**control, "import_delay": 2.0})
    with WorkerPool(1) as pool:
        verdict = pool_fakes.HangsOnRequest().verify(PROBLEM, cand("accept"), pool=pool)
    assert verdict.status is Status.ACCEPT, verdict.critiques


def test_worker_that_dies_on_start_is_replaced_without_charging_the_task(
        control: dict[str, object], tmp_path: Path) -> None:
    marker = tmp_path / "died"
    write({**control, "die_once": str(marker)})
    with WorkerPool(1) as pool:
        verdict = pool_fakes.HangsOnRequest().verify(PROBLEM, cand("reject"), pool=pool)
    assert marker.exists()  # the first worker did die while starting
    assert verdict.status is Status.REJECT, verdict.critiques


@pytest.mark.parametrize(("bad", "kind"), [("hang", "timeout"), ("die", "crash")])
def test_a_bad_task_in_a_batch_costs_only_itself(bad: str, kind: str) -> None:
    todo = ["accept", "reject", bad, "accept", "reject", bad, "accept"]
    with WorkerPool(1) as pool:
        verdicts = pool_fakes.HangsOnRequest().verify_many(
            [(PROBLEM, cand(d)) for d in todo], pool=pool)
        # one worker: the batch went to it at once; each bad task cost one worker (and a
        # hang whose batch-mates had not answered yet made them re-run, alone: one more)
        assert 2 <= pool.restarts <= 3
    statuses = [v.status for v in verdicts]
    assert statuses == [Status.ACCEPT, Status.REJECT, Status.UNKNOWN, Status.ACCEPT,
                        Status.REJECT, Status.UNKNOWN, Status.ACCEPT]
    assert [v.critiques[0].kind for v in verdicts if v.status is Status.UNKNOWN] == [kind] * 2


def test_many_cheap_checks_share_round_trips(pool: WorkerPool) -> None:
    problem = Problem(domain="game24", payload={"numbers": [4, 4, 6, 8], "target": 24})
    good = Candidate(raw="x", answer={"expression": "(4+8)*(6-4)"})
    before = pool.batches
    verdicts = Game24Verifier().verify_many([(problem, good)] * 200, pool=pool)
    assert [v.status for v in verdicts] == [Status.ACCEPT] * 200
    assert pool.batches - before <= 200 // 2  # batched, not one round trip per check


def test_a_batch_of_tasks_of_very_different_sizes_arrives_whole_and_in_order() -> None:
    # each task goes to the worker as its own message (issue 17): small ones, and ones larger
    # than a pipe's buffer, in one round trip
    sizes = [10, 300_000, 1, 20_000, 70_000, 0, 5_000]
    with WorkerPool(1) as pool:
        pool.run_many([Task(len, (b"",))])  # the worker is up: the batch below goes at once
        before = pool.batches
        outcomes = pool.run_many([Task(len, (b"x" * n,)) for n in sizes])
        assert pool.batches - before == 1
    assert [(o.kind, o.value) for o in outcomes] == [(OutcomeKind.OK, n) for n in sizes]


def test_worker_is_recycled_when_its_memory_grows() -> None:
    with WorkerPool(1, recycle_rss_mb=32) as pool:
        first = pool.run(pool_fakes.pid, timeout_s=30)
        assert pool.run(pool_fakes.pid, timeout_s=30).value == first.value  # kept while small
        grown = pool.run(pool_fakes.hoard, (64,), timeout_s=30)
        assert grown.kind is OutcomeKind.OK and grown.value == first.value
        after = pool.run(pool_fakes.pid, timeout_s=30)
    assert after.kind is OutcomeKind.OK and after.value != first.value


def test_closing_the_pool_finishes_every_queued_task() -> None:
    pool = WorkerPool(1)
    tasks = [Task(time.sleep, (0.2,), timeout_s=5) for _ in range(20)]

    async def go() -> list[OutcomeKind]:
        pending = asyncio.ensure_future(pool.arun_many(tasks))
        await asyncio.sleep(0.5)
        pool.close()
        return [o.kind for o in await asyncio.wait_for(pending, 10)]

    kinds = asyncio.run(go())
    assert len(kinds) == 20 and OutcomeKind.ERROR in kinds


def test_parsing_runs_in_the_worker_not_the_event_loop(pool: WorkerPool) -> None:
    domain = pool_fakes.SlowParseDomain()
    texts = ['{"status": "accept"}', '{"status": "reject"}']

    async def go() -> tuple[float, list[Status]]:
        longest, last, running = 0.0, time.monotonic(), True

        async def ticker() -> None:
            nonlocal longest, last
            while running:
                await asyncio.sleep(0.01)
                now = time.monotonic()
                longest, last = max(longest, now - last), now

        tick = asyncio.ensure_future(ticker())
        judged = await judge(domain, EchoStatus(), PROBLEM, texts, pool=pool)
        running = False
        await tick
        return longest, [v.status for _, v in judged]

    longest, statuses = asyncio.run(go())
    assert statuses == [Status.ACCEPT, Status.REJECT]
    assert longest < 0.5  # each parse sleeps 1 s, in a worker


def test_judge_keeps_the_candidate_of_a_check_that_timed_out(pool: WorkerPool) -> None:
    domain = pool_fakes.SlowParseDomain.__mro__[1]()  # EchoDomain: {"status": ...} answers
    judged = asyncio.run(judge(domain, pool_fakes.HangsOnRequest(), PROBLEM,
                               ['{"status": "hang"}'], pool=pool))
    (candidate, verdict), = judged
    assert verdict.status is Status.UNKNOWN and verdict.critiques[0].kind == "timeout"
    assert candidate.answer == {"status": "hang"}


def test_a_domain_that_raises_while_parsing_is_a_domain_error(pool: WorkerPool) -> None:
    with pytest.raises(DomainParseError, match="KeyError"):
        asyncio.run(judge(pool_fakes.BrokenParseDomain(), EchoStatus(), PROBLEM, ["{}"],
                          pool=pool))
