"""The LLM critic (``llm_critic``): an unsound verifier that asks a model whether an answer is
correct (self-critique, as in Stechly et al. 2024), its prompt (prompt) and the verifier."""
