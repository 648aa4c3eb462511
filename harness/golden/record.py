"""Record goldens: ``python -m harness.golden record [--contract C ...] [--force]``.

For each contract's model (its latest version) and signature, the golden inputs
(:mod:`harness.golden.inputs`) are run through the SavedModel and, where the contract
lists them and they can run here, TFLite, ONNX and TF.js; ``baselines/<model>/<signature>/``
gets ``inputs.npz``, ``outputs-<backend>.npz`` and ``manifest.json``.

Recording never overwrites silently. When a golden exists, the new recording is compared
with it first: the model fingerprint, the inputs, and for every backend and output the
max abs difference. Without ``--force`` a recording that changes anything is refused and
the changes are printed; with ``--force`` it is written and the same changes are printed.
An identical recording writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from harness.golden.arrays import save_calls
from harness.golden.compare import INPUTS, MANIFEST, Golden, load_golden, outputs_file
from harness.golden.inputs import GOLDEN_SEED, describe_call, generator_name, golden_calls
from harness.golden.manifest import Manifest, describe_environment, environment, write_manifest
from harness.golden.run import Target, backends_for, run_calls, targets

DEFAULT_CONTRACTS = (Path("contracts/classifier.json"), Path("contracts/text_classifier.json"),
                     Path("contracts/image_classifier.json"))
DEFAULT_ROOT = Path("baselines")


@dataclass(frozen=True)
class Recording:
    """A recording made in memory, not yet written."""

    target: Target
    manifest: Manifest
    inputs: tuple[Mapping[str, np.ndarray], ...]
    outputs: Mapping[str, tuple[Mapping[str, np.ndarray], ...]]


@dataclass(frozen=True)
class RecordOutcome:
    directory: Path
    action: str  # new | unchanged | refused | overwritten
    changes: tuple[str, ...]


def relative(path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def make_recordings(model_targets: Sequence[Target]) -> list[Recording]:
    """Record every signature of one model (all targets share contract and model)."""
    from harness.exports.cache import fingerprint

    first = model_targets[0]
    contract, model = first.contract, first.model
    assets = model.path / "assets"
    calls = {t.signature: golden_calls(contract, contract.signature(t.signature),
                                       assets_dir=assets if assets.is_dir() else None)
             for t in model_targets}
    inputs = {sig: [dict(c.inputs) for c in sig_calls] for sig, sig_calls in calls.items()}
    outputs: dict[str, dict[str, list[dict[str, np.ndarray]]]] = {}
    not_recorded: dict[str, str] = {}
    for backend in backends_for(contract):
        try:
            outputs[backend] = run_calls(backend, contract, model, inputs)
        except Exception as exc:  # noqa: BLE001 - recorded as the reason, never silent
            if backend == "savedmodel":
                raise
            not_recorded[backend] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}"
    env = environment()
    print_fp = fingerprint(model.path)
    out = []
    for t in model_targets:
        per_backend = {b: tuple(o[t.signature]) for b, o in outputs.items()}
        manifest = Manifest(
            model=t.model_name, signature=t.signature, model_path=relative(model.path),
            fingerprint=print_fp, contract=relative(contract.path), seed=GOLDEN_SEED,
            generator=generator_name(), environment=env,
            calls=tuple(describe_call(c) for c in calls[t.signature]),
            backends={b: {"outputs": _describe_outputs(o)} for b, o in per_backend.items()},
            not_recorded=not_recorded)
        out.append(Recording(t, manifest, tuple(inputs[t.signature]), per_backend))
    return out


def _describe_outputs(calls: Sequence[Mapping[str, np.ndarray]]) -> dict[str, Any]:
    names = list(calls[0]) if calls else []
    return {n: {"dtype": _dtype(calls[0][n]), "shapes": [list(np.shape(c[n])) for c in calls]}
            for n in names}


def _dtype(value: Any) -> str:
    arr = np.asarray(value)
    return "string" if arr.dtype.kind in "OSU" else arr.dtype.name


def changes_between(old: Golden, new: Recording) -> list[str]:
    """What a new recording would change in a stored golden, one line each."""
    lines = []
    if old.manifest.fingerprint != new.manifest.fingerprint:
        lines.append(f"model fingerprint: {old.manifest.fingerprint[:12]} -> {new.manifest.fingerprint[:12]}")
    if not _same_calls(old.inputs, new.inputs):
        lines.append(f"inputs: {len(old.inputs)} stored calls differ from the {len(new.inputs)} drawn now")
    for backend in sorted(set(old.outputs) | set(new.outputs)):
        if backend not in new.outputs:
            lines.append(f"{backend}: recorded before, not now "
                         f"({new.manifest.not_recorded.get(backend, 'not listed by the contract')})")
            continue
        if backend not in old.outputs:
            lines.append(f"{backend}: not recorded before, recorded now")
            continue
        lines.extend(f"{backend}: {line}" for line in _output_diffs(old.outputs[backend], new.outputs[backend]))
    if lines:
        lines.append(f"stored golden recorded with {describe_environment(old.manifest.environment)}; "
                     f"this recording with {describe_environment(new.manifest.environment)}")
    return lines


def _same_calls(a: Sequence[Mapping[str, np.ndarray]], b: Sequence[Mapping[str, np.ndarray]]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if set(x) != set(y):
            return False
        for k in x:
            ax, ay = np.asarray(x[k]), np.asarray(y[k])
            if ax.shape != ay.shape or not np.array_equal(ax, ay):
                return False
    return True


def _output_diffs(old: Sequence[Mapping[str, np.ndarray]], new: Sequence[Mapping[str, np.ndarray]]) -> list[str]:
    if len(old) != len(new):
        return [f"{len(old)} stored calls, {len(new)} now"]
    lines = []
    for name in sorted(set().union(*[set(c) for c in old], *[set(c) for c in new])):
        worst = 0.0
        shape_change = unequal = False
        for o, n in zip(old, new, strict=True):
            if name not in o or name not in n:
                shape_change = True
                continue
            ao, an = np.asarray(o[name]), np.asarray(n[name])
            if ao.shape != an.shape:
                shape_change = True
            elif ao.dtype.kind in "OSU" or an.dtype.kind in "OSU":
                unequal = unequal or not np.array_equal(ao, an)
            elif not np.array_equal(ao, an):
                unequal = True
                with np.errstate(invalid="ignore", over="ignore"):
                    diff = np.abs(ao.astype(np.float64) - an.astype(np.float64))
                worst = max(worst, float(np.nanmax(diff)) if diff.size else 0.0)
        if shape_change:
            lines.append(f"output {name!r}: shape or presence changed")
        elif unequal:
            lines.append(f"output {name!r}: max abs diff {worst:.3g} vs the stored golden")
    return lines


def write_recording(directory: Path, rec: Recording) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    save_calls(directory / INPUTS, rec.inputs)
    for backend, calls in rec.outputs.items():
        save_calls(directory / outputs_file(backend), calls)
    for old in directory.glob("outputs-*.npz"):
        if old.name not in {outputs_file(b) for b in rec.outputs}:
            old.unlink()
    write_manifest(directory / MANIFEST, rec.manifest)


def store(rec: Recording, root: Path, *, force: bool) -> RecordOutcome:
    """Write ``rec`` below ``root`` unless that would silently change a stored golden."""
    directory = rec.target.directory(root)
    if not (directory / MANIFEST).is_file():
        write_recording(directory, rec)
        return RecordOutcome(directory, "new", ())
    changes = tuple(changes_between(load_golden(directory), rec))
    if not changes:
        return RecordOutcome(directory, "unchanged", ())
    if not force:
        return RecordOutcome(directory, "refused", changes)
    write_recording(directory, rec)
    return RecordOutcome(directory, "overwritten", changes)


def record(contract_paths: Sequence[Path] = DEFAULT_CONTRACTS, root: Path = DEFAULT_ROOT, *,
           force: bool = False, echo: Callable[[str], None] = print) -> list[RecordOutcome]:
    """Record the goldens of the contracts' models; prints what happened to each."""
    by_model: dict[tuple[Path, Path], list[Target]] = {}
    for t in targets(contract_paths):
        by_model.setdefault((t.contract.path, t.model.path), []).append(t)
    outcomes = []
    for model_targets in by_model.values():
        for rec in make_recordings(model_targets):
            outcome = store(rec, Path(root), force=force)
            outcomes.append(outcome)
            skipped = "".join(f"; {b} not recorded: {why}" for b, why in rec.manifest.not_recorded.items())
            echo(f"{outcome.action:<11} {relative(outcome.directory)} "
                 f"({', '.join(rec.outputs)}; {len(rec.inputs)} calls){skipped}")
            for line in outcome.changes:
                echo(f"    {line}")
    if any(o.action == "refused" for o in outcomes):
        echo("refused to overwrite the goldens above: they would change as listed. "
             "Re-run with --force to overwrite them.")
    return outcomes
