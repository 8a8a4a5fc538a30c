"""The verification service in process (httpx's ASGI transport, the app's lifespan run by
hand): verdicts, hostile bodies, the token, the bounded queue, the deadline, kill -9 of a
worker mid-batch, and the drain on shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from llm_modulo.pool import WorkerPool
from llm_modulo.service.app import create_app
from llm_modulo.service.limits import ServiceLimits
from tests.service_fakes import registry_with_fakes

TOKEN = "s3cret-token-0123456789"
Client = httpx.AsyncClient


@pytest.fixture(scope="module")
def shared_pool() -> Iterator[WorkerPool]:
    with WorkerPool(2) as pool:
        yield pool


def serve(pool: WorkerPool, body: Callable[[Client, Any], Awaitable[None]], *,
          limits: ServiceLimits | None = None, token: str | None = None,
          fakes: bool = True) -> None:
    """Run ``body(client, app)`` against a fresh app (lifespan started and stopped)."""
    app = create_app(limits or ServiceLimits(), token=token, pool=pool,
                     registry=registry_with_fakes() if fakes else None)

    async def main() -> None:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://svc",
                timeout=60) as client:
            await body(client, app)

    asyncio.run(main())


GOOD = '{"expression": "(4+8)*(6-4)"}'
BAD = '{"expression": "4*6"}'


def test_one_completion_gets_a_verdict_and_a_batch_one_per_completion(
        shared_pool: WorkerPool) -> None:
    async def body(client: Client, app: Any) -> None:
        one = await client.post("/v1/verify", json={"domain": "game24", "problem": "4 4 6 8",
                                                    "completion": GOOD})
        assert one.status_code == 200, one.text
        [result] = one.json()["results"]
        assert result["status"] == "accept" and result["verifier"] == "game24"
        assert result["answer"] == {"expression": "(4+8)*(6-4)"} and result["sound"] is True
        batch = await client.post("/v1/verify", json={"items": [
            {"domain": "game24", "problem": {"numbers": [4, 4, 6, 8]},
             "completions": [BAD, GOOD, "no answer here"]},
            {"domain": "svc_script", "problem": "p", "completion": "reject"}]})
        assert batch.status_code == 200, batch.text
        results = batch.json()["results"]
        assert [(r["item"], r["completion"], r["status"]) for r in results] == [
            (0, 0, "reject"), (0, 1, "accept"), (0, 2, "reject"), (1, 0, "reject")]
        assert results[0]["critiques"] and all(c["kind"] for c in results[0]["critiques"])
        assert results[2]["parse_error"] and results[3]["critiques"][0]["kind"] == "told"
        assert app.state.engine.admission.count == 0

    serve(shared_pool, body)


def test_listing_health_and_openapi(shared_pool: WorkerPool) -> None:
    async def body(client: Client, app: Any) -> None:
        listing = (await client.get("/v1/verifiers")).json()
        names = {v["name"]: v for v in listing["verifiers"]}
        assert names["game24"]["version"] and "timeout" in names["game24"]["critique_kinds"]
        assert names["game24"]["class"].endswith("Game24Verifier")
        assert {"name": "game24", "version": "1.1", "verifier": "game24"} in listing["domains"] \
            or any(d["name"] == "game24" for d in listing["domains"])
        health = (await client.get("/health")).json()
        assert health["status"] == "ok" and health["max_queue"] == 1024
        spec = (await client.get("/openapi.json")).json()
        schema = spec["paths"]["/v1/verify"]["post"]["requestBody"]["content"][
            "application/json"]["schema"]
        assert len(schema["oneOf"]) == 2 and "VerifyItem" in spec["components"]["schemas"]
        assert (await client.get("/docs")).status_code == 200

    serve(shared_pool, body)


HOSTILE: list[tuple[str, dict[str, Any], int, str]] = [
    ("deep", {"content": b"[" * 200_000 + b"]" * 200_000}, 413, "the limit is 100000"),
    ("deep small", {"content": b'{"a":' * 1000 + b"1" + b"}" * 1000}, 400, "nests deeper"),
    ("not json", {"content": b"{'domain': 'game24'"}, 400, "not valid JSON"),
    ("empty", {"content": b""}, 400, "empty"),
    ("not utf-8", {"content": b'{"domain": "\xff"}'}, 400, "not UTF-8"),
    ("NaN", {"content": b'{"items": [], "deadline_s": NaN}'}, 400, "not a JSON number"),
    ("array", {"json": [1, 2]}, 422, "not an object"),
    ("wrong type", {"json": {"domain": "game24", "problem": "4 4 6 8", "completion": 5}},
     422, "completion"),
    ("both", {"json": {"domain": "game24", "problem": "1 2", "completion": "a",
                       "completions": ["b"]}}, 422, "exactly one"),
    ("extra field", {"json": {"domain": "game24", "problem": "1", "completion": "a",
                              "evil": 1}}, 422, "evil"),
    ("unknown domain", {"json": {"domain": "nope", "problem": "x", "completion": "y"}},
     422, "no domain named 'nope'"),
    ("bad problem", {"json": {"domain": "game24", "problem": "four", "completion": "y"}},
     422, "items[0].problem"),
    ("no completions", {"json": {"domain": "svc_script", "problem": "x",
                                       "completions": []}}, 422, "completions"),
    ("too many", {"json": {"domain": "game24", "problem": "4 4 6 8",
                           "completions": ["x"] * 11}}, 413, "limit is 10"),
    ("deadline", {"json": {"domain": "game24", "problem": "1", "completion": "a",
                           "deadline_s": -1}}, 422, "deadline_s"),
]


@pytest.mark.parametrize("name,request_kwargs,status,says", HOSTILE,
                         ids=[h[0] for h in HOSTILE])
def test_hostile_bodies_get_a_4xx_with_one_clear_line(
        shared_pool: WorkerPool, name: str, request_kwargs: dict[str, Any], status: int,
        says: str) -> None:
    limits = ServiceLimits(max_body_bytes=100_000, max_batch=10)

    async def body(client: Client, app: Any) -> None:
        reply = await client.post("/v1/verify", **request_kwargs)
        assert reply.status_code == status, reply.text
        detail = reply.json()["detail"]
        assert isinstance(detail, str) and says in detail, detail
        assert "\n" not in detail and "Traceback" not in detail
        assert app.state.engine.admission.count == 0 or name == "bad problem"

    serve(shared_pool, body, limits=limits)


def test_a_body_without_content_length_is_cut_off_at_the_cap(shared_pool: WorkerPool) -> None:
    async def chunks() -> Any:
        for _ in range(100):
            yield b" " * 10_000

    async def body(client: Client, app: Any) -> None:
        reply = await client.post("/v1/verify", content=chunks())
        assert reply.status_code == 413 and "larger than 100000" in reply.json()["detail"]

    serve(shared_pool, body, limits=ServiceLimits(max_body_bytes=100_000))


def test_a_plan_problem_from_a_client_never_reads_a_server_file(shared_pool: WorkerPool,
                                                                 tmp_path: Path) -> None:
    secret = tmp_path / "secret.pddl"
    secret.write_text("(define (problem secret-problem-name))")

    async def body(client: Client, app: Any) -> None:
        for domain, problem in (("blocksworld", str(secret)),
                                ("blocksworld", {"problem": str(secret)}),
                                ("pddl", {"domain": str(secret), "problem": str(secret)}),
                                ("blocksworld", str(tmp_path / "missing.pddl"))):
            reply = await client.post("/v1/verify", json={
                "domain": domain, "problem": problem, "completion": '{"plan": []}'})
            assert reply.status_code == 422, reply.text
            detail = reply.json()["detail"]
            assert "file paths are not read" in detail and "secret-problem" not in detail

    serve(shared_pool, body, fakes=False)


def test_a_token_protected_service_refuses_without_it(shared_pool: WorkerPool) -> None:
    request = {"domain": "game24", "problem": "4 4 6 8", "completion": GOOD}

    async def body(client: Client, app: Any) -> None:
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                        {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}):
            for method, path in (("POST", "/v1/verify"), ("GET", "/v1/verifiers")):
                reply = await client.request(method, path, json=request, headers=headers)
                assert reply.status_code == 401, (headers, reply.text)
                assert reply.headers["www-authenticate"] == "Bearer"
                assert "token" in reply.json()["detail"]
        ok = await client.post("/v1/verify", json=request,
                               headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and ok.json()["results"][0]["status"] == "accept"
        assert (await client.get("/health")).status_code == 200

    serve(shared_pool, body, token=TOKEN)


def test_a_full_queue_answers_429_with_retry_after_at_once(shared_pool: WorkerPool) -> None:
    limits = ServiceLimits(max_queue=2, max_batch=2, retry_after_s=3)

    async def body(client: Client, app: Any) -> None:
        slow = asyncio.ensure_future(client.post("/v1/verify", json={
            "domain": "svc_script", "problem": "p", "completions": ["sleep 2", "sleep 2"]}))
        while app.state.engine.admission.count < 2:
            await asyncio.sleep(0.01)
        began = time.monotonic()
        refused = await client.post("/v1/verify", json={
            "domain": "svc_script", "problem": "p", "completion": "accept"})
        assert time.monotonic() - began < 1.0  # refused at once, not queued to time out
        assert refused.status_code == 429 and refused.headers["retry-after"] == "3"
        assert "capacity" in refused.json()["detail"]
        done = await slow
        assert [r["status"] for r in done.json()["results"]] == ["accept", "accept"]
        assert app.state.engine.admission.count == 0
        again = await client.post("/v1/verify", json={
            "domain": "svc_script", "problem": "p", "completion": "accept"})
        assert again.status_code == 200

    serve(shared_pool, body, limits=limits)


def test_the_deadline_makes_unfinished_checks_unknown_and_never_hangs() -> None:
    # tasks one per batch: a worker sends results that finish close together in one message,
    # so in a shared batch the quick checks would wait for the slow one
    async def body(client: Client, app: Any) -> None:
        warm = {"domain": "svc_script", "problem": "p", "completions": ["accept", "accept"]}
        assert (await client.post("/v1/verify", json=warm)).status_code == 200  # workers up
        began = time.monotonic()
        reply = await client.post("/v1/verify", json={
            "domain": "svc_script", "problem": "p", "deadline_s": 1.5,
            "completions": ["accept", "sleep 8", "reject"]})
        assert time.monotonic() - began < 5.0
        results = reply.json()["results"]
        assert [r["status"] for r in results] == ["accept", "unknown", "reject"]
        assert results[1]["critiques"][0]["kind"] == "timeout"
        assert "deadline" in results[1]["critiques"][0]["message"]
        # the unfinished check stays admitted until the pool has really finished it
        assert app.state.engine.admission.count == 1
        while app.state.engine.admission.count:
            await asyncio.sleep(0.05)

    with WorkerPool(2, max_batch=1) as pool:
        serve(pool, body)


def test_kill_9_of_a_worker_mid_batch_gives_unknown_for_that_item_only(
        shared_pool: WorkerPool, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    completions = ["accept", f"pid {pidfile}", "reject", "sleep 0.2", "accept"]

    async def body(client: Client, app: Any) -> None:
        request = asyncio.ensure_future(client.post("/v1/verify", json={
            "domain": "svc_script", "problem": "p", "completions": completions}))
        killed: set[int] = set()
        while not request.done():  # a batch that lost its worker reruns each task alone:
            await asyncio.sleep(0.02)  # kill the pid-writing one each time it runs
            if pidfile.exists() and (text := pidfile.read_text().strip()):
                pid = int(text)
                if pid not in killed:
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
        reply = await request
        assert reply.status_code == 200 and killed
        results = reply.json()["results"]
        assert len(results) == len(completions)  # nothing dropped
        assert [r["status"] for r in results] == ["accept", "unknown", "reject", "accept",
                                                  "accept"]
        assert results[1]["critiques"][0]["kind"] == "crash"

    serve(shared_pool, body)


def test_shutdown_drains_in_flight_checks_to_unknown_and_refuses_new_ones(
        shared_pool: WorkerPool) -> None:
    async def body(client: Client, app: Any) -> None:
        engine = app.state.engine
        request = asyncio.ensure_future(client.post("/v1/verify", json={
            "domain": "svc_script", "problem": "p", "completions": ["accept", "sleep 5"]}))
        while engine.admission.count != 1:  # admitted both, and the quick one is done
            await asyncio.sleep(0.01)
        began = time.monotonic()
        engine.begin_drain()
        reply = await request
        assert time.monotonic() - began < 2.0
        results = reply.json()["results"]
        assert [r["status"] for r in results] == ["accept", "unknown"]
        assert results[1]["critiques"][0]["kind"] == "unavailable"
        late = await client.post("/v1/verify", json={"domain": "svc_script", "problem": "p",
                                                     "completion": "accept"})
        assert late.status_code == 503 and "retry-after" in late.headers
        assert (await client.get("/health")).json()["draining"] is True

    serve(shared_pool, body, limits=ServiceLimits(drain_s=0.3))
