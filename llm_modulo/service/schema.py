"""Requests and replies of the verification service (pydantic v2, strict about shape).

A request is one item (``domain``, ``problem``, ``completion`` or ``completions``) or a
batch (``items``: a list of such items); either may carry ``deadline_s``. A reply holds one
result per completion, in order, each naming its item and completion index.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_modulo.types import Critique, Status

#: Longest domain name, problem text and completion text accepted (a completion longer than
#: the domain reads, 100,000 characters, is still read as the domain reads it: a parse error).
MAX_NAME_CHARS = 100
MAX_TEXT_CHARS = 1_000_000


class VerifyItem(BaseModel):
    """One problem and the completions to verify against it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    domain: str = Field(min_length=1, max_length=MAX_NAME_CHARS,
                        description="A registered domain name (GET /v1/verifiers lists them).")
    problem: str | dict[str, Any] = Field(
        description="The problem as the domain's parse_problem reads it: text (e.g. '4 4 6 8') "
                    "or a JSON object. File paths are never read.")
    completion: str | None = Field(default=None, max_length=MAX_TEXT_CHARS,
                                   description="One completion (give this or `completions`).")
    completions: list[str] | None = Field(default=None, min_length=1,
                                          description="Several completions of this problem.")

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.completion is None) == (self.completions is None):
            raise ValueError("give exactly one of `completion` and `completions`")
        if isinstance(self.problem, str) and len(self.problem) > MAX_TEXT_CHARS:
            raise ValueError(f"`problem` is longer than {MAX_TEXT_CHARS} characters")
        if any(len(c) > MAX_TEXT_CHARS for c in self.completions or ()):
            raise ValueError(f"a completion is longer than {MAX_TEXT_CHARS} characters")
        return self

    def texts(self) -> list[str]:
        return [self.completion] if self.completion is not None else list(self.completions or [])


class VerifyBatch(BaseModel):
    """Several items in one request."""

    model_config = ConfigDict(extra="forbid", strict=True)

    items: list[VerifyItem] = Field(min_length=1)
    deadline_s: float | None = Field(default=None, gt=0, allow_inf_nan=False,
                                     description="Seconds this request may take (at most the "
                                                 "server's deadline).")


class VerifySingle(VerifyItem):
    """One item as the whole request."""

    deadline_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)


class ItemResult(BaseModel):
    """The verdict on one completion."""

    model_config = ConfigDict(extra="ignore")

    item: int = Field(ge=0, description="Index of the item in the request.")
    completion: int = Field(ge=0, description="Index of the completion in its item.")
    status: Status
    critiques: list[Critique] = Field(default_factory=list)
    verifier: str
    verifier_version: str
    sound: bool
    elapsed_s: float = Field(ge=0, allow_inf_nan=False)
    problem_hash: str = Field(description="The hash of the problem as the server read it.")
    answer: dict[str, Any] | None = Field(
        default=None, description="The answer the domain read from the completion.")
    parse_error: str | None = Field(
        default=None, description="Why no answer could be read from the completion.")


class VerifyResponse(BaseModel):
    """One result per completion, in request order."""

    results: list[ItemResult]
    elapsed_s: float = Field(ge=0, allow_inf_nan=False)


class VerifierInfo(BaseModel):
    name: str
    version: str
    sound: bool
    origin: str
    cls: str = Field(alias="class")
    critique_kinds: dict[str, str]

    model_config = ConfigDict(populate_by_name=True)


class DomainInfo(BaseModel):
    name: str
    version: str
    verifier: str


class PluginErrorInfo(BaseModel):
    name: str
    entry_point: str
    group: str
    error: str


class VerifiersResponse(BaseModel):
    """What ``llm-modulo verifiers --json`` lists, and the domains that use them."""

    verifiers: list[VerifierInfo]
    domains: list[DomainInfo]
    errors: list[PluginErrorInfo]


class ErrorResponse(BaseModel):
    """Every 4xx and 5xx: one line saying what was refused."""

    detail: str


class HealthResponse(BaseModel):
    status: str
    in_flight: int
    max_queue: int
    workers: int
    draining: bool
