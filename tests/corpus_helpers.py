"""Building corpus rows by hand for tests: attempts with chosen verdicts on game24 problems."""

from __future__ import annotations

import json
import sys

from llm_modulo.corpus import Corpus
from llm_modulo.domains.game24 import Game24Domain, solve24
from llm_modulo.generator import SamplingParams
from llm_modulo.types import Attempt, Candidate, Critique, Problem, Status, Usage, Verdict

DOMAIN = Game24Domain()


def problem(numbers: str) -> Problem:
    return DOMAIN.parse_problem(numbers)


def attempt(p: Problem, expression: str | None, status: Status, *, round: int = 1,
            sample: int = 0, sound: bool = True, version: str = "1.0",
            prompt_extra: list[str] | None = None) -> Attempt:
    """An attempt answering ``expression`` (None: unparseable) with the given verdict."""
    messages = DOMAIN.initial_messages(p)
    if prompt_extra:
        from llm_modulo.types import Message

        messages = [*messages, Message(role="assistant", content=prompt_extra[0]),
                    Message(role="user", content=prompt_extra[1])]
    completion = (json.dumps({"expression": expression}) if expression is not None
                  else "I do not know")
    critiques = ([] if status is Status.ACCEPT else
                 [Critique(kind="value", message=f"{expression} is wrong", location="value")])
    return Attempt(
        round=round, sample=sample, prompt=messages, completion=completion,
        candidate=Candidate(raw=completion,
                            answer=None if expression is None else {"expression": expression},
                            parse_error=None if expression is not None else "no JSON"),
        verdict=Verdict(status=status, critiques=critiques, verifier="game24",
                        verifier_version=version, sound=sound),
        usage=Usage(prompt_tokens=10, completion_tokens=5), finish_reason="stop",
    )


def solved_problem(corpus: Corpus, numbers: str, *, run_id: str | None = None,
                   wrong: str | None = None) -> Problem:
    """Round 1 a REJECTed wrong answer; round 2 the right one after the back-prompt."""
    p = problem(numbers)
    right = solve24(tuple(p.payload["numbers"]))
    assert right is not None
    wrong = wrong or "+".join(str(n) for n in p.payload["numbers"])
    bad = attempt(p, wrong, Status.REJECT)
    corpus.record_round(p, [bad], SamplingParams(n=1, seed=0), "m", run_id)
    good = attempt(p, right, Status.ACCEPT, round=2,
                   prompt_extra=[bad.completion, "That answer is not correct: " + wrong])
    corpus.record_round(p, [good], SamplingParams(n=1, seed=1), "m", run_id)
    return p


def _writer(path: str, rounds: int, tag: str) -> None:
    """Write ``rounds`` rounds of 8 attempts (one accepted) over 10 problems."""
    puzzles = ["4 4 6 8", "1 2 3 4", "6 6 6 6", "2 2 6 6", "1 1 4 6", "2 3 4 5", "1 1 3 8",
               "3 3 8 8", "1 5 5 5", "5 5 5 5"]
    with Corpus(path, busy_timeout_s=0.05) as corpus:  # short waits: exercise the retries
        for i in range(rounds):
            p = problem(puzzles[i % len(puzzles)])
            right = solve24(tuple(p.payload["numbers"])) or "0"
            atts = [attempt(p, f"{tag}{k}", Status.REJECT, sample=k) for k in range(7)]
            atts.append(attempt(p, right, Status.ACCEPT, sample=7))
            corpus.record_round(p, atts, SamplingParams(n=8), "m", None)


if __name__ == "__main__":
    _writer(sys.argv[1], int(sys.argv[2]), sys.argv[3])
