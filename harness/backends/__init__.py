"""Backends: ways to run a model. Importing this package registers them in ``BACKENDS``.

Each module imports its runtime (TensorFlow, ai-edge-litert, onnxruntime) lazily, so
importing the package is cheap and a missing runtime only skips its own backend.
"""

from harness.backends import onnx, savedmodel, serving, tfjs, tflite  # noqa: F401 - registration
from harness.backends.base import BACKENDS, Backend, InferenceError

__all__ = ["BACKENDS", "Backend", "InferenceError"]
