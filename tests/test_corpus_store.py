"""The corpus store: schema, what becomes a solution, uniqueness, verified reuse, concurrency."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from llm_modulo.corpus import Corpus, CorpusError, CorpusMemory
from llm_modulo.generator import SamplingParams
from llm_modulo.pool import WorkerPool
from llm_modulo.types import Candidate, Status
from llm_modulo.verifier import CheckResult
from llm_modulo.verifiers.game24.verifier import Game24Verifier
from tests.corpus_helpers import attempt, problem, solved_problem

PARAMS = SamplingParams(n=2, seed=7, temperature=0.5)


class AlwaysUnknown(Game24Verifier):
    """Today's verifier cannot decide (e.g. it times out)."""

    version = "1.0"

    def check(self, problem: object, candidate: Candidate) -> CheckResult:
        return CheckResult.unknown("cannot tell today")


class UnsoundGame24(Game24Verifier):
    sound = False


@pytest.fixture
def corpus(tmp_path: Path) -> Corpus:
    return Corpus(tmp_path / "c.sqlite")


def test_wal_mode_and_schema(corpus: Corpus) -> None:
    db = sqlite3.connect(corpus.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"problems", "runs", "prompts", "attempts", "solutions", "meta"} <= tables
    assert corpus.counts() == {"problems": 0, "runs": 0, "attempts": 0, "solutions": 0}


def test_a_round_is_recorded_with_its_provenance(corpus: Corpus) -> None:
    p = problem("4 4 6 8")
    run = corpus.start_run("test", "game24", {"rounds": 2})
    ids = corpus.record_round(p, [attempt(p, "4*6+8-4", Status.REJECT),
                                  attempt(p, "(4+8)*(6-4)", Status.ACCEPT, sample=1)],
                              PARAMS, "smollm2", run)
    assert len(ids) == 2
    row = corpus.query("SELECT run_id, round, sample, status, model, seed, sampling, critiques,"
                       " prompt_tokens, completion_tokens, verifier, verifier_version"
                       " FROM attempts WHERE id = ?", (ids[0],))[0]
    assert row[:6] == (run, 1, 0, "reject", "smollm2", 7)
    assert '"temperature":0.5' in row[6] and "4*6+8-4 is wrong" in row[7]
    assert row[8:] == (10, 5, "game24", "1.0")
    payload = corpus.query("SELECT domain, payload FROM problems")[0]
    assert payload == ("game24", '{"numbers":[4,4,6,8],"target":24}')
    sol = corpus.query("SELECT answer, attempt_id, verifier FROM solutions")
    assert sol == [('{"expression":"(4+8)*(6-4)"}', ids[1], "game24")]


def test_only_sound_accepts_become_solutions(corpus: Corpus) -> None:
    p = problem("4 4 6 8")
    corpus.record_round(p, [attempt(p, "(4+8)*(6-4)", Status.UNKNOWN),
                            attempt(p, "(4+8)*(6-4)", Status.ACCEPT, sound=False, sample=1),
                            attempt(p, None, Status.REJECT, sample=2)], PARAMS, "m")
    assert corpus.counts()["attempts"] == 3
    assert corpus.counts()["solutions"] == 0


def test_the_same_solution_is_stored_once(corpus: Corpus) -> None:
    p = problem("4 4 6 8")
    right = "(4+8)*(6-4)"
    corpus.record_round(p, [attempt(p, right, Status.ACCEPT, sample=k) for k in range(3)],
                        PARAMS, "m")
    corpus.record_round(p, [attempt(p, right, Status.ACCEPT)], PARAMS, "m")
    corpus.record_round(p, [attempt(p, "(8+4)*(6-4)", Status.ACCEPT)], PARAMS, "m")
    assert corpus.counts()["attempts"] == 5
    answers = [r[0] for r in corpus.query("SELECT answer FROM solutions ORDER BY id")]
    assert answers == ['{"expression":"(4+8)*(6-4)"}', '{"expression":"(8+4)*(6-4)"}']


def test_a_failed_round_leaves_nothing_behind(corpus: Corpus) -> None:
    p = problem("4 4 6 8")
    with pytest.raises(CorpusError):
        corpus.record_round(p, [attempt(p, "1", Status.REJECT)], PARAMS, "m",
                            run_id="no such run")  # foreign key violation mid-transaction
    assert corpus.counts() == {"problems": 0, "runs": 0, "attempts": 0, "solutions": 0}


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_text("this is not sqlite" * 100)
    with pytest.raises(CorpusError, match=r"bad\.sqlite"):
        Corpus(bad)


def test_a_newer_schema_is_refused(corpus: Corpus) -> None:
    corpus.transaction(lambda cur: cur.execute(
        "UPDATE meta SET value = '99' WHERE key = 'schema_version'"))
    corpus.close()
    with pytest.raises(CorpusError, match="schema version 99"):
        Corpus(corpus.path)


# -- verified reuse ---------------------------------------------------------------------


def lookup(memory: CorpusMemory, p: object, verifier: object, pool: WorkerPool) -> object:
    return asyncio.run(memory.lookup(p, verifier, pool))  # type: ignore[arg-type]


