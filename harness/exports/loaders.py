"""Loaders: how a converted artifact is obtained, apart from the runners that call it.

As Polygraphy keeps loaders (``BytesFromPath``, a converter) apart from runners, a
converted backend asks a loader here for its file and only runs what it gets:

* the file the user gave: ``--tflite`` / ``--onnx`` / ``--tfjs`` (the run options), then the contract's
  ``formats.<fmt>.path`` (relative to the contract); a given file that is missing is a
  user error naming the option's place in the contract;
* otherwise an export of the SavedModel through the run's content-keyed cache
  (:func:`harness.exports.session_cache`), made in a subprocess.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from harness.context import RunContext
from harness.contract.model import Contract
from harness.errors import ExportError, HarnessError
from harness.exports import Export, session_cache, shown_path
from harness.savedmodel.layout import ModelRef


def _format_options(contract: Contract, fmt: str) -> Mapping[str, Any]:
    spec = contract.formats.get(fmt)
    return spec.options if spec is not None else {}


def _given(contract: Contract, fmt: str, what: str, path: Path) -> Export:
    """The file the user gave for ``fmt`` as an :class:`Export`; a missing one is a user
    error at the contract's ``formats.FMT.path``."""
    if not path.is_file():
        raise HarnessError(f"{what} {path} does not exist", file=contract.path,
                           place=f"/formats/{fmt}/path")
    return Export(fmt, path, f"given: {shown_path(path)}", given=True)


def given_tflite(context: RunContext, contract: Contract) -> Path | None:
    """The TFLite file the user gave (option, then contract), or None to export one."""
    if context.options.tflite:
        return Path(context.options.tflite)
    path = _format_options(contract, "tflite").get("path")
    if path:
        return (contract.path.resolve().parent / str(path)).resolve()
    return None


def load_tflite(context: RunContext, model: ModelRef, contract: Contract,
                variant: Mapping[str, Any] | None = None) -> Export:
    """The TFLite file for ``model``: the given one, or an export (a variant is always exported)."""
    given = None if variant else given_tflite(context, contract)
    if given is not None:
        return _given(contract, "tflite", "TFLite file", given)
    from harness.exports.tflite import export_tflite, representative_dataset

    quantization = str(variant["quantization"]) if variant else "float"
    representative = None
    if quantization == "int8":
        representative = representative_dataset(contract, contract.signatures,
                                                 assets_dir=model.path / "assets")
    return export_tflite(model.path, [s.name for s in contract.signatures],
                         cache=session_cache(context), tags=contract.tags,
                         quantization=quantization, representative=representative,
                         allow_flex=bool(_format_options(contract, "tflite").get("allow_flex", False)))


def given_per_signature(context: RunContext, contract: Contract, fmt: str
                        ) -> dict[str, Path] | None:
    """``{signature: file}`` the user gave for ``fmt`` (its option, then the contract's
    ``formats.FMT.path``: one path for every signature, or one per signature), or None to
    export. Used by the formats that have a file per signature (ONNX, TF.js)."""
    names = [s.name for s in contract.signatures]
    option = getattr(context.options, fmt)
    if option:
        return {n: Path(option) for n in names}
    path = _format_options(contract, fmt).get("path")
    if not path:
        return None
    base = contract.path.resolve().parent
    if isinstance(path, str):
        return {n: (base / path).resolve() for n in names}
    return {n: (base / str(p)).resolve() for n, p in dict(path).items()}


def load_onnx(context: RunContext, model: ModelRef, contract: Contract, *, opset: int
              ) -> dict[str, Export | ExportError]:
    """One ONNX file per signature: given, or exported (a signature tf2onnx cannot convert
    holds its :class:`ExportError`)."""
    given = given_per_signature(context, contract, "onnx")
    if given is not None:
        return {sig: _given(contract, "onnx", "ONNX file", path) for sig, path in given.items()}
    from harness.exports.onnx import export_onnx

    return export_onnx(model.path, [s.name for s in contract.signatures],
                       cache=session_cache(context), tags=contract.tags, opset=opset)


def load_tfjs(context: RunContext, model: ModelRef, contract: Contract,
              variant: Mapping[str, Any] | None = None) -> dict[str, Export | ExportError]:
    """One TF.js model.json per signature: given (a folder means its model.json), or
    exported (a variant is always exported; a signature the converter refuses holds its
    :class:`ExportError`)."""
    given = None if variant else given_per_signature(context, contract, "tfjs")
    if given is not None:
        return {sig: _given(contract, "tfjs", "TF.js model",
                            path / "model.json" if path.is_dir() else path)
                for sig, path in given.items()}
    from harness.exports.tfjs import export_tfjs

    return export_tfjs(model.path, [s.name for s in contract.signatures],
                       cache=session_cache(context), tags=contract.tags,
                       quantize=str(variant["quantization"]) if variant else "float")
