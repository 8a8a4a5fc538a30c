"""Bad flags, bad files and bad endpoints through the real ``llm-modulo`` process: one line
on stderr, the documented exit code, no traceback, and nothing stored is damaged."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llm_modulo.corpus import Corpus
from llm_modulo.domains.game24 import Game24Domain
from llm_modulo.domains.game24 import scripted_responder as game24_responder
from llm_modulo.testing import ScriptedServer
from tests.corpus_helpers import solved_problem

UNREACHABLE = "http://127.0.0.1:9/v1"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llm_modulo.cli", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, cwd=cwd)


def assert_one_line_error(r: subprocess.CompletedProcess[str], code: int = 2) -> None:
    assert r.returncode == code, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "p.jsonl").write_text('{"numbers": [4, 4, 6, 8]}\n')
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\x00\x01 not text\n")
    (tmp_path / "dir").mkdir()
    with Corpus(tmp_path / "c.sqlite") as c:
        solved_problem(c, "4 4 6 8")
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("CREATE TABLE t (x)")
    other.commit()
    other.close()
    return tmp_path


NUMERIC = [
    ["solve", "-p", "4 4 6 8", "--rounds", "0"],
    ["solve", "-p", "4 4 6 8", "--rounds", "-3"],
    ["solve", "-p", "4 4 6 8", "-n", "0"],
    ["solve", "-p", "4 4 6 8", "-n", "1000"],
    ["solve", "-p", "4 4 6 8", "--temperature", "nan"],
    ["solve", "-p", "4 4 6 8", "--temperature", "-1"],
    ["solve", "-p", "4 4 6 8", "--max-tokens", "0"],
    ["solve", "-p", "4 4 6 8", "--token-budget", "0"],
    ["solve", "-p", "4 4 6 8", "--wall-time", "0"],
    ["solve", "-p", "4 4 6 8", "--wall-time", "nan"],
    ["solve", "-p", "4 4 6 8", "--seed", "x"],
    ["check", "-p", "4 4 6 8", "-c", "1", "--timeout", "0"],
    ["check", "-p", "4 4 6 8", "-c", "1", "--timeout", "nan"],
    ["check", "-p", "4 4 6 8", "-c", "1", "--timeout", "inf"],
    ["check", "-p", "4 4 6 8", "-c", "1", "--timeout", "1e9"],
    ["run", "p.jsonl", "--out", "o.jsonl", "--concurrency", "0"],
    ["run", "p.jsonl", "--out", "o.jsonl", "--concurrency", "10000000"],
    ["run", "p.jsonl", "--out", "o.jsonl", "--limit", "-1"],
    ["demo", "--count", "0"],
    ["serve", "--port", "x"],
    ["serve", "--port", "0"],
    ["serve", "--port", "70000"],
    ["export", "-f", "sft", "-o", "x.jsonl", "--split", "nan"],
    ["export", "-f", "sft", "-o", "x.jsonl", "--min-round", "0"],
    ["export", "-f", "csv", "-o", "x.jsonl"],
    ["frobnicate"],
    ["solve", "--no-such-flag"],
]


@pytest.mark.parametrize("args", NUMERIC, ids=lambda a: " ".join(a))
def test_bad_flags_are_one_line(args: list[str], files: Path) -> None:
    assert_one_line_error(cli(*args, cwd=files))


FILES = [
    ["run", "bin.jsonl", "--out", "o.jsonl", "--base-url", UNREACHABLE],
    ["run", "dir", "--out", "o.jsonl", "--base-url", UNREACHABLE],
    ["run", "p.jsonl", "--out", "dir", "--base-url", UNREACHABLE],
    ["run", "p.jsonl", "--out", "c.sqlite", "--corpus", "c.sqlite", "--base-url", UNREACHABLE],
    ["run", "p.jsonl", "--out", "other.db", "--base-url", UNREACHABLE],
    ["run", "p.jsonl", "--out", "o.jsonl", "--base-url", "http://[::1"],
    ["solve", "-p", "4 4 6 8", "--no-cache", "--base-url", "garbage"],
    ["solve", "-p", "4 4 6 8", "--no-cache", "--base-url", "ftp://host/v1"],
    ["export", "-f", "sft", "-o", "c.sqlite", "--corpus", "c.sqlite"],
    ["export", "-f", "parquet", "-o", "c.sqlite-wal", "--corpus", "c.sqlite"],
    ["export", "-f", "sft", "-o", "other.db", "--corpus", "c.sqlite"],
    ["export", "-f", "sft", "-o", "dir", "--corpus", "c.sqlite"],
    ["export", "-f", "sft", "-o", "/dev/null", "--corpus", "c.sqlite"],
    ["export", "-f", "sft", "-o", "x.jsonl", "--corpus", "other.db"],
    ["export", "-f", "sft", "-o", "x.jsonl", "--corpus", "bin.jsonl"],
    ["corpus", "stats", "--corpus", "other.db"],
    ["corpus", "runs", "--corpus", "dir"],
    ["corpus", "stats", "--corpus", "c.sqlite", "--plot", "c.sqlite"],
    ["corpus", "stats", "--corpus", "c.sqlite", "--plot", "other.db"],
    ["corpus", "stats", "--corpus", "c.sqlite", "--plot", "dir"],
    ["corpus", "stats", "--corpus", "c.sqlite", "--plot", "/proc/nope/x.png"],
    ["check", "-p", "[/bold] [red]x", "-c", "1"],
    ["check", "-p", "@bin.jsonl", "-c", "1"],
    ["check", "-p", "4 4 6 8", "-c", "@dir"],
]


@pytest.mark.parametrize("args", FILES, ids=lambda a: " ".join(a))
def test_bad_files_and_endpoints_are_one_line_and_harmless(args: list[str],
                                                          files: Path) -> None:
    before = {p.name: p.read_bytes() for p in files.iterdir() if p.is_file()}
    assert_one_line_error(cli(*args, cwd=files))
    after = {p.name: p.read_bytes() for p in files.iterdir() if p.is_file()}
    for name, content in before.items():
        if name != "c.sqlite":  # a corpus may gain a run row, never lose data
            assert after[name] == content, name
    with Corpus(files / "c.sqlite") as c:
        assert c.counts()["solutions"] == 1
    assert not list(files.glob("*.partial"))


def test_markup_in_critiques_is_printed_literally(tmp_path: Path) -> None:
    r = cli("check", "-p", "4 4 6 8", "-c", "(4+8)*[/x](6-4)")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr


def test_an_unreachable_endpoint_is_exit_4(tmp_path: Path) -> None:
    r = cli("solve", "-p", "4 4 6 8", "--no-cache", "--base-url", UNREACHABLE, "--corpus",
            str(tmp_path / "c.sqlite"))
    assert r.returncode == 4 and "Traceback" not in r.stderr
    assert "generator failed" in r.stdout


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_run_stopped_by_a_signal_keeps_everything_and_resumes(signum: int,
                                                              tmp_path: Path) -> None:
    problems, out, corpus = tmp_path / "p.jsonl", tmp_path / "o.jsonl", tmp_path / "c.sqlite"
    puzzles = Game24Domain().generate_problems(16, seed=3)
    problems.write_text("".join(json.dumps({"numbers": p.payload["numbers"]}) + "\n"
                                for p in puzzles))
    with ScriptedServer(game24_responder, latency_s=0.5) as server:
        args = [sys.executable, "-m", "llm_modulo.cli", "run", str(problems), "--out", str(out),
                "--corpus", str(corpus), "-n", "2", "--concurrency", "2", "--base-url",
                server.base_url]
        # SIGINT back to its default in the child: a test run started as a background job
        # (nohup ... &) ignores SIGINT, and Python keeps an ignored SIGINT ignored
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, stdin=subprocess.DEVNULL,
                                preexec_fn=_default_sigint)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            # three results written (each after its rounds were committed to the corpus)
            if out.exists() and out.read_text().count("\n") >= 3:
                break
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 128 + signum and "Traceback" not in stderr, stderr
        assert "run the command again to resume" in stderr.splitlines()[-1]
        with Corpus(corpus) as c:
            stored = c.counts()["solutions"]
        assert 3 <= stored < 16
        again = subprocess.run(args, capture_output=True, text=True, timeout=120,
                               stdin=subprocess.DEVNULL)
        assert again.returncode == 0, again.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    hashes = [r["problem"]["hash"] for r in rows]
    assert sorted(hashes) == sorted(p.hash for p in puzzles)  # each once
    with sqlite3.connect(corpus) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*), count(DISTINCT problem_hash) FROM solutions"
                            ).fetchone() == (16, 16)


def test_validate_prints_an_unsupported_requirement_literally(tmp_path: Path) -> None:
    (tmp_path / "d.pddl").write_text(
        "(define (domain d) (:requirements :fluents[/x]) (:predicates (p))"
        " (:action a :parameters () :precondition (p) :effect (not (p))))")
    (tmp_path / "p.pddl").write_text(
        "(define (problem q) (:domain d) (:objects) (:init (p)) (:goal (not (p))))")
    (tmp_path / "plan.txt").write_text("(a)\n")
    r = cli("validate", "d.pddl", "p.pddl", "plan.txt", cwd=tmp_path)
    assert r.returncode == 3 and "Traceback" not in r.stderr, r.stderr
    assert "[/x]" in r.stdout
