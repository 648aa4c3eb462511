"""A declared interface: what a model's signatures take and give, from any source.

One model (:mod:`harness.interface.model`: :class:`Interface`, :class:`SignatureInterface`,
:class:`TensorInterface`, :class:`DimRange`) for every source that declares signatures, and
one comparison of two of them (:mod:`harness.interface.compare`) returning typed
:class:`Mismatch` es. The adapters live where their inputs do: a contract
(:mod:`harness.interface.contract`), ``saved_model.pb`` (:mod:`harness.savedmodel.reader`),
a TFLite file (:mod:`harness.backends.tflite`), an ONNX file (:mod:`harness.backends.onnx`),
a TF.js graph model (:mod:`harness.backends.tfjs`) and a model server's metadata answer
(:mod:`harness.serving.metadata`). Nothing here imports TensorFlow or a backend.
"""

from __future__ import annotations

from harness.interface.compare import Mismatch, compare_interfaces, compare_signatures
from harness.interface.model import (
    DENSE,
    DimRange,
    Interface,
    SignatureInterface,
    TensorInterface,
)

__all__ = ["DENSE", "DimRange", "Interface", "Mismatch", "SignatureInterface", "TensorInterface",
           "compare_interfaces", "compare_signatures"]
