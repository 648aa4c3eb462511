"""A model server as a backend: ``serving-rest`` (JSON over HTTP) and ``serving-grpc``.

The server itself is shared: :func:`harness.serving.servers.endpoint_for` starts (or
checks) one per contract and model base path, and each backend addresses its model
version on it (``/versions/N``, ``ModelSpec.version``). ``infer`` sends the columnar
REST form or a gRPC ``PredictRequest``; the serving checks use the clients directly for
the row form, classify/regress, labels and bad requests.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

import numpy as np

from harness.backends.base import Backend, register
from harness.contract.model import SignatureSpec
from harness.errors import BackendUnavailable
from harness.interface.model import SignatureInterface


class ServingBackend(Backend):
    """Shared work of both protocols: the endpoint, the version, the served signatures."""

    preparing = "starting (or checking) the model server for"

    protocol: ClassVar[str] = ""
    #: a client of a server process: nothing to isolate (the server is its own process)
    isolate = False
    install = "pip install grpcio tensorflow-serving-api (and a model server; see --serving-*)"

    endpoint: Any = None
    version: int | None = None
    served: Mapping[str, SignatureInterface] = {}

    @property
    def label(self) -> str:
        origin = self.endpoint.origin if self.endpoint is not None else "not started"
        return f"{self.name} ({origin})"

    def activate_impl(self) -> None:
        from harness.serving.metadata import fetch_metadata
        from harness.serving.servers import endpoint_for

        self.endpoint = endpoint_for(self.context, self.contract, self.model)
        address = self.endpoint.rest_url if self.protocol == "REST" else self.endpoint.grpc_target
        if not address:
            flag = "--serving-url" if self.protocol == "REST" else "--serving-grpc"
            raise BackendUnavailable(self.name, f"{self.endpoint.label} has no {self.protocol} "
                                                f"address (give {flag})")
        self.version = self.endpoint.version_of(self.model)
        self.connect(address)
        self.served = fetch_metadata(self._only(self.endpoint), version=self.version)[self.protocol]

    def _only(self, endpoint: Any) -> Any:
        from dataclasses import replace

        if self.protocol == "REST":
            return replace(endpoint, grpc_target=None)
        return replace(endpoint, rest_url=None)

    def connect(self, address: str) -> None:
        raise NotImplementedError

    def output_dtypes(self, signature: str) -> dict[str, str]:
        sig = self.served.get(signature)
        return {} if sig is None else {k: t.dtype for k, t in sig.outputs.items()}

    def signatures_impl(self) -> Mapping[str, SignatureInterface]:
        return self.served


@register
class ServingRestBackend(ServingBackend):
    name = "serving-rest"
    protocol = "REST"

    def connect(self, address: str) -> None:
        from harness.serving.rest import RestClient

        self.client = RestClient(address, self.endpoint.model.name)

    def deactivate_impl(self) -> None:
        self.client.close()

    def infer_impl(self, signature: SignatureSpec, inputs: Mapping[str, np.ndarray]
                   ) -> Mapping[str, Any]:
        return self.predict(signature, inputs, row=False)

    def predict(self, signature: SignatureSpec, inputs: Mapping[str, np.ndarray], *, row: bool,
                version: int | None = None, label: str | None = None) -> dict[str, np.ndarray]:
        """Predict in the row or columnar form, at the backend's version or the one given."""
        from harness.checks.conformance import dtype_name

        self.activate()

        dtypes = {}
        for name, value in inputs.items():
            try:
                dtypes[name] = signature.input(name).dtype
            except KeyError:
                dtypes[name] = dtype_name(value)
        if version is None and label is None:
            version = self.version
        return self.client.predict_arrays(
            inputs, input_dtypes=dtypes, output_dtypes=self.output_dtypes(signature.name),
            signature=signature.name, row=row, version=version, label=label)


@register
class ServingGrpcBackend(ServingBackend):
    name = "serving-grpc"
    protocol = "gRPC"

    def connect(self, address: str) -> None:
        from harness.serving.grpc_client import GrpcClient

        try:
            self.client = GrpcClient(address, self.endpoint.model.name)
        except ImportError as exc:
            raise BackendUnavailable(self.name, f"the gRPC client cannot be imported ({exc})",
                                     install="pip install grpcio tensorflow-serving-api") from None

    def deactivate_impl(self) -> None:
        """Close the channel (activate opens a new one); the server itself is shared."""
        self.client.close()

    def infer_impl(self, signature: SignatureSpec, inputs: Mapping[str, np.ndarray]
                   ) -> Mapping[str, Any]:
        return dict(self.client.predict(signature.name, inputs, version=self.version).outputs)
