"""Several ``--base-url`` endpoints from the command line: ``run``, ``solve`` (the environment
variable), ``study``, the scaling page's example, and one line for a bad value."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llm_modulo.cli import app
from llm_modulo.domains.game24 import scripted_responder as game24_responder
from llm_modulo.testing import ScriptedServer

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llm_modulo.cli", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, cwd=cwd,
                          env={**os.environ, **(env or {})})


def _problems(folder: Path) -> Path:
    problems = folder / "problems.jsonl"
    problems.write_text("\n".join(json.dumps({"numbers": n}) for n in
                                  ("4 4 6 8", "1 1 4 6", "2 3 4 5", "3 3 8 8")) + "\n")
    return problems


def test_run_spreads_a_batch_over_two_endpoints(tmp_path: Path) -> None:
    problems = _problems(tmp_path)
    out = tmp_path / "out.jsonl"
    with ScriptedServer(game24_responder) as a, ScriptedServer(game24_responder) as b:
        r = cli("run", str(problems), "--out", str(out), "--corpus", str(tmp_path / "c.sqlite"),
                "--base-url", a.base_url, "--base-url", b.base_url)
        seen = [len(a.completion_requests()), len(b.completion_requests())]
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 4 and all(row["stop_reason"] == "accepted" for row in rows)
    assert sum(seen) == 8 and min(seen) >= 1, seen  # 4 problems x 2 rounds, both used
    for url, count in zip((a.base_url, b.base_url), seen, strict=True):
        assert f"endpoint {url}: {count} requests, 0 failed, healthy" in r.stderr


def test_solve_reads_several_endpoints_from_the_environment(tmp_path: Path) -> None:
    with ScriptedServer(game24_responder) as a, ScriptedServer(game24_responder) as b:
        r = cli("solve", "--problem", "4 4 6 8", "--json", "-n", "2", "--corpus",
                str(tmp_path / "c.sqlite"), env={"LLM_MODULO_BASE_URL":
                                                 f"{a.base_url}, {b.base_url}"})
        seen = [len(a.completion_requests()), len(b.completion_requests())]
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["stop_reason"] == "accepted"
    assert seen == [1, 1]  # two rounds, one after the other: round robin


def test_every_endpoint_unreachable_is_a_generator_error(tmp_path: Path) -> None:
    r = cli("solve", "--problem", "4 4 6 8", "--corpus", str(tmp_path / "c.sqlite"),
            "--base-url", "http://127.0.0.1:9/v1", "--base-url", "http://127.0.0.1:7/v1")
    assert r.returncode == 4, r.stderr
    assert "no generator endpoint can take the request" in r.stdout
    assert "127.0.0.1:9/v1" in r.stdout and "127.0.0.1:7/v1" in r.stdout
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("values,env,message", [
    (["ftp://127.0.0.1/v1"], None, "not an http(s) URL with a host"),
    (["http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1/"], None, "given twice"),
    ([""], None, "no base URL given"),
    ([], "http://127.0.0.1:8000/v1,127.0.0.1:8001", "not an http(s) URL with a host"),
])
def test_a_malformed_base_url_is_one_line_exit_2(tmp_path: Path, values: list[str],
                                                  env: str | None, message: str) -> None:
    problems = _problems(tmp_path)
    args = [arg for v in values for arg in ("--base-url", v)]
    r = cli("run", str(problems), "--out", str(tmp_path / "o.jsonl"), "--corpus",
            str(tmp_path / "c.sqlite"), *args,
            env={"LLM_MODULO_BASE_URL": env} if env else None)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert not (tmp_path / "o.jsonl").exists()


def test_endpoints_serving_different_models_are_refused(tmp_path: Path) -> None:
    with ScriptedServer(game24_responder, model="m1") as a, \
            ScriptedServer(game24_responder, model="m2") as b:
        r = cli("run", str(_problems(tmp_path)), "--out", str(tmp_path / "o.jsonl"),
                "--corpus", str(tmp_path / "c.sqlite"), "--base-url", a.base_url,
                "--base-url", b.base_url, "--model", "m1")
        assert not a.completion_requests() and not b.completion_requests()
    assert r.returncode == 2, r.stderr
    assert f"error: endpoint {b.base_url} does not serve model 'm1': it serves m2" in r.stderr


def test_study_routes_over_the_endpoints(tmp_path: Path) -> None:
    from tests.study_fakes import APPROVE, register, responder, study_file

    register()
    path = study_file(tmp_path)
    with ScriptedServer(responder(APPROVE)) as a, ScriptedServer(responder(APPROVE)) as b:
        r = CliRunner().invoke(app, ["study", str(path), "--base-url", a.base_url,
                                     "--base-url", b.base_url, "--out", str(tmp_path / "out")])
        seen = [len(a.completion_requests()), len(b.completion_requests())]
    assert r.exit_code == 0, r.output
    assert min(seen) >= 1, seen


def _scaling_example() -> tuple[str, list[str]]:
    """The scaling page's ``run`` example (continuation lines joined) and what it prints."""
    text = (ROOT / "docs" / "scaling.md").read_text()
    blocks = [b for b in re.findall(r"```console\n(.*?)```", text, flags=re.DOTALL)
              if "--base-url" in b and "llm-modulo run" in b]
    assert len(blocks) == 1
    lines = blocks[0].splitlines()
    command, shown = "", []
    for line in lines:
        if line.startswith("$ ") or command.endswith("\\"):
            command = command.rstrip("\\").rstrip() + " " + line.removeprefix("$ ").strip()
        else:
            shown.append(line)
    return command.strip(), shown


def test_the_scaling_pages_example_runs_as_written(tmp_path: Path) -> None:
    command, shown = _scaling_example()
    urls = re.findall(r"--base-url (\S+)", command)
    assert len(urls) == 2
    _problems(tmp_path)
    with ScriptedServer(game24_responder) as a, ScriptedServer(game24_responder) as b:
        for url, server in zip(urls, (a, b), strict=True):
            command = command.replace(url, server.base_url)
        args = command.split()
        assert args[0] == "llm-modulo"
        r = cli(*args[1:], "--corpus", str(tmp_path / "c.sqlite"), cwd=tmp_path)
        printed = r.stderr.replace(a.base_url, urls[0]).replace(b.base_url, urls[1])
    assert r.returncode == 0, r.stderr
    expected = [line for line in shown if line.startswith(("endpoint ", "solved "))]
    assert len(expected) == 3
    for line in expected:  # request counts vary with timing
        pattern = re.escape(line).replace(r"\ 4\ requests", r"\ \d+\ requests")
        assert re.search(pattern, printed), (line, printed)


def test_the_scaling_pages_python_example_runs(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "scaling.md").read_text()
    [block] = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    with ScriptedServer() as a, ScriptedServer() as b:
        script = tmp_path / "example.py"
        script.write_text(block.replace("http://10.0.0.1:8000/v1", a.base_url)
                          .replace("http://10.0.0.2:8000/v1", b.base_url))
        r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                           timeout=60, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"{a.base_url} 0 0 True", f"{b.base_url} 0 0 True"]
