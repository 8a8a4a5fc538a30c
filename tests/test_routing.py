"""Many generator endpoints: least-loaded routing, per-endpoint health, one model, and the
spec every command builds its generator from (scripted servers on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import pickle
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from llm_modulo.config import Budget, LoopConfig
from llm_modulo.domains.game24 import scripted_responder as game24_responder
from llm_modulo.endpoints import GeneratorSpec, base_url_text, parse_base_urls
from llm_modulo.errors import HTTPStatusError, TransportError, UsageError
from llm_modulo.generator import OpenAICompatClient, RetryPolicy, SamplingParams
from llm_modulo.loop import Solver
from llm_modulo.registry import default_registry
from llm_modulo.routing import RoutingClient
from llm_modulo.testing import BadRetryAfter, ScriptedServer, Status
from llm_modulo.types import Message, Problem, StopReason

MESSAGES = [Message(role="user", content="hello there")]
FAST_RETRY = RetryPolicy(max_retries=1, backoff_base_s=0.01, backoff_max_s=0.02)


def _router(servers: list[ScriptedServer], *, model: str | None = "scripted",
            backoff_base_s: float = 0.05, probe_timeout_s: float = 2.0,
            rate_limit_max_s: float = 60.0) -> RoutingClient:
    clients = [OpenAICompatClient(s.base_url, model=model, retry=FAST_RETRY, deadline_s=10)
               for s in servers]
    return RoutingClient(clients, model=model, backoff_base_s=backoff_base_s,
                         backoff_max_s=max(0.2, backoff_base_s),
                         probe_timeout_s=probe_timeout_s, rate_limit_max_s=rate_limit_max_s)


@pytest.fixture
def three() -> Iterator[list[ScriptedServer]]:
    with ExitStack() as stack:
        yield [stack.enter_context(ScriptedServer(lambda body: ["four words of text"],
                                                  latency_s=0.2)) for _ in range(3)]


def test_concurrent_requests_spread_evenly_by_in_flight(three: list[ScriptedServer]) -> None:
    async def go() -> RoutingClient:
        async with _router(three) as router:
            await asyncio.gather(*(router.generate(MESSAGES, SamplingParams())
                                   for _ in range(30)))
            return router

    router = asyncio.run(go())
    assert [len(s.completion_requests()) for s in three] == [10, 10, 10]
    stats = router.stats()
    assert [s.requests for s in stats] == [10, 10, 10]
    assert all(s.healthy and s.in_flight == 0 and s.failures == 0 for s in stats)


def test_a_slow_endpoint_gets_fewer_requests() -> None:
    with ScriptedServer(lambda body: ["x"], latency_s=0.01) as a, \
            ScriptedServer(lambda body: ["x"], latency_s=0.01) as b, \
            ScriptedServer(lambda body: ["x"], latency_s=0.4) as slow:

        async def go() -> None:
            gate = asyncio.Semaphore(6)

            async def one() -> None:
                async with gate:
                    await router.generate(MESSAGES, SamplingParams())

            async with _router([a, b, slow]) as router:
                await asyncio.gather(*(one() for _ in range(60)))

        asyncio.run(go())
        counts = [len(s.completion_requests()) for s in (a, b, slow)]
    assert sum(counts) == 60
    # by in-flight count the slow one holds its two requests while the fast ones turn over
    assert counts[2] < 12 < min(counts[:2]), counts


def _solve_config(rounds: int) -> LoopConfig:
    return LoopConfig(budget=Budget(rounds=rounds, samples=2),
                      sampling=SamplingParams(seed=0, max_tokens=32), concurrency=12)


_WRONG = '{"expression": "1+2+3+4"}'


def _wrong_batch(firsts: int) -> tuple[Any, Any, list[Problem]]:
    """game24's domain and verifier, and ``firsts`` x 3 problems none of them solves."""
    dom, ver = default_registry.domain_and_verifier("game24")
    return dom, ver, [dom.load_problem(f"{a} {b} 6 8") for a in range(1, firsts + 1)
                      for b in range(1, 4)]


