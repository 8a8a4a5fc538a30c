"""llm-modulo: the LLM-Modulo generate-test framework.

An LLM proposes; sound external verifiers dispose. Importing this package has
no side effects: plugins load on first lookup, worker processes start on the
first verification.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llm_modulo.config import Budget, LoopConfig
    from llm_modulo.corpus import Corpus, CorpusMemory
    from llm_modulo.critic import Critic, CriticJudgement, CriticMode, CriticRequest
    from llm_modulo.domain import Domain
    from llm_modulo.endpoints import GeneratorSpec
    from llm_modulo.errors import (
        ClusterError,
        CorpusError,
        DuplicateNameError,
        GeneratorError,
        HTTPStatusError,
        ImproveError,
        LeanInstallError,
        LeanUnavailable,
        LLMModuloError,
        MalformedResponseError,
        MissingExtraError,
        ModelServerError,
        PDDLError,
        PluginLoadError,
        ProblemError,
        RegistryError,
        SetupError,
        TrainingError,
        TransportError,
        UnknownNameError,
        UnsupportedPDDL,
        UsageError,
    )
    from llm_modulo.generator import (
        Completion,
        GeneratedChoice,
        Generator,
        OpenAICompatClient,
        RetryPolicy,
        SamplingParams,
    )
    from llm_modulo.improve import ImproveConfig
    from llm_modulo.loop import Solver
    from llm_modulo.pool import WorkerPool
    from llm_modulo.registry import (
        Registry,
        default_registry,
        get_domain,
        get_verifier,
        register_domain,
        register_strategy,
        register_verifier,
    )
    from llm_modulo.remote import RemoteVerifier
    from llm_modulo.rewards.environment import load_environment
    from llm_modulo.rewards.trl import reward_function
    from llm_modulo.routing import EndpointStats, RoutingClient
    from llm_modulo.service.app import create_verification_app
    from llm_modulo.stepwise import Extension, StepParse, StepwiseDomain
    from llm_modulo.strategy import (
        AttemptStore,
        Generation,
        SearchContext,
        Stop,
        Strategy,
        StrategyOptions,
    )
    from llm_modulo.structured import Choice, Grammar, JsonSchema, Regex, StructuredOutput
    from llm_modulo.types import (
        Attempt,
        Candidate,
        Critique,
        FeedbackLevel,
        Message,
        Problem,
        SearchNode,
        SearchTree,
        SolveResult,
        Status,
        Step,
        StopReason,
        Usage,
        Verdict,
    )
    from llm_modulo.verifier import CheckResult, Verifier


__version__ = "0.1.0"

# Public names and the module each lives in. They are imported on first use (PEP 562), so
# ``import llm_modulo`` stays cheap: a one-shot ``check`` never pays for the corpus's
# pyarrow or the HTTP client.
_LAZY: dict[str, str] = {
    "Attempt": "llm_modulo.types",
    "AttemptStore": "llm_modulo.strategy",
    "Budget": "llm_modulo.config",
    "Candidate": "llm_modulo.types",
    "CheckResult": "llm_modulo.verifier",
    "Choice": "llm_modulo.structured",
    "Critic": "llm_modulo.critic",
    "CriticJudgement": "llm_modulo.critic",
    "CriticMode": "llm_modulo.critic",
    "CriticRequest": "llm_modulo.critic",
    "Completion": "llm_modulo.generator",
    "Corpus": "llm_modulo.corpus",
    "ClusterError": "llm_modulo.errors",
    "CorpusError": "llm_modulo.errors",
    "CorpusMemory": "llm_modulo.corpus",
    "Critique": "llm_modulo.types",
    "Domain": "llm_modulo.domain",
    "DuplicateNameError": "llm_modulo.errors",
    "FeedbackLevel": "llm_modulo.types",
    "GeneratedChoice": "llm_modulo.generator",
    "Generator": "llm_modulo.generator",
    "GeneratorSpec": "llm_modulo.endpoints",
    "EndpointStats": "llm_modulo.routing",
    "RoutingClient": "llm_modulo.routing",
    "GeneratorError": "llm_modulo.errors",
    "Grammar": "llm_modulo.structured",
    "HTTPStatusError": "llm_modulo.errors",
    "ImproveConfig": "llm_modulo.improve",
    "ImproveError": "llm_modulo.errors",
    "JsonSchema": "llm_modulo.structured",
    "LLMModuloError": "llm_modulo.errors",
    "UnsupportedPDDL": "llm_modulo.errors",
    "PDDLError": "llm_modulo.errors",
    "SetupError": "llm_modulo.errors",
    "LeanUnavailable": "llm_modulo.errors",
    "LeanInstallError": "llm_modulo.errors",
    "LoopConfig": "llm_modulo.config",
    "MalformedResponseError": "llm_modulo.errors",
    "Message": "llm_modulo.types",
    "MissingExtraError": "llm_modulo.errors",
    "ModelServerError": "llm_modulo.errors",
    "TrainingError": "llm_modulo.errors",
    "OpenAICompatClient": "llm_modulo.generator",
    "PluginLoadError": "llm_modulo.errors",
    "Problem": "llm_modulo.types",
    "ProblemError": "llm_modulo.errors",
    "Regex": "llm_modulo.structured",
    "Registry": "llm_modulo.registry",
    "RegistryError": "llm_modulo.errors",
    "RemoteVerifier": "llm_modulo.remote",
    "RetryPolicy": "llm_modulo.generator",
    "SamplingParams": "llm_modulo.generator",
    "SolveResult": "llm_modulo.types",
    "Solver": "llm_modulo.loop",
    "Status": "llm_modulo.types",
    "StopReason": "llm_modulo.types",
    "StructuredOutput": "llm_modulo.structured",
    "TransportError": "llm_modulo.errors",
    "UnknownNameError": "llm_modulo.errors",
    "Usage": "llm_modulo.types",
    "UsageError": "llm_modulo.errors",
    "Verdict": "llm_modulo.types",
    "Verifier": "llm_modulo.verifier",
    "WorkerPool": "llm_modulo.pool",
    "create_verification_app": "llm_modulo.service.app",
    "default_registry": "llm_modulo.registry",
    "get_domain": "llm_modulo.registry",
    "get_verifier": "llm_modulo.registry",
    # the older PrimeIntellect verifiers loader imports the module named after the environment
    # id (`llm-modulo` -> `llm_modulo`) and calls its load_environment; with verifiers.v1 it
    # builds the `llm-modulo-env` taskset's env
    "load_environment": "llm_modulo.rewards.environment",
    "register_domain": "llm_modulo.registry",
    "register_verifier": "llm_modulo.registry",
    "SearchContext": "llm_modulo.strategy",
    "Strategy": "llm_modulo.strategy",
    "StrategyOptions": "llm_modulo.strategy",
    "Generation": "llm_modulo.strategy",
    "Stop": "llm_modulo.strategy",
    "StepwiseDomain": "llm_modulo.stepwise",
    "StepParse": "llm_modulo.stepwise",
    "Extension": "llm_modulo.stepwise",
    "Step": "llm_modulo.types",
    "SearchNode": "llm_modulo.types",
    "SearchTree": "llm_modulo.types",
    "register_strategy": "llm_modulo.registry",
    "reward_function": "llm_modulo.rewards.trl",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'llm_modulo' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])

__all__ = [
    "Attempt",
    "AttemptStore",
    "Budget",
    "Candidate",
    "CheckResult",
    "Choice",
    "ClusterError",
    "Completion",
    "Corpus",
    "CorpusError",
    "CorpusMemory",
    "Critic",
    "CriticJudgement",
    "CriticMode",
    "CriticRequest",
    "Critique",
    "Domain",
    "DuplicateNameError",
    "EndpointStats",
    "Extension",
    "FeedbackLevel",
    "GeneratedChoice",
    "Generation",
    "Generator",
    "GeneratorError",
    "GeneratorSpec",
    "Grammar",
    "HTTPStatusError",
    "ImproveConfig",
    "ImproveError",
    "JsonSchema",
    "LLMModuloError",
    "LeanInstallError",
    "LeanUnavailable",
    "LoopConfig",
    "MalformedResponseError",
    "Message",
    "MissingExtraError",
    "ModelServerError",
    "OpenAICompatClient",
    "PDDLError",
    "PluginLoadError",
    "Problem",
    "ProblemError",
    "Regex",
    "Registry",
    "RegistryError",
    "RemoteVerifier",
    "RetryPolicy",
    "RoutingClient",
    "SamplingParams",
    "SearchContext",
    "SearchNode",
    "SearchTree",
    "SetupError",
    "SolveResult",
    "Solver",
    "Status",
    "Step",
    "StepParse",
    "StepwiseDomain",
    "Stop",
    "StopReason",
    "Strategy",
    "StrategyOptions",
    "StructuredOutput",
    "TrainingError",
    "TransportError",
    "UnknownNameError",
    "UnsupportedPDDL",
    "Usage",
    "UsageError",
    "Verdict",
    "Verifier",
    "WorkerPool",
    "__version__",
    "create_verification_app",
    "default_registry",
    "get_domain",
    "get_verifier",
    "load_environment",
    "register_domain",
    "register_strategy",
    "register_verifier",
    "reward_function",
]
