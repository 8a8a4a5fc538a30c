"""``llm_critic``: a model asked whether an answer is correct (unsound by construction).

The seam (as :class:`~llm_modulo.remote.RemoteVerifier`'s): a critique is an HTTP request,
so it must not run in a worker process under a check deadline. :meth:`LLMCritic.averify_many`
and :meth:`LLMCritic.acritique_many` send the requests from the event loop (at most
``concurrency`` at once, each bounded by the client's deadline) and ``remote = True`` makes
:func:`llm_modulo.judge.judge` read replies in the pool and hand the candidates here.
:meth:`check` still works where a caller insists on a worker (one blocking request).

The endpoint is any OpenAI-compatible server: ``base_url`` / ``model`` given, else
``LLM_MODULO_CRITIC_BASE_URL`` / ``LLM_MODULO_CRITIC_MODEL``, else ``LLM_MODULO_BASE_URL``
(the generator's). Without any, every verdict is UNKNOWN (``unavailable``).

``sound = False``: an ACCEPT never ends a loop and never enters the corpus as a solution; a
REJECT is never a training negative (exports take sound verdicts only).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from llm_modulo.critic import CriticRequest
from llm_modulo.errors import GeneratorError, UsageError
from llm_modulo.generator import OpenAICompatClient, SamplingParams
from llm_modulo.pool import WorkerPool
from llm_modulo.remote import _run_blocking
from llm_modulo.structured import Regex
from llm_modulo.types import Candidate, Critique, Problem, Status, Verdict, canonical_json
from llm_modulo.verifier import CheckResult, Verifier
from llm_modulo.verifiers.critic.prompt import REPLY_PATTERN, critic_messages, read_reply, shown

BASE_URL_ENVS = ("LLM_MODULO_CRITIC_BASE_URL", "LLM_MODULO_BASE_URL")
MODEL_ENV = "LLM_MODULO_CRITIC_MODEL"
#: Characters of the critic's reply kept in the verdict's evidence.
MAX_EVIDENCE_CHARS = 2000


class LLMCritic(Verifier):
    """Asks a model whether a candidate is correct and what is wrong with it."""

    name: ClassVar[str] = "llm_critic"
    version: ClassVar[str] = "1"
    sound: ClassVar[bool] = False
    remote: ClassVar[bool] = True
    timeout_s: ClassVar[float] = 300.0
    memory_mb: ClassVar[int | None] = None
    critique_kinds: ClassVar[Mapping[str, str]] = {
        "critic_error": "an error the LLM critic lists (unsound: a model's claim, not a proof)",
        "critic_rejected": "the LLM critic said the answer is wrong without naming an error",
        "critic_unreadable": "the LLM critic's reply has no readable verdict (UNKNOWN)",
    }

    def __init__(self, base_url: str | None = None, *, model: str | None = None,
                 max_tokens: int = 512, temperature: float = 0.0, concurrency: int = 16,
                 deadline_s: float = 300.0, structured: bool = True) -> None:
        url = base_url or next((os.environ[e] for e in BASE_URL_ENVS if os.environ.get(e)),
                               None)
        if max_tokens < 1 or concurrency < 1 or not deadline_s > 0:
            raise UsageError("critic max_tokens, concurrency and deadline_s must be positive")
        self.base_url = url
        self.model = model or os.environ.get(MODEL_ENV) or None
        self.max_tokens, self.temperature = max_tokens, temperature
        self.concurrency, self.deadline_s = concurrency, deadline_s
        #: ask the endpoint to keep the reply in the verdict format (a small model otherwise
        #: rarely writes a VERDICT line); the reply is still read as untrusted text
        self.structured = structured
        self._client: OpenAICompatClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_client=None, _loop=None)
        return state

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "base_url": self.base_url, "model": self.model}

    # -- the entry points ------------------------------------------------------------------

    async def averify_many(self, pairs: Sequence[tuple[Problem, Candidate]], *,
                           timeout_s: float | None = None, pool: WorkerPool | None = None
                           ) -> list[Verdict]:
        """Verdicts for ``pairs``; the problem is shown as its payload (JSON), since a
        verifier knows no domain. :meth:`acritique_many` takes the solver's own statement."""
        return await self.acritique_many([
            CriticRequest(p, c, "The problem, as JSON:\n" + canonical_json(p.payload))
            for p, c in pairs])

    async def acritique_many(self, requests: Sequence[CriticRequest]) -> list[Verdict]:
        if not requests:
            return []
        gate = asyncio.Semaphore(self.concurrency)

        async def one(request: CriticRequest) -> Verdict:
            async with gate:
                return await self._critique(request)

        return list(await asyncio.gather(*(one(r) for r in requests)))

    def verify(self, problem: Problem, candidate: Candidate, *, timeout_s: float | None = None,
               pool: WorkerPool | None = None) -> Verdict:
        return self.verify_many([(problem, candidate)])[0]

    def verify_many(self, pairs: Sequence[tuple[Problem, Candidate]], *,
                    timeout_s: float | None = None, pool: WorkerPool | None = None
                    ) -> list[Verdict]:
        async def once() -> list[Verdict]:
            try:
                return await self.averify_many(pairs)
            finally:
                await self.aclose()

        return _run_blocking(once())

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        """One blocking request (for callers that run checks in a worker)."""
        verdict = self.verify(problem, candidate)
        return CheckResult(verdict.status, list(verdict.critiques), dict(verdict.evidence))

    async def aclose(self) -> None:
        client, self._client, self._loop = self._client, None, None
        if client is not None:
            await client.aclose()

    # -- one critique ----------------------------------------------------------------------

    def _http(self) -> OpenAICompatClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            assert self.base_url is not None
            self._client = OpenAICompatClient(self.base_url, model=self.model,
                                              deadline_s=self.deadline_s,
                                              max_connections=max(8, self.concurrency))
            self._loop = loop
        return self._client

    async def _critique(self, request: CriticRequest) -> Verdict:
        start = time.monotonic()
        if self.base_url is None:
            return self._made(Status.UNKNOWN, [Critique(
                kind="unavailable", message="no critic endpoint is configured (give a base "
                "URL or set LLM_MODULO_CRITIC_BASE_URL)")], start, {})
        messages = critic_messages(request.statement, request.candidate.raw)
        params = SamplingParams(n=1, temperature=self.temperature, max_tokens=self.max_tokens)
        try:
            completion = await self._http().generate(
                messages, params, Regex(pattern=REPLY_PATTERN) if self.structured else None)
        except (GeneratorError, UsageError) as exc:
            return self._made(Status.UNKNOWN, [Critique(
                kind="unavailable", message=f"the critic could not be asked: {exc}"[:500])],
                start, {})
        except Exception as exc:  # a client bug: this candidate's UNKNOWN, not the batch's
            return self._made(Status.UNKNOWN, [Critique(
                kind="unavailable", message=f"the critic failed: {type(exc).__name__}")],
                start, {})
        text = completion.choices[0].text if completion.choices else ""
        evidence: dict[str, Any] = {
            "critic_model": completion.model or self.model,
            "prompt_tokens": completion.usage.prompt_tokens,
            "completion_tokens": completion.usage.completion_tokens,
            "reply": shown(text)[:MAX_EVIDENCE_CHARS],
        }
        reply = read_reply(text)
        if reply.status is Status.UNKNOWN:
            critiques = [Critique(kind="critic_unreadable", message=reply.why)]
        elif reply.status is Status.REJECT:
            critiques = [Critique(kind="critic_error", message=e) for e in reply.errors] or [
                Critique(kind="critic_rejected",
                         message="the critic says the answer is wrong but names no error")]
        else:
            critiques = []
        return self._made(reply.status, critiques, start, evidence)

    def _made(self, status: Status, critiques: list[Critique], start: float,
                 evidence: dict[str, Any]) -> Verdict:
        return Verdict(status=status, critiques=critiques, verifier=self.name,
                       verifier_version=self.version, sound=False,
                       elapsed_s=time.monotonic() - start, evidence=evidence)
