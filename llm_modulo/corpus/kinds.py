"""The export formats and row styles, defined once (the CLI, the options model and the
writers all use these), and the corpus's environment variable."""

from __future__ import annotations

from enum import StrEnum


class ExportFormat(StrEnum):
    SFT = "sft"
    DPO = "dpo"
    OPENAI = "openai"
    PARQUET = "parquet"
    VERL = "verl"
    PRM = "prm"


class SftStyle(StrEnum):
    MESSAGES = "messages"
    PROMPT_COMPLETION = "prompt-completion"


FORMATS: tuple[str, ...] = tuple(f.value for f in ExportFormat)

#: The environment variable naming the corpus database.
CORPUS_ENV = "LLM_MODULO_CORPUS"
