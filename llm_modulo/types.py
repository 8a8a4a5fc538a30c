"""Core value types, pydantic v2 models at every boundary."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from enum import StrEnum
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field


class Status(StrEnum):
    """A verifier's verdict. Only ACCEPT means correctness was established."""

    ACCEPT = "accept"
    REJECT = "reject"
    UNKNOWN = "unknown"


class FeedbackLevel(StrEnum):
    """How much of the verifier's critique a back-prompt carries.

    The levels compared by PlanBench and by Stechly et al.: ``none`` re-samples
    from the original prompt, ``binary`` says only that the answer was wrong,
    ``first`` gives the first error, ``all`` gives every error found.
    """

    NONE = "none"
    BINARY = "binary"
    FIRST = "first"
    ALL = "all"


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Problem(BaseModel):
    """One problem instance of a domain. ``hash`` identifies it across runs."""

    model_config = ConfigDict(frozen=True)

    domain: str
    payload: dict[str, Any]
    id: str | None = Field(default=None, description="Optional caller-side identifier.")

    @computed_field  # type: ignore[prop-decorator]
    @cached_property
    def hash(self) -> str:
        # computed once per instance (the model is frozen and no code changes a payload);
        # the cached value travels with the pickled problem into verifier workers
        text = canonical_json({"domain": self.domain, "payload": self.payload})
        return hashlib.sha256(text.encode()).hexdigest()

    def model_copy(self, *, update: Mapping[str, Any] | None = None,
                   deep: bool = False) -> Problem:
        """A copy; with ``update`` the cached ``hash`` is dropped so it is computed anew."""
        copy = super().model_copy(update=update, deep=deep)
        if update:
            copy.__dict__.pop("hash", None)
        return copy


class Critique(BaseModel):
    """What failed and where, without the gold answer."""

    model_config = ConfigDict(frozen=True)

    kind: str = Field(description="Machine-readable failure kind, e.g. 'value', 'unparseable'.")
    message: str = Field(description="Human- and LLM-readable explanation.")
    location: str | None = Field(default=None, description="Where: a step, a column, a span.")
    data: dict[str, Any] = Field(default_factory=dict)


class Verdict(BaseModel):
    """A verifier's decision about one candidate."""

    model_config = ConfigDict(frozen=True)

    status: Status
    critiques: list[Critique] = Field(default_factory=list)
    verifier: str
    verifier_version: str
    sound: bool = True
    elapsed_s: float = 0.0
    evidence: dict[str, Any] = Field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        """True only for a sound ACCEPT: the one thing the loop and corpus trust."""
        return self.status is Status.ACCEPT and self.sound


class Candidate(BaseModel):
    """A completion and the answer extracted from it (``None`` when extraction failed)."""

    model_config = ConfigDict(frozen=True)

    raw: str
    answer: dict[str, Any] | None = None
    parse_error: str | None = None


class Usage(BaseModel):
    """Token counts as the endpoint reports them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )

    def split(self, n: int) -> list[Usage]:
        """Apportion a request's usage among its ``n`` samples; the parts sum to the whole."""
        if n <= 0:
            return []

        def parts(total: int) -> list[int]:
            base, extra = divmod(total, n)
            return [base + (1 if i < extra else 0) for i in range(n)]

        return [
            Usage(prompt_tokens=p, completion_tokens=c)
            for p, c in zip(parts(self.prompt_tokens), parts(self.completion_tokens), strict=True)
        ]


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(frozen=True)

    role: str
    content: str


class Attempt(BaseModel):
    """One sampled candidate and its verdict.

    ``usage`` is the producing request's usage apportioned among its samples,
    so summing over attempts gives the endpoint's totals.
    """

    round: int
    sample: int
    prompt: list[Message]
    completion: str
    candidate: Candidate
    verdict: Verdict
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str | None = None


class StopReason(StrEnum):
    """Why solving one problem ended."""

    ACCEPTED = "accepted"
    CACHED = "cached"
    #: the strategy's own limit (rounds, iterations, simulations) was reached
    ROUNDS = "rounds"
    #: the token budget (total or generated tokens) was spent
    TOKENS = "tokens"
    #: the budget in generator requests was spent
    REQUESTS = "requests"
    #: a search ran out of live prefixes: every branch was proven dead or could not be read
    EXHAUSTED = "exhausted"
    WALL_TIME = "wall_time"
    ERROR = "error"


class Step(BaseModel):
    """One step of a stepwise answer: ``text`` as prompts show it, ``data`` as read."""

    model_config = ConfigDict(frozen=True)

    text: str
    data: dict[str, Any] = Field(default_factory=dict)


class SearchNode(BaseModel):
    """One node of a search tree: the prefix ending in ``step`` and what is known about it.

    ``verdict`` is the sound prefix check's: ACCEPT = the prefix may still be part of a correct
    answer as far as the check can prove, REJECT = proven dead (with a critique), UNKNOWN =
    not decided (never a process label). The root (``id`` 0) has no step and no verdict.
    """

    id: int
    parent: int | None = None
    depth: int = 0
    step: Step | None = None
    #: the completion the step was read from (None at the root)
    completion: str | None = None
    verdict: Verdict | None = None
    #: the prefix is a complete answer (the prefix check says so)
    terminal: bool = False
    visits: int = 0
    #: the strategy's running value (mcts: mean rollout value; beam: score)
    value: float = 0.0
    #: the generator's prior for this step (probability), when the endpoint gave logprobs
    prior: float | None = None
    #: ``(round, sample)`` of the whole-answer attempt judged at this node, if any
    attempt: tuple[int, int] | None = None


class SearchTree(BaseModel):
    """What a search strategy did: its nodes (``nodes[i].id == i``) and the root prompt."""

    strategy: str
    prompt: list[Message] = Field(default_factory=list)
    nodes: list[SearchNode] = Field(default_factory=list)

    def path(self, node_id: int) -> list[SearchNode]:
        """The nodes from the root's first child down to ``node_id``."""
        out: list[SearchNode] = []
        current: int | None = node_id
        while current is not None and current != 0:
            node = self.nodes[current]
            out.append(node)
            current = node.parent
        return out[::-1]


class SolveResult(BaseModel):
    """The outcome of solving one problem: the accepted attempt or none, and the whole trace."""

    problem: Problem
    solution: Attempt | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    stop_reason: StopReason
    error: str | None = None
    usage: Usage = Field(default_factory=Usage)
    elapsed_s: float = 0.0
    model: str | None = None
    #: the strategy that produced this result (None: served from the corpus)
    strategy: str | None = None
    #: generator requests made
    requests: int = 0
    #: the search tree of a tree-search strategy
    search: SearchTree | None = None

    @property
    def solved(self) -> bool:
        return self.solution is not None

    @property
    def rounds(self) -> int:
        return max((a.round for a in self.attempts), default=0)
