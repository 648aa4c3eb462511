"""Importing TensorFlow once, without its start-up log lines in the user's output.

TensorFlow's C++ runtime writes start-up lines straight to file descriptor 2 when it is
first imported (``WARNING: All log messages before absl::InitializeLog() ...``, ``I0000
... oneDNN custom operations are on ...``), whatever ``TF_CPP_MIN_LOG_LEVEL`` says. pytest
captures them into the first failing test's "Captured stderr" and the CLI prints them before
its answer. :func:`import_tensorflow` imports TensorFlow with descriptor 2 redirected and
passes on everything except those informational start-up lines (errors stay visible).

Only what runs a TensorFlow model calls it (the SavedModel backend, the converters, the
golden tools): reading ``saved_model.pb`` and the op-policy scan use
:mod:`harness.savedmodel.tf_modules`, which does not start TensorFlow.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from harness.errors import BackendUnavailable
from harness.savedmodel.tf_modules import quiet_startup


def import_tensorflow() -> Any:
    """``tensorflow``, imported once; BackendUnavailable if it is not installed."""
    if "tensorflow" in sys.modules and hasattr(sys.modules["tensorflow"], "__version__"):
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with quiet_startup():
        try:
            import tensorflow as tf
        except ImportError as exc:
            raise BackendUnavailable("savedmodel", f"TensorFlow is not importable ({exc})",
                                     install="pip install 'model-contract[tf]'") from None
    return tf
