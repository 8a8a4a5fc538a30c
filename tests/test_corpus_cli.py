"""The corpus through the command line: recording, reuse, kill -9 and resume, concurrent runs."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from llm_modulo.corpus import Corpus
from llm_modulo.domains.game24 import Game24Domain
from llm_modulo.domains.game24 import scripted_responder as game24_responder
from llm_modulo.testing import ScriptedServer

DOMAIN = Game24Domain()


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llm_modulo.cli", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def numbers_of(request: dict[str, Any]) -> str:
    found = re.search(r"Numbers: ([\d ]+)", request["messages"][1]["content"])
    assert found is not None
    return found.group(1).strip()


def write_problems(path: Path, count: int, seed: int = 1) -> list[str]:
    problems = DOMAIN.generate_problems(count, seed=seed)
    path.write_text("".join(json.dumps({"idx": i, "numbers": p.payload["numbers"]}) + "\n"
                            for i, p in enumerate(problems)))
    return [p.hash for p in problems]


def db(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def test_solve_records_then_serves_from_the_corpus(tmp_path: Path) -> None:
    corpus = tmp_path / "c.sqlite"
    with ScriptedServer(game24_responder) as server:
        first = cli("solve", "-p", "4 4 6 8", "--base-url", server.base_url, "-n", "2",
                    "--corpus", str(corpus), "--json")
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout)["stop_reason"] == "accepted"
        asked = len(server.completion_requests())
        assert asked == 2
        second = cli("solve", "-p", "4 4 6 8", "--base-url", server.base_url, "--corpus",
                     str(corpus), "--json")
        assert second.returncode == 0, second.stderr
        cached = json.loads(second.stdout)
        assert cached["stop_reason"] == "cached"
        assert cached["solution"]["verdict"]["status"] == "accept"
        assert cached["solution"]["candidate"] == json.loads(first.stdout)["solution"][
            "candidate"]
        assert len(server.completion_requests()) == asked  # the LLM was not called
        report = cli("solve", "-p", "4 4 6 8", "--base-url", server.base_url, "--corpus",
                     str(corpus))
        assert "from the corpus, re-verified now" in report.stdout
        fresh = cli("solve", "-p", "4 4 6 8", "--base-url", server.base_url, "-n", "2",
                    "--corpus", str(corpus), "--no-cache", "--json")
        assert json.loads(fresh.stdout)["stop_reason"] == "accepted"
        assert len(server.completion_requests()) == asked + 2
    with db(corpus) as conn:
        assert conn.execute("SELECT count(*) FROM attempts").fetchone()[0] == 8
        assert conn.execute("SELECT count(*) FROM solutions").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 4


def test_a_cached_answer_needs_no_server() -> None:
    """Reuse happens before any endpoint is contacted (or the embedded server started)."""
    with ScriptedServer(game24_responder) as server:
        assert cli("solve", "-p", "1 2 3 4", "--base-url", server.base_url).returncode == 0
    r = cli("solve", "-p", "1 2 3 4", "--base-url", "http://127.0.0.1:9/v1", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["stop_reason"] == "cached"


def test_run_killed_with_sigkill_resumes_without_loss_or_repeats(tmp_path: Path) -> None:
    problems, out, corpus = tmp_path / "p.jsonl", tmp_path / "out.jsonl", tmp_path / "c.sqlite"
    hashes = write_problems(problems, 24)
    args = [sys.executable, "-m", "llm_modulo.cli", "run", str(problems), "--out", str(out),
            "--corpus", str(corpus), "-n", "2", "--concurrency", "4"]
    with ScriptedServer(game24_responder, latency_s=0.25) as server:
        proc = subprocess.Popen([*args, "--base-url", server.base_url],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        solved_before: set[str] = set()
        while time.monotonic() < deadline and len(solved_before) < 6:
            time.sleep(0.02)
            if corpus.exists():
                try:
                    with db(corpus) as conn:
                        solved_before = {r[0] for r in conn.execute(
                            "SELECT problem_hash FROM solutions")}
                except sqlite3.OperationalError:
                    continue  # schema not created yet
        proc.kill()  # SIGKILL: no cleanup of any kind
        proc.wait(timeout=30)
        with db(corpus) as conn:
            solved_before = {r[0] for r in conn.execute("SELECT problem_hash FROM solutions")}
        assert 6 <= len(solved_before) < 24, "the kill should land mid-run"
        asked_before = len(server.completion_requests())

        second = subprocess.run([*args, "--base-url", server.base_url], capture_output=True,
                                text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert second.returncode == 0, second.stderr
        asked_after = server.completion_requests()[asked_before:]

    # no problem solved before the kill was asked of the model again
    by_hash = {DOMAIN.parse_problem(numbers_of(r)).hash for r in asked_after}
    assert not by_hash & solved_before
    with db(corpus) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # every problem solved, each solution stored exactly once
        solutions = conn.execute("SELECT problem_hash, count(*) FROM solutions "
                                 "GROUP BY problem_hash").fetchall()
        assert sorted(h for h, _ in solutions) == sorted(hashes)
        assert all(n == 1 for _, n in solutions)
        # and found in exactly one round: no problem solved twice
        accepting_rounds = conn.execute(
            "SELECT problem_hash, count(DISTINCT run_id || ':' || round) FROM attempts"
            " WHERE status = 'accept' GROUP BY problem_hash").fetchall()
        assert len(accepting_rounds) == 24 and all(n == 1 for _, n in accepting_rounds)
    # the results file names every problem once (a line cut by the kill is left as it was)
    rows = []
    for line in out.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    done = [r["problem"]["hash"] for r in rows]
    assert sorted(done) == sorted(hashes)
    assert all(r["stop_reason"] in ("accepted", "cached") for r in rows)


def test_two_runs_share_one_corpus(tmp_path: Path) -> None:
    problems, corpus = tmp_path / "p.jsonl", tmp_path / "c.sqlite"
    hashes = write_problems(problems, 12, seed=5)
    with ScriptedServer(game24_responder, latency_s=0.05) as server:
        procs = [subprocess.Popen(
            [sys.executable, "-m", "llm_modulo.cli", "run", str(problems), "--out",
             str(tmp_path / f"out{i}.jsonl"), "--corpus", str(corpus), "-n", "4",
             "--concurrency", "6", "--no-cache", "--base-url", server.base_url],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            stdin=subprocess.DEVNULL) for i in range(2)]
        for proc in procs:
            _, stderr = proc.communicate(timeout=120)
            assert proc.returncode == 0, stderr
    with db(corpus) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 2
        # 2 runs x 12 problems x 2 rounds x 4 samples
        assert conn.execute("SELECT count(*) FROM attempts").fetchone()[0] == 192
        sols = conn.execute("SELECT problem_hash FROM solutions").fetchall()
        assert sorted(h for (h,) in sols) == sorted(hashes)


@pytest.mark.parametrize("args", [
    ["export", "--format", "sft", "--out", "x.jsonl", "--corpus", "/does/not/exist.sqlite"],
    ["export", "--format", "sft", "--out", "x.jsonl", "--split", "1.5"],
    ["export", "--format", "sft", "--out", "x.jsonl", "--since", "yesterday"],
    ["export", "--format", "sft", "--out", "x.jsonl", "--min-round", "3", "--max-round", "2"],
    ["export", "--format", "csv", "--out", "x.jsonl"],
    ["export", "--format", "verl", "--out", "x.parquet", "--reverify"],
    ["corpus", "stats", "--corpus", "/does/not/exist.sqlite"],
])
def test_corpus_commands_give_clear_usage_errors(args: list[str], tmp_path: Path) -> None:
    Corpus(os.environ["LLM_MODULO_CORPUS"]).close()  # the default corpus exists
    r = subprocess.run([sys.executable, "-m", "llm_modulo.cli", *args], capture_output=True,
                       text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stderr.strip()
    assert not (tmp_path / "x.jsonl").exists() and not (tmp_path / "x.parquet").exists()


def test_stats_and_plot(tmp_path: Path) -> None:
    problems, corpus = tmp_path / "p.jsonl", tmp_path / "c.sqlite"
    write_problems(problems, 3)
    with ScriptedServer(game24_responder) as server:
        r = cli("run", str(problems), "--out", str(tmp_path / "o.jsonl"), "--corpus",
                str(corpus), "-n", "2", "--base-url", server.base_url)
        assert r.returncode == 0, r.stderr
    plot = tmp_path / "solve-rate.png"
    r = cli("corpus", "stats", "--corpus", str(corpus), "--json", "--plot", str(plot))
    assert r.returncode == 0, r.stderr
    stats = json.loads(r.stdout)
    (game24,) = stats["domains"]
    assert game24["problems"] == 3 and game24["solved"] == 3
    assert game24["acceptance_rate"] == 1.0
    assert game24["rounds_to_accept"] == {"2": 3}
    assert game24["solve_rate_by_round"] == {"1": 0.0, "2": 1.0}
    assert game24["accepted_attempts"] == 6 and game24["rejected_attempts"] == 6
    assert game24["tokens_per_solution"] > 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = cli("corpus", "stats", "--corpus", str(corpus))
    assert table.returncode == 0 and "game24" in table.stdout and "100.0%" in table.stdout
    runs = cli("corpus", "runs", "--corpus", str(corpus), "--json")
    assert runs.returncode == 0, runs.stderr
    (run,) = json.loads(runs.stdout)
    assert run["command"] == "run" and run["problems"] == 3 and run["attempts"] == 12
    only = cli("corpus", "stats", "--corpus", str(corpus), "--run", run["id"], "--json")
    assert json.loads(only.stdout)["domains"][0]["problems"] == 3
    none = cli("corpus", "stats", "--corpus", str(corpus), "--run", "nope", "--json")
    assert json.loads(none.stdout)["domains"] == []
