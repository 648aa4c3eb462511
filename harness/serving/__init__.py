"""Checking a contract through a model server (TF Serving's REST and gRPC APIs).

* :mod:`harness.serving.config` - base-path layout, model config text, the start command
  (binary and container), all pure and unit-tested.
* :mod:`harness.serving.servers` - getting a server: a given URL, the binary, a Docker
  container, or none (the serving cases skip); once per contract and model base path.
* :mod:`harness.serving.rest` / :mod:`harness.serving.grpc_client` - the two clients.
* :mod:`harness.serving.metadata` - the server's view of the signatures.
* :mod:`harness.serving.findings` - REST fidelity findings computed from the contract.

The checks live in :mod:`harness.checks.serving` (one module per check), the backends (``serving-rest``,
``serving-grpc``) in :mod:`harness.backends.serving`.
"""

from __future__ import annotations

from harness.serving.config import (
    DEFAULT_IMAGE,
    ContainerSpec,
    ServingModel,
    binary_command,
    container_spec,
    model_config_text,
)
from harness.serving.findings import Finding, signature_findings
from harness.serving.servers import (
    Endpoint,
    ServingStartError,
    UntrustedServer,
    endpoint_for,
)

__all__ = [
    "DEFAULT_IMAGE", "ContainerSpec", "Endpoint", "Finding", "ServingModel", "ServingStartError",
    "UntrustedServer", "binary_command", "container_spec", "endpoint_for",
    "model_config_text", "signature_findings",
]
