"""The Game-of-24 verifier: its arithmetic grammar (arith) and the verifier."""
