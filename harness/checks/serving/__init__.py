"""The serving family: the contract checked through a model server, over REST and gRPC.

Planned when ``context.backend_selected(contract, "serving")``; one server per contract
and model base path is shared by every case (:mod:`harness.serving.servers`).

* ``status`` (model-level): every version under test is AVAILABLE (REST and gRPC).
* ``metadata``: REST ``/metadata`` and gRPC GetModelMetadata report the contract's
  signature, names, dtypes and shapes, judged by the static checks' own functions on
  the server's view; returns the REST fidelity findings of the signature as notes.
* ``predict-rest-row``, ``predict-rest-columnar``, ``predict-grpc``: fuzzed calls; the
  outputs conform to the contract and agree with the SavedModel within the tolerance
  for ``serving`` (float32 values round-trip exactly through TF Serving's JSON, so REST
  is held to the same tolerance; the REST-vs-gRPC difference is recorded).
* ``classify`` / ``regress``: signatures whose input is serialized tf.Examples and whose
  method is classify/regress, through the Classify/Regress APIs, against the SavedModel.
* ``addressing``: ``/versions/N`` and ``/labels/L`` (REST), ``ModelSpec.version`` and
  ``version_label`` (gRPC) reach the version under test and answer as its SavedModel.
* ``bad-requests``: wrong dtype / wrong rank (where the contract rejects them) and an
  unknown signature are refused: HTTP 400 with ``{"error": ...}``, gRPC INVALID_ARGUMENT
  (FAILED_PRECONDITION too for an unknown signature key, as TF Serving answers); never 200.
* ``batch-consistency``: a batch of N answers as N single requests do.

Comparisons go through :func:`harness.checks.parity.compare` and are recorded in
the run's parity measurements with format ``serving-rest`` / ``serving-grpc``.
"""

from __future__ import annotations

# Each module registers its checks; plan registers the family's planner.
from harness.checks.serving import (  # noqa: F401 - registration
    addressing,
    bad_requests,
    batch,
    examples,
    metadata,
    plan,
    predict,
    status,
)
from harness.checks.serving.declare import SERVING_CHECKS, serving_check

__all__ = ["SERVING_CHECKS", "serving_check"]