def _wrong_servers(stack: ExitStack, latency_s: float) -> list[ScriptedServer]:
    """Three servers that always answer the same wrong expression."""
    return [stack.enter_context(ScriptedServer(lambda body: [_WRONG], latency_s=latency_s))
            for _ in range(3)]


def test_an_endpoint_dying_mid_run_loses_no_problem_and_counts_no_request_twice() -> None:
    """The generator keeps answering wrong, so every problem spends exactly its rounds: a
    request that failed on the dead endpoint and was served by another counts once."""
    dom, ver, problems = _wrong_batch(6)
    rounds = 4
    with ExitStack() as stack:
        servers = _wrong_servers(stack, 0.05)

        async def go() -> list[Any]:
            async with _router(servers, backoff_base_s=30.0) as router:
                solver = Solver(dom, ver, router, _solve_config(rounds))
                results = []
                async for result in solver.solve_many(problems):
                    results.append(result)
                    if len(results) == 3:
                        servers[1].stop()  # mid-run: requests in flight there, more to come
                stats = router.stats()
            return [results, stats]

        results, stats = asyncio.run(go())
    assert len(results) == len(problems)
    assert all(r.stop_reason is not StopReason.ERROR for r in results), \
        [r.error for r in results if r.error]
    for r in results:
        assert r.requests == rounds
        # the scripted server counts words: 2 samples a request, each request counted once
        assert r.usage.completion_tokens == rounds * 2 * len(_WRONG.split())
    served = sum(len(s.completion_requests()) for s in servers)
    assert served >= len(problems) * rounds
    assert not stats[1].healthy and stats[1].marked_down == 1 and stats[1].failures >= 1
    assert stats[1].reason is not None
    assert stats[0].healthy and stats[2].healthy


def test_a_down_endpoint_is_probed_and_used_again_when_it_is_back() -> None:
    with ScriptedServer(lambda body: ["a"]) as a, ScriptedServer(lambda body: ["b"]) as b:
        port = b.port

        async def go() -> None:
            async with _router([a, b], backoff_base_s=0.05) as router:
                b.stop()
                texts = [(await router.generate(MESSAGES, SamplingParams())).choices[0].text
                         for _ in range(4)]
                assert texts == ["a"] * 4
                down = router.stats()[1]
                assert not down.healthy and down.failures >= 1 and down.marked_down >= 1
                with ScriptedServer(lambda body: ["b again"], port=port) as back:
                    # the background probe finds it back, no request needed
                    await _until(lambda: router.stats()[1].healthy)
                    seen = set()
                    for _ in range(6):
                        seen.add((await router.generate(MESSAGES,
                                                        SamplingParams())).choices[0].text)
                        await asyncio.sleep(0.01)
                    assert "b again" in seen, seen
                    assert router.stats()[1].healthy
                    assert back.completion_requests()

        asyncio.run(go())


async def _until(condition: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.01)


def test_a_5xx_after_the_clients_retries_marks_down_and_the_request_moves() -> None:
    with ScriptedServer(lambda body: ["a"]) as a, ScriptedServer(lambda body: ["b"]) as b:
        b.script(*[Status(503)] * 5)

        async def go() -> RoutingClient:
            async with _router([b, a], backoff_base_s=30.0) as router:
                texts = [(await router.generate(MESSAGES, SamplingParams())).choices[0].text
                         for _ in range(3)]
                assert texts == ["a", "a", "a"]
                return router

        stats = asyncio.run(go()).stats()
    assert not stats[0].healthy and "HTTP 503" in (stats[0].reason or "")
    assert stats[0].requests == 1 and stats[1].requests == 3


def test_a_4xx_is_the_requests_own_failure_not_the_endpoints() -> None:
    with ScriptedServer(lambda body: ["a"]) as a, ScriptedServer(lambda body: ["b"]) as b:
        a.script(Status(400))
        b.script(Status(400))

        async def go() -> RoutingClient:
            async with _router([a, b]) as router:
                with pytest.raises(HTTPStatusError):
                    await router.generate(MESSAGES, SamplingParams())
                return router

        stats = asyncio.run(go()).stats()
    assert all(s.healthy for s in stats)
    assert sum(s.failures for s in stats) == 1


