"""The service as users run it: ``llm-modulo serve-verifiers`` in a subprocess on 127.0.0.1,
reached with curl (the docs' example, as written) and with :class:`RemoteVerifier`, which
must agree with the local verifiers and turn every failure into UNKNOWN."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from llm_modulo.generator import RetryPolicy
from llm_modulo.judge import judge
from llm_modulo.pool import WorkerPool
from llm_modulo.registry import default_registry
from llm_modulo.remote import RemoteVerifier
from llm_modulo.types import Candidate, Problem, Status

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "llm_modulo.cli", *args]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(_cli("serve-verifiers", "--port", str(port), "--workers", "2"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        # a drained service stops cleanly; it is not a batch job to resume
        assert proc.returncode == 0, stderr
        assert "stopped: every check in flight was answered" in stderr
        assert "resume" not in stderr


def _cases() -> list[tuple[str, Problem, list[str]]]:
    game24 = default_registry.domain("game24")
    math = default_registry.domain("math_answer")
    plans = default_registry.domain("blocksworld")
    blocks = plans.generate_problems(2, 0)
    from llm_modulo.domains.planning import blocksworld_plan

    out = [("game24", game24.parse_problem("4 4 6 8"),
            ['{"expression": "(4+8)*(6-4)"}', '{"expression": "4*6+8-4"}', "no idea",
             '{"expression": "24"}', '{"expression": "(8-4)*6"} or {"expression": "4*6"}']),
           ("math_answer", math.parse_problem({"question": "Half of one?",
                                               "answer": "\\frac{1}{2}"}),
            ['{"answer": "0.5"}', '{"answer": "1/3"}', '{"answer": "2/4"}', "hmm"])]
    for problem in blocks:
        plan = blocksworld_plan(problem)
        out.append(("blocksworld", problem, [json.dumps({"plan": plan}),
                                             json.dumps({"plan": plan[:-1]}),
                                             json.dumps({"plan": plan[1:]})]))
    return out


def test_remote_verifier_agrees_with_the_local_verifiers(server: str, pool: WorkerPool) -> None:
    async def main() -> None:
        remote = RemoteVerifier(server)
        try:
            for name, problem, texts in _cases():
                domain, local = default_registry.domain_and_verifier(name)
                here = await judge(domain, local, problem, texts, pool=pool)
                there = await judge(domain, remote, problem, texts, pool=pool)  # the loop's path
                pairs = [(problem, c) for c, _ in here]
                direct = await remote.averify_many(pairs)
                for (c1, v1), (c2, v2), v3 in zip(here, there, direct, strict=True):
                    assert c1 == c2
                    assert v1.status == v2.status == v3.status, (name, c1.raw, v1, v2)
                    assert [c.kind for c in v1.critiques] == [c.kind for c in v2.critiques]
                    assert v2.verifier == local.name and v2.verifier_version == local.version
                assert {v.status for _, v in here} >= {Status.ACCEPT, Status.REJECT}
        finally:
            await remote.aclose()

    asyncio.run(main())
    problem = default_registry.domain("game24").parse_problem("4 4 6 8")
    candidate = default_registry.domain("game24").parse_candidate(
        problem, '{"expression": "(4+8)*(6-4)"}')
    assert RemoteVerifier(server).verify(problem, candidate).status is Status.ACCEPT


def test_a_dead_server_is_unknown_never_reject() -> None:
    port = _free_port()  # nothing listens there
    problem = default_registry.domain("game24").parse_problem("4 4 6 8")
    candidate = Candidate(raw="{}", answer=None, parse_error="x")
    verifier = RemoteVerifier(f"http://127.0.0.1:{port}",
                              retry=RetryPolicy(max_retries=2, backoff_base_s=0.01))
    began = time.monotonic()
    [verdict] = verifier.verify_many([(problem, candidate)])
    assert time.monotonic() - began < 10
    assert verdict.status is Status.UNKNOWN and verdict.critiques[0].kind == "unavailable"
    assert "ConnectError" in verdict.critiques[0].message
    assert "3 tries" in verdict.critiques[0].message


def _mock(handler: Any) -> RemoteVerifier:
    return RemoteVerifier("http://svc", transport=httpx.MockTransport(handler),
                          retry=RetryPolicy(max_retries=1, backoff_base_s=0.01),
                          deadline_s=5, max_response_bytes=100_000)


GOOD_RESULT = {"item": 0, "completion": 0, "status": "accept", "critiques": [],
               "verifier": "game24", "verifier_version": "1.1", "sound": True,
               "elapsed_s": 0.1, "answer": {"expression": "(4+8)*(6-4)"}, "parse_error": None}

HOSTILE_REPLIES: list[tuple[str, Any, str]] = [
    ("not json", lambda r: httpx.Response(200, content=b"<html>"), "not JSON"),
    ("deep", lambda r: httpx.Response(200, content=b"[" * 5000 + b"]" * 5000), "nests"),
    ("huge", lambda r: httpx.Response(200, content=b" " * 200_000), "larger than"),
    ("wrong shape", lambda r: httpx.Response(200, json={"results": "accept"}),
     "not a verify response"),
    ("status not a status", lambda r: httpx.Response(200, json={
        "results": [{**GOOD_RESULT, "status": "ACCEPTED", "problem_hash": "h"}],
        "elapsed_s": 0}), "not a verify response"),
    ("missing result", lambda r: httpx.Response(200, json={"results": [], "elapsed_s": 0}),
     "no result"),
    ("other problem", lambda r: httpx.Response(200, json={
        "results": [{**GOOD_RESULT, "problem_hash": "0" * 64}], "elapsed_s": 0}),
     "read the problem differently"),
    ("other answer", lambda r: httpx.Response(200, json={
        "results": [{**GOOD_RESULT, "problem_hash": PROBLEM.hash, "answer": {"x": 1}}],
        "elapsed_s": 0}), "different answer"),
    ("500s", lambda r: httpx.Response(500, json={"detail": "boom"}), "HTTP 500: boom"),
    ("422", lambda r: httpx.Response(422, json={"detail": "items[0].domain: no domain"}),
     "HTTP 422: items[0].domain"),
    ("401", lambda r: httpx.Response(401, text="no"), "HTTP 401"),
]
PROBLEM = default_registry.domain("game24").parse_problem("4 4 6 8")


@pytest.mark.parametrize("name,handler,says", HOSTILE_REPLIES, ids=[h[0] for h in HOSTILE_REPLIES])
def test_a_bad_reply_is_unknown_with_the_reason(name: str, handler: Any, says: str) -> None:
    candidate = default_registry.domain("game24").parse_candidate(
        PROBLEM, '{"expression": "(4+8)*(6-4)"}')
    [verdict] = _mock(handler).verify_many([(PROBLEM, candidate)])
    assert verdict.status is Status.UNKNOWN
    assert verdict.critiques[0].kind == "unavailable" and says in verdict.critiques[0].message


def test_retry_after_is_honoured_then_the_verdict_used() -> None:
    calls: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return httpx.Response(429, headers={"Retry-After": "0.3"}, json={"detail": "full"})
        return httpx.Response(200, json={"results": [{**GOOD_RESULT,
                                                      "problem_hash": PROBLEM.hash}],
                                         "elapsed_s": 0})

    candidate = default_registry.domain("game24").parse_candidate(
        PROBLEM, '{"expression": "(4+8)*(6-4)"}')
    [verdict] = _mock(handler).verify_many([(PROBLEM, candidate)])
    assert verdict.status is Status.ACCEPT and len(calls) == 2
    assert calls[1] - calls[0] >= 0.3


def _doc_curl() -> tuple[str, list[str]]:
    text = (ROOT / "docs" / "service.md").read_text()
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.DOTALL):
        lines = block.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("$ curl "):
                return line[2:], lines[i + 1:]
    raise AssertionError("docs/service.md has no curl example")


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_docs_curl_example_runs_as_written(server: str) -> None:
    command, shown = _doc_curl()
    assert "localhost:8100" in command
    port = server.rsplit(":", 1)[1]
    args = shlex.split(command.replace("localhost:8100", f"localhost:{port}"))
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)["results"]
    expected = re.findall(r'"status":"(\w+)"', "\n".join(shown))
    assert [r["status"] for r in results] == expected and expected
    assert results[-1]["critiques"], results


def test_the_cli_refuses_to_listen_beyond_loopback_without_a_token(tmp_path: Path) -> None:
    done = subprocess.run(_cli("serve-verifiers", "--host", "0.0.0.0", "--port", "1"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to listen on 0.0.0.0 without a token" in lines[0]
    short = tmp_path / "token"
    short.write_text("short")
    done = subprocess.run(_cli("serve-verifiers", "--token-file", str(short)),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "shorter than 16" in done.stderr
    done = subprocess.run(_cli("serve-verifiers", "--token-env", "NO_SUCH_VARIABLE_XYZ"),
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "NO_SUCH_VARIABLE_XYZ": ""})
    assert done.returncode == 2 and "not set" in done.stderr


def test_an_idle_keep_alive_connection_outlives_the_clients_own_expiry(server: str) -> None:
    """The server keeps an idle connection longer than clients keep theirs (httpx: 5 s), so a
    client's next request on it is answered, not reset (uvicorn's 5 s default reset 2-5 of
    ~7,000 overload requests: ReadError, not 429)."""
    host, port = server.rsplit("//", 1)[1].split(":")
    request = (f"GET /health HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=10) as conn:

        def ask() -> bytes:
            conn.sendall(request)
            got = b""
            while b"\r\n\r\n" not in got:
                chunk = conn.recv(65536)
                assert chunk, "the server closed the connection"
                got += chunk
            head, body = got.split(b"\r\n\r\n", 1)
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            while len(body) < length:  # the whole answer, so the next one starts clean
                chunk = conn.recv(65536)
                assert chunk, "the server closed the connection"
                body += chunk
            return head.split(b"\r\n", 1)[0]

        assert ask() == b"HTTP/1.1 200 OK"
        time.sleep(6.0)  # past httpx's keep-alive expiry and uvicorn's default timeout
        assert ask() == b"HTTP/1.1 200 OK"
