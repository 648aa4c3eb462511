"""ONNX export: tf2onnx per signature, as ``python -m tf2onnx.convert --saved-model DIR
--signature_def KEY --opset N --output F`` makes it, cached one file per signature.

The signatures still missing from the cache are converted in one worker process (so
TensorFlow is imported once); a signature tf2onnx cannot convert fails alone.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from harness.errors import ExportError
from harness.exports import Export, hint_for, run_worker, stderr_tail
from harness.exports.cache import ExportCache, cache_key

DEFAULT_OPSET = 17


def describe(signature: str, opset: int) -> str:
    return f"tf2onnx --signature_def {signature} --opset {opset}"


def export_onnx(model_dir: Path, signatures: Sequence[str], *, cache: ExportCache,
                tags: Sequence[str] = ("serve",), opset: int = DEFAULT_OPSET,
                timeout: float | None = None) -> dict[str, Export | ExportError]:
    """One ONNX file per signature: an :class:`Export`, or the :class:`ExportError` it raised.

    A failure of the whole worker (crash, timeout) is returned for every signature it was
    converting.
    """
    model_dir = Path(model_dir)
    start = time.perf_counter()
    results: dict[str, Export | ExportError] = {}
    keys: dict[str, str] = {}
    for sig in signatures:
        options = {"format": "onnx", "signature": sig, "tags": list(tags), "opset": opset}
        keys[sig] = key = cache_key(model_dir, options)
        hit = cache.lookup(key, f"{sig}.onnx")
        if hit is not None:
            results[sig] = Export("onnx", hit.path, describe(sig, opset), cached=True)
    missing = [sig for sig in signatures if sig not in results]
    if not missing:
        return results
    with cache.making(keys[sig] for sig in missing):
        return _convert(model_dir, missing, keys, results, cache=cache, tags=tags, opset=opset,
                        timeout=timeout, start=start)


def _convert(model_dir: Path, missing: Sequence[str], keys: dict[str, str],
             results: dict[str, Export | ExportError], *, cache: ExportCache,
             tags: Sequence[str], opset: int, timeout: float | None, start: float
             ) -> dict[str, Export | ExportError]:
    """Convert the signatures still missing once their locks are held (one may have been
    made meanwhile by another process)."""
    pending: dict[str, tuple[str, Path]] = {}
    for sig in missing:
        key = keys[sig]
        hit = cache.lookup(key, f"{sig}.onnx")
        if hit is not None:
            results[sig] = Export("onnx", hit.path, describe(sig, opset), cached=True)
        else:
            pending[sig] = (key, cache.temp_path(key, f"{sig}.onnx"))
    if not pending:
        return results
    args = ["--saved-model", str(model_dir.resolve()), "--opset", str(opset)]
    for tag in tags:
        args += ["--tag", tag]
    for sig, (_, tmp) in pending.items():
        args += ["--job", f"{sig}={tmp}"]
    try:
        try:
            outcome = run_worker("onnx", args, what=f"ONNX export (tf2onnx, opset {opset}) of "
                                 f"signatures {list(pending)}", model_dir=model_dir,
                                 timeout=timeout)
        except ExportError as exc:
            for sig in pending:
                results[sig] = exc
            return results
        failed = outcome.get("failed", {})
        seconds = time.perf_counter() - start
        for sig, (key, tmp) in pending.items():
            how = describe(sig, opset)
            if sig in failed:
                tail = stderr_tail(outcome.get("stderr", ""), lines=15)
                results[sig] = ExportError(
                    f"ONNX export ({how}) failed: {failed[sig]}\nconverter output:\n{tail}",
                    file=model_dir, hint=hint_for("onnx", failed[sig] + tail))
                continue
            entry = cache.commit(tmp, key, f"{sig}.onnx", {"how": how})
            results[sig] = Export("onnx", entry.path, how, cached=False, seconds=seconds,
                                  replaced=entry.replaced)
    finally:
        for _, tmp in pending.values():
            if tmp.exists():
                tmp.unlink()
    return results
