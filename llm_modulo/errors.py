"""The one exception hierarchy of llm-modulo.

Verdicts are values (:class:`~llm_modulo.types.Verdict`); breakage is an
exception. Everything llm-modulo raises on purpose derives from
:class:`LLMModuloError`, so callers can catch the family or one branch::

    LLMModuloError
    ├── UsageError            bad flags, bad configuration
    │   └── MissingExtraError  an optional part (a pip extra) is not installed
    ├── ProblemError          a problem description that cannot be used
    │   └── PDDLError         a domain or problem file that is not valid PDDL
    │       └── UnsupportedPDDL  valid PDDL using a feature the validator does not implement
    ├── RegistryError
    │   ├── DuplicateNameError
    │   ├── UnknownNameError
    │   └── PluginLoadError   an entry point that failed to import, with its error
    ├── GeneratorError        the model endpoint failed (after transport retries)
    │   ├── TransportError    connection refused / dropped / timed out
    │   ├── HTTPStatusError   a non-retryable or exhausted HTTP error status
    │   └── MalformedResponseError  HTTP 200 whose body is not a completion
    ├── CorpusError           the corpus cannot be opened, read or written
    ├── UndecidedAnswer       an RL answer is UNKNOWN where a framework wants a score
    ├── ImproveError          a self-improvement run cannot go on safely (a leaked
    │                         evaluation problem, a run directory of another config)
    └── SetupError            an external part could not be prepared or started
        ├── ModelServerError  the embedded model server
        ├── TrainingError     fine-tuning (TRL) is not installed or failed
        ├── LeanInstallError  fetching or unpacking the embedded Lean
        ├── LeanUnavailable   no Lean to run (neither native nor embedded)
        └── ClusterError      the Ray cluster could not be started or reached

Plugins derive their own errors from these, so one ``except LLMModuloError`` catches
everything raised on purpose.
"""

from __future__ import annotations

from typing import Any


class LLMModuloError(Exception):
    """Base class of every error llm-modulo raises on purpose."""


class UsageError(LLMModuloError):
    """A bad flag, option or configuration value."""


class MissingExtraError(UsageError):
    """An optional dependency is not installed; the message names the extra to install."""


class ProblemError(LLMModuloError):
    """A problem description (file, JSON, string) that a domain cannot use."""


class PDDLError(ProblemError):
    """A domain or problem file that is not valid PDDL (or not consistent)."""

    #: the message already names its line
    located: bool = False


class UnsupportedPDDL(PDDLError):
    """Valid PDDL that uses a feature this validator does not implement."""


class RegistryError(LLMModuloError):
    """Base class of registry errors."""


class DuplicateNameError(RegistryError):
    """A second, different object registered under a name already taken."""


class UnknownNameError(RegistryError):
    """No verifier or domain is registered under the requested name."""


class PluginLoadError(RegistryError):
    """An entry-point plugin failed to import or is not a verifier/domain."""

    def __init__(self, group: str, name: str, value: str, error: str) -> None:
        self.group, self.name, self.value, self.error = group, name, value, error
        super().__init__(f"plugin {name!r} ({value}) in group {group!r} failed to load: {error}")


class GeneratorError(LLMModuloError):
    """The model endpoint could not produce a completion (after transport retries)."""


class TransportError(GeneratorError):
    """Connection refused, dropped, or timed out on every try."""


class HTTPStatusError(GeneratorError):
    """The endpoint answered with an error status that was not retried or kept failing."""

    def __init__(self, status_code: int, body: str, url: str,
                 retry_after: float | None = None) -> None:
        self.status_code, self.body, self.url = status_code, body, url
        #: the wait the answer's ``Retry-After`` asked for, capped (None: absent, unreadable)
        self.retry_after = retry_after
        snippet = body.strip().replace("\n", " ")[:300]
        super().__init__(f"HTTP {status_code} from {url}: {snippet}")

    def __reduce__(self) -> tuple[Any, ...]:
        # picklable (a Ray worker or a pool process may raise it): rebuilt from its fields,
        # its message (a retry count may have been added to it) kept
        return _rebuild_status_error, (self.status_code, self.body, self.url,
                                       self.retry_after, self.args)


def _rebuild_status_error(status_code: int, body: str, url: str, retry_after: float | None,
                          args: tuple[Any, ...]) -> HTTPStatusError:
    error = HTTPStatusError(status_code, body, url, retry_after)
    error.args = args
    return error


class MalformedResponseError(GeneratorError):
    """HTTP 200 whose body is not a well-formed OpenAI-style completion."""


class CorpusError(LLMModuloError):
    """The corpus cannot be opened, read or written (after waiting and retrying)."""


class SetupError(LLMModuloError):
    """An external part (a model server, a prover) could not be prepared or started."""


class ModelServerError(SetupError):
    """The embedded model server could not be prepared, started or reached."""


class TrainingError(SetupError):
    """Fine-tuning could not run: the ``train`` extra is missing, or TRL failed."""


class ImproveError(LLMModuloError):
    """A self-improvement run cannot go on safely: an evaluation problem reached a training
    set, or the run directory belongs to a run with another configuration."""


class LeanInstallError(SetupError):
    """The embedded Lean could not be fetched or unpacked."""


class LeanUnavailable(SetupError):
    """No Lean to run: neither a native toolchain nor the embedded build is installed."""


class UndecidedAnswer(LLMModuloError):
    """An RL rollout's answer is UNKNOWN (undecided, timed out, unreadable): raised where a
    framework needs a score, so the rollout is marked failed instead of scored as wrong."""


class ClusterError(SetupError):
    """The Ray cluster could not be started or reached, or lost every solver actor."""