def test_a_stored_solution_is_reverified_and_served(corpus: Corpus, pool: WorkerPool) -> None:
    p = solved_problem(corpus, "4 4 6 8")
    memory = CorpusMemory(corpus)
    found = lookup(memory, p, Game24Verifier(), pool)
    assert found is not None and found.verdict.accepted  # type: ignore[attr-defined]
    assert found.verdict.evidence["value"] == "24"  # type: ignore[attr-defined]  # fresh
    assert memory.served == 1
    assert lookup(CorpusMemory(corpus, reuse=False), p, Game24Verifier(), pool) is None


def test_a_solution_that_no_longer_verifies_is_flagged_not_served(
        corpus: Corpus, pool: WorkerPool) -> None:
    p = problem("4 4 6 8")
    # an old, buggy verifier accepted a wrong answer
    corpus.record_round(p, [attempt(p, "4*6+8-4", Status.ACCEPT, version="0.9")], PARAMS, "m")
    memory = CorpusMemory(corpus)
    assert lookup(memory, p, Game24Verifier(), pool) is None
    assert memory.flagged == 1
    flag = corpus.query("SELECT flag_verifier_version, flag_reason FROM solutions")[0]
    assert flag == (Game24Verifier.version, "the expression evaluates to 28, not 24")
    # the same verifier version does not re-check it again
    again = CorpusMemory(corpus)
    assert lookup(again, p, Game24Verifier(), pool) is None and again.flagged == 0


def test_undecided_or_unsound_rechecks_do_not_serve(corpus: Corpus, pool: WorkerPool) -> None:
    p = solved_problem(corpus, "4 4 6 8")
    memory = CorpusMemory(corpus)
    assert lookup(memory, p, AlwaysUnknown(), pool) is None
    assert memory.flagged == 0  # UNKNOWN is no evidence against it
    assert lookup(memory, p, UnsoundGame24(), pool) is None
    assert lookup(memory, p, Game24Verifier(), pool) is not None


# -- concurrency ------------------------------------------------------------------------


def test_two_processes_write_one_corpus(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    Corpus(path).close()
    rounds = 150
    procs = [subprocess.Popen([sys.executable, "-m", "tests.corpus_helpers", str(path),
                               str(rounds), tag], stderr=subprocess.PIPE, text=True)
             for tag in ("a", "b")]
    for proc in procs:
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
    with Corpus(path) as corpus:
        assert corpus.query("PRAGMA integrity_check") == [("ok",)]
        counts = corpus.counts()
        assert counts["attempts"] == 2 * rounds * 8
        assert counts["problems"] == 10
        assert counts["solutions"] == 10  # both found the same answers: stored once
        per_status = dict(corpus.query("SELECT status, count(*) FROM attempts GROUP BY status"))
        assert per_status == {"reject": 2 * rounds * 7, "accept": 2 * rounds}


class FailsOnProblem(Corpus):
    """A corpus that cannot store one particular problem."""

    bad_hash = ""

    def write(self, prepared):  # type: ignore[no-untyped-def]
        if any(problem_row[0] == self.bad_hash for problem_row, _, _ in prepared):
            raise CorpusError("disk says no")
        return super().write(prepared)


def test_group_commit_isolates_a_failing_round(tmp_path: Path) -> None:
    corpus = FailsOnProblem(tmp_path / "c.sqlite")
    numbers = ["4 4 6 8", "1 2 3 4", "2 3 4 5", "1 1 4 6"]
    probs = [problem(n) for n in numbers]
    corpus.bad_hash = probs[2].hash
    memory = CorpusMemory(corpus)

    async def record_all() -> list[BaseException | None]:
        return await asyncio.gather(
            *(memory.record(p, [attempt(p, "1", Status.REJECT)], PARAMS, "m") for p in probs),
            return_exceptions=True)

    outcomes = asyncio.run(record_all())
    memory.close()
    assert [o is None for o in outcomes] == [True, True, False, True]
    assert isinstance(outcomes[2], CorpusError)
    stored = {r[0] for r in corpus.query("SELECT problem_hash FROM attempts")}
    assert stored == {p.hash for i, p in enumerate(probs) if i != 2}


def test_many_rounds_in_flight_share_transactions(tmp_path: Path) -> None:
    corpus = Corpus(tmp_path / "c.sqlite")
    calls: list[int] = []
    original = corpus.write

    def counting(prepared):  # type: ignore[no-untyped-def]
        calls.append(len(prepared))
        return original(prepared)

    corpus.write = counting  # type: ignore[method-assign]
    memory = CorpusMemory(corpus)
    probs = [problem(f"{a} {b} 6 8") for a in range(1, 9) for b in range(1, 9)]

    async def record_all() -> None:
        await asyncio.gather(*(memory.record(p, [attempt(p, "1", Status.REJECT)], PARAMS, "m")
                               for p in probs))

    asyncio.run(record_all())
    memory.close()
    assert sum(calls) == len(probs) == corpus.counts()["attempts"]
    assert len(calls) < len(probs)  # group commit: fewer transactions than rounds
