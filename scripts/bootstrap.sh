#!/usr/bin/env bash
# Create .venv and install llm-modulo with the embedded CPU model server and dev tools.
# Idempotent: a second run only checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
CONSTRAINTS=scripts/constraints-cpu.txt
"${PIP[@]}" install --upgrade pip
# The CPU torch build that lies on these machines; the constraint keeps every
# later resolution from pulling a CUDA torch.
"${PIP[@]}" install "torch==2.13.0" -c "$CONSTRAINTS"
"${PIP[@]}" install -e '.[serve,dev]' -c "$CONSTRAINTS"
# CUDA-only or mismatched extras that break transformers under CPU torch; text
# generation needs none of them.
"${PIP[@]}" uninstall -y torchvision torchaudio torchcodec triton >/dev/null 2>&1 || true
echo "bootstrap: .venv ready"
