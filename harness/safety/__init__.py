"""Pre-load safety scan of SavedModels: which ops a model may run before TF touches it.

``scan_saved_model(model_dir, policy)`` reads ``saved_model.pb`` statically (no TF loader,
nothing executed) and returns a :class:`ScanReport`; ``report.raise_for_violations()``
raises :class:`harness.errors.PolicyViolation`. The policy comes from a contract's
``"ops"`` section (``OpPolicy.from_mapping``) or a JSON file (``load_policy``).
"""

from __future__ import annotations

from harness.safety.policy import DEFAULT_DENY, DEFAULT_POLICY, DENY_REASONS, OpPolicy, load_policy
from harness.safety.scan import Finding, LambdaLayer, OpSite, ScanReport, check_saved_model, scan_saved_model

__all__ = [
    "DEFAULT_DENY",
    "DEFAULT_POLICY",
    "DENY_REASONS",
    "Finding",
    "LambdaLayer",
    "OpPolicy",
    "OpSite",
    "ScanReport",
    "check_saved_model",
    "load_policy",
    "scan_saved_model",
]
