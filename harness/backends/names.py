"""Name mapping: the contract's signature, input and output names in a converted format.

Converters move names (pitfall 1). A contract name resolves to a format name by, in order:

1. the contract's explicit map ``formats.FMT.name_map.SIGNATURE.{signature, inputs, outputs}``;
2. the same name;
3. the same name after removing exactly these converter decorations from the format's name:
   a ``:0`` tensor-index suffix (``x:0`` -> ``x``) and a ``<signature key>_`` prefix, the
   way TFLite names input tensors (``serving_default_x:0`` -> ``x``).

Nothing else is accepted: ``StatefulPartitionedCall:1`` is a position, not a name, and a
name that does not resolve (or resolves twice) is a conformance failure that lists both
sides' names, shapes and dtypes. There is never a silent positional match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from harness.contract.model import SignatureSpec, TensorSpec
from harness.errors import CheckFailure
from harness.interface.model import SignatureInterface, TensorInterface

NORMALISATIONS = "exact name; ':0' suffix removed; '<signature key>_' prefix removed"


@dataclass(frozen=True)
class Resolution:
    """Contract names -> format names for one signature, and how each was found."""

    signature: str
    key: str
    inputs: Mapping[str, str]
    outputs: Mapping[str, str]
    notes: tuple[str, ...] = ()


def _forms(name: str, key: str) -> set[str]:
    forms = {name}
    if name.endswith(":0"):
        forms.add(name[:-2])
    for form in list(forms):
        if key and form.startswith(key + "_"):
            forms.add(form[len(key) + 1:])
    return forms


def _describe_format(tensors: Mapping[str, TensorInterface]) -> str:
    if not tensors:
        return "none"
    parts = []
    for name, t in tensors.items():
        shape = "<any rank>" if t.shape is None else "[" + ", ".join(
            "?" if d is None else str(d) for d in t.shape) + "]"
        parts.append(f"{name} {t.dtype} {shape}")
    return "; ".join(parts)


def _describe_contract(tensors: tuple[TensorSpec, ...]) -> str:
    return "; ".join(f"{t.name} {t.dtype} {t.describe_shape()}" for t in tensors) or "none"


def name_map_of(options: Mapping[str, Any], signature: str) -> Mapping[str, Any]:
    return dict((options.get("name_map") or {}).get(signature) or {})


def resolve_key(signature: str, keys: list[str], name_map: Mapping[str, Any]) -> str | None:
    key = name_map.get("signature", signature)
    return key if key in keys else None


def resolve(fmt: str, spec: SignatureSpec, io: SignatureInterface, name_map: Mapping[str, Any], *,
            source: str, check: str) -> Resolution:
    """Map every input and output of ``spec`` to a name in ``io``; raise if one does not map."""
    problems: list[str] = []
    notes: list[str] = []
    maps: dict[str, dict[str, str]] = {"inputs": {}, "outputs": {}}
    for side, declared, available in (("inputs", spec.inputs, io.inputs),
                                      ("outputs", spec.outputs, io.outputs)):
        explicit = dict(name_map.get(side) or {})
        for tensor in declared:
            if tensor.name in explicit:
                target = explicit[tensor.name]
                if target in available:
                    maps[side][tensor.name] = target
                else:
                    problems.append(
                        f"{side[:-1]} {tensor.name!r}: name_map says {target!r}, which the {fmt} "
                        f"signature {io.key!r} does not have ({', '.join(available) or 'none'})")
                continue
            if tensor.name in available:
                maps[side][tensor.name] = tensor.name
                continue
            found = [n for n in available if tensor.name in _forms(n, io.key)]
            if len(found) == 1:
                maps[side][tensor.name] = found[0]
                notes.append(f"{side[:-1]} {tensor.name!r} is {found[0]!r} in {fmt}")
            elif found:
                problems.append(f"{side[:-1]} {tensor.name!r}: ambiguous in {fmt}, matches "
                                f"{found}")
            else:
                problems.append(f"{side[:-1]} {tensor.name!r}: not found among the {fmt} "
                                f"{side} [{', '.join(available) or 'none'}]")
    if problems:
        raise CheckFailure(
            check,
            f"{source}: names of signature {spec.name!r} do not resolve in {fmt} "
            f"(signature {io.key!r})",
            received=f"{fmt} inputs: {_describe_format(io.inputs)} | outputs: "
                     f"{_describe_format(io.outputs)}",
            documented=f"inputs: {_describe_contract(spec.inputs)} | outputs: "
                       f"{_describe_contract(spec.outputs)} ({spec.pointer})",
            details=problems + [
                f"accepted name normalisations: {NORMALISATIONS}; tensors are never matched "
                "by position",
                f"hint: if these are the same tensors under other names, declare "
                f"formats.{fmt}.name_map.{spec.name} = {{\"inputs\": {{...}}, \"outputs\": "
                f"{{CONTRACT_NAME: {fmt.upper()}_NAME}}}}"])
    return Resolution(spec.name, io.key, maps["inputs"], maps["outputs"], tuple(notes))


def missing_signature(fmt: str, spec: SignatureSpec, keys: list[str], name_map: Mapping[str, Any],
                      *, source: str, check: str, why: str = "") -> CheckFailure:
    """The failure for a signature key that the format does not have."""
    wanted = name_map.get("signature", spec.name)
    details = [f"hint: if one of these is the same signature, declare "
               f"formats.{fmt}.name_map.{spec.name}.signature"]
    if why:
        details.insert(0, why)
    return CheckFailure(
        check, f"{source}: signature {wanted!r} is missing from the {fmt} model",
        received=f"{fmt} signatures: {', '.join(keys) or 'none'}",
        documented=f"signature {spec.name!r} ({spec.pointer})", details=details)
