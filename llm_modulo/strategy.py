"""The strategy seam: how a solve spends its budget.

A :class:`Strategy` decides what to ask the generator and what to do with the verdicts; a
:class:`SearchContext` (one per problem) gives it the only ways to spend: generator requests
(counted against the :class:`~llm_modulo.config.Budget`), whole-answer judging in the worker
pool, stepwise prefix checks, and recording in the corpus. Whatever the strategy, the result is
the same :class:`~llm_modulo.types.SolveResult` and the first sound ACCEPT ends the solve.

Strategies are plugins (entry-point group ``llm_modulo.strategies``): the built-ins
``backprompt``, ``best_of_n``, ``beam`` and ``mcts`` register through the same hook.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError

from llm_modulo.bounds import has_surrogate, replace_surrogates
from llm_modulo.config import LoopConfig
from llm_modulo.domain import Domain
from llm_modulo.errors import CorpusError, GeneratorError, LLMModuloError, UsageError
from llm_modulo.generator import MAX_TOKEN_COUNT, GeneratedChoice, Generator, SamplingParams
from llm_modulo.judge import DomainParseError, judge
from llm_modulo.pool import WorkerPool
from llm_modulo.stepwise import Extension, StepwiseDomain, extend, is_stepwise
from llm_modulo.structured import StructuredOutput
from llm_modulo.types import (
    Attempt,
    Candidate,
    Message,
    Problem,
    SearchTree,
    Step,
    StopReason,
    Usage,
    Verdict,
)
from llm_modulo.verifier import Verifier

AttemptHook = Callable[[Problem, Attempt], Any]


class AttemptStore(Protocol):
    """Where the loop records rounds and looks problems up (e.g. ``corpus.CorpusMemory``)."""

    async def lookup(
        self, problem: Problem, verifier: Verifier, pool: WorkerPool | None
    ) -> Attempt | None:
        """A stored solution that ``verifier`` accepts today, or None."""

    async def record(
        self, problem: Problem, attempts: Sequence[Attempt], sampling: SamplingParams,
        model: str | None,
    ) -> None:
        """Durably store one round's attempts; the loop waits for it."""


@runtime_checkable
class SearchStore(Protocol):
    """A store that also keeps search trees (their prefix verdicts are process labels)."""

    async def record_search(self, problem: Problem, tree: SearchTree,
                            model: str | None) -> None:
        """Durably store one solve's search tree."""


class Stop(LLMModuloError):
    """Raised by :class:`SearchContext` to end a solve (budget spent, generator failed): a
    signal the :class:`~llm_modulo.loop.Solver` turns into the result's ``stop_reason``."""

    def __init__(self, reason: StopReason, error: str | None = None) -> None:
        super().__init__(reason.value if error is None else error)
        self.reason, self.error = reason, error


class StrategyOptions(BaseModel):
    """Base of a strategy's options: unknown options are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Generation:
    """One generator request's samples (at most the ``n`` asked) and its usage."""

    messages: list[Message]
    params: SamplingParams
    choices: list[GeneratedChoice]
    usage: Usage
    model: str | None

    def shares(self) -> list[Usage]:
        """The request's usage apportioned among its samples."""
        return self.usage.split(len(self.choices))


class Strategy(ABC):
    """Base class of every strategy: set ``name``, ``description``, ``Options``; implement
    :meth:`search`."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: The options model (``--strategy-option key=value`` on the command line).
    Options: ClassVar[type[StrategyOptions]] = StrategyOptions
    #: True when the strategy needs a stepwise domain whose verifier checks prefixes.
    stepwise: ClassVar[bool] = False

    def __init__(self, options: StrategyOptions | Mapping[str, Any] | None = None) -> None:
        if isinstance(options, StrategyOptions):
            if not isinstance(options, self.Options):
                raise UsageError(f"strategy {self.name}: options must be "
                                 f"{self.Options.__name__}, not {type(options).__name__}")
            self.options: StrategyOptions = options
            return
        try:
            self.options = self.Options.model_validate(dict(options or {}))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "options"
            raise UsageError(f"strategy {self.name}: option {where}: {first['msg']} "
                             f"(options: {', '.join(self.Options.model_fields) or 'none'})"
                             ) from None

    def check_fits(self, domain: Domain, verifier: Verifier) -> None:
        """Raise :class:`UsageError` when this strategy cannot solve ``domain``'s problems."""
        if self.stepwise and not is_stepwise(domain, verifier):
            raise UsageError(f"strategy {self.name} needs a stepwise domain whose verifier "
                             f"checks prefixes; {domain.name} (verifier {verifier.name}) is not "
                             "(use backprompt or best_of_n)")

    @abstractmethod
    async def search(self, ctx: SearchContext) -> Attempt | None:
        """Spend ``ctx``'s budget; return the first accepted attempt, or None when the
        strategy's own limit is reached. Budget ends surface as :class:`Stop` from ``ctx``."""

    @classmethod
    def describe(cls) -> dict[str, Any]:
        options = {name: {"default": info.default, "description": info.description or ""}
                   for name, info in cls.Options.model_fields.items()}
        return {"name": cls.name, "description": cls.description, "stepwise": cls.stepwise,
                "options": options}


