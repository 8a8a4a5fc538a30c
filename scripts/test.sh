#!/usr/bin/env bash
# Set up (if needed) and run every check: lint, types, and the whole test suite,
# including the integration tests against the real vLLM CPU server.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
# The verifiers.v1 environment against the real PrimeIntellect package (its own venv).
.venv-rl/bin/python -m pytest -p no:cacheprovider tests/test_rewards_env_v1.py
