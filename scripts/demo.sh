#!/usr/bin/env bash
# Set up (if needed), start the embedded vLLM CPU server, solve Game-of-24 puzzles with
# the LLM-Modulo loop and print the verified answers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/llm-modulo demo "$@"
