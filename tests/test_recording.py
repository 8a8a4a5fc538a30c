"""Exactly-once recording of whole results (what ``--engine ray`` relies on), without Ray:
the capturing store records what the local engine records, a repeated result is stored once,
a solution once per answer, shipped stored solutions are re-verified, and the driver loop
survives lost calls and dead actors (against a fake ``ray``)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llm_modulo.batch import pending, results_to_jsonl
from llm_modulo.config import Budget, LoopConfig
from llm_modulo.corpus import Corpus, CorpusMemory
from llm_modulo.corpus.stats import corpus_stats
from llm_modulo.domains.game24 import Game24Domain, scripted_responder
from llm_modulo.endpoints import GeneratorSpec
from llm_modulo.errors import ClusterError, CorpusError
from llm_modulo.loop import Solver
from llm_modulo.pool import WorkerPool
from llm_modulo.recording import (
    CapturingStore,
    ProblemOutcome,
    _prepared,
    record_outcome,
    record_outcomes,
)
from llm_modulo.registry import default_registry
from llm_modulo.testing import FunctionGenerator
from llm_modulo.types import Message, Problem, SolveResult, StopReason
from llm_modulo.verifiers.game24.verifier import Game24Verifier
from tests.corpus_helpers import attempt

DOMAIN = Game24Domain()
VERIFIER = Game24Verifier()
NUMBERS = ["4 4 6 8", "1 1 4 6", "2 3 4 5", "3 3 8 8"]
CONFIG = LoopConfig(budget=Budget(rounds=3, samples=2))


def _policy(messages: list[Message], params: Any) -> list[str]:
    """Wrong on the first prompt, right after a back-prompt (deterministic)."""
    return scripted_responder({"messages": [m.model_dump() for m in messages]})


def _problems() -> list[Problem]:
    return [DOMAIN.parse_problem(n) for n in NUMBERS]


def _rows(corpus: Corpus) -> list[tuple[Any, ...]]:
    """Every attempt as stored, without ids, run ids and times (what must match)."""
    return sorted(corpus.query(
        "SELECT problem_hash, round, sample, prompt_hash, completion, answer, parse_error,"
        " status, sound, critiques, evidence, verifier, verifier_version, model, sampling,"
        " seed, prompt_tokens, completion_tokens, finish_reason FROM attempts"))


async def _solve_captured(problem: Problem, run_id: str, pool: WorkerPool,
                          stored: Any = (), reuse: bool = True) -> ProblemOutcome:
    store = CapturingStore(run_id, stored, reuse=reuse)
    solver = Solver(DOMAIN, VERIFIER, FunctionGenerator(_policy), CONFIG, pool=pool,
                    store=store)
    result = await solver.solve(problem)
    return ProblemOutcome.of(result, store, node_id="node-a", hostname="host-a")


def test_a_captured_result_is_recorded_as_the_local_engine_records_it(
        tmp_path: Path, pool: WorkerPool) -> None:
    with Corpus(tmp_path / "local.sqlite") as local, Corpus(tmp_path / "ray.sqlite") as far:
        memory = CorpusMemory(local, run_id=local.start_run("run", "game24", CONFIG),
                              reuse=False)

        async def go() -> list[SolveResult]:
            solver = Solver(DOMAIN, VERIFIER, FunctionGenerator(_policy), CONFIG, pool=pool,
                            store=memory)
            return [await solver.solve(p) for p in _problems()]

        local_results = asyncio.run(go())
        memory.close()
        run_id = far.start_run("run", "game24", CONFIG)
        outcomes = [asyncio.run(_solve_captured(p, run_id, pool)) for p in _problems()]
        assert all(record_outcome(far, run_id, o, engine="ray") for o in outcomes)
        assert _rows(far) == _rows(local) and len(_rows(far)) == 4 * 2 * 2
        assert far.counts()["solutions"] == local.counts()["solutions"] == 4
        assert ([(r.problem.hash, r.stop_reason) for r in local_results]
                == [(o.result.problem.hash, o.result.stop_reason) for o in outcomes])
        nodes = corpus_stats(far).nodes
        assert [(n.hostname, n.node_id, n.results, n.solved) for n in nodes] == [
            ("host-a", "node-a", 4, 4)]
        assert corpus_stats(local).nodes == []


def test_a_result_is_recorded_once_per_run_and_a_solution_once_per_answer(
        tmp_path: Path, pool: WorkerPool) -> None:
    p = _problems()[0]
    with Corpus(tmp_path / "c.sqlite") as corpus:
        run_id = corpus.start_run("run", "game24", CONFIG)
        outcome = asyncio.run(_solve_captured(p, run_id, pool))
        assert record_outcome(corpus, run_id, outcome, engine="ray")
        before = corpus.counts()
        # a Ray retry that finished too, or the same problem twice: nothing more is stored
        again = asyncio.run(_solve_captured(p, run_id, pool))
        assert not record_outcome(corpus, run_id, again, engine="ray")
        assert corpus.counts() == before
        # another run finding the same answer: its attempts are its own, the solution one row
        other = corpus.start_run("run", "game24", CONFIG)
        third = asyncio.run(_solve_captured(p, other, pool, reuse=False))
        assert record_outcome(corpus, other, third, engine="ray")
        after = corpus.counts()
        assert after["solutions"] == before["solutions"] == 1
        assert after["attempts"] == 2 * before["attempts"]
        assert corpus.query("SELECT count(*) FROM run_results")[0][0] == 2


def test_shipped_solutions_are_reverified_and_a_wrong_one_is_flagged(
        tmp_path: Path, pool: WorkerPool) -> None:
    from llm_modulo.generator import SamplingParams
    from llm_modulo.types import Status

    p = _problems()[0]
    with Corpus(tmp_path / "c.sqlite") as corpus:
        # a solution an older, buggy verifier accepted: 4+4+6+8 is 22
        corpus.record_round(p, [attempt(p, "4+4+6+8", Status.ACCEPT, version="0.1")],
                            SamplingParams(n=1), "m")
        stored = corpus.solutions(p.hash)
        run_id = corpus.start_run("run", "game24", CONFIG)
        outcome = asyncio.run(_solve_captured(p, run_id, pool, stored))
        assert outcome.result.stop_reason is StopReason.ACCEPTED  # not served: solved anew
        assert not outcome.served and outcome.flags and outcome.flags[0][0] == stored[0].id
        assert record_outcome(corpus, run_id, outcome, engine="ray")
        flagged = corpus.solutions(p.hash)[0]
        assert flagged.flag_verifier_version == VERIFIER.version
        # the right answer now stored is served, re-verified, with nothing generated
        good = [s for s in corpus.solutions(p.hash) if s.flag_verifier_version is None]
        cached = asyncio.run(_solve_captured(p, corpus.start_run("run", "game24", CONFIG),
                                             pool, good))
        assert cached.served and cached.result.stop_reason is StopReason.CACHED
        assert cached.rounds == [] and cached.result.solution is not None
        assert cached.result.solution.verdict.accepted


def test_an_old_corpus_without_the_result_table_opens(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    Corpus(path).close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE run_results")
    with Corpus(path) as corpus:
        assert corpus.query("SELECT count(*) FROM run_results") == [(0,)]
        assert corpus_stats(corpus).nodes == []


# -- the driver loop against a fake ray --------------------------------------------------


class _Ref:
    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value, self.error = value, error


class _FakeRay:
    """Just enough of ``ray`` for :func:`solve_on_ray`: calls run at once, in process (each
    a chunk of problems); ``die`` names actor indexes whose calls fail as a dead actor's do,
    ``fail_calls`` the first calls lost as an object is."""

    class exceptions:  # the module's name
        class RayError(Exception):
            pass

        class RayActorError(RayError):
            pass

    def __init__(self, pool: WorkerPool, die: set[int] = frozenset(),  # type: ignore[assignment]
                 fail_calls: int = 0) -> None:
        self.pool, self.die, self.fail_calls = pool, die, fail_calls
        self.actors: list[Any] = []
        self.killed = 0

    def remote(self, cls: type) -> Any:
        fake = self

        class Handle:
            def __init__(self, spec: Any) -> None:
                self.index = len(fake.actors)
                fake.actors.append(self)
                self.spec = spec
                self.calls = 0
                self.problems = 0

            @property
            def solve_many(self) -> Any:
                handle = self

                class Method:
                    @staticmethod
                    def remote(items: list[tuple[Problem, Any]], job: Any) -> _Ref:
                        handle.calls += 1
                        handle.problems += len(items)
                        if handle.index in fake.die:
                            return _Ref(error=fake.exceptions.RayActorError("died"))
                        if fake.fail_calls:
                            fake.fail_calls -= 1
                            return _Ref(error=fake.exceptions.RayError("object lost"))
                        return _Ref([asyncio.run(_solve_captured(
                            problem, job.run_id, fake.pool, stored))
                            for problem, stored in items])
                return Method

            @property
            def close(self) -> Any:
                class Method:
                    @staticmethod
                    def remote() -> _Ref:
                        return _Ref()
                return Method

        class Options:
            @staticmethod
            def options(**kwargs: Any) -> Any:
                class Remote:
                    @staticmethod
                    def remote(spec: Any) -> Handle:
                        return Handle(spec)
                return Remote

        return Options

    def wait(self, refs: list[_Ref], num_returns: int = 1, timeout: float | None = None
             ) -> tuple[list[_Ref], list[_Ref]]:
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref: _Ref, timeout: float | None = None) -> Any:
        if ref.error is not None:
            raise ref.error
        return ref.value

    def put(self, value: Any) -> Any:
        return value

    def kill(self, handle: Any, no_restart: bool = True) -> None:
        self.killed += 1


def _drive(fake: _FakeRay, corpus: Corpus, problems: list[Problem], actors: int,
           chunk: int = 1, concurrency: int = 2) -> Iterator[ProblemOutcome]:
    from llm_modulo.ray_engine import ActorSpec, Job, solve_on_ray

    job = Job("game24", CONFIG, corpus.start_run("run", "game24", CONFIG))
    return solve_on_ray(fake, ActorSpec(GeneratorSpec(base_urls="http://127.0.0.1:9/v1")),
                        ((p, job) for p in problems), corpus, actors=actors,
                        concurrency=concurrency, chunk=chunk)


def test_the_driver_solves_each_problem_once_and_records_it(tmp_path: Path,
                                                            pool: WorkerPool) -> None:
    problems = _problems()
    fake = _FakeRay(pool)
    with Corpus(tmp_path / "c.sqlite") as corpus:
        outcomes = list(_drive(fake, corpus, [*problems, problems[0], problems[2]], 2))
        assert sorted(o.result.problem.hash for o in outcomes) == sorted(p.hash for p in
                                                                         problems)
        assert all(o.result.stop_reason is StopReason.ACCEPTED for o in outcomes)
        assert corpus.counts()["solutions"] == 4
        assert corpus.query("SELECT count(*) FROM run_results")[0][0] == 4
        assert sum(a.calls for a in fake.actors) == 4 and fake.killed == 2


def test_a_lost_call_is_an_error_result_recorded_nowhere_and_retried_by_resume(
        tmp_path: Path, pool: WorkerPool) -> None:
    problems = _problems()
    out = tmp_path / "out.jsonl"
    with Corpus(tmp_path / "c.sqlite") as corpus:
        fake = _FakeRay(pool, fail_calls=1)
        todo, bad = pending(problems, out)
        summary = results_to_jsonl((o.result for o in _drive(fake, corpus, todo, 1)),
                                   problems, todo, out, unreadable_lines=bad)
        assert (summary.solved, summary.failed) == (3, 1)
        assert corpus.query("SELECT count(*) FROM run_results")[0][0] == 3
        # the next run solves only the lost one; --out then holds each problem finished once
        todo, bad = pending(problems, out)
        assert len(todo) == 1
        results_to_jsonl((o.result for o in _drive(_FakeRay(pool), corpus, todo, 1)),
                         problems, todo, out)
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        finished = [r["problem"]["hash"] for r in rows if r["stop_reason"] != "error"]
        assert sorted(finished) == sorted(p.hash for p in problems)
        assert corpus.counts()["solutions"] == 4


def test_a_dead_actor_gets_no_more_problems_and_all_dead_is_one_cluster_error(
        tmp_path: Path, pool: WorkerPool) -> None:
    problems = _problems()
    with Corpus(tmp_path / "c.sqlite") as corpus:
        fake = _FakeRay(pool, die={0})
        outcomes = list(_drive(fake, corpus, problems, 2))
        lost = [o for o in outcomes if o.result.stop_reason is StopReason.ERROR]
        # what was queued on the dead actor is lost (an error: the next run retries it);
        # once its death is seen, it gets nothing more
        assert all("died for good" in (o.result.error or "") for o in lost)
        assert len(lost) == fake.actors[0].calls < len(problems)
        assert fake.actors[1].calls == len(problems) - len(lost) == len(outcomes) - len(lost)
        assert corpus.query("SELECT count(*) FROM run_results")[0][0] == fake.actors[1].calls
        with pytest.raises(ClusterError, match="every solver actor died"):
            list(_drive(_FakeRay(pool, die={0, 1}), corpus, problems, 2))


def test_the_actor_builds_its_own_pool_and_each_job_once(pool: WorkerPool) -> None:
    from llm_modulo.ray_engine import ActorSpec, CriticSpec, Job, SolverActor

    actor = SolverActor(ActorSpec(GeneratorSpec(base_urls="http://127.0.0.1:9/v1")))
    try:
        assert actor.node_id is None and actor.hostname and actor.pool.size == 1
        job = Job("game24", CONFIG, "r1")
        made = actor._prepared(job)
        assert made is actor._prepared(job) and made.recorder is None
        assert (made.domain.name, made.verifier.name, made.strategy.name) == (
            "game24", "game24", default_registry.strategy("backprompt").name)
        arm = actor._prepared(Job("game24", CONFIG.model_copy(update={
            "strategy": "self_critique"}), "r2", critic=CriticSpec(
                "http://127.0.0.1:9/v1", "m", 64, 5.0)))
        assert arm.strategy.name == "self_critique" and arm.recorder is not None
    finally:
        asyncio.run(actor.close())


# -- chunks of problems per call, batches of results per transaction --------------------------


def _many_problems(n: int) -> list[Problem]:
    return DOMAIN.generate_problems(n, seed=1)


def test_chunked_calls_and_batched_transactions_solve_and_record_each_problem_once(
        tmp_path: Path, pool: WorkerPool, monkeypatch: pytest.MonkeyPatch) -> None:
    problems = _many_problems(12)
    transactions: list[int] = []
    write_results = Corpus.write_results

    def counting(self: Corpus, results: Any) -> list[bool]:
        transactions.append(len(results))
        return write_results(self, results)

    monkeypatch.setattr(Corpus, "write_results", counting)
    fake = _FakeRay(pool)
    with Corpus(tmp_path / "c.sqlite") as corpus:
        outcomes = list(_drive(fake, corpus, [*problems, *problems[:3]], 2, chunk=4,
                               concurrency=8))
        hashes = [o.result.problem.hash for o in outcomes]
        assert sorted(hashes) == sorted(p.hash for p in problems)  # complete and unique
        assert corpus.query("SELECT count(*), count(DISTINCT problem_hash) FROM "
                            "run_results") == [(12, 12)]
    assert sum(a.problems for a in fake.actors) == 12
    calls = sum(a.calls for a in fake.actors)
    assert calls < 12 and all(a.calls for a in fake.actors)  # chunks, over both actors
    # every call back at once shares one transaction (the fake's calls are all back)
    assert sum(transactions) == 12 and len(transactions) < calls


def test_the_last_problems_are_spread_over_the_actors_not_chunked_onto_one(
        tmp_path: Path, pool: WorkerPool) -> None:
    fake = _FakeRay(pool)
    with Corpus(tmp_path / "c.sqlite") as corpus:
        assert len(list(_drive(fake, corpus, _many_problems(4), 4, chunk=16,
                               concurrency=64))) == 4
    assert [a.problems for a in fake.actors] == [1, 1, 1, 1]


def test_a_lost_chunk_is_an_error_for_each_of_its_problems_and_the_rest_is_recorded(
        tmp_path: Path, pool: WorkerPool) -> None:
    problems = _many_problems(8)
    out = tmp_path / "out.jsonl"
    with Corpus(tmp_path / "c.sqlite") as corpus:
        fake = _FakeRay(pool, fail_calls=1)
        todo, bad = pending(problems, out)
        outcomes = list(_drive(fake, corpus, todo, 1, chunk=4, concurrency=4))
        lost = [o for o in outcomes if o.lost]
        assert len(lost) == 4 and all("object lost" in (o.result.error or "") for o in lost)
        assert corpus.query("SELECT count(*) FROM run_results")[0][0] == 4
        results_to_jsonl((o.result for o in outcomes), problems, todo, out,
                         unreadable_lines=bad)
        todo, bad = pending(problems, out)
        assert sorted(p.hash for p in todo) == sorted(o.result.problem.hash for o in lost)
        results_to_jsonl((o.result for o in _drive(_FakeRay(pool), corpus, todo, 1, chunk=4,
                                                    concurrency=4)), problems, todo, out)
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        finished = [r["problem"]["hash"] for r in rows if r["stop_reason"] != "error"]
        assert sorted(finished) == sorted(p.hash for p in problems)
        assert corpus.query("SELECT count(*) FROM run_results")[0][0] == 8


def test_a_retried_chunk_records_nothing_twice(tmp_path: Path, pool: WorkerPool) -> None:
    problems = _problems()
    with Corpus(tmp_path / "c.sqlite") as corpus:
        run_id = corpus.start_run("run", "game24", CONFIG)
        first = [asyncio.run(_solve_captured(p, run_id, pool)) for p in problems[:3]]
        assert record_outcomes(corpus, [(run_id, o) for o in first], engine="ray") == \
            [True] * 3
        before = corpus.counts()
        # a retried call's copies, and a copy within one batch: only the new one is written
        again = [asyncio.run(_solve_captured(p, run_id, pool)) for p in problems]
        assert record_outcomes(corpus, [(run_id, o) for o in [*again, again[3]]],
                               engine="ray") == [False, False, False, True, False]
        assert corpus.counts()["solutions"] == before["solutions"] + 1
        assert corpus.query("SELECT count(*) FROM run_results")[0][0] == 4


def test_a_batch_is_recorded_whole_or_not_at_all(tmp_path: Path, pool: WorkerPool) -> None:
    problems = _problems()
    with Corpus(tmp_path / "c.sqlite") as corpus:
        run_id = corpus.start_run("run", "game24", CONFIG)
        outcomes = [asyncio.run(_solve_captured(p, run_id, pool)) for p in problems[:2]]
        broken = _prepared(run_id, outcomes[1], "ray")
        # a value SQLite does not take, in the second result's row
        broken = dataclasses.replace(broken, result_row=(*broken.result_row[:-1], object()))
        with pytest.raises(CorpusError, match="not supported"):
            corpus.write_results([_prepared(
                run_id, outcomes[0], "ray"), broken])
        assert corpus.query("SELECT count(*) FROM run_results")[0][0] == 0
        assert corpus.counts()["attempts"] == 0


def test_the_actor_solves_a_chunk_in_order_and_one_bad_problem_is_lost_alone(
        pool: WorkerPool, monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_modulo.ray_engine import ActorSpec, Job, SolverActor

    problems = _problems()
    actor = SolverActor(ActorSpec(GeneratorSpec(base_urls="http://127.0.0.1:9/v1"),
                                  in_flight=2))
    running = peak = 0

    async def solve(problem: Problem, stored: Any, job: Any) -> ProblemOutcome:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        if problem.hash == problems[1].hash:
            raise RuntimeError("a bug")
        return await _solve_captured(problem, job.run_id, pool)

    monkeypatch.setattr(actor, "solve", solve)
    try:
        outcomes = asyncio.run(actor.solve_many([(p, []) for p in problems],
                                                Job("game24", CONFIG, "r1")))
    finally:
        asyncio.run(actor.close())
    assert [o.result.problem.hash for o in outcomes] == [p.hash for p in problems]
    assert [o.lost for o in outcomes] == [False, True, False, False]
    assert "solving failed on the actor: RuntimeError: a bug" in (outcomes[1].result.error
                                                                   or "")
    assert outcomes[1].rounds == [] and outcomes[0].result.solved
    assert peak == 2  # the actor's in_flight bounds its problems, whatever its calls bring
