"""Importing TensorFlow once, without its start-up log lines in the user's output.

TensorFlow's C++ runtime writes start-up lines straight to file descriptor 2 when it is
first imported (``WARNING: All log messages before absl::InitializeLog() ...``, ``I0000
... oneDNN custom operations are on ...``), whatever ``TF_CPP_MIN_LOG_LEVEL`` says. pytest
captures them into the first failing test's "Captured stderr" and the CLI prints them before
its answer. :func:`import_tensorflow` imports TensorFlow with descriptor 2 redirected and
passes on everything except those informational start-up lines (errors stay visible).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from typing import Any

from harness.errors import BackendUnavailable

#: absl's informational/warning start-up lines (``I0000 00:00:17.. 123 port.cc:153] ...``)
STARTUP_LINE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    r"STDERR$|[IW]\d{4} \S+\s+\d+ \S+:\d+\] )")


def import_tensorflow() -> Any:
    """``tensorflow``, imported once; BackendUnavailable if it is not installed."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryFile() as log:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            import tensorflow as tf
        except ImportError as exc:
            raise BackendUnavailable("savedmodel", f"TensorFlow is not importable ({exc})",
                                     install="pip install 'model-contract[tf]'") from None
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            log.seek(0)
            kept = [line for line in log.read().decode("utf-8", "replace").splitlines()
                    if line.strip() and not STARTUP_LINE.match(line)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
    return tf
