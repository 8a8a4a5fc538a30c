"""The built-in strategies. Each registers through the ``llm_modulo.strategies`` entry-point
group, like any plugin's (``llm-modulo strategies`` lists them)."""
