"""The service holds nothing per request (issue 17's memory soak): once a request has
answered and its checks have finished, the engine keeps no task for it, admits nothing for
it, and the cache of read problems stays at its bound however many problems come."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from llm_modulo.pool import WorkerPool
from llm_modulo.service import problems
from llm_modulo.types import canonical_json
from tests.test_service import Client, serve


def test_the_engine_keeps_nothing_per_request_and_the_problem_cache_stays_bounded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(problems, "CACHE_ENTRIES", 4)

    async def body(client: Client, app: Any) -> None:
        engine = app.state.engine
        for k in range(10):
            reply = await client.post("/v1/verify", json={"items": [
                {"domain": "svc_script", "problem": f"p{k}", "completions": ["accept", "reject"]},
                {"domain": "game24", "problem": f"{k + 1} 1 1 1", "completion": "no answer"}]})
            assert reply.status_code == 200, reply.text
            assert len(reply.json()["results"]) == 3
        cache = engine._problems._cache
        assert len(cache) == 4  # the bound, not the 20 problems read
        latest = [("svc_script", "p8"), ("svc_script", "p9"), ("game24", "9 1 1 1"),
                  ("game24", "10 1 1 1")]
        assert set(cache) == {(name, canonical_json(raw)) for name, raw in latest}
        assert not engine._background and engine.admission.count == 0
        # a check that outlives its request's deadline is held until it has finished, then
        # nothing of it stays
        reply = await client.post("/v1/verify", json={
            "domain": "svc_script", "problem": "p", "deadline_s": 0.3,
            "completions": ["accept", "sleep 1.5"]})
        assert [r["status"] for r in reply.json()["results"]] == ["accept", "unknown"]
        assert len(engine._background) == 1 and engine.admission.count == 1
        for _ in range(200):
            if not engine._background:
                break
            await asyncio.sleep(0.05)
        assert not engine._background and engine.admission.count == 0

    with WorkerPool(2, max_batch=1) as pool:
        serve(pool, body)
