"""Loading contracts: the published schema, precise messages for every kind of broken contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.contract import load_contract, schema
from harness.contract.load import SCHEMA_PATH
from harness.errors import ContractError

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
INVALID = HERE / "invalid"

#: file stem -> the message a user sees after "tests/contract/invalid/<stem>.json: "
EXPECTED = {
    'bad_statistic':
        "/tolerance/statistic: 'average' is not valid here; expected max, mean, median or a quantile pNN such as p99",
    'check_axis_out_of_range':
        '/signatures/s/outputs/y/checks/0/axis: axis 2 is out of range for a tensor of rank 2',
    'dim_bound_negative':
        '/dims/batch/min: -1 is below the minimum 0',
    'dim_min_gt_max':
        '/dims/batch: min 8 is greater than max 2; no size satisfies it',
    'dtype_wrong_type':
        '/signatures/s/inputs/x/dtype: 32 is not a dtype; expected one of float16, float32, float64, bfloat16, int8, int16, int32, int64, uint8, uint16, uint32, uint64, bool, string, complex64, complex128',
    'duplicate_key':
        "line 1: duplicate key 'name'; each key may appear once in an object",
    'empty_signatures':
        '/signatures: found an empty object; expected at least 1 entry',
    'float_dim':
        '/signatures/s/inputs/x/shape/1: 2.5 is not a shape entry; expected an integer >= 0 (fixed size), null (any size) or a dim name',
    'missing_name':
        "/: missing required key 'name'",
    'missing_outputs':
        "/signatures/s: missing required key 'outputs'",
    'missing_signatures':
        "/: missing required key 'signatures'",
    'nan_constant':
        'NaN is not valid JSON; write a number or a string',
    'negative_atol':
        '/tolerance/atol: -0.1 is below the minimum 0',
    'negative_dim':
        '/signatures/s/inputs/x/shape/1: -3 is not a shape entry; expected an integer >= 0 (fixed size), null (any size) or a dim name',
    'not_an_object':
        '/: found an array ["name", "t"]; expected an object',
    'not_utf8':
        'not UTF-8 text (byte 10)',
    'range_inverted':
        '/signatures/s/inputs/x/range: min 1.0 is greater than max 0.0; no value satisfies it',
    'range_on_string':
        '/signatures/s/inputs/x/range: a range does not apply to dtype string',
    'range_outside_int8':
        '/signatures/s/inputs/x/range: [300, 400] contains no value of dtype int8',
    'range_three_items':
        '/signatures/s/inputs/x/range: found 3 items; expected exactly 2 ([min, max])',
    'relation_unknown_output':
        "/signatures/s/relations/0/argmax: 'prob' is not an output of signature 's'; outputs: y",
    'syntax_missing_comma':
        "line 1, column 14: invalid JSON: Expecting ',' delimiter",
    'syntax_trailing_comma':
        'line 1, column 32: invalid JSON: Expecting property name enclosed in double quotes',
    'syntax_truncated':
        'line 2, column 1: invalid JSON: Expecting property name enclosed in double quotes',
    'tags_empty':
        '/tags: found 0 item(s); expected at least 1',
    'tolerance_string':
        "/tolerance/atol: found a string '1e-5'; expected a number",
    'undeclared_dim':
        "/signatures/s/inputs/x/shape/0: dim 'bach' is not declared in /dims (declared: batch); did you mean 'batch'?",
    'unknown_check':
        "/signatures/s/outputs/y/checks/0: 'finit' is not a known check; expected one of finite, monotonic, nonnegative, sum",
    'unknown_dtype':
        "/signatures/classify/inputs/x/dtype: 'float' is not a dtype; expected one of float16, float32, float64, bfloat16, int8, int16, int32, int64, uint8, uint16, uint32, uint64, bool, string, complex64, complex128",
    'unknown_format':
        "/formats: unknown key 'coreml'; expected one of onnx, serving, tfjs, tflite",
    'unknown_tensor_key':
        "/signatures/s/inputs/x: unknown key 'shap'; did you mean 'shape'?",
    'unknown_top_key':
        "/: unknown key 'toleranse'; did you mean 'tolerance'?",
    'vocabulary_on_float':
        "/signatures/s/inputs/x/vocabulary: 'vocabulary' applies to string inputs only; dtype is float32",
}


def test_the_invalid_corpus_is_large_and_fully_covered() -> None:
    files = {p.stem for p in INVALID.glob("*.json")}
    assert len(files) >= 15
    assert files == set(EXPECTED)


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_invalid_contract_gives_its_own_precise_message(stem: str) -> None:
    path = INVALID / f"{stem}.json"
    with pytest.raises(ContractError) as info:
        load_contract(path)
    assert str(info.value) == f"{path}: {EXPECTED[stem]}"
    assert "Traceback" not in str(info.value)


def test_messages_are_distinct() -> None:
    assert len(set(EXPECTED.values())) == len(EXPECTED)


def test_the_issue_example_is_accepted_with_exactly_its_keys() -> None:
    contract = load_contract(ROOT / "contracts" / "classifier.json")
    assert [s.name for s in contract.signatures] == ["classify", "embed"]
    classify = contract.signature("classify")
    assert classify.input("x").shape == ("batch", 784)
    assert classify.output("prob").range == (0.0, 1.0)
    assert [c.kind for c in classify.output("prob").checks] == ["finite", "sum"]
    assert classify.relations[0].kind == "argmax"
    assert contract.dims["batch"].max == 32
    assert contract.tolerance_for("tflite", "classify", "prob").atol == 1e-4
    assert contract.tolerance_for("onnx", "classify", "prob").atol == 1e-5
    assert contract.models[0].name == "classifier"


def test_every_bundled_contract_is_valid() -> None:
    for path in sorted((ROOT / "contracts").rglob("*.json")):
        if path.parent.name == "schema":
            continue
        load_contract(path)


def test_schema_is_published_draft_2020_12_with_an_id() -> None:
    import jsonschema

    published = json.loads((ROOT / "contracts" / "schema" / "contract-v1.schema.json").read_text())
    assert published == schema() == json.loads(SCHEMA_PATH.read_text())
    assert published["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert published["$id"].endswith("contract-v1.schema.json")
    jsonschema.Draft202012Validator.check_schema(published)


def _descriptions_missing(node: object, path: str = "") -> list[str]:
    missing = []
    if isinstance(node, dict):
        props = node.get("properties", {})
        for key, sub in props.items():
            if isinstance(sub, dict) and "description" not in sub and "$ref" not in sub:
                missing.append(f"{path}/properties/{key}")
        for key, sub in node.items():
            missing += _descriptions_missing(sub, f"{path}/{key}")
    return missing


def test_every_key_is_documented_in_the_schema_and_the_readme() -> None:
    assert _descriptions_missing(schema()) == []
    readme = (ROOT / "contracts" / "README.md").read_text()
    keys: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            keys.update(k for k in node.get("properties", {}) if not k.startswith("$"))
            for sub in node.values():
                walk(sub)

    walk(schema())
    undocumented = sorted(k for k in keys if f"`{k}`" not in readme)
    assert undocumented == []


def test_all_problems_of_a_file_are_reported_together(tmp_path: Path) -> None:
    path = tmp_path / "two.json"
    path.write_text(json.dumps({"name": "t", "signatures": {"s": {
        "inputs": {"x": {"dtype": "float"}}, "outputs": {"y": {"dtype": "int", "shape": [-1]}}}}}))
    with pytest.raises(ContractError) as info:
        load_contract(path)
    text = str(info.value)
    assert text.startswith(f"{path}: 3 problems in the contract:")
    assert "/signatures/s/inputs/x/dtype: 'float' is not a dtype" in text
    assert "/signatures/s/outputs/y/dtype: 'int' is not a dtype" in text
    assert "/signatures/s/outputs/y/shape/0: -1 is not a shape entry" in text


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="contract file not found"):
        load_contract(tmp_path / "nope.json")
    with pytest.raises(ContractError, match="is a directory"):
        load_contract(tmp_path)
