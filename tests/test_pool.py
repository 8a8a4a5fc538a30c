"""Verifier isolation: hangs, memory exhaustion, self-kill and exceptions become UNKNOWN."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from llm_modulo import Candidate, Problem, Status, Verifier
from llm_modulo.pool import WorkerPool
from llm_modulo.verifiers.game24.verifier import Game24Verifier
from tests import fakes

PROBLEM = Problem(domain="game24", payload={"numbers": [4, 4, 6, 8], "target": 24})
GOOD = Candidate(raw="x", answer={"expression": "(4+8)*(6-4)"})


def assert_pool_still_serves(pool: WorkerPool) -> None:
    verdict = Game24Verifier().verify(PROBLEM, GOOD, pool=pool)
    assert verdict.status is Status.ACCEPT


@pytest.mark.parametrize(
    ("verifier", "kind", "limit_s"),
    [
        (fakes.SleepsForever(), "timeout", 4.0),
        (fakes.BusyLoop(), "timeout", 4.0),
        (fakes.EatsMemory(), "memory", 10.0),
        (fakes.KillsItself(), "crash", 4.0),
        (fakes.Raises(), "verifier_error", 4.0),
        (fakes.ReturnsGarbage(), "verifier_error", 4.0),
        (fakes.Exits(), "verifier_error", 4.0),
    ],
    ids=lambda v: getattr(v, "name", str(v)),
)
def test_misbehaving_verifier_is_unknown_within_deadline(
    pool: WorkerPool, verifier: Verifier, kind: str, limit_s: float
) -> None:
    start = time.monotonic()
    verdict = verifier.verify(PROBLEM, GOOD, pool=pool)
    elapsed = time.monotonic() - start
    assert verdict.status is Status.UNKNOWN
    assert verdict.critiques[0].kind == kind, verdict.critiques
    assert elapsed < limit_s
    assert_pool_still_serves(pool)


def test_exception_reason_is_reported(pool: WorkerPool) -> None:
    verdict = fakes.Raises().verify(PROBLEM, GOOD, pool=pool)
    assert "boom in the checker" in verdict.critiques[0].message


def test_timeout_override(pool: WorkerPool) -> None:
    start = time.monotonic()
    verdict = fakes.SleepsForever().verify(PROBLEM, GOOD, pool=pool, timeout_s=0.3)
    assert verdict.status is Status.UNKNOWN
    assert time.monotonic() - start < 2.5


def test_async_verify_runs_concurrently_and_isolated(pool: WorkerPool) -> None:
    async def go() -> list[Status]:
        tasks = [fakes.SleepsForever().averify(PROBLEM, GOOD, pool=pool, timeout_s=0.5)]
        tasks += [Game24Verifier().averify(PROBLEM, GOOD, pool=pool) for _ in range(20)]
        return [v.status for v in await asyncio.gather(*tasks)]

    statuses = asyncio.run(go())
    assert statuses[0] is Status.UNKNOWN
    assert statuses[1:] == [Status.ACCEPT] * 20


def test_unsound_accept_is_not_trusted(pool: WorkerPool) -> None:
    verdict = fakes.UnsoundAccepts().verify(PROBLEM, GOOD, pool=pool)
    assert verdict.status is Status.ACCEPT
    assert not verdict.sound
    assert not verdict.accepted


def test_workers_are_reused(pool: WorkerPool) -> None:
    before = pool.restarts
    for _ in range(10):
        assert_pool_still_serves(pool)
    assert pool.restarts == before


def test_a_task_with_other_args_keeps_every_other_field() -> None:
    """``Task.with_args`` builds the round's tasks from one template; a field added to Task
    and not copied there would be dropped silently (a deadline or a memory cap lost)."""
    import dataclasses

    from llm_modulo.pool import Task

    template = Task(print, ("a",), timeout_s=3.5, memory_bytes=1 << 20, warm=("x", "y:z"))
    made = template.with_args(("b", 2))
    assert made.args == ("b", 2)
    for field in dataclasses.fields(Task):
        if field.name != "args":
            assert getattr(made, field.name) == getattr(template, field.name), field.name
    # every field set to a non-default value above, so a new field must be added here too
    assert {f.name for f in dataclasses.fields(Task)} == {"fn", "args", "timeout_s",
                                                           "memory_bytes", "warm"}


def test_results_finished_together_wake_the_event_loop_once() -> None:
    """Results posted while the loop is busy are handed over by one wake-up, each to its own
    caller."""
    import threading

    from llm_modulo.pool import Outcome, OutcomeKind, _Mailbox

    async def go() -> tuple[list[str], int]:
        loop = asyncio.get_running_loop()
        wakeups = 0
        real = loop.call_soon_threadsafe

        def counting(*args: object) -> object:
            nonlocal wakeups
            wakeups += 1
            return real(*args)  # type: ignore[arg-type]

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign,assignment]
        box = _Mailbox(loop)
        futures = [loop.create_future() for _ in range(5)]
        posters = [threading.Thread(target=box.post,
                                    args=(f, [Outcome(OutcomeKind.OK, value=str(i))]))
                   for i, f in enumerate(futures)]
        for t in posters:  # the loop does not run while they post
            t.start()
        for t in posters:
            t.join()
        got = [(await f)[0].value for f in futures]
        return got, wakeups

    got, wakeups = asyncio.run(go())
    assert got == ["0", "1", "2", "3", "4"]
    assert wakeups == 1


def test_results_for_a_closed_event_loop_are_dropped_not_kept() -> None:
    from llm_modulo.pool import Outcome, OutcomeKind, _Mailbox

    loop = asyncio.new_event_loop()
    box = _Mailbox(loop)
    future = loop.create_future()
    loop.close()
    with pytest.raises(RuntimeError):
        box.post(future, [Outcome(OutcomeKind.OK)])
    assert box._waiting == []  # nothing holds the closed loop's futures
    assert not box._scheduled  # and a later post would try again


def test_an_event_loop_that_is_gone_leaves_no_mailbox_behind() -> None:
    import gc

    with WorkerPool(1) as pool:
        for _ in range(3):
            assert asyncio.run(pool.arun(len, ("abc",), timeout_s=30)).value == 3
        gc.collect()
        assert len(pool._mailboxes) == 0


def test_a_loop_closed_before_its_results_are_handed_over_is_not_kept_alive() -> None:
    """A result posted to a loop that stops, then closes without running the hand-off: the
    pool must not keep that loop (found by the review: its futures pinned it)."""
    import gc
    import weakref

    from llm_modulo.pool import Task

    with WorkerPool(1) as pool:
        assert pool.run(time.sleep, (0,), timeout_s=30).kind.value == "ok"
        loop = asyncio.new_event_loop()

        async def main() -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pool.arun_many([Task(time.sleep, (0.5,), 30)]), 0.05)

        loop.run_until_complete(main())
        time.sleep(1.0)  # the task ends; its result is posted to the stopped loop
        loop.close()
        ref = weakref.ref(loop)
        del loop
        gc.collect()
        assert ref() is None
        assert len(pool._mailboxes) == 0
