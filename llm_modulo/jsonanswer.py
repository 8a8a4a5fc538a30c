"""Reading a JSON answer without losing a hedge.

``json.loads`` keeps the last of two equal keys, so ``{"answer": "1", "answer": "24"}``
reads as ``{"answer": "24"}``: a reply that offers two answers would be judged on the one it
happens to put last. :func:`loads_checked` reads JSON like ``json.loads`` but reports a key
repeated in any object, at any depth, so callers can refuse the reply as a hedge.

A hedge is carried to the verifier as a :class:`~llm_modulo.types.Candidate` whose
``parse_error`` starts with :data:`HEDGE`; :func:`missing_answer_critique` turns it into a
REJECT critique of kind ``hedge`` (every other parse error stays ``unparseable``).
"""

from __future__ import annotations

import json
from typing import Any

from llm_modulo.bounds import MAX_JSON_DEPTH, NestingError, json_depth_exceeds
from llm_modulo.types import Critique

#: The start of every parse error that reports a hedge (kept in the corpus with the error).
HEDGE = "the reply hedges: "


class DuplicateKeyError(ValueError):
    """A JSON object repeats a key; ``key`` is the first repeated one found."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"the key {key!r} appears more than once in one JSON object")


def _shown(key: str) -> str:
    return key if len(key) <= 60 else key[:57] + "..."


def _first_repeat(pairs: list[tuple[str, Any]]) -> str:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key
        seen.add(key)
    raise AssertionError("no repeated key")  # pragma: no cover - the caller checked


def loads_checked(text: str) -> Any:
    """``json.loads(text)``, except that a key repeated in one object raises
    :class:`DuplicateKeyError` (only when the whole text is valid JSON).

    Also raises what ``json.loads`` raises (``ValueError``, ``RecursionError``), and
    :class:`~llm_modulo.bounds.NestingError` (a ``ValueError``) past
    :data:`~llm_modulo.bounds.MAX_JSON_DEPTH` levels.
    """
    repeated: list[str] = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) != len(pairs) and not repeated:
            repeated.append(_first_repeat(pairs))
        return out

    data = json.loads(text, object_pairs_hook=hook)
    if json_depth_exceeds(data, MAX_JSON_DEPTH):  # parsed, but too deep to store or serialize
        raise NestingError(f"JSON nests deeper than {MAX_JSON_DEPTH} levels")
    if repeated:
        raise DuplicateKeyError(_shown(repeated[0]))
    return data


def duplicate_key(text: str) -> str | None:
    """The repeated key of ``text`` when it is a JSON object that repeats a key, else None.

    Cheap on anything that does not look like a JSON object (no parse is attempted).
    """
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    try:
        loads_checked(stripped)
    except DuplicateKeyError as exc:
        return exc.key
    except (ValueError, RecursionError):
        return None
    return None


def duplicate_key_message(key: str) -> str:
    """The parse error of a reply whose JSON repeats ``key``."""
    return (f"{HEDGE}the key {key!r} is given more than once in one JSON object, so the "
            "answer is ambiguous; give each field once")


def several_answers_message(count: int, where: str) -> str:
    """The parse error of a reply that offers ``count`` different answers in ``where``."""
    return (f"{HEDGE}it gives {count} different answers ({where}); give exactly one final "
            "answer")


def is_hedge(parse_error: str | None) -> bool:
    return parse_error is not None and parse_error.startswith(HEDGE)


def missing_answer_critique(parse_error: str | None, default: str) -> Critique:
    """The critique of a candidate without an answer: ``hedge`` or ``unparseable``."""
    reason = parse_error or default
    return Critique(kind="hedge" if is_hedge(reason) else "unparseable", message=reason)
