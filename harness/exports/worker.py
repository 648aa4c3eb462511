"""The converter process: ``python -m harness.exports.worker {tflite,onnx} ...``.

The harness never converts in its own process: a converter that crashes, hangs or
aborts (MLIR and tf2onnx do all three) must not take pytest down with it. The parent
(:mod:`harness.exports.tflite`, :mod:`harness.exports.onnx`) runs this module with a
timeout, reads the converter's stderr on failure, and moves the written files into the
cache. The worker writes only the output paths it is given and prints one JSON line on
stdout (``{"notes": [...], "failed": {SIGNATURE: message}}``) as its last line.

TFLite, as users export::

    python -m harness.exports.worker tflite --saved-model DIR --tag serve \
        --signature classify --signature embed [--quantization int8 --representative R.npz] \
        [--allow-flex] --output OUT.tflite

ONNX, one file per signature, as ``python -m tf2onnx.convert --saved-model DIR
--signature_def KEY --opset N --output F`` does it (run here in one process so
TensorFlow is imported once)::

    python -m harness.exports.worker onnx --saved-model DIR --tag serve --opset 17 \
        --job classify=OUT1.onnx --job embed=OUT2.onnx

TF.js, one folder (model.json + weight shards) per signature, as ``tensorflowjs_converter
--input_format=tf_saved_model --output_format=tfjs_graph_model --signature_name KEY
--saved_model_tags serve [--quantize_float16 '*' | --quantize_uint8 '*'] DIR OUT`` does it.
This one runs in the converter's own environment (:mod:`harness.exports.tfjs_env`), by
path, so it imports nothing of the harness::

    TFJS_ENV/bin/python harness/exports/worker.py tfjs --saved-model DIR --tag serve \
        [--quantize float16|uint8] --job classify=OUTDIR1 --job embed=OUTDIR2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from typing import Any, Iterator

QUANTIZATIONS = ("float", "dynamic_range", "float16", "int8")
TFJS_QUANTIZATIONS = ("float", "float16", "uint8")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness.exports.worker")
    sub = parser.add_subparsers(dest="format", required=True)
    tfl = sub.add_parser("tflite", help="TFLiteConverter.from_saved_model")
    tfl.add_argument("--saved-model", required=True)
    tfl.add_argument("--tag", action="append", default=[])
    tfl.add_argument("--signature", action="append", required=True)
    tfl.add_argument("--quantization", choices=QUANTIZATIONS, default="float")
    tfl.add_argument("--representative", help=".npz of samples, keys 'I/SIGNATURE/INPUT'")
    tfl.add_argument("--allow-flex", action="store_true")
    tfl.add_argument("--output", required=True)
    onx = sub.add_parser("onnx", help="tf2onnx, one file per signature")
    onx.add_argument("--saved-model", required=True)
    onx.add_argument("--tag", action="append", default=[])
    onx.add_argument("--opset", type=int, default=17)
    onx.add_argument("--job", action="append", required=True, metavar="SIGNATURE=OUTPUT")
    tfj = sub.add_parser("tfjs", help="tensorflowjs_converter, one folder per signature")
    tfj.add_argument("--saved-model", required=True)
    tfj.add_argument("--tag", action="append", default=[])
    tfj.add_argument("--quantize", choices=TFJS_QUANTIZATIONS, default="float")
    tfj.add_argument("--job", action="append", required=True, metavar="SIGNATURE=OUTDIR")
    return parser


def representative_samples(path: str) -> list[tuple[str, dict[str, Any]]]:
    """Samples of an .npz written by :func:`harness.exports.tflite.write_representative`."""
    import numpy as np

    samples: dict[int, tuple[str, dict[str, Any]]] = {}
    with np.load(path, allow_pickle=False) as data:
        for name in data.files:
            index, signature, tensor = name.split("/", 2)
            entry = samples.setdefault(int(index), (signature, {}))
            entry[1][tensor] = data[name]
    return [samples[i] for i in sorted(samples)]


def export_tflite(args: argparse.Namespace) -> dict[str, Any]:
    import tensorflow as tf

    tags = set(args.tag or ["serve"])
    converter = tf.lite.TFLiteConverter.from_saved_model(
        args.saved_model, signature_keys=list(args.signature), tags=tags)
    if args.quantization != "float":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if args.quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if args.quantization == "int8":
        samples = representative_samples(args.representative)
        multi = len(args.signature) > 1

        def dataset() -> Iterator[Any]:
            for signature, inputs in samples:
                if multi:
                    yield signature, inputs
                elif signature == args.signature[0]:
                    yield inputs

        converter.representative_dataset = dataset
        ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if args.allow_flex:
        ops = ops + [tf.lite.OpsSet.SELECT_TF_OPS]
    converter.target_spec.supported_ops = ops
    flat = converter.convert()
    with open(args.output, "wb") as handle:
        handle.write(flat)
    return {"notes": _tflite_notes(tf, args, flat), "failed": {}}


def _tflite_notes(tf: Any, args: argparse.Namespace, flat: bytes) -> list[str]:
    """Say what the converter did that the user did not ask for (dropped signatures)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return []
    keys = list(Interpreter(model_content=flat).get_signature_list())
    missing = [k for k in args.signature if k not in keys]
    if not missing:
        return []
    note = (f"TFLiteConverter.from_saved_model(signature_keys={list(args.signature)}) produced "
            f"signatures {keys}; missing {missing}.")
    loaded = tf.saved_model.load(args.saved_model, tags=list(args.tag or ["serve"]))
    if len(args.signature) > 1 and hasattr(loaded, "serve") and \
            not hasattr(loaded, "_default_save_signature"):
        note += (" Cause: the SavedModel's root object has an attribute named 'serve', which "
                 f"TF {tf.__version__}'s converter takes for the endpoint of Keras "
                 "Model.export(); it then converts only that function as 'serving_default' "
                 "and silently drops every requested signature. Fix the export: rename the "
                 "root object's 'serve' attribute (e.g. 'serve_fn') before "
                 "tf.saved_model.save, or convert one signature per TFLite file.")
    return [note]


