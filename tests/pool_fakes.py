"""Verifiers and tasks for the pool's start-up, batching and recycling tests (importable by
worker processes). Importing this module in a worker is slow, or kills the worker once, when
a test asks for it through :data:`CONTROL` (the test's own process is never affected)."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from llm_modulo import CheckResult, Critique, Problem, Verifier
from llm_modulo.types import Candidate
from tests.fakes import EchoDomain

#: What a worker importing this module should do: a JSON file a test writes (workers come
#: from the forkserver, which does not see the test's environment).
CONTROL = Path(tempfile.gettempdir()) / f"llm-modulo-pool-fakes-{os.getuid()}.json"


def _on_import() -> None:
    try:
        control = json.loads(CONTROL.read_text())
    except (OSError, ValueError):
        return
    if control.get("parent") == os.getpid():
        return
    if (delay := control.get("import_delay")) is not None:
        time.sleep(float(delay))  # a verifier module that takes long to import
    marker = control.get("die_once")
    if marker is not None and not Path(marker).exists():
        Path(marker).write_text("died")
        os._exit(3)  # the first worker dies while it starts


_on_import()


class HangsOnRequest(Verifier):
    """ACCEPT, REJECT, or never finish, as the candidate's answer says."""

    name = "hangs_on_request"
    timeout_s = 0.5
    critique_kinds: ClassVar[Mapping[str, str]] = {"asked": "the candidate asked for a REJECT"}

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        answer = candidate.answer or {}
        what = answer.get("do", answer.get("status"))
        if what == "hang":
            while True:
                time.sleep(1)
        if what == "die":
            os._exit(9)
        if what == "reject":
            return CheckResult.reject(Critique(kind="asked", message="asked to reject"))
        return CheckResult.accept()


_HOARD: list[bytearray] = []


def hoard(mib: int) -> int:
    """Keep ``mib`` MiB alive in the worker (grows its resident memory)."""
    block = bytearray(mib * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    _HOARD.append(block)
    return os.getpid()


def pid() -> int:
    return os.getpid()


class SlowParseDomain(EchoDomain):
    """Reading a reply takes a while (stands in for a slow parse of a long reply)."""

    name = "slow_parse"

    def parse_candidate(self, problem: Problem, completion: str) -> Candidate:
        time.sleep(1.0)
        return super().parse_candidate(problem, completion)


class BrokenParseDomain(EchoDomain):
    name = "broken_parse"

    def parse_candidate(self, problem: Problem, completion: str) -> Candidate:
        raise KeyError("domain bug")
