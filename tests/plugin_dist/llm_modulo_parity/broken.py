"""A plugin module that fails to import: the registry must report it, not skip it."""

import llm_modulo_this_dependency_is_missing  # noqa: F401
