"""The TF.js converter's own Python environment, created on demand and kept.

``tensorflowjs`` 4.22.0 does not install beside the harness's TensorFlow (it imports
``tensorflow_decision_forests`` and ``tensorflow_hub`` at import time; see the header of
``tfjs_requirements.txt`` for the pins and why). It runs in a virtual environment of its
own, made the way tox makes its envs: ``python -m venv`` and ``pip install -r`` the pinned
list shipped in the package, into ``TOOLS/tfjs-converter-<sha256 of the list>``.

``TOOLS`` is ``$MODEL_CONTRACT_TOOLS``, else ``~/.cache/model-contract/tools``: outside the
export cache and the work tree, so a machine (or CI runner) that keeps its home folder
creates the environment once (about 2.9 GB, two minutes here) and reuses it. Creation is
atomic (built under a temporary name, renamed when complete) and serialised by a file
lock, so parallel test workers wait for one another instead of building it twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.errors import BackendUnavailable

REQUIREMENTS = Path(__file__).resolve().parent / "tfjs_requirements.txt"
TOOLS_ENV = "MODEL_CONTRACT_TOOLS"
#: Seconds creating the environment may take (it downloads TensorFlow).
CREATE_TIMEOUT = 1800.0
INSTALL = (f"the harness creates it with pip from {REQUIREMENTS.name}; it needs the package "
           "index to be reachable once (or set $MODEL_CONTRACT_TOOLS to a folder holding a "
           "copy)")
COMPLETE = ".model-contract-complete"


def default_tools_dir() -> Path:
    """``$MODEL_CONTRACT_TOOLS``, else ``~/.cache/model-contract/tools``."""
    env = os.environ.get(TOOLS_ENV)
    return Path(env) if env else Path.home() / ".cache" / "model-contract" / "tools"


def requirements_digest() -> str:
    text = REQUIREMENTS.read_bytes() + f"{sys.version_info[:2]}".encode()
    return hashlib.sha256(text).hexdigest()[:16]


def env_dir(tools: Path | None = None) -> Path:
    return (tools or default_tools_dir()) / f"tfjs-converter-{requirements_digest()}"


def env_python(env: Path) -> Path:
    return env / "bin" / "python"


def is_ready(tools: Path | None = None) -> bool:
    """Whether the converter environment exists already (nothing to create)."""
    return (env_dir(tools) / COMPLETE).is_file()


def converter_python(tools: Path | None = None) -> Path:
    """The converter environment's ``python``, creating the environment if it is missing."""
    target = env_dir(tools)
    if (target / COMPLETE).is_file():
        return env_python(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / COMPLETE).is_file():
            _create(target)
    return env_python(target)


def _create(target: Path) -> None:
    # Under the lock nobody else is creating: a leftover is a creation that was killed.
    for stale in target.parent.glob(f".{target.name}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        _run([sys.executable, "-m", "venv", str(work)], "python -m venv")
        _run([str(env_python(work)), "-m", "pip", "install", "--no-input",
              "--disable-pip-version-check", "-q", "-r", str(REQUIREMENTS)],
             f"pip install -r {REQUIREMENTS.name}")
        (work / COMPLETE).write_text(REQUIREMENTS.read_text())
        if target.exists():
            shutil.rmtree(target)
        os.replace(work, target)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def _run(command: list[str], what: str) -> None:
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=CREATE_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise BackendUnavailable("tfjs", f"creating the TF.js converter environment: {what} "
                                 f"took over {CREATE_TIMEOUT:g} s", install=INSTALL) from None
    if proc.returncode != 0:
        tail = "\n".join([ln for ln in proc.stderr.splitlines()
                          if ln.strip() and not ln.startswith("WARNING: Location")][-10:])
        raise BackendUnavailable("tfjs", f"creating the TF.js converter environment: {what} "
                                 f"failed (exit status {proc.returncode}):\n{tail}",
                                 install=INSTALL)


def main() -> int:
    """``python -m harness.exports.tfjs_env``: create the environment now; print its python."""
    print(converter_python())
    return 0


if __name__ == "__main__":
    sys.exit(main())
