"""The contract: frozen data (:mod:`.model`) and its loader (:mod:`.load`)."""

from harness.contract.load import load_contract, schema
from harness.contract.model import Contract, SignatureSpec, TensorSpec, Tolerance

__all__ = ["Contract", "SignatureSpec", "TensorSpec", "Tolerance", "load_contract", "schema"]