def test_every_endpoint_down_is_one_error_naming_them() -> None:
    with ScriptedServer() as a, ScriptedServer() as b:
        urls = [a.base_url, b.base_url]

        async def go() -> None:
            async with _router([a, b], backoff_base_s=30.0) as router:
                a.stop()
                b.stop()
                with pytest.raises(TransportError) as caught:
                    await router.generate(MESSAGES, SamplingParams())
                message = str(caught.value)
                assert "no generator endpoint can take the request" in message
                assert all(u in message for u in urls), message
                assert "\n" not in message
                # still down (backoff not over): refused at once, no request sent
                with pytest.raises(TransportError):
                    await router.generate(MESSAGES, SamplingParams())

        asyncio.run(go())


def test_every_endpoint_down_with_no_backoff_is_an_error_not_a_wait_forever() -> None:
    """With a zero backoff a down endpoint is due again at once; a request waits for one
    probe of each endpoint at most, then fails (found by the review: it waited forever)."""
    with ScriptedServer() as a, ScriptedServer() as b:

        async def go() -> None:
            async with _router([a, b], backoff_base_s=0.0) as router:
                a.stop()
                b.stop()
                async with asyncio.timeout(20):
                    with pytest.raises(TransportError, match="no generator endpoint"):
                        await router.generate(MESSAGES, SamplingParams())

        asyncio.run(go())


def test_nothing_reachable_at_the_start_is_the_same_error() -> None:
    with ScriptedServer() as a:
        url = a.base_url
    router = RoutingClient([OpenAICompatClient(url, retry=FAST_RETRY),
                            OpenAICompatClient("http://127.0.0.1:9/v1", retry=FAST_RETRY)],
                           probe_timeout_s=2.0)

    async def go() -> None:
        async with router:
            assert router.model is None
            with pytest.raises(TransportError, match=re.escape("127.0.0.1:9/v1")):
                await router.generate(MESSAGES, SamplingParams())

    asyncio.run(go())


def test_a_model_mismatch_is_refused_naming_the_endpoint() -> None:
    with ScriptedServer(model="m1") as a, ScriptedServer(model="m2") as b:
        async def go(model: str | None) -> None:
            async with RoutingClient([OpenAICompatClient(a.base_url, retry=FAST_RETRY),
                                      OpenAICompatClient(b.base_url, retry=FAST_RETRY)],
                                     model=model):
                pass

        with pytest.raises(UsageError) as caught:
            asyncio.run(go(None))  # the first endpoint's model: m1
        assert str(caught.value) == (f"endpoint {b.base_url} does not serve model 'm1': it "
                                     f"serves m2")
        with pytest.raises(UsageError, match=re.escape(
                f"endpoint {a.base_url} does not serve model 'm2'")):
            asyncio.run(go("m2"))


def test_the_model_is_resolved_once_and_sent_to_every_endpoint(
        three: list[ScriptedServer]) -> None:
    async def go() -> None:
        async with _router(three, model=None) as router:
            assert router.model == "scripted"
            await asyncio.gather(*(router.generate(MESSAGES, SamplingParams())
                                   for _ in range(6)))

    asyncio.run(go())
    assert all(r["model"] == "scripted" for s in three for r in s.completion_requests())


def test_an_endpoint_back_with_another_model_is_set_aside() -> None:
    with ScriptedServer(lambda body: ["a"], model="m") as a, \
            ScriptedServer(lambda body: ["b"], model="m") as b:
        port = b.port

        async def go() -> None:
            async with _router([a, b], model="m", backoff_base_s=0.02) as router:
                b.stop()
                await router.generate(MESSAGES, SamplingParams())
                await router.generate(MESSAGES, SamplingParams())
                with ScriptedServer(lambda body: ["other"], model="other", port=port) as back:
                    await asyncio.sleep(0.1)
                    for _ in range(4):
                        text = (await router.generate(MESSAGES, SamplingParams())).choices[0]
                        assert text.text == "a"
                        await asyncio.sleep(0.03)
                    assert not back.completion_requests()
                stat = router.stats()[1]
                assert not stat.healthy and "serves other" in (stat.reason or "")

        asyncio.run(go())


