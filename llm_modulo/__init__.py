"""llm-modulo: the LLM-Modulo generate-test framework.

An LLM proposes; sound external verifiers dispose. Importing this package has
no side effects: plugins load on first lookup, worker processes start on the
first verification.
"""

from llm_modulo.corpus import Corpus, CorpusError, CorpusMemory
from llm_modulo.domain import Domain
from llm_modulo.errors import (
    DuplicateNameError,
    GeneratorError,
    HTTPStatusError,
    LLMModuloError,
    MalformedResponseError,
    ModelServerError,
    PluginLoadError,
    ProblemError,
    RegistryError,
    TransportError,
    UnknownNameError,
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
from llm_modulo.loop import AttemptStore, Budget, LoopConfig, Solver
from llm_modulo.pool import WorkerPool
from llm_modulo.registry import (
    Registry,
    default_registry,
    get_domain,
    get_verifier,
    register_domain,
    register_verifier,
)
from llm_modulo.structured import Choice, Grammar, JsonSchema, Regex, StructuredOutput
from llm_modulo.types import (
    Attempt,
    Candidate,
    Critique,
    FeedbackLevel,
    Message,
    Problem,
    SolveResult,
    Status,
    StopReason,
    Usage,
    Verdict,
)
from llm_modulo.verifier import CheckResult, Verifier

__version__ = "0.1.0"

__all__ = [
    "Attempt",
    "AttemptStore",
    "Budget",
    "Candidate",
    "CheckResult",
    "Choice",
    "Completion",
    "Corpus",
    "CorpusError",
    "CorpusMemory",
    "Critique",
    "Domain",
    "DuplicateNameError",
    "FeedbackLevel",
    "GeneratedChoice",
    "Generator",
    "GeneratorError",
    "Grammar",
    "HTTPStatusError",
    "JsonSchema",
    "LLMModuloError",
    "LoopConfig",
    "MalformedResponseError",
    "Message",
    "ModelServerError",
    "OpenAICompatClient",
    "PluginLoadError",
    "Problem",
    "ProblemError",
    "Regex",
    "Registry",
    "RegistryError",
    "RetryPolicy",
    "SamplingParams",
    "SolveResult",
    "Solver",
    "Status",
    "StopReason",
    "StructuredOutput",
    "TransportError",
    "UnknownNameError",
    "Usage",
    "UsageError",
    "Verdict",
    "Verifier",
    "WorkerPool",
    "__version__",
    "default_registry",
    "get_domain",
    "get_verifier",
    "register_domain",
    "register_verifier",
]
