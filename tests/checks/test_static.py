"""Static conformance: each check fails on its negative fixture with the message a user sees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.checks.static import SIGNATURE_CHECKS, STATIC_CHECKS
from harness.contract import load_contract
from harness.engine import Case, Engine
from harness.errors import CheckFailure, ModelError
from harness.savedmodel.layout import resolve_model
from tests.conftest import FIXTURES, ROOT, TINY_CONTRACT, corpus_contract, write_contract


def run_static(contract_path: Path, check: str, signature: str | None = "serving_default") -> list[str]:
    engine = Engine()
    contract = load_contract(contract_path)
    [ref] = engine.models_of(contract)
    case = next(c for c in engine.plan(contract, ref)
                if c.check == check and c.signature == (signature if check in SIGNATURE_CHECKS else None))
    return engine.execute(case)


def contract_for(tmp_path: Path, fixture: str, **changes: object) -> Path:
    return write_contract(tmp_path, models=[str(FIXTURES / fixture)], **changes)


def test_the_good_fixture_passes_every_static_check(tmp_path: Path) -> None:
    path = contract_for(tmp_path, "tiny")
    for check in STATIC_CHECKS:
        run_static(path, check)
    for check in SIGNATURE_CHECKS:
        run_static(path, check)


def test_wrong_dtype(tmp_path: Path) -> None:
    with pytest.raises(CheckFailure) as info:
        run_static(contract_for(tmp_path, "wrong_dtype"), "inputs")
    assert str(info.value) == (
        "[inputs] signature 'serving_default': inputs do not match the contract\n"
        "signature 'serving_default' input 'x': dtype Received: float64 / Documented: float32 "
        "(/signatures/serving_default/inputs/x/dtype)")


def test_wrong_rank(tmp_path: Path) -> None:
    with pytest.raises(CheckFailure) as info:
        run_static(contract_for(tmp_path, "wrong_rank"), "inputs")
    assert ("signature 'serving_default' input 'x': shape Received: [-1, 4, 1] / Documented: "
            "[batch, 4] (/signatures/serving_default/inputs/x/shape): rank 3 in the model, 2 in "
            "the contract") in str(info.value)


def test_missing_signature(tmp_path: Path) -> None:
    sigs = dict(TINY_CONTRACT["signatures"])
    sigs["classify"] = sigs["serving_default"]
    path = contract_for(tmp_path, "missing_signature", signatures=sigs)
    with pytest.raises(CheckFailure) as info:
        run_static(path, "signature", "classify")
    text = str(info.value)
    assert text.startswith("[signature] signature 'classify' is missing from ")
    assert "Received: signatures ['serving_default']" in text
    assert "Documented: a signature 'classify' (/signatures/classify)" in text


def test_missing_asset(tmp_path: Path) -> None:
    path = contract_for(tmp_path, "missing_asset", assets=["vocab.txt"])
    with pytest.raises(CheckFailure) as info:
        run_static(path, "assets")
    text = str(info.value)
    assert "[assets]" in text and "required assets missing" in text
    assert "asset 'vocab.txt': Received: not in " in text
    assert "(present: ['other.txt']) / Documented: present (contract /assets)" in text
    assert "asset 'vocab.txt': Received: not referenced by the graph's asset list" in text


def test_not_a_savedmodel(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as info:
        run_static(contract_for(tmp_path, "not_a_savedmodel"), "tags")
    assert str(info.value).startswith(
        f"{FIXTURES / 'not_a_savedmodel'}: not a SavedModel: no saved_model.pb or saved_model.pbtxt (found: ")


def test_truncated_pb(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as info:
        run_static(contract_for(tmp_path, "truncated_pb"), "tags")
    assert str(info.value).startswith(
        f"{FIXTURES / 'truncated_pb' / 'saved_model.pb'}: is truncated or corrupt: cannot parse ")


def test_empty_pb(tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    (model / "saved_model.pb").write_bytes(b"")
    with pytest.raises(ModelError, match="is empty \\(0 bytes\\)"):
        run_static(write_contract(tmp_path, models=[str(model)]), "tags")


def test_missing_variables(tmp_path: Path) -> None:
    with pytest.raises(CheckFailure) as info:
        run_static(contract_for(tmp_path, "missing_variables"), "variables")
    assert "the graph has variables but their values are missing" in str(info.value)
    assert "Received: no variables/variables.index" in str(info.value)


def test_wrong_tag_set(tmp_path: Path) -> None:
    with pytest.raises(CheckFailure) as info:
        run_static(contract_for(tmp_path, "tiny", tags=["serve", "gpu"]), "tags")
    assert "no MetaGraph with the tag-set ['gpu', 'serve']" in str(info.value)
    assert "Received: tag-sets [['serve']]" in str(info.value)


def test_missing_output_and_extra_output_note(tmp_path: Path) -> None:
    sigs = json.loads(json.dumps(TINY_CONTRACT["signatures"]))
    sigs["serving_default"]["outputs"]["probs"] = {"dtype": "float32"}
    with pytest.raises(CheckFailure) as info:
        run_static(contract_for(tmp_path, "tiny", signatures=sigs), "outputs")
    assert "output 'probs': Received: missing (model outputs: label, y)" in str(info.value)
    del sigs["serving_default"]["outputs"]["probs"]
    del sigs["serving_default"]["outputs"]["label"]
    del sigs["serving_default"]["relations"]
    notes = run_static(contract_for(tmp_path, "tiny", signatures=sigs), "outputs")
    assert notes == ["signature 'serving_default': outputs not in the contract (allowed): ['label']"]


def test_fixed_dim_and_named_dim_rules(tmp_path: Path) -> None:
    sigs = json.loads(json.dumps(TINY_CONTRACT["signatures"]))
    sigs["serving_default"]["inputs"]["x"]["shape"] = ["batch", 5]
    with pytest.raises(CheckFailure, match="axis 1 is 4 in the model, 5 in the contract"):
        run_static(contract_for(tmp_path, "tiny", signatures=sigs), "inputs")
    sigs["serving_default"]["inputs"]["x"]["shape"] = ["batch", "width"]
    dims = {"batch": {"min": 1, "max": 8}, "width": {"min": 1, "max": 8}}
    with pytest.raises(CheckFailure, match="axis 1 is fixed to 4 in the model, but the contract's "
                                           "dim 'width' ranges over 1..8"):
        run_static(contract_for(tmp_path, "tiny", signatures=sigs, dims=dims), "inputs")
    dims["width"] = {"min": 4, "max": 4}
    run_static(contract_for(tmp_path, "tiny", signatures=sigs, dims=dims), "inputs")


CORPUS_CONTRACTS = sorted((ROOT / "contracts" / "corpus").glob("*.json"))


@pytest.mark.parametrize("path", CORPUS_CONTRACTS, ids=lambda p: p.stem)
def test_corpus_models_pass_static_checks(path: Path, corpus: Path, tmp_path: Path) -> None:
    """Every corpus model passes its hand-written contract, half_plus_three included: its
    SignatureDef records no tensor_shape for x and y, an unknown shape, not a scalar."""
    engine = Engine()
    contract = load_contract(corpus_contract(path.stem, corpus, tmp_path))
    refs = engine.models_of(contract)
    assert refs
    for ref in refs:
        for case in engine.plan(contract, ref):
            if case.family == "static":
                engine.execute(case)


def test_a_tf1_export_passes_static_checks_in_every_version() -> None:
    """The bundled TF1 export: shapeless TensorInfos (version 2), partial and unknown shapes."""
    engine = Engine()
    contract = load_contract(FIXTURES / "contracts" / "tf1_half_plus_two.json")
    refs = engine.models_of(contract)
    assert [r.version for r in refs] == [1, 2]
    assert [r.label for r in refs] == ["tf1_half_plus_two@1", "tf1_half_plus_two@2"]
    ran = set()
    for ref in refs:
        for case in engine.plan(contract, ref):
            if case.family == "static":
                engine.execute(case)
                ran.add(case.check)
    assert {"tags", "variables", "assets", "signature", "inputs", "outputs"} <= ran
    [old] = engine.context.model_info(refs[1]).meta_graphs
    assert old.signatures["serving_default"].inputs["x"].shape is None  # no tensor_shape
    assert old.signatures["regress_x_to_y"].inputs["inputs"].shape is None  # unknown rank
    assert old.signatures["predict_x2_to_y2"].inputs["x2"].shape == (None, 1)
    assert old.asset_files == ("foo.txt",)  # the TF1 assets collection


def test_resolve_model_lists_versions(corpus: Path) -> None:
    refs = resolve_model(corpus / "saved_model_half_plus_two_2_versions")
    assert [r.version for r in refs] == [123, 124]
    assert [r.label for r in refs] == ["saved_model_half_plus_two_2_versions@123",
                                       "saved_model_half_plus_two_2_versions@124"]


def test_case_ids_are_stable(tmp_path: Path) -> None:
    engine = Engine()
    contract = load_contract(contract_for(tmp_path, "tiny"))
    [ref] = engine.models_of(contract)
    ids = [c.id for c in engine.plan(contract, ref) if isinstance(c, Case) and c.family == "static"]
    assert ids[:2] == ["tiny::tiny::-::tags", "tiny::tiny::-::variables"]