# -- base URLs and the spec ------------------------------------------------------------------


def test_base_urls_split_on_commas_and_whitespace() -> None:
    assert parse_base_urls(["http://a:1/v1/, http://b:2/v1", "http://c:3/v1,"]) == [
        "http://a:1/v1", "http://b:2/v1", "http://c:3/v1"]
    assert base_url_text(["http://a:1/v1", "http://b:2/v1"]) == "http://a:1/v1,http://b:2/v1"
    assert base_url_text(None) is None and base_url_text([]) is None


@pytest.mark.parametrize("value,message", [
    ("", "no base URL given"),
    (" , ", "no base URL given"),
    ("ftp://a/v1", "not an http(s) URL"),
    ("127.0.0.1:8000", "not an http(s) URL"),
    ("http://a/v1,http://a/v1/", "given twice"),
])
def test_malformed_base_urls_are_one_usage_error(value: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        GeneratorSpec(base_urls=value)


def test_the_spec_pickles_holds_no_key_and_builds_the_right_client(
        monkeypatch: pytest.MonkeyPatch) -> None:
    spec = GeneratorSpec(base_urls="http://127.0.0.1:8000/v1", model="m", deadline_s=5,
                         api_key_env="MY_KEY")
    monkeypatch.setenv("MY_KEY", "sekrit")
    again = pickle.loads(pickle.dumps(spec))
    assert again == spec and "sekrit" not in spec.model_dump_json()
    one = again.build()
    assert type(one) is OpenAICompatClient and one.deadline_s == 5 and one.model == "m"
    assert one._aio is not None  # the default backend
    assert one._aio._headers["Authorization"] == "Bearer sekrit"
    asyncio.run(one.aclose())
    many = GeneratorSpec(base_urls=["http://127.0.0.1:8000/v1", "http://127.0.0.1:8001/v1"],
                         model="m").build()
    assert isinstance(many, RoutingClient)
    assert many.base_urls == ["http://127.0.0.1:8000/v1", "http://127.0.0.1:8001/v1"]
    asyncio.run(many.aclose())
    monkeypatch.delenv("MY_KEY")
    with pytest.raises(UsageError, match="MY_KEY is not set"):
        spec.build()


def test_a_routed_batch_solves_like_a_single_client() -> None:
    dom, ver = default_registry.domain_and_verifier("game24")
    problems = [dom.load_problem(p) for p in ("4 4 6 8", "1 2 3 4", "2 3 4 5")]
    with ScriptedServer(game24_responder) as a, ScriptedServer(game24_responder) as b:
        spec = GeneratorSpec(base_urls=[a.base_url, b.base_url])

        async def go() -> list[Any]:
            async with spec.build() as generator:
                solver = Solver(dom, ver, generator, _solve_config(4))
                return [r async for r in solver.solve_many(problems)]

        results = asyncio.run(go())
        assert all(r.solved and r.requests == 2 for r in results)
        assert a.completion_requests() and b.completion_requests()


def test_the_all_down_message_is_bounded_however_many_endpoints() -> None:
    clients = [OpenAICompatClient(f"http://127.0.0.1:{port}/v1", retry=FAST_RETRY)
               for port in range(1, 13)]

    async def go() -> str:
        async with RoutingClient(clients, model="m", probe_timeout_s=2.0) as router:
            with pytest.raises(TransportError) as caught:
                await router.generate(MESSAGES, SamplingParams())
            assert not any(s.healthy for s in router.stats())
            return str(caught.value)

    message = asyncio.run(go())
    assert "127.0.0.1:8/v1" in message and "127.0.0.1:9/v1" not in message
    assert message.endswith("and 4 more endpoints") and len(message) < 8 * 400


# -- 429: rate-limited endpoints hand the request over --------------------------------------


def _texts_of(router: RoutingClient, n: int) -> Any:
    async def go() -> list[str]:
        return [(await router.generate(MESSAGES, SamplingParams())).choices[0].text
                for _ in range(n)]
    return go()


def test_a_429_moves_the_request_at_once_and_leaves_the_endpoint_alone_for_retry_after(
        ) -> None:
    with ScriptedServer(lambda body: ["one two three"]) as a, \
            ScriptedServer(lambda body: ["b"]) as b:
        a.script(Status(429, headers={"Retry-After": "30"}))

        async def go() -> RoutingClient:
            async with _router([a, b], backoff_base_s=30.0) as router:
                began = time.monotonic()
                first = await router.generate(MESSAGES, SamplingParams())
                assert time.monotonic() - began < 5  # not the 30 s Retry-After
                assert first.choices[0].text == "b"
                # the request counts once: one completion, no retry, b's usage only
                assert first.retries == 0 and first.usage.completion_tokens == 1
                # a is alive but the last choice for 30 s: b takes everything meanwhile
                assert await _texts_of(router, 4) == ["b"] * 4
                return router

        stats = asyncio.run(go()).stats()
    assert len(a.completion_requests()) == 1 and len(b.completion_requests()) == 5
    assert stats[0].healthy and stats[0].marked_down == 0 and stats[0].reason is None
    assert (stats[0].rate_limited, stats[0].failures, stats[0].requests) == (1, 1, 1)
    assert stats[1].rate_limited == 0 and stats[1].requests == 5


def test_an_unreadable_retry_after_gets_the_backoff_then_the_endpoint_is_used_again() -> None:
    with ScriptedServer(lambda body: ["a"]) as a, ScriptedServer(lambda body: ["b"]) as b:
        a.script(BadRetryAfter("soon"))

        async def go() -> list[str]:
            async with _router([a, b], backoff_base_s=0.05) as router:
                assert await _texts_of(router, 1) == ["b"]
                await asyncio.sleep(0.15)  # the 0.05 s backoff is over
                return await _texts_of(router, 4)

        assert sorted(asyncio.run(go())) == ["a", "a", "b", "b"]


def test_retry_after_is_capped() -> None:
    with ScriptedServer(lambda body: ["a"]) as a, ScriptedServer(lambda body: ["b"]) as b:
        a.script(Status(429, headers={"Retry-After": "86400"}))

        async def go() -> list[str]:
            async with _router([a, b], rate_limit_max_s=0.1) as router:
                assert await _texts_of(router, 1) == ["b"]
                await asyncio.sleep(0.2)
                return await _texts_of(router, 4)

        assert "a" in asyncio.run(go())


def test_every_endpoint_rate_limited_waits_retry_after_on_one_as_a_single_client() -> None:
    with ScriptedServer(lambda body: ["a"]) as a, ScriptedServer(lambda body: ["b"]) as b:
        a.script(Status(429, headers={"Retry-After": "0.3"}))
        b.script(Status(429, headers={"Retry-After": "0.3"}))

        async def go() -> tuple[str, float, RoutingClient]:
            async with _router([a, b], backoff_base_s=30.0) as router:
                began = time.monotonic()
                text = (await router.generate(MESSAGES, SamplingParams())).choices[0].text
                return text, time.monotonic() - began, router

        text, took, router = asyncio.run(go())
    # a said 429 and b was free: moved to b; b said 429 with a limited too: b's client
    # waited b's Retry-After and asked b again
    assert text == "b" and took >= 0.3
    assert len(a.completion_requests()) == 1 and len(b.completion_requests()) == 2
    assert all(s.healthy and s.marked_down == 0 for s in router.stats())


def test_one_endpoint_retries_a_429_after_retry_after_as_before() -> None:
    with ScriptedServer(lambda body: ["a"]) as a:
        a.script(Status(429, headers={"Retry-After": "0.2"}))

        async def go(generator: Any) -> tuple[str, float]:
            async with generator:
                began = time.monotonic()
                text = (await generator.generate(MESSAGES, SamplingParams())).choices[0].text
                return text, time.monotonic() - began

        text, took = asyncio.run(go(_router([a])))
        assert text == "a" and took >= 0.2 and len(a.completion_requests()) == 2
        a.script(Status(429, headers={"Retry-After": "0.2"}))
        text, took = asyncio.run(go(OpenAICompatClient(a.base_url, model="scripted",
                                                       retry=FAST_RETRY)))
        assert text == "a" and took >= 0.2 and len(a.completion_requests()) == 4


def test_a_rate_limited_endpoint_costs_no_problem_a_second_request() -> None:
    """Many 429s during a batch: each problem still spends exactly its rounds, each request
    counted once in requests and tokens."""
    dom, ver, problems = _wrong_batch(4)
    rounds = 3
    with ExitStack() as stack:
        servers = _wrong_servers(stack, 0.02)
        servers[0].script(*[Status(429, headers={"Retry-After": "0.05"})] * 10)

        async def go() -> tuple[list[Any], tuple[Any, ...]]:
            async with _router(servers) as router:
                solver = Solver(dom, ver, router, _solve_config(rounds))
                return [r async for r in solver.solve_many(problems)], router.stats()

        results, stats = asyncio.run(go())
    assert all(r.stop_reason is not StopReason.ERROR for r in results)
    for r in results:
        assert r.requests == rounds
        assert r.usage.completion_tokens == rounds * 2 * len(_WRONG.split())
    assert stats[0].rate_limited >= 1 and all(s.healthy for s in stats)


# -- the background probe ----------------------------------------------------------------------


def _record_loop_errors(errors: list[Any]) -> None:
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: errors.append(
        context))


