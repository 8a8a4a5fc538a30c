"""Sound verifiers: checkers that prove a candidate right or wrong."""
