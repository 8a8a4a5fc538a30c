"""The math verifier family: reading answers (text; parse into values), deciding them
exactly (exact, equiv, solve) and the verifier (verifier)."""
