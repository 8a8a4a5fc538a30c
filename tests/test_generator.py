"""The OpenAI-compatible client against a scripted server over real HTTP."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from llm_modulo import (
    Grammar,
    HTTPStatusError,
    JsonSchema,
    MalformedResponseError,
    Message,
    OpenAICompatClient,
    Regex,
    RetryPolicy,
    SamplingParams,
    TransportError,
)
from llm_modulo.domains.game24 import Game24Domain
from llm_modulo.structured import Choice
from llm_modulo.testing import Delay, Drop, Raw, Reply, ScriptedServer, Status

MESSAGES = [Message(role="user", content="hi")]
FAST_RETRY = RetryPolicy(max_retries=3, backoff_base_s=0.01, backoff_max_s=0.05)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _chat(server: ScriptedServer, params: SamplingParams | None = None,
                structured: Any = None, **kw: Any) -> Any:
    async with OpenAICompatClient(server.base_url, model="m", retry=kw.pop("retry", FAST_RETRY),
                                  **kw) as client:
        return await client.chat(MESSAGES, params or SamplingParams(), structured)


def test_chat_returns_choices_and_usage(scripted: ScriptedServer) -> None:
    scripted.script(Reply(["a b", "c"]))
    result = run(_chat(scripted, SamplingParams(n=2)))
    assert [c.text for c in result.choices] == ["a b", "c"]
    assert result.usage.prompt_tokens == 1 and result.usage.completion_tokens == 3
    assert result.retries == 0


def test_sampling_fields_are_sent(scripted: ScriptedServer) -> None:
    params = SamplingParams(n=3, temperature=0.7, top_p=0.9, seed=5, max_tokens=17,
                            stop=["\n"], logprobs=2)
    run(_chat(scripted, params))
    body = scripted.completion_requests()[0]
    assert body["n"] == 3 and body["temperature"] == 0.7 and body["top_p"] == 0.9
    assert body["seed"] == 5 and body["max_tokens"] == 17 and body["stop"] == ["\n"]
    assert body["logprobs"] is True and body["top_logprobs"] == 2
    assert body["model"] == "m" and body["messages"] == [{"role": "user", "content": "hi"}]


def test_completions_endpoint(scripted: ScriptedServer) -> None:
    scripted.script(Reply(["done"]))

    async def go() -> Any:
        async with OpenAICompatClient(scripted.base_url, model="m") as client:
            return await client.complete("once upon", SamplingParams(logprobs=1))

    result = run(go())
    body = scripted.completion_requests()[0]
    assert body["_path"] == "/v1/completions" and body["prompt"] == "once upon"
    assert body["logprobs"] == 1
    assert result.choices[0].text == "done"


def test_model_is_discovered_when_not_given(scripted: ScriptedServer) -> None:
    async def go() -> str:
        async with OpenAICompatClient(scripted.base_url) as client:
            await client.chat(MESSAGES, SamplingParams())
            return str(client.model)

    assert run(go()) == "scripted"
    assert scripted.completion_requests()[0]["model"] == "scripted"


@pytest.mark.parametrize(("structured", "field", "value"), [
    (JsonSchema(name="A", schema={"type": "object"}), "response_format",
     {"type": "json_schema", "json_schema": {"name": "A", "schema": {"type": "object"},
                                             "strict": True}}),
    (Regex(pattern="[0-9]+"), "structured_outputs", {"regex": "[0-9]+"}),
    (Grammar(ebnf='root ::= "x"'), "structured_outputs", {"grammar": 'root ::= "x"'}),
    (Choice(options=["yes", "no"]), "structured_outputs", {"choice": ["yes", "no"]}),
])
def test_structured_output_fields(scripted: ScriptedServer, structured: Any, field: str,
                                  value: Any) -> None:
    run(_chat(scripted, structured=structured))
    body = scripted.completion_requests()[0]
    assert body[field] == value
    assert not [k for k in body if k.startswith("guided_")]
    other = {"response_format", "structured_outputs"} - {field}
    assert not other & set(body), "only one constraint kind per request"


def test_game24_sends_its_grammar(scripted: ScriptedServer) -> None:
    domain = Game24Domain()
    problem = domain.parse_problem("4 4 6 8")
    run(_chat(scripted, structured=domain.structured_output(problem)))
    grammar = scripted.completion_requests()[0]["structured_outputs"]["grammar"]
    assert grammar.startswith('root ::= "{\\"expression\\":\\""')


def test_api_key_from_environment(scripted: ScriptedServer,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_MODULO_API_KEY", "sekret")
    run(_chat(scripted))
    assert scripted.headers[-1]["Authorization"] == "Bearer sekret"


@pytest.mark.parametrize("failure", [Status(500), Status(502), Status(503), Drop()])
def test_transient_failures_are_retried(scripted: ScriptedServer, failure: Any) -> None:
    scripted.script(failure, failure, Reply(["ok"]))
    result = run(_chat(scripted))
    assert result.choices[0].text == "ok"
    assert result.retries == 2
    assert len(scripted.completion_requests()) == 3


def test_429_honours_retry_after(scripted: ScriptedServer) -> None:
    scripted.script(Status(429, headers={"Retry-After": "1"}), Reply(["ok"]))
    start = time.monotonic()
    result = run(_chat(scripted))
    assert result.choices[0].text == "ok"
    assert time.monotonic() - start >= 0.95


def test_read_timeout_is_retried(scripted: ScriptedServer) -> None:
    scripted.script(Delay(1.0), Reply(["ok"]))
    result = run(_chat(scripted, timeout=httpx.Timeout(0.3)))
    assert result.choices[0].text == "ok" and result.retries == 1


def test_retries_exhausted_raise_the_last_error(scripted: ScriptedServer) -> None:
    scripted.script(*[Status(503)] * 4)
    with pytest.raises(HTTPStatusError) as info:
        run(_chat(scripted))
    assert info.value.status_code == 503 and "4 tries" in str(info.value)


def test_client_errors_are_not_retried(scripted: ScriptedServer) -> None:
    scripted.script(Status(400, body='{"error": "bad grammar"}'))
    with pytest.raises(HTTPStatusError) as info:
        run(_chat(scripted))
    assert info.value.status_code == 400 and "bad grammar" in str(info.value)
    assert len(scripted.completion_requests()) == 1


@pytest.mark.parametrize("body", ["{not json", '{"choices": "nope"}', '{"object": "x"}',
                                  '{"choices": [{"index": 0}]}'])
def test_malformed_responses_raise(scripted: ScriptedServer, body: str) -> None:
    scripted.script(Raw(body))
    with pytest.raises(MalformedResponseError):
        run(_chat(scripted))


def test_connection_refused_is_a_transport_error() -> None:
    from llm_modulo.embedded import free_port

    async def go() -> None:
        async with OpenAICompatClient(f"http://127.0.0.1:{free_port()}/v1", model="m",
                                      retry=FAST_RETRY) as client:
            await client.chat(MESSAGES, SamplingParams())

    with pytest.raises(TransportError, match="4 tries"):
        run(go())


def test_injected_transport_seam() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"model": "t", "choices": [
            {"index": 0, "message": {"content": "from transport"}}]})

    async def go() -> Any:
        async with OpenAICompatClient("http://x/v1", model="t",
                                      transport=httpx.MockTransport(handler)) as client:
            return await client.chat(MESSAGES, SamplingParams())

    assert run(go()).choices[0].text == "from transport"
