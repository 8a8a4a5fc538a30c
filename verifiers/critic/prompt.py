"""The critic's prompt and the reading of its reply.

The prompt follows the self-verification studies (Stechly, Valmeekam and Kambhampati 2024;
Valmeekam et al. 2023): the critic is shown the problem and the proposed answer and asked to
say whether it is correct and, if not, to list every error it finds. The reply is model output
(hostile): only its first :data:`MAX_REPLY_CHARS` characters are read, line by line, with
string methods only (linear), and at most :data:`MAX_ERRORS` errors of at most
:data:`MAX_ERROR_CHARS` characters each are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_modulo.types import Message, Status

#: Characters of the critic's reply that are read at all.
MAX_REPLY_CHARS = 20_000
#: Characters of a problem statement or an answer shown to the critic.
MAX_SHOWN_CHARS = 16_000
MAX_ERRORS = 20
MAX_ERROR_CHARS = 400

SYSTEM = ("You are a careful verifier. You check whether a proposed answer to a problem is "
          "correct. You do not solve the problem yourself; you check the answer given.")

INSTRUCTIONS = (
    "Check the proposed answer against every requirement of the problem.\n"
    "Reply in exactly this format:\n"
    "VERDICT: CORRECT   (if the answer satisfies every requirement)\n"
    "or\n"
    "VERDICT: INCORRECT\n"
    "ERRORS:\n"
    "- one line per error: what is wrong and where\n"
)

#: The verdict format as a decoding constraint (``LLMCritic(structured=True)``): a verdict line,
#: and for INCORRECT one to five error lines.
REPLY_PATTERN = r"VERDICT: (CORRECT|INCORRECT\nERRORS:(\n- [^\n]{1,200}){1,5})"

_NEGATIVE = ("incorrect", "not correct", "wrong", "invalid", "not valid", "fails", "false")
_POSITIVE = ("correct", "valid", "true", "confirmed")
_BULLETS = ("- ", "* ", "• ")


def shown(text: str) -> str:
    """``text`` cut to what the critic is shown."""
    if len(text) <= MAX_SHOWN_CHARS:
        return text
    return text[:MAX_SHOWN_CHARS] + f"\n[... {len(text) - MAX_SHOWN_CHARS} characters cut]"


def critic_messages(statement: str, answer: str) -> list[Message]:
    """The critic's prompt: the problem, the proposed answer, the verdict format."""
    user = (f"The problem:\n{shown(statement)}\n\n"
            f"The proposed answer:\n{shown(answer)}\n\n{INSTRUCTIONS}")
    return [Message(role="system", content=SYSTEM), Message(role="user", content=user)]


@dataclass(frozen=True)
class CriticReply:
    """What a critic's reply says: a status (UNKNOWN when no verdict could be read) and the
    errors it lists."""

    status: Status
    errors: tuple[str, ...]
    why: str = ""


def _plain(line: str) -> str:
    """A line without markdown emphasis and surrounding blanks, lower-cased."""
    return line.replace("*", "").replace("_", " ").replace("`", "").strip().lower()


def _verdict_word(rest: str) -> Status | None:
    words = rest.strip(" :.-\t").lower()
    if any(words.startswith(n) for n in _NEGATIVE):
        return Status.REJECT
    if any(words.startswith(p) for p in _POSITIVE):
        return Status.ACCEPT
    return None


def _numbered(item: str) -> str | None:
    """The text of a numbered list item (``3. ...`` or ``3) ...``), else None."""
    digits = len(item) - len(item.lstrip("0123456789"))
    if 0 < digits <= 3 and item[digits:digits + 1] in (".", ")"):
        return item[digits + 1:]
    return None


def read_reply(text: str) -> CriticReply:
    """The critic's verdict and errors. The first ``VERDICT:`` line decides; a reply with no
    such line, or one whose verdict is neither CORRECT nor INCORRECT, is UNKNOWN. Several
    VERDICT lines that disagree are UNKNOWN too (a hedge decides nothing)."""
    lines = text[:MAX_REPLY_CHARS].splitlines()
    status: Status | None = None
    errors: list[str] = []
    seen_verdict = False
    for raw in lines:
        line = _plain(raw)
        if line.startswith("verdict"):
            found = _verdict_word(line[len("verdict"):])
            if found is None:
                return CriticReply(Status.UNKNOWN, (), "the critic's verdict line says "
                                   "neither CORRECT nor INCORRECT")
            if seen_verdict and found is not status:
                return CriticReply(Status.UNKNOWN, (), "the critic gave two different "
                                   "verdicts")
            status, seen_verdict = found, True
            continue
        if not seen_verdict or len(errors) >= MAX_ERRORS:
            continue
        item = raw.strip()
        bullet = next((b for b in _BULLETS if item.startswith(b)), None)
        if bullet is not None:
            item = item[len(bullet):]
        elif (numbered := _numbered(item)) is not None:
            item = numbered
        else:
            continue
        item = " ".join(item.split())
        if item:
            errors.append(item[:MAX_ERROR_CHARS])
    if status is None:
        return CriticReply(Status.UNKNOWN, (), "the critic's reply has no VERDICT line")
    return CriticReply(status, tuple(errors) if status is Status.REJECT else ())
