"""The Lean 4 verifier family: the verifier, its backends (native or the embedded WASM build),
the batch runner, the gate that refuses unsafe commands, and the installer behind
``llm-modulo fetch-lean``."""