def bounded_usage(usage: Usage) -> Usage:
    """Token counts within ``[0, MAX_TOKEN_COUNT]`` whatever a generator reports."""
    def bound(n: int) -> int:
        return max(0, min(n, MAX_TOKEN_COUNT))

    if 0 <= usage.prompt_tokens <= MAX_TOKEN_COUNT and \
            0 <= usage.completion_tokens <= MAX_TOKEN_COUNT:
        return usage
    return Usage(prompt_tokens=bound(usage.prompt_tokens),
                 completion_tokens=bound(usage.completion_tokens))


class SearchContext:
    """One problem's solve as a strategy sees it: spend, judge, check, record."""

    def __init__(self, problem: Problem, domain: Domain, verifier: Verifier,
                 generator: Generator, config: LoopConfig, *, strategy: str,
                 pool: WorkerPool | None = None, store: AttemptStore | None = None,
                 on_attempt: AttemptHook | None = None) -> None:
        self.problem, self.domain, self.verifier = problem, domain, verifier
        self.generator, self.config, self.pool = generator, config, pool
        self.store, self.on_attempt = store, on_attempt
        self.budget = config.budget
        self.usage = Usage()
        self.requests = 0
        self.trace: list[Attempt] = []
        self.tree: SearchTree | None = None
        self.strategy = strategy
        self._served: str | None = None  # the model the last response named

    @property
    def model(self) -> str | None:
        """The generator's model (a client learns it from the server on its first request),
        else the one the last response named."""
        return getattr(self.generator, "model", None) or self._served

    # -- the budget ---------------------------------------------------------------------

    def remaining_generated(self) -> int | None:
        """Generated tokens the budget still allows (None: no such limit)."""
        if self.budget.max_generated_tokens is None:
            return None
        return self.budget.max_generated_tokens - self.usage.completion_tokens

    def check_budget(self) -> None:
        """Raise :class:`Stop` when the budget allows no further request."""
        b = self.budget
        if b.max_tokens is not None and self.usage.total_tokens >= b.max_tokens:
            raise Stop(StopReason.TOKENS)
        remaining = self.remaining_generated()
        if remaining is not None and remaining <= 0:
            raise Stop(StopReason.TOKENS)
        if b.max_requests is not None and self.requests >= b.max_requests:
            raise Stop(StopReason.REQUESTS)

    def params(self, n: int | None = None, **update: Any) -> SamplingParams:
        """The loop's sampling parameters for the next request: ``n`` samples (default: the
        budget's), a seed that differs per request (base seed + request index), and
        ``max_tokens`` no larger than the generated-token budget leaves per sample (with
        fewer tokens left than samples wanted, fewer samples of one token each)."""
        base = self.config.sampling
        count = n or self.budget.samples
        seed = None if base.seed is None else base.seed + self.requests
        max_tokens = update.pop("max_tokens", None) or base.max_tokens
        remaining = self.remaining_generated()
        if remaining is not None:
            count = max(1, min(count, remaining))
            max_tokens = max(1, min(max_tokens, remaining // count))
        return base.model_copy(update={"n": count, "seed": seed, "max_tokens": max_tokens,
                                       **update})

    # -- spending -----------------------------------------------------------------------

    async def generate(self, messages: list[Message], params: SamplingParams,
                       structured: StructuredOutput | None = None) -> Generation:
        """One generator request, counted against the budget. Raises :class:`Stop` when the
        budget is spent (before asking) or the generator fails (ending this problem)."""
        self.check_budget()
        self.requests += 1
        try:
            completion = await self.generator.generate(messages, params, structured)
        except GeneratorError as exc:
            raise Stop(StopReason.ERROR, str(exc)) from None
        except Exception as exc:  # a generator's bug ends this problem, not the batch
            raise Stop(StopReason.ERROR,
                       f"generator failed: {type(exc).__name__}: {exc}") from None
        usage = bounded_usage(completion.usage)
        self.usage = self.usage + usage
        self._served = completion.model or self._served
        # a server that sends more samples than asked does not stretch the budget; a lone
        # surrogate (from any generator) becomes U+FFFD, so the attempt can be stored
        choices = [c if not has_surrogate(c.text)
                   else c.model_copy(update={"text": replace_surrogates(c.text)})
                   for c in completion.choices[: params.n]]
        return Generation(messages, params, choices, usage,
                          completion.model or self.model)

    async def judge(self, texts: Sequence[str]) -> list[tuple[Candidate, Verdict]]:
        """Whole-answer candidates and verdicts, read and decided in the worker pool."""
        try:
            return await judge(self.domain, self.verifier, self.problem, texts, pool=self.pool)
        except DomainParseError as exc:  # a domain bug: not the model's fault, never a REJECT
            raise Stop(StopReason.ERROR, f"domain {self.domain.name} failed to parse a "
                                         f"completion: {exc}") from None

    async def attempts(self, round_no: int, generation: Generation,
                       texts: Sequence[str] | None = None, *,
                       usages: Sequence[Usage] | None = None,
                       finish_reasons: Sequence[str | None] | None = None) -> list[Attempt]:
        """Judge ``texts`` (default: the generation's samples) as whole answers to the
        generation's prompt, record them as round ``round_no`` and return the attempts."""
        if texts is None:
            texts = [c.text for c in generation.choices]
            finish_reasons = [c.finish_reason for c in generation.choices]
            usages = generation.shares()
        judged = await self.judge(texts)
        usages = list(usages) if usages is not None else [Usage()] * len(texts)
        reasons = list(finish_reasons) if finish_reasons is not None else [None] * len(texts)
        made = [
            Attempt(round=round_no, sample=i, prompt=generation.messages, completion=text,
                    candidate=cand, verdict=verdict, usage=usage, finish_reason=reason)
            for i, (text, (cand, verdict), usage, reason) in enumerate(
                zip(texts, judged, usages, reasons, strict=True))
        ]
        await self.record(made, generation.params, generation.model)
        return made

    async def record(self, attempts: list[Attempt], params: SamplingParams,
                     model: str | None) -> None:
        """Store attempts (one round) durably, then add them to the trace."""
        if self.store is not None and attempts:
            try:
                await self.store.record(self.problem, attempts, params, model or self.model)
            except CorpusError:
                raise  # the corpus itself is failing: every problem would lose its rounds
            except Exception as exc:  # this round's data: this problem's error, retried
                self.trace.extend(attempts)
                raise Stop(StopReason.ERROR,
                           f"round {attempts[0].round} could not be stored: "
                           f"{type(exc).__name__}: {exc}") from None
        for attempt in attempts:
            self.trace.append(attempt)
            if self.on_attempt is not None:
                self.on_attempt(self.problem, attempt)

    # -- stepwise -----------------------------------------------------------------------

    @property
    def stepwise(self) -> StepwiseDomain:
        if not isinstance(self.domain, StepwiseDomain):
            raise Stop(StopReason.ERROR, f"domain {self.domain.name} is not stepwise")
        return self.domain

    async def extend(self, items: Sequence[tuple[Sequence[Step], str]]) -> list[Extension]:
        """Read and prefix-check the steps each completion proposes after its prefix."""
        return await extend(self.domain, self.verifier, self.problem, items, pool=self.pool)

    async def judge_steps(self, round_no: int, steps_list: Sequence[Sequence[Step]],
                          params: SamplingParams) -> list[Attempt]:
        """Write each complete step sequence as a whole answer (the domain's ``assemble``),
        judge it with the ordinary check against the one-shot prompt and record it as round
        ``round_no``: only this judgement, never a prefix check, can ACCEPT."""
        texts = [self.stepwise.assemble(self.problem, list(s)) for s in steps_list]
        generation = Generation(self.domain.initial_messages(self.problem), params, [],
                                Usage(), self.model)
        return await self.attempts(round_no, generation, texts,
                                   finish_reasons=["assembled"] * len(texts))

    async def save_tree(self) -> None:
        """Store the search tree, when there is one and the store keeps trees."""
        if self.tree is None or self.store is None or not isinstance(self.store, SearchStore):
            return
        try:
            await self.store.record_search(self.problem, self.tree, self.model)
        except CorpusError:
            raise
        except Exception as exc:
            raise Stop(StopReason.ERROR, f"the search tree could not be stored: "
                                         f"{type(exc).__name__}: {exc}") from None
