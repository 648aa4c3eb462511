"""The TF.js backend on given model.json files (written by code; no converter needed).

Needs Node and npm (the pinned TF.js packages are installed into the tools folder on first
use); skips with the reason where they are missing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.backends import node
from harness.backends.tfjs_findings import signature_findings, unsupported_ops
from harness.contract.load import load_contract
from harness.errors import BackendUnavailable, HarnessError
from models_under_test.fixtures_tfjs import write_tiny_tfjs
from tests.conftest import write_contract
from tests.exports.conftest import FIXTURES, tree_state
from tests.exports.test_format_checks import results_under_tmp_path, run  # noqa: F401 - autouse: results under tmp_path

pytestmark = pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                                reason="Node.js and npm are needed for the TF.js runtime "
                                       "(apt-get install nodejs npm)")


def tfjs_contract(tmp_path: Path, model_json: Path, name: str = "c.json",
                  **options: Any) -> Path:
    return write_contract(tmp_path, name=name, models=[str(FIXTURES / "tiny")],
                          formats={"tfjs": {"path": str(model_json), **options}})


def test_a_faithful_tfjs_model_passes_and_records_the_int64_finding(tmp_path: Path) -> None:
    model_json = write_tiny_tfjs(tmp_path / "good")
    before = tree_state(tmp_path / "good")
    out = run(tfjs_contract(tmp_path, model_json))
    assert {k: v[0] for k, v in out.items()} == {
        "serving_default::conformance[tfjs]": "passed",
        "serving_default::parity[tfjs]": "passed"}, out
    rows = {r["output"]: r for r in run.record.parity}  # type: ignore[attr-defined]
    assert rows["y"]["format"] == "tfjs" and rows["y"]["passed"] and rows["y"]["max_abs"] < 1e-5
    assert rows["label"]["exact"] and rows["label"]["max_abs"] == 0
    assert "Node, wasm backend" in rows["y"]["label"]
    findings = run.record.findings  # type: ignore[attr-defined]
    assert findings == [{
        "contract": "tiny", "signature": "serving_default", "tensor": "label",
        "side": "output", "kind": "int64-to-int32", "format": "tfjs",
        "message": "signature 'serving_default' output 'label' (int64): TF.js has no int64 "
                   "tensors and runs it as int32; no range bounds it, so values beyond 2^31 "
                   "wrap (declare a range within int32 if the values stay there)"}]
    assert tree_state(tmp_path / "good") == before  # the given artifact is only read


def test_the_parity_matrix_and_the_report_have_the_tfjs_column(tmp_path: Path) -> None:
    from harness.report import build_report, parity_table

    run(tfjs_contract(tmp_path, write_tiny_tfjs(tmp_path / "good")))
    record = run.record  # type: ignore[attr-defined]
    lines = parity_table(record.parity)
    rows = [line.split()[:4] for line in lines[1:]]
    assert rows == [["tiny", "serving_default", "tfjs", "label"],
                    ["tiny", "serving_default", "tfjs", "y"]], lines
    assert lines[1].split()[-2:] == ["exact", "pass"] and lines[2].split()[-1] == "pass"
    report = build_report(record)
    assert {(r["format"], r["output"]) for r in report["parity"]} == {("tfjs", "y"),
                                                                      ("tfjs", "label")}
    assert [(f["format"], f["kind"]) for f in report["findings"]] == [("tfjs", "int64-to-int32")]


def test_a_perturbed_tfjs_model_fails_parity_with_its_message(tmp_path: Path) -> None:
    model_json = write_tiny_tfjs(tmp_path / "perturbed", perturb_sd=0.05)
    out = run(tfjs_contract(tmp_path, model_json))
    assert out["serving_default::conformance[tfjs]"][0] == "passed"
    outcome, message = out["serving_default::parity[tfjs]"]
    assert outcome == "failed"
    first = message.splitlines()[0]
    assert first.startswith("[parity[tfjs]] tfjs (given: ")
    assert "perturbed/model.json; Node, wasm backend)" in first
    assert "output 'y' of signature 'serving_default'" in first
    assert "beyond tolerance atol=1e-05, rtol=0.0001" in first
    assert "would pass with atol=" in message and "Reproduce with: pytest" in message


def test_an_op_the_runtime_lacks_fails_and_is_named_as_a_finding(tmp_path: Path) -> None:
    model_json = write_tiny_tfjs(tmp_path / "lgamma", unsupported_op=True)
    out = run(tfjs_contract(tmp_path, model_json))
    outcome, message = out["serving_default::conformance[tfjs]"]
    assert outcome == "failed"
    assert message.startswith("[conformance[tfjs]] tfjs (given: ")
    assert "a valid input was refused" in message
    assert "Received: ValueError: Unknown op 'Lgamma'" in message
    assert ("TF.js fidelity (unsupported-op): signature 'serving_default' uses op Lgamma, "
            "which the TF.js runtime does not support") in message
    kinds = {(f["kind"], f["tensor"]) for f in run.record.findings}  # type: ignore[attr-defined]
    assert ("unsupported-op", "Lgamma") in kinds


def test_names_never_match_by_position_and_a_name_map_resolves_them(tmp_path: Path) -> None:
    model_json = write_tiny_tfjs(tmp_path / "renamed", renamed=True)
    out = run(tfjs_contract(tmp_path, model_json))
    outcome, message = out["serving_default::conformance[tfjs]"]
    assert outcome == "failed"
    assert "names of signature 'serving_default' do not resolve in tfjs" in message
    assert "output 'y': not found among the tfjs outputs [probabilities, label]" in message
    assert "formats.tfjs.name_map.serving_default" in message
    mapped = tfjs_contract(tmp_path, model_json, name="mapped.json",
                           name_map={"serving_default": {"outputs": {"y": "probabilities"}}})
    assert {v[0] for v in run(mapped).values()} == {"passed"}


def test_the_option_wins_over_the_contract_and_runs_isolated(tmp_path: Path) -> None:
    good = write_tiny_tfjs(tmp_path / "good")
    perturbed = write_tiny_tfjs(tmp_path / "perturbed", perturb_sd=0.05)
    out = run(tfjs_contract(tmp_path, good), tfjs=perturbed, in_process=False)
    outcome, message = out["serving_default::parity[tfjs]"]
    assert outcome == "failed" and "perturbed/model.json" in message


def test_the_plain_cpu_backend_is_used_when_the_contract_asks(tmp_path: Path) -> None:
    model_json = write_tiny_tfjs(tmp_path / "good")
    out = run(tfjs_contract(tmp_path, model_json, runtime="cpu"))
    assert {v[0] for v in out.values()} == {"passed"}
    labels = {r["label"] for r in run.record.parity}  # type: ignore[attr-defined]
    assert labels and all("Node, cpu backend" in label for label in labels)


def test_a_missing_model_json_names_the_contract_place(tmp_path: Path) -> None:
    contract = tfjs_contract(tmp_path, tmp_path / "nowhere" / "model.json")
    with pytest.raises(HarnessError) as info:
        run(contract)
    assert str(info.value) == (f"{contract}: /formats/tfjs/path: TF.js model "
                               f"{tmp_path / 'nowhere' / 'model.json'} does not exist")


def test_missing_node_is_a_clear_unavailable_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(BackendUnavailable) as info:
        node.node_binary()
    assert str(info.value).startswith("backend 'tfjs' unavailable: Node.js (`node`) is not on PATH")
    assert "apt-get install nodejs npm" in str(info.value)


def test_the_node_protocol_round_trips_every_tfjs_dtype() -> None:
    for value, dtype in ((np.array([[1.5, -2.0]], np.float32), "float32"),
                         (np.array([3, -4], np.int64), "int32"),
                         (np.array([True, False]), "bool"),
                         (np.array([b"a\xff", b""], object), "string")):
        back = node.decode(node.encode(value, dtype))
        assert back.shape == value.shape
        assert back.tolist() == value.astype(back.dtype).tolist() if dtype != "string" \
            else back.tolist() == value.tolist()


def test_the_node_child_round_trips_every_tfjs_dtype(tmp_path: Path) -> None:
    """The same values back from the Node child's tensors (the echo request: no model run);
    string tensors keep bytes that are not UTF-8."""
    from harness.exports.tfjs_env import default_tools_dir

    model = node.NodeModel(write_tiny_tfjs(tmp_path / "good"),
                           runtime=node.runtime_dir(default_tools_dir()))
    try:
        values = {"f": (np.array([[1.5, -2.0], [np.inf, 0.0]], np.float32), "float32"),
                  "i": (np.array([3, -4, 2**31 - 1], np.int32), "int32"),
                  "b": (np.array([True, False]), "bool"),
                  "s": (np.array([b"a\xff", b""], object), "string")}
        back = model.echo({k: node.encode(v, dtype) for k, (v, dtype) in values.items()})
    finally:
        model.close()
    for name, (value, _) in values.items():
        assert back[name].shape == value.shape and back[name].tolist() == value.tolist(), name


# ------------------------------------------------------------------- findings (pure)


def _signature(tmp_path: Path, outputs: dict[str, Any]) -> Any:
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"name": "f", "signatures": {"s": {
        "inputs": {"x": {"dtype": "float64", "shape": [2]}}, "outputs": outputs}}}))
    contract = load_contract(path)
    return contract, contract.signature("s")


def test_findings_from_the_contract_alone(tmp_path: Path) -> None:
    contract, sig = _signature(tmp_path, {
        "small": {"dtype": "int64", "shape": [1], "range": [0, 9]},
        "big": {"dtype": "int64", "shape": [1]},
        "text": {"dtype": "string", "shape": [1]}})
    found = {(f.tensor, f.kind): f.message for f in signature_findings(contract, sig)}
    assert set(found) == {("x", "dtype-not-in-tfjs"), ("big", "int64-to-int32"),
                          ("text", "strings")}
    assert found[("x", "dtype-not-in-tfjs")] == (
        "signature 's' input 'x' (float64): TF.js has no float64 tensors; it holds them as "
        "float32, losing precision beyond float32 (about 7 digits) and range beyond 3.4e38")
    assert found[("text", "strings")] == (
        "signature 's' output 'text' (string): TF.js holds strings as byte arrays (Uint8Array) "
        "and has few string ops; a browser client passes UTF-8 bytes, and ops TF.js lacks are "
        "reported by the converter or the runtime (unsupported-op)")
    assert found[("big", "int64-to-int32")] == (
        "signature 's' output 'big' (int64): TF.js has no int64 tensors and runs it as int32; "
        "no range bounds it, so values beyond 2^31 wrap (declare a range within int32 if the "
        "values stay there)")


def test_an_int64_range_or_enum_beyond_int32_is_named_in_the_finding(tmp_path: Path) -> None:
    contract, sig = _signature(tmp_path, {
        "wide": {"dtype": "int64", "shape": [1], "range": [0, 2**31]},
        "ids": {"dtype": "uint32", "shape": [1], "enum": [1, 2**32 - 1]},
        "fits": {"dtype": "int64", "shape": [1], "enum": [-(2**31), 2**31 - 1]}})
    found = {f.tensor: f.message for f in signature_findings(contract, sig)
             if f.kind == "int64-to-int32"}
    assert found == {
        "wide": "signature 's' output 'wide' (int64): TF.js has no int64 tensors and runs it as "
                "int32; range [0, 2147483648], so values beyond 2^31 wrap (declare a range "
                "within int32 if the values stay there)",
        "ids": "signature 's' output 'ids' (uint32): TF.js has no uint32 tensors and runs it as "
               "int32; its enum, so values beyond 2^31 wrap (declare a range within int32 if "
               "the values stay there)"}


def test_unsupported_ops_are_read_from_converter_and_runtime_messages() -> None:
    converter = ("ValueError: Unsupported Ops in the model before optimization\n"
                 "Lgamma, Digamma")
    assert unsupported_ops(converter) == ["Lgamma", "Digamma"]
    assert unsupported_ops("Unknown op 'InitializeTableFromTextFileV2'. File an issue") == [
        "InitializeTableFromTextFileV2"]
    assert unsupported_ops("all fine") == []


def test_a_model_json_tfjs_cannot_load_is_a_user_error_naming_the_file(tmp_path: Path) -> None:
    model_json = write_tiny_tfjs(tmp_path / "truncated")
    (tmp_path / "truncated" / "group1-shard1of1.bin").write_bytes(b"\0" * 8)
    with pytest.raises(HarnessError) as info:
        run(tfjs_contract(tmp_path, model_json))
    message = str(info.value)
    assert message.startswith(f"{model_json}: TF.js cannot load ")
    assert "tf.loadGraphModel failed" in message
