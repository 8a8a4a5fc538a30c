"""Exports: every format loads with `datasets`; only verified answers, only REJECTed negatives."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from llm_modulo.corpus import Corpus, CorpusMemory, ExportOptions, export
from llm_modulo.corpus.formats import side_of
from llm_modulo.generator import SamplingParams
from llm_modulo.pool import WorkerPool
from llm_modulo.types import Status
from llm_modulo.verifiers.game24.verifier import Game24Verifier
from tests.corpus_helpers import attempt, problem, solved_problem

SOLVED = ["4 4 6 8", "1 2 3 4", "2 3 4 5", "1 1 4 6", "1 3 4 6", "2 2 6 6", "1 1 3 8"]
UNKNOWN_TEXT = "(4+8)*(6-4) maybe"  # an UNKNOWN verdict: must appear nowhere
WRONG_BUT_ACCEPTED = "3+3+8+8"  # accepted by a buggy old verifier 0.9 (it is 22)


@pytest.fixture(scope="module")
def corpus_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("export") / "c.sqlite"
    with Corpus(path) as corpus:
        run = corpus.start_run("test", "game24", {})
        for numbers in SOLVED:
            solved_problem(corpus, numbers, run_id=run)
        p = problem("4 4 6 8")
        unknown = attempt(p, None, Status.UNKNOWN, round=3)
        unknown = unknown.model_copy(update={"completion": UNKNOWN_TEXT})
        corpus.record_round(p, [unknown, attempt(p, None, Status.REJECT, round=3, sample=1)],
                            SamplingParams(), "m", run)
        p = problem("3 3 8 8")
        corpus.record_round(p, [attempt(p, WRONG_BUT_ACCEPTED, Status.ACCEPT, version="0.9")],
                            SamplingParams(), "m", run)
        # a second run: one problem solved at once, in round 1
        other = corpus.start_run("test", "game24", {})
        p = problem("1 5 5 5")
        corpus.record_round(p, [attempt(p, "5*(5-1/5)", Status.ACCEPT)], SamplingParams(),
                            "other-model", other)
    return path


def load(path: Path, kind: str, cache: Path) -> Any:
    import datasets

    datasets.disable_progress_bars()
    return datasets.load_dataset(kind, data_files=str(path), split="train",
                                 cache_dir=str(cache))


def run_export(corpus_path: Path, out: Path, **kw: Any) -> Any:
    with Corpus(corpus_path) as corpus:
        return export(corpus, ExportOptions(out=out, **kw))


def verified(numbers: Any, completion: str) -> bool:
    from llm_modulo.domains.game24 import Game24Domain

    dom = Game24Domain()
    prob = dom.parse_problem({"numbers": numbers})
    return Game24Verifier().verify(prob, dom.parse_candidate(prob, completion)).accepted


def texts(rows: Any, column: str) -> list[str]:
    return [m[0]["content"] for m in rows[column]]


def test_sft_messages_round_trip(corpus_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "sft.jsonl"
    report = run_export(corpus_path, out, format="sft")
    ds = load(out, "json", tmp_path / "hf")
    assert report.files == {str(out): len(ds)} and len(ds) == len(SOLVED) + 2
    for row in ds:
        roles = [m["role"] for m in row["messages"]]
        assert roles == ["system", "user", "assistant"]  # the first prompt, then the answer
        assert UNKNOWN_TEXT not in row["messages"][2]["content"]
    assert set(ds.column_names) == {"messages", "domain", "problem_hash"}


def test_sft_prompt_completion_and_reverify(corpus_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "sft.jsonl"
    report = run_export(corpus_path, out, format="sft", sft_style="prompt-completion",
                        reverify=True)
    assert report.dropped == 1  # the old verifier's false accept
    ds = load(out, "json", tmp_path / "hf")
    assert len(ds) == len(SOLVED) + 1
    assert [m["role"] for m in ds[0]["prompt"]] == ["system", "user"]
    for row in ds:
        (reply,) = row["completion"]
        assert reply["role"] == "assistant" and WRONG_BUT_ACCEPTED not in reply["content"]
        numbers = [int(n) for n in row["prompt"][1]["content"].split("Numbers: ")[1]
                   .split("\n")[0].split()]
        assert verified(numbers, reply["content"])


def test_openai_rows_hold_only_messages(corpus_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "openai.jsonl"
    run_export(corpus_path, out, format="openai", reverify=True)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == len(SOLVED) + 1
    assert all(list(r) == ["messages"] for r in lines)
    assert load(out, "json", tmp_path / "hf").column_names == ["messages"]


def test_dpo_pairs_use_only_rejected_negatives(corpus_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "dpo.jsonl"
    run_export(corpus_path, out, format="dpo", reverify=True)
    ds = load(out, "json", tmp_path / "hf")
    assert {"prompt", "chosen", "rejected", "kind"} <= set(ds.column_names)
    kinds = ds["kind"]
    # per solved problem of run 1: one preference pair and one revision pair; 4 4 6 8 also
    # has an unparseable REJECT in round 3 (the UNKNOWN one is never used)
    assert kinds.count("preference") == len(SOLVED) + 1
    assert kinds.count("revision") == len(SOLVED)
    assert UNKNOWN_TEXT not in texts(ds, "rejected")
    assert "I do not know" in texts(ds, "rejected")
    for row in ds:
        chosen, rejected = row["chosen"][0]["content"], row["rejected"][0]["content"]
        assert chosen != rejected
        if row["kind"] == "revision":
            # the prompt carries the rejected attempt and the critique; chosen is the fix
            assert [m["role"] for m in row["prompt"]] == ["system", "user", "assistant", "user"]
            assert row["prompt"][2]["content"] == rejected
            assert "not correct" in row["prompt"][3]["content"]
        else:
            assert [m["role"] for m in row["prompt"]] == ["system", "user"]


def test_parquet_has_provenance_and_no_unknowns(corpus_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "attempts.parquet"
    run_export(corpus_path, out, format="parquet")
    ds = load(out, "parquet", tmp_path / "hf")
    for column in ("domain", "problem_hash", "model", "sampling", "round", "verifier",
                   "verifier_version", "verdict", "critiques", "critique_trail", "seed",
                   "prompt_tokens", "created_at"):
        assert column in ds.column_names
    assert set(ds["verdict"]) == {"accept", "reject"}
    assert UNKNOWN_TEXT not in ds["completion"]
    # 7 problems x 2 rounds, the round-3 REJECT, the unflagged 0.9 accept, run 2's accept
    assert len(ds) == 2 * len(SOLVED) + 3
    fix = next(r for r in ds if r["round"] == 2)
    trail = json.loads(fix["critique_trail"])
    assert trail[0]["round"] == 1 and "is wrong" in trail[0]["critiques"][0]["message"]
    assert json.loads(fix["sampling"])["seed"] == 1 and fix["seed"] == 1
    first = next(r for r in ds if r["round"] == 1)
    assert json.loads(first["critique_trail"]) == []
    assert {m["role"] for m in fix["prompt"]} == {"system", "user", "assistant"}


def test_verl_rows(corpus_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "verl.parquet"
    run_export(corpus_path, out, format="verl")
    ds = load(out, "parquet", tmp_path / "hf")
    assert ds.column_names == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    assert len(ds) == len(SOLVED) + 2  # every problem once (3 3 8 8 included: a prompt)
    row = ds[0]
    assert row["data_source"] == "llm_modulo/game24" and row["ability"] == "game24"
    assert row["reward_model"]["style"] == "rule"
    assert "numbers" in json.loads(row["reward_model"]["ground_truth"])
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert set(row["extra_info"]) >= {"split", "index", "problem_hash", "solved"}


@pytest.mark.parametrize("fmt", ["sft", "dpo", "parquet", "verl"])
def test_split_keeps_each_problem_on_one_side(corpus_path: Path, tmp_path: Path,
                                              fmt: str) -> None:
    ext = ".parquet" if fmt in ("parquet", "verl") else ".jsonl"
    report = run_export(corpus_path, tmp_path / f"data{ext}", format=fmt, split=0.5)
    train, test = tmp_path / f"data.train{ext}", tmp_path / f"data.test{ext}"
    assert set(report.files) == {str(train), str(test)}
    sides = {}
    for side, path in (("train", train), ("test", test)):
        if ext == ".jsonl":
            rows = [json.loads(line) for line in path.read_text().splitlines()]
            hashes = {r["problem_hash"] for r in rows}
        else:
            table = pq.read_table(path).to_pylist()
            hashes = {r["problem_hash"] if fmt == "parquet" else r["extra_info"]["problem_hash"]
                      for r in table}
        assert all(side_of(h, 0.5) == side for h in hashes)
        sides[side] = hashes
    assert sides["train"] and sides["test"] and not sides["train"] & sides["test"]


def test_filters(corpus_path: Path, tmp_path: Path) -> None:
    def count(**kw: Any) -> int:
        report = run_export(corpus_path, tmp_path / "f.jsonl", format="sft", **kw)
        return int(sum(report.files.values()))

    with Corpus(corpus_path) as corpus:
        runs = [r[0] for r in corpus.query("SELECT id FROM runs ORDER BY started_at")]
    assert count() == len(SOLVED) + 2
    assert count(runs=(runs[1],)) == 1
    assert count(max_round=1) == 2  # 1 5 5 5 and the buggy 3 3 8 8 were found in round 1
    assert count(min_round=2) == len(SOLVED)
    assert count(domains=("nope",)) == 0
    assert count(since=datetime.now(UTC) + timedelta(days=1)) == 0
    assert count(until=datetime.now(UTC) + timedelta(days=1)) == len(SOLVED) + 2


def test_flagged_solutions_are_not_exported(tmp_path: Path, pool: WorkerPool) -> None:
    path = tmp_path / "c.sqlite"
    with Corpus(path) as corpus:
        p = problem("3 3 8 8")
        corpus.record_round(p, [attempt(p, WRONG_BUT_ACCEPTED, Status.ACCEPT, version="0.9")],
                            SamplingParams(), "m")
        solved_problem(corpus, "4 4 6 8")
        assert asyncio.run(CorpusMemory(corpus).lookup(p, Game24Verifier(), pool)) is None
        report = export(corpus, ExportOptions(format="sft", out=tmp_path / "s.jsonl"))
        assert list(report.files.values()) == [1]
        report = export(corpus, ExportOptions(format="parquet", out=tmp_path / "a.parquet"))
        assert WRONG_BUT_ACCEPTED not in str(pq.read_table(tmp_path / "a.parquet").to_pylist())


def test_reverify_drops_a_negative_that_is_right_after_all(tmp_path: Path) -> None:
    with Corpus(tmp_path / "c.sqlite") as corpus:
        solved_problem(corpus, "6 6 6 6")  # its "wrong" round-1 answer 6+6+6+6 is 24
        kept = export(corpus, ExportOptions(format="dpo", out=tmp_path / "a.jsonl"))
        checked = export(corpus, ExportOptions(format="dpo", out=tmp_path / "b.jsonl",
                                               reverify=True))
    assert sum(kept.files.values()) == 2
    assert sum(checked.files.values()) == 0 and checked.dropped == 2


def test_export_command_round_trip(corpus_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.jsonl"
    r = subprocess.run([sys.executable, "-m", "llm_modulo.cli", "export", "--format", "dpo",
                        "--out", str(out), "--corpus", str(corpus_path), "--reverify",
                        "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["files"] == {str(out): len(out.read_text().splitlines())}
    assert not list(tmp_path.glob("*.partial"))
