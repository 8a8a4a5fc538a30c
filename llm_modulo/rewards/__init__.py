"""Our verifiers as RL rewards: TRL (:mod:`llm_modulo.rewards.trl`), veRL
(:mod:`llm_modulo.rewards.verl`) and a PrimeIntellect ``verifiers`` environment
(:mod:`llm_modulo.rewards.environment`), over one shared core (:mod:`llm_modulo.rewards.core`).

ACCEPT is 1.0, REJECT 0.0, and UNKNOWN (a timeout, a crash, an unreadable row, an undecided
answer) is never 0.0: ``None`` where the trainer ignores it (TRL), a masked value elsewhere.
Nothing here imports a trainer at import time.
"""
