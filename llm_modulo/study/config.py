"""A study's configuration: the YAML file, validated with pydantic at the boundary.

Read with :func:`llm_modulo.bounds.yaml_load_plain` (YAML's safe subset, no anchors, aliases
or tags) and a size cap; anything wrong is one :class:`~llm_modulo.errors.UsageError` line
naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from llm_modulo.bounds import read_text_capped, yaml_load_plain
from llm_modulo.critic import CriticMode
from llm_modulo.errors import UsageError
from llm_modulo.types import FeedbackLevel

#: Largest study file read.
MAX_CONFIG_BYTES = 1024 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProblemSet(_Strict):
    """Where a domain's problems come from: exactly one of ``path`` (a directory of problem
    files matching ``glob``, or a JSONL file), or ``generate`` (the domain's generator with
    ``seed``). ``offset`` skips the first problems and ``limit`` keeps the next ones (files in
    natural order). ``fallback``
    is used when ``path`` does not exist (said in the report)."""

    label: str | None = Field(default=None, max_length=100)
    path: str | None = Field(default=None, max_length=4096)
    glob: str = Field(default="*", max_length=200)
    generate: int | None = Field(default=None, ge=1, le=100_000)
    seed: int = 0
    limit: int | None = Field(default=None, ge=1)
    #: problems skipped first (e.g. 900 for Tree of Thoughts' Game-of-24 test split)
    offset: int = Field(default=0, ge=0)
    fallback: ProblemSet | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ProblemSet:
        if (self.path is None) == (self.generate is None):
            raise ValueError("give exactly one of path or generate")
        return self


class DomainEntry(_Strict):
    domain: str = Field(max_length=100)
    problems: ProblemSet


class ModelEntry(_Strict):
    """An endpoint; no ``base_url``: the embedded vLLM CPU server."""

    label: str = Field(default="embedded", max_length=100)
    base_url: str | None = Field(default=None, max_length=2048)
    model: str | None = Field(default=None, max_length=256)


class CriticConfig(_Strict):
    """The LLM critic of the ``self`` arms (default endpoint: the generator's)."""

    base_url: str | None = Field(default=None, max_length=2048)
    model: str | None = Field(default=None, max_length=256)
    max_tokens: int = Field(default=512, ge=1, le=1_000_000)


class Published(_Strict):
    """A published figure printed beside ours (``value`` "not found" when it could not be
    found in the paper's text)."""

    source: str = Field(max_length=500)
    setting: str = Field(max_length=500)
    value: str = Field(max_length=200)
    note: str = Field(default="", max_length=2000)


class StudyConfig(_Strict):
    name: str = Field(max_length=100)
    description: str = Field(default="", max_length=4000)
    domains: list[DomainEntry] = Field(min_length=1, max_length=50)
    models: list[ModelEntry] = Field(default_factory=lambda: [ModelEntry()], min_length=1,
                                     max_length=20)
    strategies: list[str] = Field(default_factory=lambda: ["backprompt"], min_length=1,
                                  max_length=10)
    critic_modes: list[CriticMode] = Field(default_factory=lambda: [CriticMode.SOUND],
                                           min_length=1)
    feedback: list[FeedbackLevel] = Field(default_factory=lambda: [FeedbackLevel.ALL],
                                          min_length=1)
    rounds: list[int] = Field(default_factory=lambda: [4], min_length=1, max_length=20)
    samples: int = Field(default=1, ge=1, le=128)
    temperature: float = Field(default=1.0, ge=0.0, le=5.0)
    max_tokens: int = Field(default=1024, ge=1, le=1_000_000)
    seed: int | None = 0
    structured: bool = True
    concurrency: int = Field(default=16, ge=1, le=4096)
    critic: CriticConfig = Field(default_factory=CriticConfig)
    published: list[Published] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _rounds_positive(self) -> StudyConfig:
        if any(r < 1 or r > 1000 for r in self.rounds):
            raise ValueError("rounds must be between 1 and 1000")
        labels = [m.label for m in self.models]
        if len(set(labels)) != len(labels):
            raise ValueError("model labels must differ")
        return self


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "study"


def parse_config(data: Any, what: str) -> StudyConfig:
    """A validated study from already-loaded YAML/JSON data (one-line UsageError)."""
    if not isinstance(data, dict):
        raise UsageError(f"{what}: a study file is a mapping (name:, domains:, ...)")
    try:
        return StudyConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        raise UsageError(f"{what}: {_where(first['loc'])}: {first['msg']}") from None


def load_config(path: Path) -> StudyConfig:
    """The study in ``path`` (YAML), validated; a bad file is one UsageError line."""
    text = read_text_capped(path, "study file", limit=MAX_CONFIG_BYTES, error=UsageError)
    return parse_config(yaml_load_plain(text, f"study file {path}", error=UsageError),
                        f"study file {path}")
