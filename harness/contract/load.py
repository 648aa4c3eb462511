"""Load a contract: parse -> validate against the published schema -> canonicalise.

Every problem is reported with the file, the JSON pointer, what was found and what was
expected. Syntax errors give line and column. All schema problems of a file are reported
together, one per line, so a user fixes them in one go.
"""

from __future__ import annotations

import difflib
import json
import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

from harness.contract.document import (
    _dedupe,
    _show,
    infinite_numbers,
    parse,
    parse_text,
    schema_problems,
)
from harness.contract.json_limits import pointer
from harness.contract.model import (
    DEFAULT_REJECT,
    DTYPES,
    FLOAT_DTYPES,
    FORMATS,
    INT_DTYPES,
    Contract,
    DimBound,
    ExampleFeature,
    FormatSpec,
    FuzzSettings,
    Relation,
    SignatureSpec,
    TensorSpec,
    Tolerance,
    ValueCheck,
    frozen,
)
from harness.errors import ContractError

SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "contract-v1.schema.json"

__all__ = ["SCHEMA_PATH", "canonicalise", "load_contract", "parse", "schema", "validate"]


def schema() -> dict[str, Any]:
    """The published JSON Schema (draft 2020-12) of contract files."""
    return dict(_schema())


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def load_contract(path: str | Path, *, text: str | None = None) -> Contract:
    """Read, validate and canonicalise the contract at ``path``.

    ``text``, when given, is the file's content read elsewhere (e.g. ``git show``); paths in
    it are still relative to ``path``. Raises :class:`ContractError` naming the file and the
    place for any problem.
    """
    path = Path(path)
    data = parse(path) if text is None else parse_text(text, path)
    if isinstance(data, dict) and "standard" in data:
        raise ContractError("is a standard, not a contract: a contract names it in \"extends\"",
                            file=path, place="/standard")
    if isinstance(data, dict) and "extends" in data:
        from harness.contract.standard import resolve

        resolved = resolve(path, data)
        try:
            validate(dict(resolved.data), path)
        except ContractError as exc:
            raise _from_where(exc, resolved.origins, path) from None
        return canonicalise(resolved.data, path)
    validate(data, path)
    return canonicalise(data, path)


def _from_where(error: ContractError, origins: Mapping[str, Path], path: Path) -> ContractError:
    """``error`` with each problem saying which file an inherited value came from."""
    def where(place: str | None) -> str:
        found = {str(f) for p, f in origins.items()
                 if place and (p == place or p.startswith(place.rstrip("/") + "/")
                               or place.startswith(p + "/"))}
        others = sorted(f for f in found if Path(f) != path)
        return f" (inherited from {', '.join(others)})" if others else ""

    problems = [(place, message + where(place)) for place, message in error.problems]
    return ContractError(problems[0][1], file=path, place=problems[0][0], problems=problems)


# --------------------------------------------------------------------------- validation


def validate(data: Any, path: Path) -> None:
    """Check ``data`` against the schema, then the rules a schema cannot express."""
    infinite = infinite_numbers(data)
    if infinite:
        raise ContractError(infinite[0][1], file=path, place=infinite[0][0], problems=infinite)
    problems = schema_problems(data, _schema())
    if not problems:
        problems = _dedupe(list(_semantic_problems(data)))
    if problems:
        raise ContractError(problems[0][1], file=path, place=problems[0][0], problems=problems)


