"""Structured-output constraints a domain can ask the generator to enforce.

One constraint per request (vLLM answers HTTP 400 to two). ``JsonSchema`` goes
out as OpenAI's standard ``response_format``; ``Regex``, ``Grammar`` and
``Choice`` use vLLM's ``structured_outputs`` field. The legacy ``guided_*``
fields are never sent: vLLM 0.32 ignores them without an error.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field


class JsonSchema(BaseModel):
    kind: Literal["json_schema"] = "json_schema"
    name: str = "answer"
    schema_: dict[str, Any] = Field(alias="schema")

    def request_fields(self) -> dict[str, Any]:
        return {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": self.name, "schema": self.schema_, "strict": True},
            }
        }


class Regex(BaseModel):
    kind: Literal["regex"] = "regex"
    pattern: str

    def request_fields(self) -> dict[str, Any]:
        return {"structured_outputs": {"regex": self.pattern}}


class Grammar(BaseModel):
    """An EBNF (GBNF-style, as xgrammar reads it) grammar whose start symbol is ``root``."""

    kind: Literal["grammar"] = "grammar"
    ebnf: str

    def request_fields(self) -> dict[str, Any]:
        return {"structured_outputs": {"grammar": self.ebnf}}


class Choice(BaseModel):
    kind: Literal["choice"] = "choice"
    options: list[str]

    def request_fields(self) -> dict[str, Any]:
        return {"structured_outputs": {"choice": self.options}}


StructuredOutput = Annotated[JsonSchema | Regex | Grammar | Choice, Field(discriminator="kind")]
