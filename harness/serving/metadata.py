"""A server's view of a model's signatures (REST ``/metadata``, gRPC GetModelMetadata).

Both answers are turned into the same :class:`~harness.savedmodel.reader.SignatureInfo`
the static reader makes from ``saved_model.pb``, so the static checks' comparison runs
unchanged on what the server reports, and a given server can be compared with the
SavedModel before it is trusted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from harness.contract.model import Contract, frozen
from harness.savedmodel.reader import (
    INTERNAL_SIGNATURES,
    MetaGraphInfo,
    SavedModelInfo,
    SignatureInfo,
    TensorInfo,
    tensor_info,
)


def signatures_from_proto(signature_map: Any) -> dict[str, SignatureInfo]:
    """A ``SignatureDefMap`` proto -> signatures (TF's internal ones left out)."""
    out = {}
    for key, sig in sorted(signature_map.signature_def.items()):
        if key in INTERNAL_SIGNATURES:
            continue
        out[key] = SignatureInfo(
            key, sig.method_name,
            frozen({k: tensor_info(k, v) for k, v in sorted(sig.inputs.items())}),
            frozen({k: tensor_info(k, v) for k, v in sorted(sig.outputs.items())}))
    return out


def signatures_from_rest(body: Any) -> dict[str, SignatureInfo]:
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
                   label: str | None = None) -> dict[str, dict[str, SignatureInfo]]:
    """{"REST": signatures, "gRPC": signatures} for each protocol the endpoint has."""
    from harness.serving.grpc_client import GrpcClient
    from harness.serving.rest import RestClient

    out: dict[str, dict[str, SignatureInfo]] = {}
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


def _describe(t: TensorInfo) -> str:
    return t.describe()


def compare_with_saved_model(contract: Contract, info: SavedModelInfo,
                             served: Mapping[str, SignatureInfo]) -> list[str]:
    """Differences between the served signatures and the SavedModel's (names, dtypes, shapes)."""
    mg = info.meta_graph(contract.tags)
    if mg is None:
        return []  # the static "tags" check reports this
    problems = []
    for key in sorted(set(mg.signatures) | set(served)):
        mine, theirs = mg.signatures.get(key), served.get(key)
        if mine is None or theirs is None:
            problems.append(f"signature {key!r}: {'served but not in' if mine is None else 'in'} "
                            f"the SavedModel{'' if mine is None else ' but not served'}")
            continue
        for side in ("inputs", "outputs"):
            a, b = dict(getattr(mine, side)), dict(getattr(theirs, side))
            for name in sorted(set(a) | set(b)):
                if name not in b:
                    problems.append(f"signature {key!r} {side[:-1]} {name!r}: in the SavedModel "
                                    f"({_describe(a[name])}) but not served (served {side}: "
                                    f"{', '.join(sorted(b)) or 'none'})")
                elif name not in a:
                    problems.append(f"signature {key!r} {side[:-1]} {name!r}: served "
                                    f"({_describe(b[name])}) but not in the SavedModel")
                elif (a[name].dtype, a[name].shape) != (b[name].dtype, b[name].shape):
                    problems.append(f"signature {key!r} {side[:-1]} {name!r}: served as "
                                    f"{_describe(b[name])}, the SavedModel says {_describe(a[name])}")
    return problems


def as_model_info(contract: Contract, signatures: Mapping[str, SignatureInfo],
                  where: str) -> SavedModelInfo:
    """The server's view as a :class:`SavedModelInfo`, for the static checks' functions."""
    mg = MetaGraphInfo(tags=frozenset(contract.tags), signatures=frozen(dict(signatures)),
                       asset_files=(), tensorflow_version="", has_variables=False)
    return SavedModelInfo(Path(where), (mg,), (), True, frozen({}))
