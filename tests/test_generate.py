"""``llm-modulo generate``: seeded problems as JSONL that ``run`` reads back unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from llm_modulo.batch import read_problems
from llm_modulo.cli import app
from llm_modulo.registry import default_registry

runner = CliRunner()
GENERATING = ["game24", "graph_coloring", "n_queens", "sudoku", "scheduling", "equation",
              "blocksworld", "mystery_blocksworld", "lean"]


@pytest.mark.parametrize("name", GENERATING)
def test_generated_lines_read_back_as_the_same_problems(name: str, tmp_path: Path) -> None:
    out = tmp_path / "p.jsonl"
    result = runner.invoke(app, ["generate", "--domain", name, "--count", "3", "--seed", "11",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    domain = default_registry.domain(name)
    expected = [p.hash for p in domain.generate_problems(3, 11)]
    assert [p.hash for p in read_problems(out, domain)] == expected
    assert all(p.id for p in read_problems(out, domain))


def test_the_seed_is_the_whole_source_of_randomness() -> None:
    first = runner.invoke(app, ["generate", "-d", "game24", "-c", "20", "--seed", "3"]).stdout
    again = runner.invoke(app, ["generate", "-d", "game24", "-c", "20", "--seed", "3"]).stdout
    other = runner.invoke(app, ["generate", "-d", "game24", "-c", "20", "--seed", "4"]).stdout
    assert first == again and first != other and len(first.splitlines()) == 20


@pytest.mark.parametrize("args, message", [
    (["-d", "math_answer"], "has no problem generator"),
    (["-d", "nope"], "no domain named"),
    (["-c", "0"], "--count"),
])
def test_refusals_are_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["generate", *args])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_an_existing_file_is_kept_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "p.jsonl"
    out.write_text("keep me\n")
    result = runner.invoke(app, ["generate", "-o", str(out)])
    assert result.exit_code == 2 and "exists" in result.output
    assert out.read_text() == "keep me\n"
    assert runner.invoke(app, ["generate", "-o", str(out), "--force"]).exit_code == 0
    assert len(out.read_text().splitlines()) == 10
