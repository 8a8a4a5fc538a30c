"""A hostile server (the ScriptedServer's fault modes) against the real client and `run`.

Each fault is one problem's failure or one sample's, never the batch's: the client bounds
time, size, nesting, text and numbers before anything is used or stored.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from llm_modulo import (
    MalformedResponseError,
    Message,
    OpenAICompatClient,
    RetryPolicy,
    SamplingParams,
    TransportError,
    UsageError,
)
from llm_modulo.cli.common import DEFAULT_REQUEST_TIMEOUT_S
from llm_modulo.domains.game24 import scripted_responder as game24_responder
from llm_modulo.generator import (
    DEFAULT_DEADLINE_S,
    DEFAULT_MAX_RESPONSE_BYTES,
    MAX_TOKEN_COUNT,
    parse_retry_after,
)
from llm_modulo.testing import (
    Action,
    BadRetryAfter,
    DeepNesting,
    Delay,
    EndlessChunked,
    GzipBomb,
    HugeBody,
    HugeUsage,
    LoneSurrogate,
    Reply,
    ScriptedServer,
    Trickle,
)

MESSAGES = [Message(role="user", content="hi")]
FAST_RETRY = RetryPolicy(max_retries=3, backoff_base_s=0.01, backoff_max_s=0.05,
                         retry_after_max_s=0.05)
MiB = 1024 * 1024


async def _chat(server: ScriptedServer, **kw: Any) -> Any:
    async with OpenAICompatClient(server.base_url, model="m", retry=kw.pop("retry", FAST_RETRY),
                                  **kw) as client:
        return await client.chat(MESSAGES, SamplingParams())


def chat(server: ScriptedServer, **kw: Any) -> Any:
    return asyncio.run(_chat(server, **kw))


# -- time ---------------------------------------------------------------------------------


def test_a_trickling_server_is_cut_off_at_the_request_deadline(
        scripted: ScriptedServer) -> None:
    scripted.script(Trickle(interval_s=0.2))  # every read arrives well within read timeouts
    start = time.monotonic()
    with pytest.raises(TransportError, match=r"1\.5 s request deadline"):
        chat(scripted, deadline_s=1.5)
    assert 1.4 < time.monotonic() - start < 4


def test_a_silent_server_costs_one_deadline_not_retries_of_read_timeouts(
        scripted: ScriptedServer) -> None:
    scripted.script(Delay(60), Delay(60), Delay(60), Delay(60))
    start = time.monotonic()
    with pytest.raises(TransportError, match="deadline"):
        chat(scripted, deadline_s=1.0)
    assert time.monotonic() - start < 3
    assert len(scripted.completion_requests()) == 1


def test_the_cli_default_deadline_is_the_clients() -> None:
    assert DEFAULT_REQUEST_TIMEOUT_S == DEFAULT_DEADLINE_S


# -- size ---------------------------------------------------------------------------------


def test_a_huge_body_is_refused_once_past_the_cap(scripted: ScriptedServer) -> None:
    scripted.script(HugeBody(300 * MiB))
    with pytest.raises(MalformedResponseError, match="larger than"):
        chat(scripted, max_response_bytes=2 * MiB)
    time.sleep(0.2)
    assert scripted.flood_bytes < 2 * MiB + 16 * MiB  # the cap plus socket buffers, not 300 MB


def test_the_default_cap_stops_a_300_mb_body(scripted: ScriptedServer) -> None:
    scripted.script(HugeBody(300 * MiB))
    with pytest.raises(MalformedResponseError, match="larger than"):
        chat(scripted)
    time.sleep(0.2)
    assert scripted.flood_bytes < DEFAULT_MAX_RESPONSE_BYTES + 16 * MiB


def test_an_endless_chunked_body_is_refused(scripted: ScriptedServer) -> None:
    scripted.script(EndlessChunked())
    with pytest.raises(MalformedResponseError, match="larger than"):
        chat(scripted, max_response_bytes=MiB)


def test_a_gzip_bomb_stops_at_the_decompressed_cap(scripted: ScriptedServer) -> None:
    import tracemalloc

    scripted.script(GzipBomb(4 * 1024 * MiB))
    tracemalloc.start()
    try:
        start = time.monotonic()
        with pytest.raises(MalformedResponseError, match="decompressed"):
            chat(scripted, max_response_bytes=4 * MiB)
        elapsed = time.monotonic() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * MiB, peak  # 4 GiB inflated would need 4 GiB
    assert elapsed < 10
    assert scripted.flood_bytes < 32 * MiB  # compressed, about 1000:1


def test_a_gzipped_answer_within_the_cap_is_read(scripted: ScriptedServer) -> None:
    import gzip

    import httpx

    body = json.dumps({"model": "m", "choices": [{"index": 0, "message": {"content": "ok"}}]})

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["accept-encoding"] == "gzip, deflate"
        return httpx.Response(200, content=gzip.compress(body.encode()),
                              headers={"Content-Encoding": "gzip"})

    async def go() -> Any:
        async with OpenAICompatClient("http://x/v1", model="m",
                                      transport=httpx.MockTransport(handler)) as client:
            return await client.chat(MESSAGES, SamplingParams())

    assert asyncio.run(go()).choices[0].text == "ok"


# -- content ------------------------------------------------------------------------------


def test_a_lone_surrogate_becomes_the_replacement_character() -> None:
    with ScriptedServer(lambda body: ["abc"]) as server:
        server.script(LoneSurrogate())
        result = chat(server)
    assert result.choices[0].text == "abc\ufffd"
    result.choices[0].text.encode("utf-8")  # storable


def test_huge_usage_is_clamped() -> None:
    with ScriptedServer(lambda body: ["abc"]) as server:
        server.script(HugeUsage(10**30))
        result = chat(server)
    assert result.usage.prompt_tokens == MAX_TOKEN_COUNT
    assert result.usage.completion_tokens == MAX_TOKEN_COUNT
    assert result.choices[0].text == "abc"


def test_deep_nesting_is_a_malformed_response(scripted: ScriptedServer) -> None:
    scripted.script(DeepNesting(100_000))
    with pytest.raises(MalformedResponseError, match="nests deeper"):
        chat(scripted)


@pytest.mark.parametrize("body", [
    '{"choices": [{"index": 0, "message": {"content": "x"}}], "usage": {"prompt_tokens": NaN}}',
    '{"choices": [{"index": Infinity, "message": {"content": "x"}}]}',
    '{"choices": [{"index": 0, "message": {"content": "x"}}], "usage": {"prompt_tokens": -1}}',
    '{"choices": [{"index": 0, "message": {"content": "x"}}], "usage": {"prompt_tokens": "many"}}',
    '{"choices": [{"index": 0, "message": {"content": "x"}}], "usage": 7}',
    '[1, 2]',
])
def test_numbers_and_shapes_out_of_range_are_malformed(scripted: ScriptedServer,
                                                       body: str) -> None:
    from llm_modulo.testing import Raw

    scripted.script(Raw(body))
    with pytest.raises(MalformedResponseError):
        chat(scripted)


def test_a_bad_choice_is_that_samples_failure(scripted: ScriptedServer) -> None:
    from llm_modulo.testing import Raw

    scripted.script(Raw(json.dumps({"choices": [
        {"index": 0, "message": {"content": "good"}},
        {"index": 1, "oops": True},
        "not even an object",
        {"index": 3, "message": {"content": "also good"}, "finish_reason": "x" * 10_000},
    ]})))
    result = chat(scripted)
    assert [c.text for c in result.choices] == ["good", "", "", "also good"]
    assert [c.finish_reason for c in result.choices][1:3] == ["malformed", "malformed"]
    assert len(result.choices[3].finish_reason) == 256


@pytest.mark.parametrize("value", ["soon", "NaN", "inf", "-5", "1e400", "Wed, 99 Foo 2026",
                                   "Fri, 31 Dec 9999 23:59:59 GMT", "", "9" * 5000])
def test_a_bad_retry_after_is_ignored_or_capped(scripted: ScriptedServer, value: str) -> None:
    scripted.script(BadRetryAfter(value), Reply(["ok"]))
    start = time.monotonic()
    result = chat(scripted)
    assert result.choices[0].text == "ok" and result.retries == 1
    assert time.monotonic() - start < 2


def test_retry_after_parsing() -> None:
    assert parse_retry_after("soon", 60) is None
    assert parse_retry_after("nan", 60) is None
    assert parse_retry_after("3", 60) == 3
    assert parse_retry_after("99999999", 60) == 60
    # delay-seconds is ASCII digits (a fraction tolerated); anything else is unreadable, so
    # the client's own backoff applies (found by the review: float() took all of these)
    for unreadable in ("-3", "1_000", "\u0661\u0662", "1e3", "inf", "+5", "5.", ".5", "0x10"):
        assert parse_retry_after(unreadable, 60) is None, unreadable
    assert parse_retry_after("1.5", 60) == 1.5
    assert parse_retry_after("Mon, 01 Jan 1990 00:00:00 GMT", 60) == 0
    assert parse_retry_after(None, 60) is None


def test_a_retry_after_past_the_deadline_does_not_wait(scripted: ScriptedServer) -> None:
    scripted.script(BadRetryAfter("30"))
    start = time.monotonic()
    with pytest.raises(Exception, match="HTTP 429"):
        chat(scripted, deadline_s=1.0, retry=RetryPolicy(max_retries=3, retry_after_max_s=60))
    assert time.monotonic() - start < 1.5


@pytest.mark.parametrize("key", ["clé", "tok\nen", "k\x00"])
def test_an_api_key_http_cannot_carry_is_a_usage_error(key: str) -> None:
    with pytest.raises(UsageError, match="API key"):
        OpenAICompatClient("http://127.0.0.1:9/v1", api_key=key)


# -- through `run`: the other problems' results are written -------------------------------

PUZZLES = ["4 4 6 8", "1 1 4 6", "2 3 4 5", "3 3 8 8"]


def cli(*args: str, timeout: float = 120, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llm_modulo.cli", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw)


def _run_with_fault(tmp_path: Path, fault: Action, *extra: str
                    ) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]], Path]:
    problems = tmp_path / "p.jsonl"
    problems.write_text("".join(json.dumps({"idx": i, "numbers": n}) + "\n"
                                for i, n in enumerate(PUZZLES)))
    out = tmp_path / "out.jsonl"
    corpus = tmp_path / "c.sqlite"
    with ScriptedServer(game24_responder) as server:
        server.script(fault)
        r = cli("run", str(problems), "--out", str(out), "--base-url", server.base_url,
                "-n", "2", "--corpus", str(corpus), *extra)
    assert "Traceback" not in r.stderr, r.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return r, rows, corpus


@pytest.mark.parametrize(("fault", "extra"), [
    (DeepNesting(100_000), ()),
    (EndlessChunked(), ()),
    (HugeBody(300 * MiB), ()),
    (GzipBomb(4 * 1024 * MiB), ()),
    (Trickle(interval_s=0.5), ("--request-timeout", "6")),  # margin for a loaded machine
])
def test_run_one_bad_reply_fails_one_problem(tmp_path: Path, fault: Action,
                                             extra: tuple[str, ...]) -> None:
    r, rows, _ = _run_with_fault(tmp_path, fault, *extra)
    assert r.returncode == 0, r.stderr
    assert len(rows) == len(PUZZLES)
    reasons = sorted(row["stop_reason"] for row in rows)
    assert reasons == ["accepted"] * (len(PUZZLES) - 1) + ["error"], reasons
    assert "1 generator errors" in r.stderr


@pytest.mark.parametrize("fault", [LoneSurrogate(), HugeUsage(10**30), BadRetryAfter("soon")])
def test_run_survives_and_stores_every_round(tmp_path: Path, fault: Action) -> None:
    r, rows, corpus = _run_with_fault(tmp_path, fault)
    assert r.returncode == 0, r.stderr
    assert [row["stop_reason"] for row in rows] == ["accepted"] * len(PUZZLES)
    with sqlite3.connect(corpus) as db:
        attempts = db.execute("SELECT count(*), max(prompt_tokens) FROM attempts").fetchone()
        solutions = db.execute("SELECT count(*) FROM solutions").fetchone()[0]
        texts = [t for (t,) in db.execute("SELECT completion FROM attempts")]
    assert attempts[0] == len(PUZZLES) * 2 * 2  # two rounds of two samples each
    assert solutions == len(PUZZLES)
    if isinstance(fault, HugeUsage):
        assert attempts[1] <= MAX_TOKEN_COUNT
    if isinstance(fault, LoneSurrogate):
        assert sum("\ufffd" in t for t in texts) == 2  # the faulty reply's two samples


def test_solve_with_a_lone_surrogate_in_the_accepted_reply(tmp_path: Path) -> None:
    def responder(body: dict[str, Any]) -> list[str]:
        return ['{"expression": "(4+8)*(6-4)"}']

    with ScriptedServer(responder) as server:
        server.script(LoneSurrogate(" \ud800"))
        r = cli("solve", "--problem", "4 4 6 8", "--base-url", server.base_url, "--json",
                "-n", "1")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["stop_reason"] == "accepted"


def test_run_with_a_non_ascii_api_key_is_one_line(tmp_path: Path) -> None:
    import os

    problems = tmp_path / "p.jsonl"
    problems.write_text('{"numbers": "4 4 6 8"}\n')
    env = {**os.environ, "LLM_MODULO_API_KEY": "clé"}
    r = cli("run", str(problems), "--out", str(tmp_path / "o.jsonl"), "--base-url",
            "http://127.0.0.1:9/v1", env=env)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "API key" in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2


# -- any generator, any store: the loop keeps a fault to its problem ---------------------


def _solve_all(generate: Any, store: Any, puzzles: list[str]) -> list[Any]:
    from llm_modulo.domains.game24 import Game24Domain
    from llm_modulo.loop import Budget, LoopConfig, Solver
    from llm_modulo.testing import FunctionGenerator
    from llm_modulo.verifiers.game24.verifier import Game24Verifier

    domain = Game24Domain()
    config = LoopConfig(budget=Budget(rounds=1, samples=2))
    solver = Solver(domain, Game24Verifier(), FunctionGenerator(generate), config, store=store)

    async def go() -> list[Any]:
        return [r async for r in solver.solve_many([domain.parse_problem(p) for p in puzzles])]

    return asyncio.run(go())


def test_a_generator_with_surrogates_and_huge_usage_still_stores_its_accepts(
        tmp_path: Path) -> None:
    from llm_modulo.corpus import Corpus
    from llm_modulo.corpus.memory import CorpusMemory
    from llm_modulo.generator import Completion, GeneratedChoice
    from llm_modulo.types import Usage

    class Hostile:
        model = "hostile"

        async def generate(self, messages: Any, params: Any, structured: Any = None) -> Any:
            return Completion(model="hostile\ud800", usage=Usage(prompt_tokens=10**30), choices=[
                GeneratedChoice(index=0, text='{"expression": "(4+8)*(6-4)"} \ud800'),
                GeneratedChoice(index=1, text="\udfff")])

    from llm_modulo.domains.game24 import Game24Domain
    from llm_modulo.loop import Budget, LoopConfig, Solver
    from llm_modulo.verifiers.game24.verifier import Game24Verifier

    with Corpus(tmp_path / "c.sqlite") as corpus:
        memory = CorpusMemory(corpus)
        solver = Solver(Game24Domain(), Game24Verifier(), Hostile(),
                        LoopConfig(budget=Budget(rounds=1, samples=2)), store=memory)
        result = asyncio.run(solver.solve(Game24Domain().parse_problem("4 4 6 8")))
        memory.close()
        assert result.stop_reason == "accepted", result.error
        assert corpus.counts()["solutions"] == 1 and corpus.counts()["attempts"] == 2
        assert result.usage.prompt_tokens == MAX_TOKEN_COUNT
    result.model_dump_json()  # the result line `run` writes


def test_a_round_that_cannot_be_stored_fails_its_problem_only() -> None:
    class Picky:
        async def lookup(self, *args: Any) -> None:
            return None

        async def record(self, problem: Any, attempts: Any, sampling: Any, model: Any) -> None:
            if problem.payload["numbers"] == [1, 1, 4, 6]:
                raise OverflowError("Python int too large to convert to SQLite INTEGER")

    results = _solve_all(lambda m, p: '{"expression": "(4+8)*(6-4)"}', Picky(),
                         ["4 4 6 8", "1 1 4 6", "4 6 8 4"])
    reasons = {tuple(r.problem.payload["numbers"]): r.stop_reason for r in results}
    assert reasons[(1, 1, 4, 6)] == "error"
    assert [v for k, v in reasons.items() if k != (1, 1, 4, 6)] == ["accepted", "accepted"]
    bad = next(r for r in results if r.stop_reason == "error")
    assert "could not be stored" in (bad.error or "") and len(bad.attempts) == 2


def test_a_generator_that_raises_fails_its_problem_only() -> None:
    def generate(messages: Any, params: Any) -> str:
        if "1 1 4 6" in messages[-1].content:
            raise RuntimeError("boom")
        return '{"expression": "(4+8)*(6-4)"}'

    results = _solve_all(generate, None, ["4 4 6 8", "1 1 4 6"])
    assert sorted(r.stop_reason for r in results) == ["accepted", "error"]
