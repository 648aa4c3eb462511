"""model-contract openapi: the OpenAPI 3.1 document of a contract's TF Serving REST API,
proven against the project's REST client (every request it builds validates) and the
stand-in (every answer it gives validates), and shown to refuse what the contract refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.contract.load import load_contract
from harness.contract.openapi import openapi, schema_of
from harness.generation import call_strategy
from harness.serving.rest import RestClient, columnar_request, row_request
from tests.conftest import MODELS, ROOT

BUNDLED = ["classifier", "text_classifier"]


def validator(document: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema_of(document, name))


def test_document_is_openapi_3_1_with_valid_schemas() -> None:
    doc = openapi(load_contract(ROOT / "contracts" / "classifier.json"))
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) >= {"/v1/models/classifier", "/v1/models/classifier/metadata",
                                 "/v1/models/classifier:predict",
                                 "/v1/models/classifier/versions/{version}:predict",
                                 "/v1/models/classifier/labels/{label}:predict"}
    for name in doc["components"]["schemas"]:
        jsonschema.Draft202012Validator.check_schema(schema_of(doc, name))


def test_requests_outside_the_contract_are_refused() -> None:
    doc = openapi(load_contract(ROOT / "contracts" / "classifier.json"))
    request = validator(doc, "PredictRequest")
    good = {"signature_name": "classify", "instances": [[0.5] * 784]}
    assert request.is_valid(good)
    assert not request.is_valid({"signature_name": "classify", "instances": [[1.5] * 784]})
    assert not request.is_valid({"signature_name": "classify", "instances": [[0.5] * 783]})
    assert not request.is_valid({"signature_name": "nope", "instances": [[0.5] * 784]})
    assert not request.is_valid({"signature_name": "classify",
                                 "inputs": {"x": [[0.5] * 784], "y": [1]}})
    response = validator(doc, "PredictResponse")
    assert response.is_valid({"predictions": [{"class_id": 3, "prob": [0.1] * 10}]})
    assert not response.is_valid({"predictions": [{"class_id": 3.5, "prob": [0.1] * 10}]})
    assert not response.is_valid({"outputs": {"class_id": [3], "prob": [[0.1] * 9]}})


def test_cli_writes_the_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "api.json"
    assert main(["openapi", str(ROOT / "contracts" / "text_classifier.json"), "-o", str(out)]) == 0
    assert json.loads(out.read_text())["paths"]["/v1/models/text_classifier:predict"]
    assert capsys.readouterr().out == f"wrote {out}\n"
    assert main(["openapi", str(ROOT / "contracts" / "text_classifier.json")]) == 0
    assert json.loads(capsys.readouterr().out)["openapi"] == "3.1.0"


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    from tests.standin import start_standin

    with start_standin({name: MODELS / name for name in BUNDLED}) as running:
        yield running


@pytest.mark.parametrize("name", BUNDLED)
def test_every_request_and_answer_validates_against_the_stand_in(server: Any, name: str) -> None:
    contract = load_contract(ROOT / "contracts" / f"{name}.json")
    doc = openapi(contract)
    request, response = validator(doc, "PredictRequest"), validator(doc, "PredictResponse")
    client = RestClient(server.rest_url, name)
    sent: list[str] = []
    try:
        validator(doc, "ModelStatus").validate(client.status().body)
        validator(doc, "ModelMetadata").validate(client.metadata().body)
        for sig in contract.signatures:
            exchange(contract, sig, client, request, response, sent)
        assert {s.split("/")[0] for s in sent} == {sig.name for sig in contract.signatures}
    finally:
        client.close()


def exchange(contract: Any, sig: Any, client: RestClient, request: Any, response: Any,
             sent: list[str]) -> None:
    """Drawn calls of ``sig``, sent row and columnar: each request and answer validated."""
    dtypes = {t.name: t.dtype for t in sig.inputs}
    assets = MODELS / contract.name / "1" / "assets"

    @settings(max_examples=4, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(call=call_strategy(contract, sig, assets_dir=assets), columnar=st.booleans())
    def one(call: Any, columnar: bool) -> None:
        build = columnar_request if columnar else row_request
        document = build(call.inputs, dtypes, sig.name)
        request.validate(document)
        answer = client.predict(document)
        assert answer.status == 200, answer.describe()
        response.validate(answer.body)
        sent.append(f"{sig.name}/{'columnar' if columnar else 'row'}")

    one()



def test_classify_and_regress_against_the_stand_in_on_the_corpus(tmp_path: Path) -> None:
    """An extra layer: TF Serving's half_plus_two (classify and regress signatures)."""
    from harness.contract.init import contract_from_model
    from harness.serving.rest import examples_request
    from harness.tf_example import encode_example
    from tests.conftest import corpus_dir
    from tests.standin import start_standin

    model = corpus_dir() / "saved_model_half_plus_two_cpu"
    if not model.is_dir():
        pytest.skip(f"TF Serving corpus not found at {model} (set MODEL_CONTRACT_CORPUS)")
    path = tmp_path / "half.json"
    path.write_text(contract_from_model(model, output=path).render(), encoding="utf-8")
    contract = load_contract(path)
    doc = openapi(contract)
    name = contract.name
    assert {f"/v1/models/{name}:classify", f"/v1/models/{name}:regress"} <= set(doc["paths"])
    methods = {"tensorflow/serving/classify": ("Classify", "classify"),
               "tensorflow/serving/regress": ("Regress", "regress")}
    examples = [encode_example({"x": [float(v)], "x2": [float(v) / 2]},
                               {"x": "float32", "x2": "float32"}) for v in (1, 2, 3)]
    answered = []
    with start_standin({name: model}) as server:
        client = RestClient(server.rest_url, name)
        try:
            validator(doc, "ModelStatus").validate(client.status().body)
            for sig in contract.signatures:
                if sig.method_name not in methods:
                    continue
                schema, call = methods[sig.method_name]
                document = examples_request(examples, sig.name)
                if sig.inputs[0].dtype != "string":  # regress_x2_to_y3 takes x2, not Examples
                    assert not validator(doc, f"{schema}Request").is_valid(document)
                    answer = getattr(client, call)(document)
                    assert answer.status == 400, answer.describe()  # and the server agrees
                    continue
                validator(doc, f"{schema}Request").validate(document)
                answer = getattr(client, call)(document)
                assert answer.status == 200, f"{sig.name}: {answer.describe()}"
                validator(doc, f"{schema}Response").validate(answer.body)
                answered.append(sig.name)
        finally:
            client.close()
    assert sorted(answered) == ["classify_x_to_y", "regress_x_to_y", "regress_x_to_y2"]
    assert not validator(doc, "RegressResponse").is_valid({"results": [[1.0]]})