def _semantic_problems(data: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """Rules beyond the schema: dims declared, ranges ordered, references resolve."""
    dims = data.get("dims", {})
    for name, bound in dims.items():
        if bound["min"] > bound["max"]:
            yield (pointer(["dims", name]),
                   f"min {bound['min']} is greater than max {bound['max']}; no size satisfies it")
    for sig_name, sig in data["signatures"].items():
        base = ["signatures", sig_name]
        if not sig["outputs"]:
            yield pointer(base + ["outputs"]), "found no outputs; a signature must declare at least one"
        for side in ("inputs", "outputs"):
            for t_name, tensor in sig[side].items():
                yield from _tensor_problems(base + [side, t_name], tensor, dims, side)
        outs = sig["outputs"]
        for i, rel in enumerate(sig.get("relations", [])):
            rel_ptr = base + ["relations", i]
            from harness.checks.invariants import RELATIONS

            kind = next((k for k in rel if k in RELATIONS), None)
            if kind is None:
                yield (pointer(rel_ptr), f"{_show(rel)} names no known relation; "
                       f"expected one of {', '.join(sorted(RELATIONS))}")
                continue
            for key, value in rel.items():
                if key in ("argmax", "equals", "of", "to") and value not in outs:
                    yield (pointer(rel_ptr + [key]),
                           f"{value!r} is not an output of signature {sig_name!r}; "
                           f"outputs: {', '.join(outs)}")
    fmt = data.get("formats", {})
    for variant_i, variant in enumerate(fmt.get("tflite", {}).get("variants", [])):
        for key in variant.get("top1_agreement", {}):
            sig_name, _, out = key.partition("/")
            sig = data["signatures"].get(sig_name)
            if sig is None or out not in sig["outputs"]:
                yield (pointer(["formats", "tflite", "variants", variant_i, "top1_agreement", key]),
                       f"{key!r} does not name SIGNATURE/OUTPUT of this contract")
    from harness.contract.bounds import size_problems

    yield from size_problems(data)


def _tensor_problems(ptr: list[Any], tensor: Mapping[str, Any], dims: Mapping[str, Any],
                     side: str) -> Iterable[tuple[str, str]]:
    dtype = tensor["dtype"]
    shape = tensor.get("shape", None)
    if isinstance(shape, list):
        for i, entry in enumerate(shape):
            if isinstance(entry, str) and entry not in dims:
                near = difflib.get_close_matches(entry, list(dims), n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                declared = ", ".join(dims) or "none"
                yield (pointer(ptr + ["shape", i]),
                       f"dim {entry!r} is not declared in /dims (declared: {declared}){hint}")
    rng = tensor.get("range")
    if rng is not None:
        if dtype in ("string", "bool"):
            yield pointer(ptr + ["range"]), f"a range does not apply to dtype {dtype}"
        elif rng[0] > rng[1]:
            yield (pointer(ptr + ["range"]),
                   f"min {rng[0]} is greater than max {rng[1]}; no value satisfies it")
        elif dtype in INT_DTYPES and not _int_range_fits(dtype, rng):
            yield (pointer(ptr + ["range"]),
                   f"{rng} contains no value of dtype {dtype}")
        elif any(isinstance(x, float) and not math.isfinite(x) for x in rng):
            yield pointer(ptr + ["range"]), "range ends must be finite numbers"
    string_only = ("alphabet", "length", "vocabulary", "example")
    for key in string_only:
        if key in tensor and dtype != "string":
            yield pointer(ptr + [key]), f"{key!r} applies to string inputs only; dtype is {dtype}"
    length = tensor.get("length")
    if length is not None and length[0] > length[1]:
        yield pointer(ptr + ["length"]), f"min {length[0]} is greater than max {length[1]}"
    for key in ("allow_nan", "allow_inf", "allow_subnormal"):
        if tensor.get(key) and dtype not in FLOAT_DTYPES + ("complex64", "complex128"):
            yield pointer(ptr + [key]), f"{key!r} applies to floating dtypes only; dtype is {dtype}"
    for i, check in enumerate(tensor.get("checks", [])):
        from harness.checks.invariants import VALUE_CHECKS

        kind = check if isinstance(check, str) else next((k for k in check if k in VALUE_CHECKS), None)
        if kind not in VALUE_CHECKS:
            yield (pointer(ptr + ["checks", i]),
                   f"{_show(check)} is not a known check; expected one of {', '.join(sorted(VALUE_CHECKS))}")
            continue
        if isinstance(check, dict) and "axis" in check and isinstance(shape, list):
            axis = check["axis"]
            if not isinstance(axis, int) or not -len(shape) <= axis < len(shape):
                yield (pointer(ptr + ["checks", i, "axis"]),
                       f"axis {axis!r} is out of range for a tensor of rank {len(shape)}")


def _int_range_fits(dtype: str, rng: list[float]) -> bool:
    import numpy as np

    info = np.iinfo(dtype)
    lo, hi = math.ceil(rng[0]), math.floor(rng[1])
    return lo <= hi and hi >= info.min and lo <= info.max


# --------------------------------------------------------------------------- canonicalise


def canonicalise(data: Mapping[str, Any], path: Path) -> Contract:
    """Build the frozen :class:`Contract`: defaults filled, shorthands expanded, paths resolved."""
    base = path.resolve().parent
    dims = {name: DimBound(name, b["min"], b["max"]) for name, b in data.get("dims", {}).items()}
    signatures = tuple(
        _signature(name, sig, ["signatures", name]) for name, sig in data["signatures"].items()
    )
    formats = {}
    for fmt, spec in data.get("formats", {}).items():
        assert fmt in FORMATS, fmt  # the schema admits only these
        options = {k: v for k, v in spec.items() if k not in ("enabled", "tolerance")}
        formats[fmt] = FormatSpec(fmt, bool(spec.get("enabled", True)),
                                  frozen(spec.get("tolerance")), frozen(options))
    fuzz = data.get("fuzz", {})
    return Contract(
        path=path,
        name=data["name"],
        version=data.get("version", ""),
        description=data.get("description", ""),
        tags=tuple(data.get("tags", ["serve"])),
        models=tuple(Path(os.path.normpath(base / m)) for m in data.get("models", [])),
        dims=frozen(dims),
        signatures=signatures,
        assets=tuple(data.get("assets", [])),
        tolerance=Tolerance().merged(data.get("tolerance")),
        formats=frozen(formats),
        ops=frozen(data.get("ops")),
        fuzz=FuzzSettings(
            examples=fuzz.get("examples", FuzzSettings.examples),
            calls_per_example=fuzz.get("calls_per_example", FuzzSettings.calls_per_example),
            max_free_dim=fuzz.get("max_free_dim", FuzzSettings.max_free_dim),
            edge_probability=fuzz.get("edge_probability", FuzzSettings.edge_probability),
            call_budget_bytes=fuzz.get("call_budget_bytes", FuzzSettings.call_budget_bytes),
        ),
        raw=frozen(data),
    )


def _signature(name: str, sig: Mapping[str, Any], ptr: list[Any]) -> SignatureSpec:
    inputs = tuple(_tensor(n, t, ptr + ["inputs", n]) for n, t in sig["inputs"].items())
    outputs = tuple(_tensor(n, t, ptr + ["outputs", n]) for n, t in sig["outputs"].items())
    relations = []
    for i, rel in enumerate(sig.get("relations", [])):
        from harness.checks.invariants import RELATIONS

        kind = next(k for k in rel if k in RELATIONS)
        relations.append(Relation(kind, frozen(rel), pointer(ptr + ["relations", i])))
    return SignatureSpec(
        name=name,
        inputs=inputs,
        outputs=outputs,
        pointer=pointer(ptr),
        method_name=sig.get("method_name"),
        relations=tuple(relations),
        deterministic=sig.get("deterministic", True),
        batch_consistent=sig.get("batch_consistent", True),
        reject=tuple(sig.get("reject", DEFAULT_REJECT)),
        stateful=sig.get("stateful", False),
        sunset=(sig.get("deprecated") or {}).get("sunset"),
    )


def _tensor(name: str, t: Mapping[str, Any], ptr: list[Any]) -> TensorSpec:
    shape = t.get("shape", None)
    vocab = t.get("vocabulary")
    checks = []
    for i, check in enumerate(t.get("checks", [])):
        from harness.checks.invariants import VALUE_CHECKS

        if isinstance(check, str):
            checks.append(ValueCheck(check, frozen({}), pointer(ptr + ["checks", i])))
        else:
            kind = next(k for k in check if k in VALUE_CHECKS)
            checks.append(ValueCheck(kind, frozen(check), pointer(ptr + ["checks", i])))
    example = None
    if "example" in t:
        example = tuple(
            ExampleFeature(f, spec["dtype"], tuple(spec.get("shape", [1])),
                           tuple(spec["range"]) if "range" in spec else None)
            for f, spec in t["example"].items()
        )
    assert t["dtype"] in DTYPES
    return TensorSpec(
        name=name,
        dtype=t["dtype"],
        shape=None if shape is None else tuple(shape),
        pointer=pointer(ptr),
        graph_name=t.get("name"),
        range=tuple(t["range"]) if "range" in t else None,
        enum=tuple(t["enum"]) if "enum" in t else None,
        allow_nan=t.get("allow_nan", False),
        allow_inf=t.get("allow_inf", False),
        allow_subnormal=t.get("allow_subnormal", False),
        alphabet=t.get("alphabet"),
        length=tuple(t["length"]) if "length" in t else None,
        vocabulary=tuple(vocab) if isinstance(vocab, list) else None,
        vocabulary_asset=vocab.get("asset") if isinstance(vocab, dict) else None,
        vocabulary_oov=vocab.get("oov", True) if isinstance(vocab, dict) else True,
        example=example,
        checks=tuple(checks),
        tolerance=frozen(t.get("tolerance")),
        sunset=(t.get("deprecated") or {}).get("sunset"),
    )
