"""TF.js export: ``tensorflowjs_converter --input_format=tf_saved_model`` per signature, cached.

Each contract signature becomes one graph model (``model.json`` + weight shards), as
users make it::

    tensorflowjs_converter --input_format=tf_saved_model --output_format=tfjs_graph_model \\
        --signature_name KEY --saved_model_tags serve [--quantize_float16 '*'] DIR OUT

The converter runs in its own environment (:mod:`harness.exports.tfjs_env`) through the
export worker, on a read-only copy of the SavedModel (made without following a link, by
:func:`harness.safety.symlinks.copy_model`): it can neither change nor add to the user's
model folder. The signatures still missing from the cache are converted in one worker
process; a signature the converter refuses fails alone.

A cache entry is the folder of one model.json: the shards are moved in first and their
sha256 recorded in the entry's metadata, then model.json (whose own sha256 the cache
verifies). A lookup also verifies the shards; an entry with a changed shard is discarded
and exported again, and the label says so.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from harness.errors import ExportError
from harness.exports import Export, hint_for, run_worker, stderr_tail
from harness.exports.cache import ExportCache, cache_key, file_digest
from harness.exports.tfjs_env import converter_python, requirements_digest
from harness.safety.symlinks import copy_model

#: quantization name -> the converter's flag (None: float weights)
QUANTIZE_FLAGS: Mapping[str, str | None] = {"float": None, "float16": "--quantize_float16",
                                            "uint8": "--quantize_uint8"}
MODEL_JSON = "model.json"


def describe(signature: str, quantize: str = "float") -> str:
    flag = QUANTIZE_FLAGS[quantize]
    return f"tensorflowjs_converter --signature_name {signature}" + (f" {flag}" if flag else "")


def _lookup(cache: ExportCache, key: str) -> Export | None | str:
    """The cached export, None when there is none, or why a damaged one was discarded."""
    hit = cache.lookup(key, MODEL_JSON)
    if hit is None:
        return cache.discarded.get((key, MODEL_JSON))
    shards: Mapping[str, str] = hit.meta.get("shards") or {}
    for name, digest in shards.items():
        shard = hit.path.parent / name
        actual = file_digest(shard) if shard.is_file() else "missing"
        if actual != digest:
            hit.path.unlink(missing_ok=True)
            hit.path.with_name(MODEL_JSON + ".json").unlink(missing_ok=True)
            return (f"the cached weight shard {name} was discarded: its sha256 "
                    f"{actual[:12]} is not the recorded {digest[:12]}")
    return Export("tfjs", hit.path, str(hit.meta.get("how", "")), cached=True)


def _read_only(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def export_tfjs(model_dir: Path, signatures: Sequence[str], *, cache: ExportCache,
                tags: Sequence[str] = ("serve",), quantize: str = "float",
                timeout: float | None = None, tools: Path | None = None
                ) -> dict[str, Export | ExportError]:
    """One TF.js graph model per signature: an :class:`Export` (its model.json) or the
    :class:`ExportError` the converter raised; a failure of the whole worker is returned
    for every signature it was converting."""
    model_dir = Path(model_dir)
    start = time.perf_counter()
    results: dict[str, Export | ExportError] = {}
    pending: dict[str, tuple[str, str]] = {}
    for sig in signatures:
        options = {"format": "tfjs", "signature": sig, "tags": list(tags),
                   "quantize": quantize, "converter": requirements_digest()}
        key = cache_key(model_dir, options)
        found = _lookup(cache, key)
        if isinstance(found, Export):
            results[sig] = found
        else:
            pending[sig] = (key, found or "")
    if not pending:
        return results
    python = converter_python(tools)
    cache.root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".tfjs-", dir=cache.root))
    try:
        copy = work / "savedmodel"
        copy_model(model_dir, copy)
        _read_only(copy)
        outs = {sig: work / f"out-{i}" for i, sig in enumerate(pending)}
        args = ["--saved-model", str(copy), "--quantize", quantize]
        for tag in tags:
            args += ["--tag", tag]
        for sig, out in outs.items():
            args += ["--job", f"{sig}={out}"]
        what = f"TF.js export (tensorflowjs_converter) of signatures {list(pending)}"
        try:
            outcome = run_worker("tfjs", args, what=what, model_dir=model_dir, timeout=timeout,
                                 python=python)
        except ExportError as exc:
            return {**results, **{sig: exc for sig in pending}}
        failed = outcome.get("failed", {})
        seconds = time.perf_counter() - start
        for sig, (key, replaced) in pending.items():
            how = describe(sig, quantize)
            out = outs[sig]
            if sig in failed or not (out / MODEL_JSON).is_file():
                message = failed.get(sig, "the converter wrote no model.json")
                tail = stderr_tail(outcome.get("stderr", ""), lines=15)
                results[sig] = ExportError(
                    f"TF.js export ({how}) failed: {message}\nconverter output:\n{tail}",
                    file=model_dir, hint=hint_for("tfjs", message + tail))
                continue
            results[sig] = _commit(cache, key, out, how, seconds, replaced)
    finally:
        _writable(work)
        shutil.rmtree(work, ignore_errors=True)
    return results


def _commit(cache: ExportCache, key: str, out: Path, how: str, seconds: float,
            replaced: str) -> Export:
    """Move one converted folder into its cache entry: shards first, model.json last."""
    entry = cache.path_for(key, MODEL_JSON).parent
    entry.mkdir(parents=True, exist_ok=True)
    shards: dict[str, Any] = {}
    for shard in sorted(out.iterdir()):
        if shard.name == MODEL_JSON:
            continue
        shards[shard.name] = file_digest(shard)
        os.replace(shard, entry / shard.name)
    committed = cache.commit(out / MODEL_JSON, key, MODEL_JSON, {"how": how, "shards": shards})
    return Export("tfjs", committed.path, how, cached=False, seconds=seconds,
                  replaced=replaced or committed.replaced)
