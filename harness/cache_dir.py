"""Where the harness keeps what it remembers across runs (exports, the op registry's answers).

``--export-cache`` (``RunOptions.export_cache``), else ``$MODEL_CONTRACT_CACHE``, else
``~/.cache/model-contract``.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "MODEL_CONTRACT_CACHE"


def default_cache_dir(option: Path | None = None) -> Path:
    """``--export-cache``, else ``$MODEL_CONTRACT_CACHE``, else ``~/.cache/model-contract``."""
    if option is not None:
        return Path(option)
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return Path.home() / ".cache" / "model-contract"
