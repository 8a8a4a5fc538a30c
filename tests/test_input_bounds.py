"""Every input is bounded: files (size, kind), YAML (no aliases), JSON (depth), flags.

Each bad input is one clear line and exit 2, never a traceback, a hang or unbounded memory.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llm_modulo.bounds import (
    MAX_INPUT_BYTES,
    NestingError,
    loads_bounded,
    read_text_capped,
    yaml_load_plain,
)
from llm_modulo.errors import ProblemError

BLOCKS = Path(__file__).parents[1] / "verifiers" / "pddl" / "data" / "planbench"
#: 380 bytes of YAML that expand to 9**9 (387 million) strings when aliases are followed
ALIAS_BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{c}: &{c} [{','.join(['*' + p] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi",
                                                                     strict=True)]) + "\n"
PROBLEM = """(define (problem p) (:domain blocksworld-4ops)
  (:objects a b) (:init (handempty) (ontable a) (ontable b) (clear a) (clear b))
  (:goal (on a b)))"""


def cli(*args: str, timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llm_modulo.cli", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw)


def one_line_usage_error(r: subprocess.CompletedProcess[str], *words: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_the_bomb_is_small_and_would_explode() -> None:
    assert len(ALIAS_BOMB) <= 400
    assert ALIAS_BOMB.count("*") == 72


# -- files --------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["check", "--problem", "@/dev/zero", "--candidate", "1"],
    ["check", "--problem", "4 4 6 8", "--candidate", "@/dev/zero"],
    ["check", "--domain", "csp", "--problem", "@/dev/zero", "--candidate", "{}"],
    ["check", "--domain", "blocksworld", "--problem", '{"problem": "/dev/zero"}',
     "--candidate", "{}"],
    ["check", "--domain", "pddl", "--problem",
     json.dumps({"domain": "/dev/zero", "problem": "/dev/zero"}), "--candidate", "{}"],
    ["check", "--problem", "@/tmp", "--candidate", "1"],
])
def test_a_device_or_directory_is_refused_at_once(args: list[str]) -> None:
    one_line_usage_error(cli(*args, timeout=30), "not a regular file")


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    one_line_usage_error(cli("check", "--problem", f"@{fifo}", "--candidate", "1", timeout=30),
                         "not a regular file")


def test_validate_refuses_devices(tmp_path: Path) -> None:
    domain = BLOCKS / "blocksworld.pddl"
    one_line_usage_error(cli("validate", str(domain), "/dev/zero", "/dev/null"),
                         "not a regular file")


def test_a_file_over_the_cap_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as fh:
        fh.truncate(MAX_INPUT_BYTES + 1)  # sparse: costs no disk
    one_line_usage_error(cli("check", "--problem", f"@{big}", "--candidate", "1"),
                         "larger than 16 MiB")
    with pytest.raises(ProblemError, match="larger than"):
        read_text_capped(big, "problem file")


def test_stdin_is_read_with_the_cap() -> None:
    r = subprocess.run([sys.executable, "-m", "llm_modulo.cli", "check", "--problem", "@-",
                        "--candidate", "(4+8)*(6-4)"], input="4 4 6 8", capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr


# -- YAML ---------------------------------------------------------------------------------


def test_an_alias_bomb_as_validate_templates_is_exit_2(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB)
    problem = tmp_path / "p.pddl"
    problem.write_text(PROBLEM)
    plan = tmp_path / "plan.txt"
    plan.write_text("(pick-up a)\n(stack a b)\n")
    r = cli("validate", str(BLOCKS / "blocksworld.pddl"), str(problem), str(plan),
            "--templates", str(bomb))
    one_line_usage_error(r, "aliases")


def test_an_alias_bomb_as_problem_templates_is_exit_2(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB)
    problem = {"domain": str(BLOCKS / "blocksworld.pddl"), "problem": PROBLEM,
               "templates": str(bomb)}
    r = cli("check", "--domain", "pddl", "--problem", json.dumps(problem),
            "--candidate", '{"plan": []}')
    one_line_usage_error(r, "aliases")


def test_yaml_without_aliases_still_loads() -> None:
    assert yaml_load_plain("a: [1, 2]\nb: x\n", "t") == {"a": [1, 2], "b": "x"}
    with pytest.raises(ProblemError, match="aliases"):
        yaml_load_plain(ALIAS_BOMB, "t")


# -- JSON ---------------------------------------------------------------------------------


def test_run_on_a_100000_deep_line_is_exit_2(tmp_path: Path) -> None:
    problems = tmp_path / "p.jsonl"
    problems.write_text('{"numbers": "4 4 6 8"}\n' + "[" * 100_000 + "]" * 100_000 + "\n")
    r = cli("run", str(problems), "--out", str(tmp_path / "o.jsonl"), "--base-url",
            "http://127.0.0.1:9/v1")
    one_line_usage_error(r, ":2:", "nests deeper")


@pytest.mark.parametrize("problem", [
    '{"numbers": ' + "[" * 100_000 + "]" * 100_000 + "}",
    '{"numbers": "4 4 6 8", "x": "\\ud800"}',
    '{"numbers": NaN}',
])
def test_a_bad_json_problem_is_exit_2(problem: str, tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(problem)
    one_line_usage_error(cli("check", "--problem", f"@{path}", "--candidate", "1"))
    if len(problem) < 1000:
        one_line_usage_error(cli("check", "--problem", problem, "--candidate", "1"))


def test_loads_bounded() -> None:
    assert loads_bounded("[[1]]", max_depth=2) == [[1]]
    with pytest.raises(NestingError):
        loads_bounded("[[[1]]]", max_depth=2)
    with pytest.raises(NestingError):
        loads_bounded("[" * 100_000)
    with pytest.raises(ValueError, match="surrogate"):
        loads_bounded('{"k\\udc00": 1}')
    assert loads_bounded('["\\ud83d\\ude00", "\\ud800"]', surrogates="replace") == \
        ["\U0001f600", "\ufffd"]


# -- flags --------------------------------------------------------------------------------


def test_run_out_proc_version_is_refused_before_the_run_is_registered(tmp_path: Path) -> None:
    problems = tmp_path / "p.jsonl"
    problems.write_text('{"numbers": "4 4 6 8"}\n')
    corpus = tmp_path / "c.sqlite"
    r = cli("run", str(problems), "--out", "/proc/version", "--base-url",
            "http://127.0.0.1:9/v1", "--corpus", str(corpus))
    one_line_usage_error(r, "/proc/version")
    if corpus.exists():
        with sqlite3.connect(corpus) as db:
            assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def test_run_out_in_a_missing_directory_still_works_later(tmp_path: Path) -> None:
    from llm_modulo.batch import check_appendable

    check_appendable(tmp_path / "new" / "o.jsonl")  # made when results are written
    check_appendable(tmp_path / "o.jsonl")
    assert not (tmp_path / "o.jsonl").exists()  # the probe leaves nothing behind


def test_solve_with_a_non_ascii_api_key_is_one_line() -> None:
    env = {**os.environ, "LLM_MODULO_API_KEY": "clé"}
    r = cli("solve", "--problem", "4 4 6 8", "--base-url", "http://127.0.0.1:9/v1", env=env)
    one_line_usage_error(r, "API key")


@pytest.mark.parametrize("flag", [["--seed", str(10**30)], ["--max-tokens", str(10**30)]])
def test_huge_integer_flags_are_usage_errors(flag: list[str]) -> None:
    r = cli("solve", "--problem", "4 4 6 8", "--base-url", "http://127.0.0.1:9/v1", *flag)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_a_deep_json_answer_is_not_an_answer() -> None:
    from llm_modulo.jsonanswer import loads_checked

    assert loads_checked('{"a": [[1]]}') == {"a": [[1]]}
    with pytest.raises(NestingError):  # parsed, yet too deep to store or serialize safely
        loads_checked('{"expression": ' + "[" * 500 + "]" * 500 + "}")
