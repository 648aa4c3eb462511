"""A server's view of a model's signatures (REST ``/metadata``, gRPC GetModelMetadata).

Both answers are read into the declared-interface model (:mod:`harness.interface`), by
the same reading of a ``SignatureDef`` that ``saved_model.pb`` gets, so the static checks run
unchanged on what the server reports, and a given server is compared with the SavedModel
(:func:`harness.interface.compare.compare_interfaces`) before it is trusted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from harness.contract.model import Contract, frozen
from harness.interface.compare import (
    SIGNATURE_EXTRA,
    SIGNATURE_MISSING,
    TENSOR_EXTRA,
    TENSOR_MISSING,
    compare_interfaces,
)
from harness.interface.model import SignatureInterface
from harness.savedmodel.reader import (
    INTERNAL_SIGNATURES,
    MetaGraphInfo,
    SavedModelInfo,
    signature_info,
)


def signatures_from_proto(signature_map: Any) -> dict[str, SignatureInterface]:
    """A ``SignatureDefMap`` proto (gRPC GetModelMetadata) -> the declared signatures (TF's
    internal ones left out)."""
    return {key: signature_info(key, sig) for key, sig in sorted(signature_map.signature_def.items())
            if key not in INTERNAL_SIGNATURES}


def signatures_from_rest(body: Any) -> dict[str, SignatureInterface]:
    """The REST metadata JSON -> signatures; ValueError if it is not a metadata answer."""
    from google.protobuf import json_format  # noqa: PLC0415
    from tensorflow_serving.apis import get_model_metadata_pb2  # noqa: PLC0415

    try:
        raw = body["metadata"]["signature_def"]
    except (KeyError, TypeError):
        raise ValueError(f"not a metadata answer: {str(body)[:200]}") from None
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    json_format.ParseDict(raw, signature_map, ignore_unknown_fields=True)
    return signatures_from_proto(signature_map)


def fetch_metadata(endpoint: Any, *, version: int | None = None,
                   label: str | None = None) -> dict[str, dict[str, SignatureInterface]]:
    """{"REST": signatures, "gRPC": signatures} for each protocol the endpoint has."""
    from harness.serving.grpc_client import GrpcClient
    from harness.serving.rest import RestClient

    out: dict[str, dict[str, SignatureInterface]] = {}
    if endpoint.rest_url:
        client = RestClient(endpoint.rest_url, endpoint.model.name, timeout=30.0)
        try:
            response = client.metadata(version=version, label=label)
        finally:
            client.close()
        if response.status != 200:
            raise ValueError(f"GET {client.path(version, label)}/metadata: {response.describe()}")
        out["REST"] = signatures_from_rest(response.body)
    if endpoint.grpc_target:
        grpc_client = GrpcClient(endpoint.grpc_target, endpoint.model.name, timeout=30.0)
        try:
            out["gRPC"] = signatures_from_proto(grpc_client.metadata(version=version, label=label))
        finally:
            grpc_client.close()
    return out


#: what the served signatures may differ in from the SavedModel's without a problem: how a
#: tensor is passed (a server reports the same TensorInfo), its graph name and method_name
NOT_COMPARED = ("encoding", "tensor name", "method_name")


def compare_with_saved_model(contract: Contract, info: SavedModelInfo,
                             served: Mapping[str, SignatureInterface]) -> list[str]:
    """Differences between the served signatures and the SavedModel's (names, dtypes, shapes)."""
    mg = info.meta_graph(contract.tags)
    if mg is None:
        return []  # the static "tags" check reports this
    found = [m for m in compare_interfaces(mg.signatures, served) if m.kind not in NOT_COMPARED]
    sigs = {m.signature for m in found if m.kind in (SIGNATURE_MISSING, SIGNATURE_EXTRA)}
    tensors = {(m.signature, m.side, m.tensor): m.kind for m in found if m.tensor is not None}
    problems = []
    for key in sorted(set(mg.signatures) | set(served)):
        if key in sigs:
            mine = key in mg.signatures
            problems.append(f"signature {key!r}: {'in' if mine else 'served but not in'} "
                            f"the SavedModel{' but not served' if mine else ''}")
            continue
        for side in ("inputs", "outputs"):
            a, b = mg.signatures[key].side(side), served[key].side(side)
            for name in sorted(set(a) | set(b)):
                kind = tensors.get((key, side, name))
                if kind == TENSOR_MISSING:
                    problems.append(f"signature {key!r} {side[:-1]} {name!r}: in the SavedModel "
                                    f"({a[name].describe()}) but not served (served "
                                    f"{side}: {', '.join(sorted(b)) or 'none'})")
                elif kind == TENSOR_EXTRA:
                    problems.append(f"signature {key!r} {side[:-1]} {name!r}: served "
                                    f"({b[name].describe()}) but not in the SavedModel")
                elif kind is not None:
                    problems.append(f"signature {key!r} {side[:-1]} {name!r}: served as "
                                    f"{b[name].describe()}, the SavedModel says "
                                    f"{a[name].describe()}")
    return problems


def as_model_info(contract: Contract, signatures: Mapping[str, SignatureInterface],
                  where: str) -> SavedModelInfo:
    """The server's view as a :class:`SavedModelInfo`, for the static checks' functions."""
    mg = MetaGraphInfo(tags=frozenset(contract.tags), signatures=frozen(dict(signatures)),
                       asset_files=(), tensorflow_version="", has_variables=False)
    return SavedModelInfo(Path(where), (mg,), (), True, frozen({}))
