"""A domain whose verifier kills its worker on request (importable by worker processes)."""

from __future__ import annotations

from llm_modulo.registry import Registry
from tests.fakes import EchoDomain
from tests.pool_fakes import HangsOnRequest


class DyingDomain(EchoDomain):
    """``{"status": "accept" | "reject" | "die" | "hang"}``, checked by HangsOnRequest."""

    name = "dying"
    verifier = "hangs_on_request"


def registry() -> Registry:
    reg = Registry()
    reg.register_domain(DyingDomain)
    reg.register_verifier(HangsOnRequest)
    return reg
