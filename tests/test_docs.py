"""The README's Python example runs as written (only the server URL is swapped for a
scripted server on 127.0.0.1) and prints a verified solution."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from llm_modulo.domains.game24 import scripted_responder as game24_responder
from llm_modulo.testing import ScriptedServer

ROOT = Path(__file__).resolve().parent.parent
README_URL = "http://127.0.0.1:8000/v1"


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL)


def test_readme_python_example_prints_a_solution(tmp_path: Path) -> None:
    blocks = [b for b in _python_blocks((ROOT / "README.md").read_text()) if README_URL in b]
    assert len(blocks) == 1
    with ScriptedServer(game24_responder) as server:
        script = tmp_path / "example.py"
        script.write_text(blocks[0].replace(README_URL, server.base_url))
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              timeout=180, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    # Without the __main__ guard the worker processes re-run the script and print too.
    assert len(lines) == 1, lines
    printed = lines[0]
    assert "expression" in printed, printed
    check = subprocess.run(
        [sys.executable, "-m", "llm_modulo.cli", "check", "--domain", "game24", "--problem",
         "4 4 6 8", "--candidate", printed.replace("'", '"')],
        capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, (printed, check.stdout, check.stderr)


def _doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _console_examples() -> list[tuple[str, str, list[str]]]:
    """(file, command, expected output lines) for every one-line ``$ llm-modulo check``
    example in a ``console`` block of the docs (no continuation lines, no files)."""
    found = []
    for path in _doc_files():
        for block in re.findall(r"```console\n(.*?)```", path.read_text(), flags=re.DOTALL):
            lines = block.splitlines()
            for i, line in enumerate(lines):
                if not line.startswith("$ llm-modulo check ") or line.endswith("\\"):
                    continue
                expected = []
                for follow in lines[i + 1:]:
                    if follow.startswith("$ "):
                        break
                    expected.append(follow)
                found.append((path.name, line[2:], expected))
    return found


def _readme_exit_codes() -> list[tuple[str, int]]:
    """``llm-modulo check ...   # exit N`` lines of the README's bash blocks."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(),
                            flags=re.DOTALL):
        for line in block.splitlines():
            m = re.match(r"(llm-modulo check .*?)\s+# exit (\d)", line)
            if m:
                found.append((m.group(1), int(m.group(2))))
    return found


def _run_cli(command: str) -> subprocess.CompletedProcess[str]:
    import shlex

    args = shlex.split(command)
    assert args[0] == "llm-modulo"
    return subprocess.run([sys.executable, "-m", "llm_modulo.cli", *args[1:]],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.mark.parametrize("where,command,expected", _console_examples(),
                         ids=lambda v: v if isinstance(v, str) and len(v) < 30 else None)
def test_docs_console_examples_print_what_the_docs_show(where: str, command: str,
                                                         expected: list[str]) -> None:
    done = _run_cli(command)
    shown = [line.rstrip() for line in expected if line.strip()]
    if shown and shown[0].startswith("{"):  # --json, abbreviated with "...": the status
        status = json.loads(done.stdout)["status"]
        assert f'"status": "{status}"' in shown[0], (command, done.stdout)
        return
    printed = [line.rstrip() for line in done.stdout.splitlines() if line.strip()]
    assert printed == shown, (where, command, done.stderr)


@pytest.mark.parametrize("command,code", _readme_exit_codes())
def test_readme_check_examples_exit_as_commented(command: str, code: int) -> None:
    assert _run_cli(command).returncode == code
