"""The math verifier family: reading answers (text, parse), deciding them exactly (exact,
equiv, solve) and the verifier (verifier)."""
