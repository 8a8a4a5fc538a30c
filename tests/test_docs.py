"""The README's Python example runs as written (only the server URL is swapped for a
scripted server on 127.0.0.1) and prints a verified solution."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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