def test_a_down_endpoint_is_probed_in_the_background_one_watch_at_a_time() -> None:
    with ScriptedServer(lambda body: ["a"]) as a, ScriptedServer(lambda body: ["b"]) as b:
        port = b.port
        errors: list[Any] = []

        async def go() -> None:
            _record_loop_errors(errors)
            async with _router([a, b], backoff_base_s=0.02) as router:
                b.stop()
                await asyncio.gather(*(router.generate(MESSAGES, SamplingParams())
                                       for _ in range(4)))
                watch = router._endpoints[1].probe
                assert watch is not None and not watch.done()
                # no request is sent, yet it is probed again and again by the same task
                await _until(lambda: router.stats()[1].marked_down >= 3)
                assert router._endpoints[1].probe is watch
                with ScriptedServer(lambda body: ["b again"], port=port) as back:
                    await _until(lambda: router.stats()[1].healthy)
                    assert watch.done() and not back.completion_requests()
                    assert "b again" in await _texts_of(router, 4)

        asyncio.run(go())
    assert errors == []


def test_the_background_probe_ends_with_the_client_and_never_leaks_an_exception() -> None:
    with ScriptedServer(lambda body: ["a"]) as a, ScriptedServer(lambda body: ["b"]) as b:
        errors: list[Any] = []

        async def go() -> None:
            _record_loop_errors(errors)
            router = _router([a, b], backoff_base_s=0.02)
            async with router:
                broken = router._endpoints[1]

                async def boom() -> list[str]:
                    raise RuntimeError("a bug in the probe")

                broken.client.list_models = boom  # type: ignore[method-assign]
                b.stop()
                await _texts_of(router, 3)
                await _until(lambda: broken.marked_down >= 3)  # the watch survives it
                assert "probe failed: RuntimeError: a bug in the probe" in (broken.reason or "")
                watch = broken.probe
            assert watch is not None and watch.cancelled()
            with pytest.raises(TransportError):  # closed: a request waits for nothing
                await router._choose({0, 1})

        asyncio.run(go())
    assert errors == []
