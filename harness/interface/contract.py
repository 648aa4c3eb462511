"""A contract's declared interface: its signatures, required assets and tag-set.

A named dim becomes the range its ``dims`` entry bounds, ``null`` any size, a shape of
``null`` any rank; a tensor's ``name`` (the graph tensor it must be) is its ``tensor_name``.
"""

from __future__ import annotations

from harness.contract.model import Contract, Dim, SignatureSpec, TensorSpec
from harness.interface.model import DimRange, Interface, SignatureInterface, TensorInterface


def dims_from_contract(contract: Contract, shape: tuple[Dim, ...] | None
                       ) -> tuple[DimRange, ...] | None:
    if shape is None:
        return None
    out = []
    for entry in shape:
        if isinstance(entry, int):
            out.append(DimRange.fixed(entry))
        elif isinstance(entry, str):
            bound = contract.dims[entry]
            out.append(DimRange(bound.min, bound.max, entry))
        else:
            out.append(DimRange.free())
    return tuple(out)


def tensor_from_contract(contract: Contract, spec: TensorSpec) -> TensorInterface:
    return TensorInterface(spec.name, spec.dtype, dims_from_contract(contract, spec.shape),
                           spec.range, spec.sunset, tensor_name=spec.graph_name or "")


def signature_from_contract(contract: Contract, sig: SignatureSpec) -> SignatureInterface:
    return SignatureInterface(
        sig.name, sig.method_name,
        {t.name: tensor_from_contract(contract, t) for t in sig.inputs},
        {t.name: tensor_from_contract(contract, t) for t in sig.outputs},
        sig.sunset)


def interface_from_contract(contract: Contract) -> Interface:
    """The interface a contract promises (its signatures, required assets and tag-set)."""
    return Interface(str(contract.path),
                     {s.name: signature_from_contract(contract, s) for s in contract.signatures},
                     tuple(sorted(contract.assets)), tuple(sorted(contract.tags)),
                     version=contract.version or None)


__all__ = ["dims_from_contract", "interface_from_contract", "signature_from_contract",
           "tensor_from_contract"]
