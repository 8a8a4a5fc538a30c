"""Scripted servers and a tiny study for the study and critic tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llm_modulo.domains.game24 import scripted_responder as game24_responder
from llm_modulo.registry import default_registry
from llm_modulo.strategies.self_critique import SelfCritique
from llm_modulo.verifiers.critic.prompt import SYSTEM as CRITIC_SYSTEM
from llm_modulo.verifiers.critic.verifier import LLMCritic

#: Sums differ from 24, so the scripted first answer (the numbers' sum) is always wrong.
PUZZLES = ("4 4 6 8", "1 2 3 4", "2 3 4 5")
APPROVE = "VERDICT: CORRECT"
DISAPPROVE = "VERDICT: INCORRECT\nERRORS:\n- the expression does not make 24"


def register() -> None:
    """The critic and the strategy in code (the venv's entry points may predate them)."""
    default_registry.register_verifier(LLMCritic)
    default_registry.register_strategy(SelfCritique)


def is_critic(body: dict[str, Any]) -> bool:
    messages = body.get("messages") or [{}]
    return messages[0].get("content") == CRITIC_SYSTEM


def responder(critic_says: str) -> Callable[[dict[str, Any]], list[str]]:
    """Game of 24 wrong on the first prompt, right after a back-prompt; the critic always
    says ``critic_says``."""
    def answer(body: dict[str, Any]) -> list[str]:
        return [critic_says] if is_critic(body) else game24_responder(body)

    return answer


def study_file(tmp_path: Path, **overrides: Any) -> Path:
    problems = tmp_path / "puzzles.jsonl"
    problems.write_text("".join(json.dumps({"numbers": p}) + "\n" for p in PUZZLES))
    config: dict[str, Any] = {
        "name": "tiny",
        "domains": [{"domain": "game24", "problems": {"label": "tiny",
                                                      "path": "puzzles.jsonl"}}],
        "critic_modes": ["sound", "self", "none"],
        "feedback": ["none", "all"],
        "rounds": [3],
        "samples": 1,
        "max_tokens": 64,
        "structured": False,
        "concurrency": 4,
        "published": [{"source": "nowhere", "setting": "GPT-4", "value": "not found"}],
        **overrides,
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path
