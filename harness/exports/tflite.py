"""TFLite export: ``tf.lite.TFLiteConverter.from_saved_model`` as users run it, cached.

All contract signatures go into one ``.tflite`` (``signature_keys=[...]``). Variants:

* ``float`` - the converter's defaults;
* ``dynamic_range`` - ``optimizations=[Optimize.DEFAULT]`` (int8 weights);
* ``float16`` - plus ``target_spec.supported_types=[tf.float16]``;
* ``int8`` - full integer: ``optimizations=[DEFAULT]``, ``supported_ops=[TFLITE_BUILTINS_INT8]``
  and a representative dataset drawn from the contract's own input strategies (float
  inputs and outputs are kept, as the converter does by default).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from harness.contract.model import Contract, SignatureSpec
from harness.exports import Export, run_worker
from harness.exports.cache import ExportCache, cache_key

REPRESENTATIVE_SAMPLES = 100
REPRESENTATIVE_SEED = 20240


def describe(signatures: Sequence[str], quantization: str) -> str:
    how = f"TFLiteConverter.from_saved_model(signature_keys={list(signatures)})"
    return how if quantization == "float" else f"{how}, {quantization}"


def export_tflite(model_dir: Path, signatures: Sequence[str], *, cache: ExportCache,
                  tags: Sequence[str] = ("serve",), quantization: str = "float",
                  representative: Sequence[tuple[str, Mapping[str, np.ndarray]]] | None = None,
                  allow_flex: bool = False, timeout: float | None = None) -> Export:
    """The TFLite export of ``model_dir`` (from the cache when nothing changed)."""
    model_dir = Path(model_dir)
    if quantization == "int8" and not representative:
        raise ValueError("int8 quantization needs a representative dataset")
    rep_bytes = _representative_bytes(representative) if quantization == "int8" else b""
    options = {
        "format": "tflite", "signatures": list(signatures), "tags": list(tags),
        "quantization": quantization, "allow_flex": allow_flex,
        "representative": hashlib.sha256(rep_bytes).hexdigest() if rep_bytes else None,
    }
    key = cache_key(model_dir, options)
    name = f"model-{quantization}.tflite"
    how = describe(signatures, quantization)
    start = time.perf_counter()

    def make(tmp: Path) -> Mapping[str, Any]:
        args = ["--saved-model", str(model_dir.resolve()), "--quantization", quantization,
                "--output", str(tmp)]
        for tag in tags:
            args += ["--tag", tag]
        for sig in signatures:
            args += ["--signature", sig]
        if allow_flex:
            args.append("--allow-flex")
        rep_path = None
        if rep_bytes:
            rep_path = cache.temp_path(key, "representative.npz")
            rep_path.write_bytes(rep_bytes)
            args += ["--representative", str(rep_path)]
        try:
            result = run_worker("tflite", args, what=f"TFLite export ({how})", model_dir=model_dir,
                                timeout=timeout)
        finally:
            if rep_path is not None and rep_path.exists():
                rep_path.unlink()
        return {"how": how, "notes": result.get("notes", []), "options": options}

    entry = cache.get_or_make(key, name, make)
    return Export("tflite", entry.path, how, given=False, cached=entry.hit,
                  seconds=time.perf_counter() - start,
                  notes=tuple(entry.meta.get("notes", ())), replaced=entry.replaced)


def _representative_bytes(samples: Sequence[tuple[str, Mapping[str, np.ndarray]]] | None) -> bytes:
    import io

    arrays = {}
    for i, (signature, inputs) in enumerate(samples or ()):
        for name, value in inputs.items():
            arrays[f"{i}/{signature}/{name}"] = np.asarray(value)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def representative_dataset(contract: Contract, signatures: Sequence[SignatureSpec], *,
                           assets_dir: Path | None = None, count: int = REPRESENTATIVE_SAMPLES,
                           seed: int = REPRESENTATIVE_SEED
                           ) -> list[tuple[str, dict[str, np.ndarray]]]:
    """``count`` calls per signature drawn (seeded) from the contract's input strategies.

    Uses :func:`harness.strategies.call_strategy` when it is available, otherwise draws
    uniformly inside each input's declared range with numpy.
    """
    samples: list[tuple[str, dict[str, np.ndarray]]] = []
    for sig in signatures:
        if any(t.dtype == "string" for t in sig.inputs):
            continue  # string inputs cannot be calibrated; the converter says what it needs
        drawn = seeded_inputs(contract, sig, assets_dir=assets_dir, count=count, seed=seed)
        samples.extend((sig.name, inputs) for inputs in drawn)
    return samples


def seeded_inputs(contract: Contract, sig: SignatureSpec, *, assets_dir: Path | None = None,
                  count: int | None = None, rows: int | None = None,
                  seed: int = REPRESENTATIVE_SEED) -> list[dict[str, np.ndarray]]:
    """Inputs of seeded calls: ``count`` calls, or as many as give ``rows`` rows in total.

    Drawn from :func:`harness.strategies.call_strategy` (hypothesis, derandomized and
    seeded) when that module is available, else uniformly in the declared ranges.
    """
    want = count if count is not None else (rows or 1)
    try:
        drawn = _draw_with_strategies(contract, sig, assets_dir, want, seed)
    except ImportError:
        drawn = _draw_with_numpy(contract, sig, want, seed)
    if rows is None:
        return drawn
    kept, total = [], 0
    for inputs in drawn:
        kept.append(inputs)
        total += int(np.shape(next(iter(inputs.values())))[0]) if inputs else 1
        if total >= rows:
            break
    return kept


def _draw_with_strategies(contract: Contract, sig: SignatureSpec, assets_dir: Path | None,
                          count: int, seed: int) -> list[dict[str, np.ndarray]]:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    from harness.strategies import call_strategy

    strategy = call_strategy(contract, sig, assets_dir=assets_dir)
    drawn: list[dict[str, np.ndarray]] = []

    @hypothesis_seed(seed)
    @settings(max_examples=count, database=None, derandomize=True, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(call: Any) -> None:
        drawn.append({k: np.asarray(v) for k, v in call.inputs.items()})

    collect()
    return drawn


def _draw_with_numpy(contract: Contract, sig: SignatureSpec, count: int,
                     seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    drawn = []
    for _ in range(count):
        inputs = {}
        for t in sig.inputs:
            shape = []
            for d in t.shape or (1,):
                if isinstance(d, int):
                    shape.append(d)
                elif isinstance(d, str) and d in contract.dims:
                    shape.append(max(contract.dims[d].min, 1))
                else:
                    shape.append(1)
            lo, hi = t.range if t.range is not None else (0.0, 1.0)
            if t.dtype in ("bool",):
                value = rng.integers(0, 2, size=shape).astype(bool)
            elif np.issubdtype(np.dtype(t.dtype), np.integer):
                value = rng.integers(int(lo), int(hi) + 1, size=shape).astype(t.dtype)
            else:
                value = rng.uniform(lo, hi, size=shape).astype(t.dtype)
            inputs[t.name] = value
        drawn.append(inputs)
    return drawn
