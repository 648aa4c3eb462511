"""REST fidelity findings of the bundled contracts (computed from the contract alone)."""

from __future__ import annotations

from harness.contract.load import load_contract
from harness.serving.findings import signature_findings
from tests.conftest import ROOT


def kinds(name: str) -> set[tuple[str, str, str]]:
    contract = load_contract(ROOT / "contracts" / f"{name}.json")
    return {(f.signature, f.tensor, f.kind) for sig in contract.signatures
            for f in signature_findings(contract, sig)}


def test_bundled_contracts_findings() -> None:
    assert kinds("classifier") == {("classify", "class_id", "int64-above-2^53"),
                                   ("embed", "embedding", "nan-inf-not-json")}
    assert kinds("text_classifier") == {("classify", "label", "int64-above-2^53"),
                                        ("serving_default", "label", "int64-above-2^53")}
    assert kinds("image_classifier") == {("classify", "class_id", "int64-above-2^53")}


def test_half_float_string_and_bounded_int(tmp_path) -> None:
    from tests.conftest import write_contract

    path = write_contract(tmp_path, signatures={"s": {
        "inputs": {"h": {"dtype": "float16", "shape": [2]},
                   "f": {"dtype": "float32", "shape": [2], "allow_nan": True}},
        "outputs": {"n": {"dtype": "int64", "shape": [2], "range": [0, 9]},
                    "text": {"dtype": "string", "shape": [2]},
                    "raw_bytes": {"dtype": "string", "shape": [2]}}}}, dims={})
    contract = load_contract(path)
    found = {(f.tensor, f.kind) for f in signature_findings(contract, contract.signatures[0])}
    assert found == {("h", "dtype-not-on-rest"), ("f", "nan-inf-not-json"),
                     ("text", "strings-not-b64")}
