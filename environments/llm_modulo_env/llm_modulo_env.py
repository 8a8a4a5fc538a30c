"""The ``verifiers.v1`` environment ``llm-modulo-env``: any llm-modulo domain as a taskset,
scored by its sound verifier, single-turn or with LLM-Modulo back-prompting.

``verifiers.v1`` imports the module named after a taskset id and takes the ``Taskset`` and
``Env`` subclasses it exports; this module only re-exports them from
:mod:`llm_modulo.rewards.verifiers_v1`, where they are documented.
"""

from llm_modulo.rewards.verifiers_v1 import (
    LLMModuloEnv,
    LLMModuloEnvConfig,
    LLMModuloTask,
    LLMModuloTaskset,
    LLMModuloTasksetConfig,
)

__all__ = ["LLMModuloEnv", "LLMModuloEnvConfig", "LLMModuloTask", "LLMModuloTaskset",
           "LLMModuloTasksetConfig"]
