"""Every registered domain, fed garbage problem specs through ``llm-modulo check``.

Each must give exit 2 with a one-line error and no traceback. A domain that does not is
marked ``xfail(strict=True)`` below with its reproducer (the domains are fixed separately).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from llm_modulo.cli import add_plugin_commands, app
from llm_modulo.registry import default_registry

add_plugin_commands()

DOMAINS = sorted(e.name for e in default_registry.domains.entries())

GARBAGE: dict[str, str] = {
    "empty": "",
    "blank": "   ",
    "empty-object": "{}",
    "empty-list": "[]",
    "binary-file": "@BINARY",
    "2mb-string": "x" * (2 * 1024 * 1024),
    "2mb-json-string": '{"problem": "' + "y" * (2 * 1024 * 1024) + '"}',
    "number": "123",
    "null-object": '{"numbers": null, "domain": null, "problem": null, "vars": null}',
    "wrong-types": '{"numbers": "x", "variables": 3, "domain": [1], "problem": {"a": 1},'
                   ' "init": 5, "goal": true, "n": "eight", "grid": "abc", "statement": 7}',
    "nested": '{"a": ' * 200 + "1" + "}" * 200,
    "bad-json": '{"numbers": [1, 2,',
    "rich-markup": "[/bold] [red]x",
}

# well-formed for that domain after all (a one-number Game-of-24, 123 queens): not garbage
VALID = {("game24", "number"), ("n_queens", "number")}

# (domain, garbage) -> why it fails today; strict, so a fix turns the xfail into a failure
KNOWN: dict[tuple[str, str], str] = {}


def cases() -> list[object]:
    out = []
    for domain in DOMAINS:
        for label in GARBAGE:
            if (domain, label) in VALID:
                continue
            marks = ([pytest.mark.xfail(strict=True, reason=KNOWN[(domain, label)])]
                     if (domain, label) in KNOWN else [])
            out.append(pytest.param(domain, label, id=f"{domain}-{label}", marks=marks))
    return out


@pytest.fixture(scope="module")
def binary_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("garbage") / "binary.bin"
    path.write_bytes(b"\x00\xff\xfe\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64)
    return path


@pytest.mark.parametrize(("domain", "label"), cases())
def test_garbage_problem_is_a_one_line_usage_error(domain: str, label: str,
                                                   binary_file: Path) -> None:
    spec = GARBAGE[label].replace("@BINARY", f"@{binary_file}")
    result = CliRunner().invoke(app, ["check", "--domain", domain, "--problem", spec,
                                      "--candidate", "1", "--timeout", "2"])
    stderr = result.stderr.strip()
    assert result.exit_code == 2, (result.exit_code, result.stdout[:300], stderr[:300],
                                   repr(result.exception))
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "Traceback" not in stderr
    assert stderr.startswith("error:"), stderr[:300]
    assert len(stderr.splitlines()) == 1, stderr[:500]
    assert len(stderr) < 2000  # the 2 MB spec is not echoed back
