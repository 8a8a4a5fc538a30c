"""Search trees in the corpus and the ``prm`` export: only sound prefix verdicts become process
labels (ACCEPT True, REJECT False), never an UNKNOWN, never an unsound verifier's verdict."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llm_modulo.config import Budget, LoopConfig
from llm_modulo.corpus import Corpus, CorpusMemory, ExportOptions, corpus_stats, export
from llm_modulo.corpus.formats import Reverifier
from llm_modulo.corpus.stats import SearchStats, list_runs
from llm_modulo.errors import UsageError
from llm_modulo.generator import SamplingParams
from llm_modulo.loop import Solver
from llm_modulo.pool import WorkerPool
from llm_modulo.testing import FunctionGenerator
from llm_modulo.types import (
    Attempt,
    Candidate,
    Critique,
    SearchNode,
    SearchTree,
    Status,
    Step,
    StopReason,
    Verdict,
)
from tests.corpus_search_fakes import (
    BrokenTree,
    DoubtingSpellVerifier,
    FakeRegistry,
    SpellDomain,
    SpellVerifier,
    TinyTree,
)

DOMAIN = SpellDomain()
PROMPT = DOMAIN.step_messages(DOMAIN.parse_problem("abc"), [])
PROMPT_TEXT = "You spell words.\n\nSpell a 3-letter word, one letter per line."


def verdict(status: Status, *, sound: bool = True, complete: bool = False) -> Verdict:
    critiques = ([Critique(kind="letter", message="dead", location="step")]
                 if status is Status.REJECT else [])
    return Verdict(status=status, critiques=critiques, verifier="spell", verifier_version="1.0",
                   sound=sound, evidence={"complete": True} if complete else {})


A, R, U = Status.ACCEPT, Status.REJECT, Status.UNKNOWN


def hand_tree() -> SearchTree:
    """root ─ a(A) ─ b(A) ─ c(A, complete, judged as (1, 0))
                 │        └ d(R)
                 └ x(R) ─ y(A)          (below a dead prefix: never followed)
           ─ ?(U) ─ z(A)                (below an UNKNOWN: never followed)
           ─ q(A, unsound) ─ r(R, unsound)"""
    spec: list[tuple[int, str, Status, bool, bool]] = [
        # parent, letter, status, sound, complete
        (0, "a", A, True, False),   # 1
        (1, "b", A, True, False),   # 2
        (2, "c", A, True, True),    # 3
        (1, "x", R, True, False),   # 4
        (4, "y", A, True, False),   # 5
        (0, "?", U, True, False),   # 6
        (6, "z", A, True, False),   # 7
        (0, "q", A, False, False),  # 8
        (8, "r", R, False, False),  # 9
        (2, "d", R, True, False),   # 10
    ]
    nodes = [SearchNode(id=0)]
    for parent, letter, status, sound, complete in spec:
        i = len(nodes)
        nodes.append(SearchNode(
            id=i, parent=parent, depth=nodes[parent].depth + 1,
            step=Step(text=letter, data={"letter": letter}), completion=f"{letter}\n...",
            verdict=verdict(status, sound=sound, complete=complete), terminal=complete,
            visits=i, value=0.5, prior=0.25 if i == 1 else None,
            attempt=(1, 0) if i == 3 else None))
    return SearchTree(strategy="tiny_tree", prompt=PROMPT, nodes=nodes)


EXPECTED = [(["a", "b", "c"], [True, True, True]), (["a", "b", "d"], [True, True, False]),
            (["a", "x"], [True, False])]


def whole(word: str, status: Status, *, round: int = 1, sample: int = 0) -> Attempt:
    completion = json.dumps({"word": word})
    return Attempt(round=round, sample=sample, prompt=DOMAIN.initial_messages(
        DOMAIN.parse_problem("abc")), completion=completion,
        candidate=Candidate(raw=completion, answer={"word": word}),
        verdict=Verdict(status=status, verifier="spell", verifier_version="1.0"))


def load(path: Path, cache: Path) -> Any:
    import datasets

    datasets.disable_progress_bars()
    return datasets.load_dataset("json", data_files=str(path), split="train",
                                 cache_dir=str(cache))


def prm_rows(corpus_path: Path, tmp: Path, name: str = "prm.jsonl", **kw: Any
             ) -> list[tuple[list[str], list[bool]]]:
    out = tmp / name
    with Corpus(corpus_path) as corpus:
        report = export(corpus, ExportOptions(format="prm", out=out, **kw))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert report.files[str(out)] == len(rows)
    return sorted((r["completions"], r["labels"]) for r in rows)


@pytest.fixture()
def corpus_path(tmp_path: Path) -> Path:
    """The hand tree, stored twice (two solves of one problem), with its judged attempt."""
    path = tmp_path / "c.sqlite"
    problem = DOMAIN.parse_problem("abc")
    with Corpus(path) as corpus:
        run = corpus.start_run("test", "spell", LoopConfig(strategy="tiny_tree"))
        corpus.record_round(problem, [whole("abc", A)], SamplingParams(), "m", run)
        first = corpus.record_search(problem, hand_tree(), "m", run)
        second = corpus.record_search(problem, hand_tree(), "m", run)
        assert second == first + 1
    return path


def test_rows_load_with_datasets_and_carry_only_proven_labels(corpus_path: Path,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "prm.jsonl"
    with Corpus(corpus_path) as corpus:
        report = export(corpus, ExportOptions(format="prm", out=out))
    assert report.files == {str(out): 3}  # the second tree's rows are the first's: kept once
    ds = load(out, tmp_path / "hf")
    assert {"prompt", "completions", "labels"} <= set(ds.column_names)
    assert str(ds.features["prompt"].dtype) == "string"
    assert ds.features["labels"].feature.dtype == "bool"
    assert ds.features["completions"].feature.dtype == "string"
    assert sorted(zip(ds["completions"], ds["labels"], strict=True)) == EXPECTED
    assert set(ds["prompt"]) == {PROMPT_TEXT}
    assert set(ds["domain"]) == {"spell"}
    assert set(ds["strategy"]) == {"tiny_tree"}
    assert set(ds["verifier_version"]) == {"1.0"}
    assert set(ds["problem_hash"]) == {DOMAIN.parse_problem("abc").hash}
    steps = {s for row in ds["completions"] for s in row}
    assert not steps & {"?", "z", "y", "q", "r"}  # UNKNOWN, below dead/UNKNOWN, unsound


def test_nodes_are_stored_whole(corpus_path: Path) -> None:
    with Corpus(corpus_path) as corpus:
        searches = corpus.query("SELECT id, strategy, nodes, model, run_id FROM searches")
        assert [(s[1], s[2], s[3]) for s in searches] == [("tiny_tree", 11, "m")] * 2
        rows = corpus.query(
            "SELECT n.node_id, n.parent, n.depth, n.step_text, n.step_data, c.text, n.status,"
            " n.sound, n.critiques, n.verifier, n.verifier_version, n.evidence, n.terminal,"
            " n.visits, n.value, n.prior, n.attempt_round, n.attempt_sample, a.completion"
            " FROM search_nodes n LEFT JOIN step_completions c ON c.hash = n.completion_hash"
            " LEFT JOIN attempts a ON a.id = n.attempt_id"
            " WHERE n.search_id = ? ORDER BY n.node_id", (searches[0][0],))
        # one completion text per distinct completion
        assert corpus.query("SELECT count(*) FROM step_completions")[0][0] == 10
        run_of_attempt = corpus.query("SELECT run_id FROM attempts")[0][0]
    assert searches[0][4] == run_of_attempt
    root = rows[0]
    assert root[:4] == (0, None, 0, None) and root[6] is None and root[12] == 0
    c = rows[3]
    assert c[:8] == (3, 2, 3, "c", '{"letter":"c"}', "c\n...", "accept", 1)
    assert json.loads(c[11]) == {"complete": True}
    assert c[12:18] == (1, 3, 0.5, None, 1, 0)
    assert json.loads(c[18]) == {"word": "abc"}  # linked to the judged whole answer
    x = rows[4]
    assert x[6] == "reject" and json.loads(x[8])[0]["kind"] == "letter"
    assert rows[6][6] == "unknown" and rows[8][7] == 0
    assert rows[1][15] == 0.25


def test_an_unsound_verifiers_tree_gives_no_row(tmp_path: Path) -> None:
    path = tmp_path / "u.sqlite"
    tree = hand_tree()
    tree.nodes[1:] = [n.model_copy(update={"verdict": n.verdict.model_copy(
        update={"sound": False})}) for n in tree.nodes[1:] if n.verdict is not None]
    with Corpus(path) as corpus:
        corpus.record_search(DOMAIN.parse_problem("abc"), tree, "m")
    assert prm_rows(path, tmp_path) == []


def test_a_flagged_or_contradicted_complete_prefix_is_no_label(corpus_path: Path,
                                                               tmp_path: Path) -> None:
    with Corpus(corpus_path) as corpus:
        (sid,) = corpus.query("SELECT id FROM solutions")[0]
        corpus.flag(sid, "1.1", "not the word after all")
    # node c loses its label; b keeps d (a labelled child), so no row ends at b
    assert prm_rows(corpus_path, tmp_path) == EXPECTED[1:]
    # the whole-answer check REJECTed what the prefix check called complete: no label either
    path = tmp_path / "r.sqlite"
    problem = DOMAIN.parse_problem("abc")
    with Corpus(path) as corpus:
        corpus.record_round(problem, [whole("abc", R)], SamplingParams(), "m")
        corpus.record_search(problem, hand_tree(), "m")
    assert prm_rows(path, tmp_path, "r.jsonl") == EXPECTED[1:]


def test_filters(corpus_path: Path, tmp_path: Path) -> None:
    with Corpus(corpus_path) as corpus:
        other = corpus.start_run("test", "spell", {})
        problem = DOMAIN.parse_problem("ax")
        tree = hand_tree().model_copy(update={"prompt": DOMAIN.step_messages(problem, [])})
        corpus.record_search(problem, tree, "m", other)
        # the same rows under the first problem's prompt are duplicates: kept once
        corpus.record_search(problem, hand_tree(), "m")
        first = corpus.query("SELECT id FROM runs WHERE id != ?", (other,))[0][0]
    assert len(prm_rows(corpus_path, tmp_path, "all.jsonl")) == 6  # two prompts
    assert prm_rows(corpus_path, tmp_path, "run.jsonl", runs=(other,)) == EXPECTED
    assert prm_rows(corpus_path, tmp_path, "run1.jsonl", runs=(first,)) == EXPECTED
    assert prm_rows(corpus_path, tmp_path, "dom1.jsonl", domains=("spell",)) != []
    assert prm_rows(corpus_path, tmp_path, "dom.jsonl", domains=("game24",)) == []
    assert prm_rows(corpus_path, tmp_path, "until.jsonl",
                    until="2000-01-01T00:00:00") == []
    with Corpus(corpus_path) as corpus, pytest.raises(UsageError, match="no rounds"):
        export(corpus, ExportOptions(format="prm", out=tmp_path / "x.jsonl", max_round=1))


def test_reverify_drops_labels_todays_verifier_does_not_confirm(
        corpus_path: Path, tmp_path: Path, pool: WorkerPool) -> None:
    out = tmp_path / "rv.jsonl"
    with Corpus(corpus_path) as corpus:
        same = export(corpus, ExportOptions(format="prm", out=out, reverify=True),
                      reverifier=Reverifier(FakeRegistry(SpellVerifier()), pool=pool))
        assert same.dropped == 0 and same.files[str(out)] == 3
        doubting = export(corpus, ExportOptions(format="prm", out=out, reverify=True),
                          reverifier=Reverifier(FakeRegistry(DoubtingSpellVerifier()),
                                                pool=pool))
    assert doubting.dropped == 1
    rows = sorted(tuple(json.loads(line)["completions"])
                  for line in out.read_text().splitlines())
    assert rows == [("a", "b", "c"), ("a", "b", "d")]


def test_stats_and_runs_show_searches(corpus_path: Path) -> None:
    with Corpus(corpus_path) as corpus:
        corpus.start_run("test", "spell", {})
        corpus.start_run("test", "spell", {"strategy": 5})
        stats = corpus_stats(corpus)
        runs = list_runs(corpus)
        assert corpus_stats(corpus, domains=("game24",)).searches == []
    assert stats.searches == [SearchStats(strategy="tiny_tree", trees=2, nodes=22,
                                          dead_prefixes=4)]  # x and d per tree; r is unsound
    assert [r.strategy for r in runs] == ["tiny_tree", None, None]


# -- a corpus made before the search tables ---------------------------------------------

OLD_DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE problems (hash TEXT PRIMARY KEY, domain TEXT NOT NULL, payload TEXT NOT NULL,
    problem_id TEXT, created_at REAL NOT NULL);
CREATE TABLE runs (id TEXT PRIMARY KEY, command TEXT NOT NULL, domain TEXT,
    config TEXT NOT NULL, started_at REAL NOT NULL);
CREATE TABLE prompts (hash TEXT PRIMARY KEY, messages TEXT NOT NULL);
CREATE TABLE attempts (id INTEGER PRIMARY KEY,
    problem_hash TEXT NOT NULL REFERENCES problems(hash), run_id TEXT REFERENCES runs(id),
    round INTEGER NOT NULL, sample INTEGER NOT NULL,
    prompt_hash TEXT NOT NULL REFERENCES prompts(hash), completion TEXT NOT NULL, answer TEXT,
    parse_error TEXT,
    status TEXT NOT NULL CHECK (status IN ('accept', 'reject', 'unknown')),
    sound INTEGER NOT NULL, critiques TEXT NOT NULL, critique_count INTEGER NOT NULL,
    evidence TEXT NOT NULL, verifier TEXT NOT NULL, verifier_version TEXT NOT NULL,
    verify_s REAL NOT NULL, model TEXT, sampling TEXT NOT NULL, seed INTEGER,
    prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, finish_reason TEXT,
    created_at REAL NOT NULL);
CREATE INDEX attempts_by_problem ON attempts (problem_hash, run_id, round);
CREATE INDEX attempts_by_run ON attempts (run_id);
CREATE TABLE solutions (id INTEGER PRIMARY KEY,
    problem_hash TEXT NOT NULL REFERENCES problems(hash), answer TEXT NOT NULL,
    attempt_id INTEGER NOT NULL REFERENCES attempts(id), verifier TEXT NOT NULL,
    verifier_version TEXT NOT NULL, evidence TEXT NOT NULL, created_at REAL NOT NULL,
    flagged_at REAL, flag_verifier_version TEXT, flag_reason TEXT,
    UNIQUE (problem_hash, answer));
CREATE INDEX solutions_by_attempt ON solutions (attempt_id);
INSERT INTO meta VALUES ('schema_version', '1');
"""


