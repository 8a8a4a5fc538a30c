"""The llm-modulo command line, run as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llm_modulo.domains.game24 import scripted_responder as game24_responder
from llm_modulo.testing import ScriptedServer


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llm_modulo.cli", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_check_accepts_a_solution() -> None:
    r = cli("check", "--domain", "game24", "--problem", "4 4 6 8", "--candidate", "(4+8)*(6-4)",
            "--json")
    assert r.returncode == 0, r.stderr
    verdict = json.loads(r.stdout)
    assert verdict["status"] == "accept" and verdict["verifier"] == "game24"
    assert verdict["critiques"] == []


def test_check_rejects_with_the_value() -> None:
    r = cli("check", "--domain", "game24", "--problem", "4 4 6 8", "--candidate", "4*6+8-4",
            "--json")
    assert r.returncode == 1
    verdict = json.loads(r.stdout)
    assert verdict["status"] == "reject"
    assert verdict["critiques"][0]["message"] == "the expression evaluates to 28, not 24"


def test_check_report_without_json() -> None:
    r = cli("check", "--problem", "4 4 6 8", "--candidate", "8/(4-4)+6+4")
    assert r.returncode == 1
    assert "REJECT" in r.stdout and "divides by zero" in r.stdout


def test_check_candidate_from_file(tmp_path: Path) -> None:
    f = tmp_path / "c.txt"
    f.write_text('{"expression": "(4+8)*(6-4)"}')
    assert cli("check", "--problem", "4 4 6 8", "--candidate", f"@{f}").returncode == 0


@pytest.mark.parametrize("args", [
    ["check", "--problem", "4 4 x 8", "--candidate", "1"],
    ["check", "--domain", "nope", "--problem", "4 4 6 8", "--candidate", "1"],
    ["check", "--problem", "4 4 6 8", "--candidate", "@/does/not/exist"],
    ["check", "--problem", "@/does/not/exist", "--candidate", "1"],
    ["check", "--problem", "4 4 6 8"],
    ["check", "--problem", "4 4 6 8", "--candidate", "1", "--timeout", "-1"],
    ["solve", "--problem", "4 4 6 8", "--rounds", "0"],
    ["solve", "--problem", "4 4 6 8", "--feedback", "loud"],
    ["run", "/does/not/exist.jsonl", "--out", "/tmp/x.jsonl"],
    ["frobnicate"],
])
def test_bad_input_is_a_clear_usage_error(args: list[str]) -> None:
    r = cli(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stderr.strip()


def test_solve_against_a_scripted_endpoint() -> None:
    with ScriptedServer(game24_responder) as server:
        r = cli("solve", "--problem", "4 4 6 8", "--base-url", server.base_url, "--json",
                "-n", "2")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["stop_reason"] == "accepted" and result["solution"]["round"] == 2
    assert result["solution"]["verdict"]["status"] == "accept"


def test_solve_report_and_exit_when_unsolved() -> None:
    with ScriptedServer(lambda body: ['{"expression":"4*6+8-4"}']) as server:
        r = cli("solve", "--problem", "4 4 6 8", "--base-url", server.base_url, "--rounds", "2")
    assert r.returncode == 1
    assert "no verified answer" in r.stdout and "evaluates to 28" in r.stdout


def test_solve_reports_an_unreachable_endpoint() -> None:
    from llm_modulo.embedded import free_port

    r = cli("solve", "--problem", "4 4 6 8", "--base-url", f"http://127.0.0.1:{free_port()}/v1")
    assert r.returncode == 4
    assert "Traceback" not in r.stderr


def test_run_is_resumable(tmp_path: Path) -> None:
    problems = tmp_path / "p.jsonl"
    problems.write_text("\n".join(json.dumps({"idx": i, "numbers": n}) for i, n in
                                  enumerate(["4 4 6 8", "1 1 4 6", "2 3 4 5"])) + "\n")
    out = tmp_path / "out.jsonl"
    with ScriptedServer(game24_responder) as server:
        first = cli("run", str(problems), "--out", str(out), "--base-url", server.base_url,
                    "--limit", "2")
        assert first.returncode == 0, first.stderr
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(rows) == 2 and all(r["stop_reason"] == "accepted" for r in rows)
        # a crash mid-write leaves a partial line: it is kept, and the run resumes
        with out.open("a") as fh:
            fh.write('{"partial": ')
        second = cli("run", str(problems), "--out", str(out), "--base-url", server.base_url)
        assert second.returncode == 0, second.stderr
        assert "2 already done, 1 to solve" in second.stderr
        requests = len(server.completion_requests())
    lines = out.read_text().splitlines()
    assert lines[2] == '{"partial": '
    done = [json.loads(line) for line in lines if line != '{"partial": ']
    assert sorted(r["problem"]["id"] for r in done) == ["0", "1", "2"]
    assert requests == 6  # 3 problems x 2 rounds: nothing solved twice


def test_run_rejects_a_bad_problem_line_before_working(tmp_path: Path) -> None:
    problems = tmp_path / "p.jsonl"
    problems.write_text('{"numbers": "4 4 6 8"}\n{"numbers": "4 4 x"}\n')
    r = cli("run", str(problems), "--out", str(tmp_path / "o.jsonl"), "--base-url",
            "http://127.0.0.1:9/v1")
    assert r.returncode == 2 and ":2:" in r.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_listings() -> None:
    r = cli("verifiers", "--json")
    assert r.returncode == 0
    assert "game24" in [v["name"] for v in json.loads(r.stdout)["verifiers"]]
