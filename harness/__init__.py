"""model-contract: declarative contracts and format-compatibility tests for TensorFlow SavedModels.

The small public API; see README.md for the contract format and ARCHITECTURE.md for the layers.
"""

from harness.contract.load import load_contract, schema
from harness.contract.model import Contract, SignatureSpec, TensorSpec, Tolerance
from harness.errors import (
    BackendUnavailable,
    CheckFailure,
    ContractError,
    HarnessError,
    ModelError,
    PolicyViolation,
)

__all__ = [
    "BackendUnavailable",
    "CheckFailure",
    "Contract",
    "ContractError",
    "HarnessError",
    "ModelError",
    "PolicyViolation",
    "SignatureSpec",
    "TensorSpec",
    "Tolerance",
    "load_contract",
    "schema",
]
__version__ = "0.1.0"
