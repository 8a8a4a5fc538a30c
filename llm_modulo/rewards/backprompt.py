"""One answer of an RL episode, verified, and the critique sent back when it is wrong.

Shared by both PrimeIntellect ``verifiers`` environments (:mod:`.environment`,
:mod:`.verifiers_v1`): the verdict comes from the process's :func:`.core.default_scorer`
(the killable worker pool, the verifier's deadline); the critique is the domain's
``render_feedback``, which shows the verifier's critiques and never a reference answer.
"""

from __future__ import annotations

from typing import Any

from llm_modulo.rewards.core import Pair, Scored, Scorer, default_scorer
from llm_modulo.types import Attempt, Candidate, FeedbackLevel, Message, Problem, Status

#: Key of the verdict record in a rollout's state / a trace's ``info``.
STATE_KEY = "llm_modulo"


async def verify_reply(problem: Problem, text: str, scorer: Scorer | None = None) -> Scored:
    """The verdict on one answer (UNKNOWN when it cannot be decided or checked)."""
    return (await (scorer or default_scorer()).ascore([Pair(problem, text)]))[0]


def answer_sha256(text: str) -> str:
    """The hash a verdict record names its answer by."""
    import hashlib

    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def record_of(scored: Scored, text: str) -> dict[str, Any]:
    """A JSON-able record of a verdict (what a trace or a rollout state keeps)."""
    return {"status": scored.status.value,
            "critiques": [c.message for c in (scored.verdict.critiques if scored.verdict
                                              else [])],
            "detail": scored.detail,
            "answer_sha256": answer_sha256(text)}


def critique_of(problem: Problem, text: str, scored: Scored, level: FeedbackLevel) -> str | None:
    """The back-prompt for a sound REJECT of ``text``; ``None`` for anything else (an ACCEPT
    or an UNKNOWN ends the episode: an undecided answer gets no critique it did not earn)."""
    if scored.status is not Status.REJECT or scored.verdict is None:
        return None
    from llm_modulo.registry import default_registry

    candidate = scored.candidate or Candidate(raw=text,
                                              parse_error="the reply could not be read")
    attempt = Attempt(round=1, sample=0, prompt=[Message(role="user", content="")],
                      completion=text, candidate=candidate, verdict=scored.verdict)
    return default_registry.domain(problem.domain).render_feedback(problem, attempt, level)