def test_a_corpus_from_before_the_search_tables_opens_and_exports(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    problem = DOMAIN.parse_problem("abc")
    messages = json.dumps([m.model_dump() for m in DOMAIN.initial_messages(problem)])
    db = sqlite3.connect(path)
    db.executescript(OLD_DDL)
    db.execute("INSERT INTO problems VALUES (?, 'spell', ?, NULL, 0)",
               (problem.hash, json.dumps(problem.payload)))
    db.execute("INSERT INTO prompts VALUES ('p1', ?)", (messages,))
    db.execute("INSERT INTO attempts (problem_hash, round, sample, prompt_hash, completion,"
               " answer, status, sound, critiques, critique_count, evidence, verifier,"
               " verifier_version, verify_s, sampling, prompt_tokens, completion_tokens,"
               " created_at) VALUES (?, 1, 0, 'p1', '{\"word\": \"abc\"}', '{\"word\":\"abc\"}',"
               " 'accept', 1, '[]', 0, '{}', 'spell', '1.0', 0, '{}', 1, 1, 0)", (problem.hash,))
    db.execute("INSERT INTO solutions (problem_hash, answer, attempt_id, verifier,"
               " verifier_version, evidence, created_at) VALUES (?, '{\"word\":\"abc\"}', 1,"
               " 'spell', '1.0', '{}', 0)", (problem.hash,))
    db.commit()
    db.close()
    with Corpus(path) as corpus:
        assert corpus.query("SELECT value FROM meta")[0][0] == "1"  # additive: no new version
        assert export(corpus, ExportOptions(format="sft", out=tmp_path / "s.jsonl")
                      ).files[str(tmp_path / "s.jsonl")] == 1
        assert export(corpus, ExportOptions(format="prm", out=tmp_path / "p.jsonl")
                      ).files[str(tmp_path / "p.jsonl")] == 0
        assert corpus_stats(corpus).searches == []
        assert list_runs(corpus) == []
        corpus.record_search(problem, hand_tree(), "m")
    assert prm_rows(path, tmp_path) == EXPECTED


# -- through the Solver ---------------------------------------------------------------------


def solve(path: Path, strategy: Any, texts: list[str], pool: WorkerPool) -> Any:
    problem = DOMAIN.parse_problem("abc")
    config = LoopConfig(strategy=strategy.name, budget=Budget(rounds=1, samples=len(texts)))

    async def go() -> Any:
        with Corpus(path) as corpus:
            memory = CorpusMemory(corpus, run_id=corpus.start_run("test", "spell", config),
                                  reuse=False)
            try:
                solver = Solver(DOMAIN, SpellVerifier(), FunctionGenerator(lambda m, p: texts),
                                config, strategy=strategy, pool=pool, store=memory)
                return await solver.solve(problem)
            finally:
                memory.close()

    return asyncio.run(go())


def test_round_trip_through_the_solver(tmp_path: Path, pool: WorkerPool) -> None:
    path = tmp_path / "s.sqlite"
    texts = ["a\nb\nc", "a\nx", "a\n?\nc", "b"]
    result = solve(path, TinyTree(), texts, pool)
    assert result.stop_reason is StopReason.ACCEPTED, result.error
    assert result.search is not None and len(result.search.nodes) == 9
    assert prm_rows(path, tmp_path) == sorted([
        (["a", "b", "c"], [True, True, True]), (["a", "x"], [True, False]),
        (["a"], [True]),  # its child "?" is UNKNOWN: the path ends before it
        (["b"], [False])])
    with Corpus(path) as corpus:
        (linked,) = corpus.query(
            "SELECT a.status, a.round, a.sample FROM search_nodes n"
            " JOIN attempts a ON a.id = n.attempt_id")
        stats = corpus_stats(corpus)
    assert linked == ("accept", 1, 0)
    assert stats.searches == [SearchStats(strategy="tiny_tree", trees=1, nodes=9,
                                          dead_prefixes=2)]


def test_a_tree_that_cannot_be_stored_is_that_problems_error(tmp_path: Path,
                                                             pool: WorkerPool) -> None:
    path = tmp_path / "b.sqlite"
    result = solve(path, BrokenTree(), ["a\nx"], pool)
    assert result.stop_reason is StopReason.ERROR
    assert "search tree could not be stored" in (result.error or "")
    with Corpus(path) as corpus:  # nothing of it was written
        assert corpus.query("SELECT count(*) FROM searches")[0][0] == 0
        assert corpus.query("SELECT count(*) FROM search_nodes")[0][0] == 0



def test_the_cli_exports_prm_and_refuses_rounds(corpus_path: Path, tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "llm_modulo.cli", *args,
                               "--corpus", str(corpus_path)],
                              capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)

    out = tmp_path / "cli.jsonl"
    done = cli("export", "--format", "prm", "--out", str(out), "--split", "0.5", "--json")
    assert done.returncode == 0, done.stderr
    files = json.loads(done.stdout)["files"]
    assert sorted(files.values()) == [0, 3]  # one problem: all its rows on one side
    refused = cli("export", "--format", "prm", "--out", str(out), "--min-round", "2")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "error: --min-round/--max-round select attempts by round; prm rows come from search "
        "trees, which have no rounds"]
