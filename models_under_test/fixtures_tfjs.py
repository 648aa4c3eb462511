"""TF.js graph models of the ``tiny`` fixture, written by code (no converter needed).

:func:`write_tiny_tfjs` writes what ``tensorflowjs_converter --input_format=tf_saved_model
--signature_name=serving_default`` (4.22.0) makes of ``fixtures/tiny``: the same nodes
(``_FusedMatMul`` with its bias, ``Softmax``, ``ArgMax``), signature block and one weight
shard, with tiny's own weights, so it agrees with the SavedModel. Variants that must FAIL:

* ``perturb_sd`` > 0 - the weights (not the bias) moved by seeded noise: it loads, runs and
  keeps every name, but ``y`` disagrees with tiny's (``parity[tfjs]`` must fail);
* ``unsupported_op`` - an op inserted before the softmax that the TF.js runtime has no
  kernel for (``Lgamma``): every call fails, and the TF.js findings name the op;
* ``renamed`` - the signature's output ``y`` called ``probabilities`` (name mapping).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

PERTURB_SEED = 11
SHARD = "group1-shard1of1.bin"
UNSUPPORTED_OP = "Lgamma"


def _dims(*sizes: int) -> dict[str, Any]:
    return {"dim": [{"size": str(s)} for s in sizes]}


def _const(name: str, dtype: str, *sizes: int) -> dict[str, Any]:
    return {"name": name, "op": "Const",
            "attr": {"value": {"tensor": {"dtype": dtype, "tensorShape": _dims(*sizes)}},
                     "dtype": {"type": dtype}}}


def tiny_tfjs_model(*, unsupported_op: bool = False, renamed: bool = False) -> dict[str, Any]:
    """model.json of tiny (without writing it)."""
    softmax_input = "StatefulPartitionedCall/add"
    nodes: list[dict[str, Any]] = [
        _const("StatefulPartitionedCall/ArgMax/dimension", "DT_INT32"),
        _const("StatefulPartitionedCall/MatMul/ReadVariableOp", "DT_FLOAT", 4, 2),
        _const("StatefulPartitionedCall/add/ReadVariableOp", "DT_FLOAT", 2),
        {"name": "x", "op": "Placeholder",
         "attr": {"shape": {"shape": _dims(-1, 4)}, "dtype": {"type": "DT_FLOAT"}}},
        {"name": "StatefulPartitionedCall/add", "op": "_FusedMatMul",
         "input": ["x", "StatefulPartitionedCall/MatMul/ReadVariableOp",
                   "StatefulPartitionedCall/add/ReadVariableOp"],
         "attr": {"transpose_a": {"b": False}, "transpose_b": {"b": False},
                  "fused_ops": {"list": {"s": ["Qmlhc0FkZA=="]}}, "num_args": {"i": "1"},
                  "leakyrelu_alpha": {"f": 0.2}, "epsilon": {"f": 0.0},
                  "T": {"type": "DT_FLOAT"}}},
    ]
    if unsupported_op:
        nodes.append({"name": "StatefulPartitionedCall/extra", "op": UNSUPPORTED_OP,
                      "input": [softmax_input], "attr": {"T": {"type": "DT_FLOAT"}}})
        softmax_input = "StatefulPartitionedCall/extra"
    nodes += [
        {"name": "StatefulPartitionedCall/Softmax", "op": "Softmax", "input": [softmax_input],
         "attr": {"T": {"type": "DT_FLOAT"}}},
        {"name": "Identity_1", "op": "Identity", "input": ["StatefulPartitionedCall/Softmax"],
         "attr": {"T": {"type": "DT_FLOAT"}}},
        {"name": "StatefulPartitionedCall/ArgMax", "op": "ArgMax",
         "input": ["StatefulPartitionedCall/Softmax", "StatefulPartitionedCall/ArgMax/dimension"],
         "attr": {"Tidx": {"type": "DT_INT32"}, "output_type": {"type": "DT_INT64"},
                  "T": {"type": "DT_FLOAT"}}},
        {"name": "Identity", "op": "Identity", "input": ["StatefulPartitionedCall/ArgMax"],
         "attr": {"T": {"type": "DT_INT64"}}},
    ]
    y = "probabilities" if renamed else "y"
    return {
        "format": "graph-model", "generatedBy": "2.21.0",
        "convertedBy": "TensorFlow.js Converter v4.22.0",
        "signature": {
            "inputs": {"x": {"name": "x:0", "dtype": "DT_FLOAT", "tensorShape": _dims(-1, 4)}},
            "outputs": {
                y: {"name": "Identity_1:0", "dtype": "DT_FLOAT", "tensorShape": _dims(-1, 2)},
                "label": {"name": "Identity:0", "dtype": "DT_INT64", "tensorShape": _dims(-1)},
            }},
        "modelTopology": {"node": nodes, "library": {}, "versions": {"producer": 2129}},
        "weightsManifest": [{"paths": [SHARD], "weights": [
            {"name": "StatefulPartitionedCall/ArgMax/dimension", "shape": [], "dtype": "int32"},
            {"name": "StatefulPartitionedCall/MatMul/ReadVariableOp", "shape": [4, 2],
             "dtype": "float32"},
            {"name": "StatefulPartitionedCall/add/ReadVariableOp", "shape": [2],
             "dtype": "float32"}]}],
    }


def write_tiny_tfjs(dest: Path, *, perturb_sd: float = 0.0, unsupported_op: bool = False,
                    renamed: bool = False) -> Path:
    """Write tiny as a TF.js graph model into ``dest``; returns its model.json."""
    from models_under_test.fixtures_static import tiny_weights

    w, b = tiny_weights()
    if perturb_sd:
        w = w + np.random.default_rng(PERTURB_SEED).normal(0.0, perturb_sd, size=w.shape)
    dest.mkdir(parents=True, exist_ok=True)
    shard = (np.array(-1, "<i4").tobytes() + np.asarray(w, "<f4").tobytes()
             + np.asarray(b, "<f4").tobytes())
    (dest / SHARD).write_bytes(shard)
    path = dest / "model.json"
    path.write_text(json.dumps(tiny_tfjs_model(unsupported_op=unsupported_op, renamed=renamed)))
    return path
