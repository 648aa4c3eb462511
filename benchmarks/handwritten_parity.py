"""The parity check a user writes by hand, the baseline of ``bench_vs_handwritten.py``.

Import TensorFlow, load the SavedModel, convert its ``classify`` signature to TFLite and to
ONNX (in this process, each once), run ``--examples`` random inputs through the three
runtimes and compare every output to the SavedModel's with the contract's tolerance. No
isolation, no cache, no report: what a careful script does and nothing more.

    python benchmarks/handwritten_parity.py MODEL_DIR [--examples 100]

Prints one line (examples, largest differences) and exits 1 if a comparison fails.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SIGNATURE = "classify"
ATOL, RTOL = 1e-4, 1e-3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--examples", type=int, default=100)
    args = parser.parse_args()

    import numpy as np
    import onnxruntime
    import tensorflow as tf
    import tf2onnx
    from ai_edge_litert.interpreter import Interpreter

    loaded = tf.saved_model.load(args.model)
    reference = loaded.signatures[SIGNATURE]
    [input_name] = reference.structured_input_signature[1]
    features = reference.structured_input_signature[1][input_name].shape[-1]

    converter = tf.lite.TFLiteConverter.from_saved_model(args.model, signature_keys=[SIGNATURE])
    tflite = Interpreter(model_content=converter.convert()).get_signature_runner(SIGNATURE)

    @tf.function(input_signature=[tf.TensorSpec([None, features], tf.float32, name=input_name)])
    def call(x: tf.Tensor) -> dict[str, tf.Tensor]:
        return reference(**{input_name: x})  # type: ignore[no-any-return]

    proto, _ = tf2onnx.convert.from_function(call, input_signature=call.input_signature,
                                             opset=17)
    onnx = onnxruntime.InferenceSession(proto.SerializeToString(),
                                        providers=["CPUExecutionProvider"])
    onnx_inputs = [i.name for i in onnx.get_inputs()]
    onnx_outputs = [o.name for o in onnx.get_outputs()]

    rng = np.random.default_rng(0)
    worst = {"tflite": 0.0, "onnx": 0.0}
    failures = 0
    for _ in range(args.examples):
        x = rng.random((int(rng.integers(1, 33)), features), dtype=np.float32)
        want = {k: v.numpy() for k, v in reference(**{input_name: tf.constant(x)}).items()}
        tflite_got = tflite(**{input_name: x})
        onnx_got = dict(zip(onnx_outputs, onnx.run(None, {onnx_inputs[0]: x})))
        for runtime, got in (("tflite", tflite_got), ("onnx", onnx_got)):
            for name, expected in want.items():
                actual = got.get(name)
                if actual is None:  # converters may rename outputs: match by shape and dtype
                    actual = next(v for v in got.values()
                                  if v.shape == expected.shape and v.dtype == expected.dtype)
                diff = float(np.max(np.abs(actual.astype(np.float64) - expected), initial=0.0))
                worst[runtime] = max(worst[runtime], diff)
                if not np.allclose(actual, expected, atol=ATOL, rtol=RTOL):
                    failures += 1
    print(f"{args.examples} examples x 3 runtimes; largest |difference|: tflite "
          f"{worst['tflite']:.2e}, onnx {worst['onnx']:.2e}; {failures} failed comparisons")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
