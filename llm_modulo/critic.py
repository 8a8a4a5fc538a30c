"""The critic seam: an unsound verifier that is itself a model (self-critique).

An LLM critic (the ``llm_critic`` verifier plugin) is shown a problem and a candidate answer
and says whether the answer is correct and what is wrong with it. Its verdicts are unsound
(``Verdict.sound`` is False): the loop and the corpus never take its ACCEPT for a solution, nor
its REJECT for a negative. What a critic is needed for is measuring *self-critique*: the
``self_critique`` strategy lets the critic decide when to stop and write the back-prompt,
while the sound verifier judges every candidate too, for the reported accuracy and to score
each critic verdict (:class:`CriticJudgement`).

The core never imports a plugin: :class:`Critic` is the protocol the strategy talks to, and a
critic verifier implements it beside :meth:`~llm_modulo.verifier.Verifier.averify_many`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from llm_modulo.types import Candidate, Problem, Status, Usage, Verdict


class CriticMode(StrEnum):
    """Who decides when a solve stops and what the back-prompt says.

    ``sound``: the sound verifier (the LLM-Modulo loop); ``self``: an LLM critic (a
    self-critiquing system; the sound verifier only scores it); ``none``: nobody critiques,
    independent samples, the sound verifier picks (best-of-n).
    """

    SOUND = "sound"
    SELF = "self"
    NONE = "none"


@dataclass(frozen=True)
class CriticRequest:
    """One candidate to critique: the problem as the solver saw it (``statement``, e.g. the
    domain's first prompt) and the candidate (its ``raw`` reply is what the critic reads)."""

    problem: Problem
    candidate: Candidate
    statement: str


@runtime_checkable
class Critic(Protocol):
    """An unsound verifier that critiques with a model."""

    name: str

    async def acritique_many(self, requests: Sequence[CriticRequest]) -> list[Verdict]:
        """One verdict per request, in order (``sound=False``); never raises: a critic that
        cannot be reached or read is UNKNOWN. ``evidence`` carries the critic's token use as
        ``prompt_tokens`` / ``completion_tokens``."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def critic_usage(verdict: Verdict) -> Usage:
    """The tokens a critic verdict cost (from its evidence; 0 when not said)."""
    def count(key: str) -> int:
        value = verdict.evidence.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) and \
            0 <= value < 2**31 else 0

    return Usage(prompt_tokens=count("prompt_tokens"),
                 completion_tokens=count("completion_tokens"))


@dataclass(frozen=True)
class CriticJudgement:
    """One candidate of a self-critique solve: the critic's verdict beside the sound one."""

    round: int
    sample: int
    critic: Status
    sound: Status
    #: the critic's verdict ended the solve (it accepted this candidate)
    stopped: bool
    usage: Usage


@dataclass(frozen=True)
class CriticOutcome:
    """How a self-critique solve ended: the answer it stopped on (the critic's ACCEPT, else the
    last one) and the sound verifier's verdict of it (the reported accuracy)."""

    round: int
    sample: int
    sound: Status
    critic_stopped: bool


class CriticObserver(Protocol):
    """Told about every critic judgement and each solve's outcome (the study's recorder)."""

    def judged(self, problem: Problem, judgement: CriticJudgement) -> None: ...

    def answered(self, problem: Problem, outcome: CriticOutcome) -> None: ...
