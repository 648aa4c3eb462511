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