def export_onnx(args: argparse.Namespace) -> dict[str, Any]:
    import tf2onnx.convert

    failed: dict[str, str] = {}
    for job in args.job:
        signature, _, output = job.partition("=")
        argv = ["tf2onnx.convert", "--saved-model", args.saved_model, "--signature_def",
                signature, "--opset", str(args.opset), "--output", output]
        for tag in args.tag:
            argv += ["--tag", tag]
        saved_argv = sys.argv
        sys.argv = argv
        try:
            tf2onnx.convert.main()
        except BaseException as exc:  # noqa: BLE001 - one signature's failure is reported
            lines = traceback.format_exception_only(type(exc), exc)
            failed[signature] = "".join(lines).strip()[-3000:]
            print(f"tf2onnx failed on signature {signature!r}:", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            if os.path.exists(output):
                os.unlink(output)
        finally:
            sys.argv = saved_argv
    return {"notes": [], "failed": failed}


def tfjs_arguments(saved_model: str, signature: str, tags: list[str], quantize: str,
                   output: str) -> list[str]:
    """The ``tensorflowjs_converter`` command line for one signature (without the program)."""
    argv = ["--input_format=tf_saved_model", "--output_format=tfjs_graph_model",
            f"--signature_name={signature}", f"--saved_model_tags={','.join(tags or ['serve'])}"]
    if quantize != "float":
        argv.append(f"--quantize_{quantize}=*")
    return argv + [saved_model, output]


def export_tfjs(args: argparse.Namespace) -> dict[str, Any]:
    from tensorflowjs.converters import converter

    failed: dict[str, str] = {}
    for job in args.job:
        signature, _, output = job.partition("=")
        try:
            converter.convert(tfjs_arguments(args.saved_model, signature, list(args.tag),
                                             args.quantize, output))
        except BaseException as exc:  # noqa: BLE001 - one signature's failure is reported
            lines = traceback.format_exception_only(type(exc), exc)
            failed[signature] = "".join(lines).strip()[-3000:]
            print(f"tensorflowjs_converter failed on signature {signature!r}:", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
    return {"notes": [], "failed": failed}


EXPORTERS = {"tflite": export_tflite, "onnx": export_onnx, "tfjs": export_tfjs}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = _parser().parse_args(argv)
    result = EXPORTERS[args.format](args)
    sys.stdout.flush()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
