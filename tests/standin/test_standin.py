"""Tests of the tensorflow_model_server STAND-IN (a test fixture, NOT TensorFlow Serving).

Expected answers are TF Serving's own: http_rest_api_handler_test.cc, json_tensor.cc,
the REST API guide and the corpus' *_metadata.json files (tensorflow/serving).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from . import STANDIN_SCRIPT, StandIn, start_standin

REPO_ROOT = Path(__file__).resolve().parents[2]


def corpus_dir() -> Path:
    override = os.environ.get("MODEL_CONTRACT_CORPUS")
    if override:
        return Path(override)
    return REPO_ROOT.parent / "shared" / "corpus" / "tf-serving-testdata"


CORPUS = corpus_dir()
HAVE_CORPUS = (CORPUS / "saved_model_half_plus_two_2_versions").is_dir()
#: tests of TF Serving's own exchanges on its own test models: an extra layer where the
#: corpus is present. The typed TF1 model below is built here, so its tests always run.
needs_corpus = pytest.mark.skipif(
    not HAVE_CORPUS, reason=f"TF Serving test corpus not found at {CORPUS} (set MODEL_CONTRACT_CORPUS)")

TWO_VERSIONS = "saved_model_half_plus_two_2_versions"


def _build_typed_model(export_dir: Path) -> None:
    """A TF1 SavedModel with int64, bool, string and half inputs."""
    import tensorflow as tf  # noqa: PLC0415 - slow import

    graph = tf.Graph()
    with graph.as_default():
        i = tf.compat.v1.placeholder(tf.int64, [None], name="i")
        b = tf.compat.v1.placeholder(tf.bool, [None], name="b")
        s = tf.compat.v1.placeholder(tf.string, [None], name="s")
        f = tf.compat.v1.placeholder(tf.float32, [None], name="f")
        h = tf.compat.v1.placeholder(tf.float16, [None], name="h")
        info = tf.compat.v1.saved_model.utils.build_tensor_info
        typed = tf.compat.v1.saved_model.signature_def_utils.build_signature_def(
            inputs={"i": info(i), "b": info(b), "s": info(s), "f": info(f)},
            outputs={
                "i_out": info(tf.identity(i * 2, name="i_out")),
                "b_out": info(tf.logical_not(b, name="b_out")),
                "s_bytes": info(tf.identity(s, name="s_out")),
                "text": info(tf.identity(s, name="text_out")),
                "f_out": info(tf.identity(f, name="f_out")),
            },
            method_name="tensorflow/serving/predict",
        )
        floats = tf.compat.v1.saved_model.signature_def_utils.build_signature_def(
            inputs={"f": info(f)},
            outputs={"f_out": info(tf.identity(f, name="f_only"))},
            method_name="tensorflow/serving/predict",
        )
        ragged = tf.compat.v1.saved_model.signature_def_utils.build_signature_def(
            inputs={"f": info(f)},
            outputs={"a": info(tf.identity(f, name="a")),
                     "z": info(tf.constant([1.0, 2.0, 3.0], name="z"))},
            method_name="tensorflow/serving/predict",
        )
        half = tf.compat.v1.saved_model.signature_def_utils.build_signature_def(
            inputs={"h": info(h)},
            outputs={"h_out": info(tf.identity(h, name="h_out"))},
            method_name="tensorflow/serving/predict",
        )
        with tf.compat.v1.Session(graph=graph) as session:
            builder = tf.compat.v1.saved_model.Builder(str(export_dir))
            builder.add_meta_graph_and_variables(
                session, ["serve"],
                signature_def_map={"serving_default": typed, "floats": floats,
                                   "ragged": ragged, "half": half},
            )
            builder.save()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    work = tmp_path_factory.mktemp("standin")
    _build_typed_model(work / "typed" / "1")
    two = (CORPUS / TWO_VERSIONS).resolve()
    models: dict[str, Path] = {"typed": work / "typed"}
    if HAVE_CORPUS:
        models.update({
            "default": CORPUS / "saved_model_half_plus_two_cpu",
            "half_plus_three": CORPUS / "saved_model_half_plus_three",
            "counter": CORPUS / "saved_model_counter",
            "bad": CORPUS / "bad_half_plus_two",
        })
    entries = "".join(
        f'  config {{ name: "{n}" base_path: "{Path(p).resolve()}" model_platform: "tensorflow" }}\n'
        for n, p in models.items()
    )
    config = work / "models.config"
    corpus_entries = (
        f'  config {{ name: "{TWO_VERSIONS}" base_path: "{two}" model_platform: "tensorflow"\n'
        "    model_version_policy { specific { versions: 123 } }\n"
        '    version_labels { key: "Version_Label" value: 123 } }\n'
        f'  config {{ name: "both" base_path: "{two}" model_platform: "tensorflow"\n'
        "    model_version_policy { all {} }\n"
        '    version_labels { key: "stable" value: 123 }\n'
        '    version_labels { key: "canary" value: 124 } }\n') if HAVE_CORPUS else ""
    config.write_text("model_config_list {\n" + entries + corpus_entries + "}\n", encoding="utf-8")
    with start_standin(
        config_file=config,
        extra_args=["--allow_version_labels_for_unavailable_models=true"],
        expect_unavailable=["bad"] if HAVE_CORPUS else [],
        keep_serving_on_load_failure=True,
        use_wrapper=True,
    ) as running:
        yield running


def http(server: StandIn, method: str, path: str, body: bytes | str | None = None
         ) -> tuple[int, str]:
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(server.rest_url + path, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def post(server: StandIn, path: str, payload: Any) -> tuple[int, str]:
    return http(server, "POST", path, payload if isinstance(payload, str) else json.dumps(payload))


def error_message(text: str) -> str:
    """TF Serving CEscapes the message: undo \\' (not valid JSON) then parse."""
    return json.loads(text.replace("\\'", "'"))["error"]


# ------------------------------------------------------------------ documented exchanges


@needs_corpus
def test_predict_row_format_matches_tf_serving_text(server: StandIn) -> None:
    code, text = post(server, f"/v1/models/{TWO_VERSIONS}/versions/123:predict",
                      '{"instances": [[1.0, 2.0], [3.0, 4.0]]}')
    assert code == 200
    assert json.loads(text) == {"predictions": [[2.5, 3.0], [3.5, 4.0]]}
    # rapidjson PrettyWriter layout of MakeRowFormatJsonFromTensors, whole floats as 3.0.
    assert text == '{\n    "predictions": [[2.5, 3.0], [3.5, 4.0]\n    ]\n}'


@needs_corpus
@pytest.mark.parametrize(
    ("path", "payload", "expected"),
    [
        (f"/v1/models/{TWO_VERSIONS}:predict", {"instances": [[1.0, 2.0], [3.0, 4.0]]},
         {"predictions": [[2.5, 3.0], [3.5, 4.0]]}),
        (f"/v1/models/{TWO_VERSIONS}/versions/123:predict", {"instances": [1.0, 2.0]},
         {"predictions": [2.5, 3.0]}),
        (f"/v1/models/{TWO_VERSIONS}/labels/Version_Label:predict", {"instances": [1.0, 2.0]},
         {"predictions": [2.5, 3.0]}),
        (f"/v1/models/{TWO_VERSIONS}/versions/123:predict",
         {"signature_name": "serving_default", "instances": [3.0, 4.0]},
         {"predictions": [3.5, 4.0]}),
        (f"/v1/models/{TWO_VERSIONS}/versions/123:predict",
         {"signature_name": "serving_default", "inputs": [3.0, 4.0]}, {"outputs": [3.5, 4.0]}),
        ("/v1/models/default:predict", {"instances": [[3.0]]}, {"predictions": [[3.5]]}),
        ("/v1/models/half_plus_three:predict", {"instances": [1.0, 2.0, 5.0]},
         {"predictions": [3.5, 4.0, 5.5]}),
        ("/v1/models/both/labels/canary:predict", {"instances": [[1.0]]}, {"predictions": [[2.5]]}),
    ],
)
def test_predict_handler_test_exchanges(server: StandIn, path: str, payload: Any,
                                        expected: Any) -> None:
    code, text = post(server, path, payload)
    assert (code, json.loads(text)) == (200, expected)


@needs_corpus
def test_columnar_output_is_not_single_line(server: StandIn) -> None:
    code, text = post(server, "/v1/models/default:predict", {"inputs": [[3.0]]})
    assert code == 200
    assert text == '{\n    "outputs": [\n        [\n            3.5\n        ]\n    ]\n}'


@needs_corpus
@pytest.mark.parametrize("path", [f"/v1/models/{TWO_VERSIONS}:regress",
                                  f"/v1/models/{TWO_VERSIONS}/versions/123:regress",
                                  f"/v1/models/{TWO_VERSIONS}/labels/Version_Label:regress"])
def test_regress_x_80_gives_42(server: StandIn, path: str) -> None:
    code, text = post(server, path, {"signature_name": "regress_x_to_y", "examples": [{"x": 80.0}]})
    assert (code, json.loads(text)) == (200, {"results": [42]})
    assert text == '{\n    "results": [42.0]\n}'  # WriteDecimal appends ".0"


@needs_corpus
def test_regress_x_to_y2_is_half_x_plus_three(server: StandIn) -> None:
    code, text = post(server, "/v1/models/default:regress",
                      {"signature_name": "regress_x_to_y2", "examples": [{"x": 80.0}, {"x": 1.0}]})
    assert (code, json.loads(text)) == (200, {"results": [43.0, 3.5]})


@needs_corpus
def test_regress_with_context_merges_features(server: StandIn) -> None:
    code, text = post(server, "/v1/models/default:regress",
                      {"signature_name": "regress_x_to_y", "context": {"x": 80.0},
                       "examples": [{}]})
    assert (code, json.loads(text)) == (200, {"results": [42.0]})


@needs_corpus
def test_regress_half_plus_three_guide_example(server: StandIn) -> None:
    code, text = post(server, "/v1/models/half_plus_three:regress",
                      {"signature_name": "tensorflow/serving/regress",
                       "examples": [{"x": 1.0}, {"x": 2.0}]})
    assert (code, json.loads(text)) == (200, {"results": [3.5, 4.0]})


@needs_corpus
def test_classify_without_classes_output_gives_empty_labels(server: StandIn) -> None:
    code, text = post(server, f"/v1/models/{TWO_VERSIONS}:classify",
                      {"signature_name": "classify_x_to_y", "examples": [{"x": 20.0}]})
    assert (code, json.loads(text)) == (200, {"results": [[["", 12]]]})
    assert text == '{\n    "results": [[["", 12.0]]\n    ]\n}'
    code, text = post(server, f"/v1/models/{TWO_VERSIONS}/labels/Version_Label:classify",
                      {"signature_name": "classify_x_to_y", "examples": [{"x": 10.0}]})
    assert (code, json.loads(text)) == (200, {"results": [[["", 7]]]})


@needs_corpus
def test_int_feature_does_not_match_float_feature(server: StandIn) -> None:
    code, text = post(server, "/v1/models/default:regress",
                      {"signature_name": "regress_x_to_y", "examples": [{"x": 80}]})
    assert code == 400
    assert "x" in error_message(text)


def _metadata_file(name: str) -> dict[str, Any]:
    return json.loads((CORPUS / name).read_text(encoding="utf-8"))


@needs_corpus
def test_metadata_equals_corpus_file_for_half_plus_two(server: StandIn) -> None:
    code, text = http(server, "GET", "/v1/models/default/metadata")
    assert code == 200
    assert json.loads(text) == _metadata_file("half_plus_two_model_metadata.json")


@needs_corpus
def test_metadata_equals_corpus_file_for_two_versions(server: StandIn) -> None:
    code, text = http(server, "GET", f"/v1/models/{TWO_VERSIONS}/metadata")
    assert code == 200
    assert json.loads(text) == _metadata_file(f"{TWO_VERSIONS}_metadata.json")
    code, text = http(server, "GET", "/v1/models/both/versions/124/metadata")
    expected = _metadata_file(f"{TWO_VERSIONS}_metadata.json")
    expected["model_spec"].update(name="both", version="124")
    assert (code, json.loads(text)) == (200, expected)


AVAILABLE_123 = {"version": "123", "state": "AVAILABLE",
                 "status": {"error_code": "OK", "error_message": ""}}


@needs_corpus
@pytest.mark.parametrize("path", [f"/v1/models/{TWO_VERSIONS}",
                                  f"/v1/models/{TWO_VERSIONS}/versions/123",
                                  f"/v1/models/{TWO_VERSIONS}/labels/Version_Label"])
def test_status_json(server: StandIn, path: str) -> None:
    code, text = http(server, "GET", path)
    assert (code, json.loads(text)) == (200, {"model_version_status": [AVAILABLE_123]})


@needs_corpus
def test_status_lists_versions_newest_first_and_ignores_labels(server: StandIn) -> None:
    code, text = http(server, "GET", "/v1/models/both/labels/stable")
    versions = [entry["version"] for entry in json.loads(text)["model_version_status"]]
    assert (code, versions) == (200, ["124", "123"])


@needs_corpus
def test_bad_model_is_reported_unusable_and_others_keep_serving(server: StandIn) -> None:
    code, text = http(server, "GET", "/v1/models/bad")
    (entry,) = json.loads(text)["model_version_status"]
    assert code == 200
    assert entry["state"] == "END"
    assert entry["status"]["error_code"] == "NOT_FOUND"
    assert "Could not find SavedModel .pb or .pbtxt" in entry["status"]["error_message"]
    code, text = post(server, "/v1/models/bad:predict", {"instances": [1.0]})
    assert (code, error_message(text)) == (404, "Servable not found for request: Latest(bad)")
    assert post(server, "/v1/models/default:predict", {"instances": [[1.0]]})[0] == 200


# ------------------------------------------------------------------ numbers and strings


def test_nan_and_infinity_pass_unquoted(server: StandIn) -> None:
    code, text = post(server, "/v1/models/typed:predict",
                      '{"signature_name": "floats", "instances": [NaN, Infinity, -Infinity]}')
    assert code == 200
    assert text == '{\n    "predictions": [NaN, Infinity, -Infinity\n    ]\n}'


def test_float_formatting_follows_write_decimal(server: StandIn) -> None:
    values = [1435774380, 0.1, 1.0 / 3.0, 1e-05, 1234567.0, 9000000.0, -0.0]
    code, text = post(server, "/v1/models/typed:predict",
                      {"signature_name": "floats", "inputs": {"f": values}})
    assert code == 200
    numbers = text.split("[")[1].split("]")[0].split()
    assert [n.rstrip(",") for n in numbers] == [
        "1.43577434e+09", "0.1", "0.333333343", "1e-05", "1234567.0", "9e+06", "-0.0"]
    assert np.float32(json.loads(text)["outputs"][0]) == np.float32(1435774336)


def test_typed_inputs_row_objects_and_bytes_outputs(server: StandIn) -> None:
    raw = b"a\x00\xff"
    instance = {"i": 3, "b": True, "s": {"b64": base64.b64encode(raw).decode()}, "f": 1.5}
    code, text = post(server, "/v1/models/typed:predict", {"instances": [instance]})
    assert code == 200
    (row,) = json.loads(text)["predictions"]
    assert row["i_out"] == 6 and row["b_out"] is False and row["f_out"] == 1.5
    assert base64.b64decode(row["s_bytes"]["b64"]) == raw


def test_string_output_without_bytes_suffix_is_plain(server: StandIn) -> None:
    instance = {"i": 1, "b": False, "s": "héllo", "f": 0.0}
    code, text = post(server, "/v1/models/typed:predict", {"instances": [instance]})
    assert code == 200
    assert json.loads(text)["predictions"][0]["text"] == "héllo"


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"instances": [{"i": 1.0, "b": True, "s": "", "f": 1}]},
         "JSON Value: 1.0 Type: Number is not of expected type: int64"),
        ({"instances": [{"i": 1, "b": 1, "s": "", "f": 1}]},
         "JSON Value: 1 Type: Number is not of expected type: bool"),
        ({"instances": [{"i": 1, "b": True, "s": 5, "f": 1}]},
         "is not of expected type: string"),
        ({"instances": [{"i": 1, "b": True, "s": ""}]}, "must only have keys: b,f,i,s"),
        ({"instances": [1, 2]}, "instances is a plain list, but expecting list of objects"),
        ({"inputs": {"i": [1], "b": [True], "s": [""]}}, "Missing named input: f in 'inputs' object."),
    ],
)
def test_typed_input_errors(server: StandIn, payload: Any, fragment: str) -> None:
    code, text = post(server, "/v1/models/typed:predict", payload)
    assert code == 400
    assert fragment in error_message(text)


def test_half_is_not_supported_over_rest(server: StandIn) -> None:
    code, text = post(server, "/v1/models/typed:predict",
                      {"signature_name": "half", "inputs": [1.0]})
    assert (code, error_message(text)) == (501, "Conversion of JSON Value: 1.0 to type: half")
    # Row format wraps every element error as INVALID_ARGUMENT (json_tensor.cc).
    code, text = post(server, "/v1/models/typed:predict",
                      {"signature_name": "half", "instances": [1.0]})
    assert (code, error_message(text)) == (
        400, "Failed to process element: 0 of 'instances' list. Error: UNIMPLEMENTED: "
        "Conversion of JSON Value: 1.0 to type: half")


def test_row_outputs_must_share_batch_size(server: StandIn) -> None:
    code, text = post(server, "/v1/models/typed:predict",
                      {"signature_name": "ragged", "instances": [1.0, 2.0]})
    assert (code, error_message(text)) == (
        400, "Tensor name: z has inconsistent batch size: 3 expecting: 2")
    code, text = post(server, "/v1/models/typed:predict",
                      {"signature_name": "ragged", "inputs": [1.0, 2.0]})
    assert (code, json.loads(text)) == (200, {"outputs": {"a": [1.0, 2.0], "z": [1.0, 2.0, 3.0]}})


@needs_corpus
def test_stateful_counter_increments_from_reset(server: StandIn) -> None:
    code, _ = post(server, "/v1/models/counter:predict",
                   {"signature_name": "reset_counter", "inputs": {}})
    assert code == 400  # REST cannot call a signature without inputs
    stub = _prediction_stub(server)
    from tensorflow_serving.apis import predict_pb2  # noqa: PLC0415

    reset = predict_pb2.PredictRequest()
    reset.model_spec.name, reset.model_spec.signature_name = "counter", "reset_counter"
    stub.Predict(reset, timeout=30)
    code, text = post(server, "/v1/models/counter:predict",
                      {"signature_name": "incr_counter_by", "inputs": {"delta": 5.0}})
    assert (code, json.loads(text)) == (200, {"outputs": 5.0})


# ------------------------------------------------------------------ REST errors


@needs_corpus
@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/v1/models/foo:predict", '{"instances": [1]}', 404,
         "Servable not found for request: Latest(foo)"),
        ("POST", f"/v1/models/{TWO_VERSIONS}/versions/99:predict", '{"instances": [1]}', 404,
         f"Servable not found for request: Specific({TWO_VERSIONS}, 99)"),
        ("POST", f"/v1/models/{TWO_VERSIONS}/labels/nope:predict", '{"instances": [1]}', 400,
         "Unrecognized servable version label: nope"),
        ("POST", f"/v1/models/{TWO_VERSIONS}:predict", "", 400,
         "JSON Parse error: The document is empty"),
        ("POST", f"/v1/models/{TWO_VERSIONS}:predict", "instances = [1, 2]", 400,
         "JSON Parse error: Invalid value. at offset: 0"),
        ("POST", f"/v1/models/{TWO_VERSIONS}:predict", '{"instances": ["x", "y"]}', 400,
         "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: "
         'JSON Value: "x" Type: String is not of expected type: float'),
        ("POST", f"/v1/models/{TWO_VERSIONS}:predict", '{"signature_name": 100}', 400,
         'JSON Value: {\n    "signature_name": 100\n} not formatted correctly. '
         "'signature_name' key must be a string value."),
        ("POST", f"/v1/models/{TWO_VERSIONS}:predict", '{"signature_name": "foo", "instances": [1.0]}',
         400, 'Serving signature name: "foo" not found in signature def'),
        ("POST", f"/v1/models/{TWO_VERSIONS}:predict", "{}", 400,
         "Missing 'inputs' or 'instances' key"),
        ("POST", f"/v1/models/{TWO_VERSIONS}:predict", '{"instances": [1.0], "inputs": [1.0]}', 400,
         'JSON Value: {\n    "instances": [\n        1.0\n    ],\n    "inputs": [\n        1.0\n'
         "    ]\n} Not formatted correctly expecting only one of 'inputs' or 'instances' keys "
         "to exist "),
        ("POST", f"/v1/models/{TWO_VERSIONS}:predict", '{"instances": []}', 400,
         "JSON Value: {\n    \"instances\": []\n} No values in 'instances' array"),
        ("POST", f"/v1/models/{TWO_VERSIONS}:predict", "[1]", 400,
         "JSON Value: [\n    1\n] Is not object"),
        ("POST", f"/v1/models/{TWO_VERSIONS}:regress", '{"instances": [1.0]}', 400,
         "JSON Value: {\n    \"instances\": [\n        1.0\n    ]\n} When method is classify, "
         "key 'examples' is expected and was not found"),
        ("GET", "/v1/foo", None, 400, "Malformed request: GET /v1/foo"),
        ("POST", "/v1/models", "", 400, "Malformed request: POST /v1/models"),
        ("GET", "/v1/models", None, 400, "Missing model name in request."),
        ("GET", f"/v1/models/{TWO_VERSIONS}:predict", None, 400,
         f"Malformed request: GET /v1/models/{TWO_VERSIONS}:predict"),
        ("POST", f"/v1/models/foo/versions/{2**64 - 1}:regress", "", 400,
         f"Failed to convert version: {2**64 - 1} to numeric."),
        ("GET", "/v1/models/foo", None, 404, "Could not find any versions of model foo"),
        ("GET", f"/v1/models/{TWO_VERSIONS}/versions/7", None, 404,
         f"Could not find version 7 of model {TWO_VERSIONS}"),
    ],
)
def test_rest_errors(server: StandIn, method: str, path: str, body: str | None, status: int,
                     message: str) -> None:
    code, text = http(server, method, path, body)
    assert (code, error_message(text)) == (status, message)


@needs_corpus
def test_error_body_is_c_escaped_like_tf_serving(server: StandIn) -> None:
    _, text = post(server, f"/v1/models/{TWO_VERSIONS}:predict", "{}")
    assert text == "{ \"error\": \"Missing \\'inputs\\' or \\'instances\\' key\" }"


def test_non_api_path_is_404(server: StandIn) -> None:
    assert http(server, "GET", "/index.html")[0] == 404


# ------------------------------------------------------------------ gRPC


def _prediction_stub(server: StandIn) -> Any:
    import grpc  # noqa: PLC0415
    from tensorflow_serving.apis import prediction_service_pb2_grpc  # noqa: PLC0415

    return prediction_service_pb2_grpc.PredictionServiceStub(
        grpc.insecure_channel(server.grpc_target))


def _float_tensor(values: list[list[float]]) -> Any:
    import tensorflow as tf  # noqa: PLC0415

    return tf.make_tensor_proto(np.array(values, dtype=np.float32))


@needs_corpus
def test_grpc_predict_reports_answering_version(server: StandIn) -> None:
    import tensorflow as tf  # noqa: PLC0415
    from tensorflow_serving.apis import predict_pb2  # noqa: PLC0415

    stub = _prediction_stub(server)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "both"
    request.inputs["x"].CopyFrom(_float_tensor([[1.0], [2.0]]))
    response = stub.Predict(request, timeout=30)
    assert tf.make_ndarray(response.outputs["y"]).tolist() == [[2.5], [3.0]]
    assert response.outputs["y"].float_val == [2.5, 3.0]  # AsProtoField, not tensor_content
    assert (response.model_spec.name, response.model_spec.version.value,
            response.model_spec.signature_name) == ("both", 124, "serving_default")
    request.model_spec.version_label = "stable"
    assert stub.Predict(request, timeout=30).model_spec.version.value == 123


@needs_corpus
def test_grpc_regress_and_classify(server: StandIn) -> None:
    from tensorflow_serving.apis import classification_pb2, regression_pb2  # noqa: PLC0415

    stub = _prediction_stub(server)
    regress = regression_pb2.RegressionRequest()
    regress.model_spec.name, regress.model_spec.signature_name = TWO_VERSIONS, "regress_x_to_y"
    example = regress.input.example_list.examples.add()
    example.features.feature["x"].float_list.value.append(80.0)
    response = stub.Regress(regress, timeout=30)
    assert [r.value for r in response.result.regressions] == [42.0]
    assert response.model_spec.version.value == 123
    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.name, classify.model_spec.signature_name = TWO_VERSIONS, "classify_x_to_y"
    example = classify.input.example_list.examples.add()
    example.features.feature["x"].float_list.value.append(20.0)
    result = stub.Classify(classify, timeout=30).result
    assert [[(c.label, c.score) for c in e.classes] for e in result.classifications] == [[("", 12.0)]]


@needs_corpus
def test_grpc_metadata_and_status(server: StandIn) -> None:
    import grpc  # noqa: PLC0415
    from tensorflow_serving.apis import (  # noqa: PLC0415
        get_model_metadata_pb2,
        get_model_status_pb2,
        model_service_pb2_grpc,
    )

    stub = _prediction_stub(server)
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "default"
    response = stub.GetModelMetadata(request, timeout=30)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signatures)
    assert sorted(signatures.signature_def) == [
        "classify_x_to_y", "regress_x2_to_y3", "regress_x_to_y", "regress_x_to_y2",
        "serving_default"]
    assert response.model_spec.version.value == 123
    models = model_service_pb2_grpc.ModelServiceStub(grpc.insecure_channel(server.grpc_target))
    status_request = get_model_status_pb2.GetModelStatusRequest()
    status_request.model_spec.name = "bad"
    (entry,) = models.GetModelStatus(status_request, timeout=30).model_version_status
    assert entry.state == get_model_status_pb2.ModelVersionStatus.END
    assert "Could not find SavedModel" in entry.status.error_message


@needs_corpus
def test_grpc_errors(server: StandIn) -> None:
    import grpc  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415
    from tensorflow_serving.apis import predict_pb2  # noqa: PLC0415

    stub = _prediction_stub(server)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "nope"
    request.inputs["x"].CopyFrom(_float_tensor([[1.0]]))
    with pytest.raises(grpc.RpcError) as caught:
        stub.Predict(request, timeout=30)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == "Servable not found for request: Latest(nope)"

    request.model_spec.name = "default"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.array([[1]], dtype=np.int64)))
    with pytest.raises(grpc.RpcError) as caught:
        stub.Predict(request, timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == "Expects arg[0] to be float but int64 is provided"

    request.model_spec.signature_name = "foo"
    with pytest.raises(grpc.RpcError) as caught:
        stub.Predict(request, timeout=30)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert caught.value.details() == 'Serving signature key "foo" not found.'

    request.model_spec.signature_name = ""
    request.inputs["extra"].CopyFrom(_float_tensor([[1.0]]))
    with pytest.raises(grpc.RpcError) as caught:
        stub.Predict(request, timeout=30)
    assert caught.value.details() == (
        "input size does not match signature: 2!=1 len({extra,x}) != len({x}). "
        "Sent extra: {extra}. Missing but required: {}.")


@needs_corpus
def test_grpc_counter_signatures_without_inputs(server: StandIn) -> None:
    import tensorflow as tf  # noqa: PLC0415
    from tensorflow_serving.apis import predict_pb2  # noqa: PLC0415

    stub = _prediction_stub(server)

    def call(signature: str, delta: float | None = None) -> float:
        request = predict_pb2.PredictRequest()
        request.model_spec.name, request.model_spec.signature_name = "counter", signature
        if delta is not None:
            request.inputs["delta"].CopyFrom(tf.make_tensor_proto(np.float32(delta)))
        return float(tf.make_ndarray(stub.Predict(request, timeout=30).outputs["output"]))

    assert call("reset_counter") == 0.0
    assert call("incr_counter_by", 5.0) == 5.0
    assert call("incr_counter") == 6.0
    assert call("get_counter") == 6.0


# ------------------------------------------------------------------ command line


def _run_standin(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, str(STANDIN_SCRIPT), *args], capture_output=True,
                          text=True, timeout=timeout, env=env, check=False)


def test_banner_and_usage_without_model() -> None:
    result = _run_standin(["--port=0"])
    assert result.returncode == 255
    assert result.stderr.splitlines()[0].startswith(
        "tensorflow_model_server STAND-IN for tests: this is NOT TensorFlow Serving")
    assert "--model_base_path" in result.stdout


def test_bad_flag_value_prints_usage_and_fails() -> None:
    result = _run_standin(["--port=abc", "--model_base_path=/x"])
    assert result.returncode == 255
    assert "Couldn't interpret value abc for flag port." in result.stderr


@needs_corpus
def test_broken_model_at_startup_fails_like_the_binary() -> None:
    result = _run_standin([
        "--port=0", "--model_name=bad", f"--model_base_path={(CORPUS / 'bad_half_plus_two').resolve()}",
        "--bogus_flag=1",
    ])
    assert result.returncode == 255
    assert "unknown argument: --bogus_flag=1" in result.stdout
    assert (
        "Failed to start server. Error: UNKNOWN: 1 servable(s) did not become available: "
        "{{{name: bad version: 123} due to error: NOT_FOUND: Could not find SavedModel .pb or "
        ".pbtxt at supplied export directory path:"
    ) in result.stdout


@needs_corpus
def test_version_labels_at_startup_need_the_allow_flag(tmp_path: Path) -> None:
    config = tmp_path / "labels.config"
    config.write_text(
        f'model_config_list {{ config {{ name: "m" base_path: "{(CORPUS / TWO_VERSIONS).resolve()}" '
        'model_platform: "tensorflow" version_labels { key: "stable" value: 123 } } }\n',
        encoding="utf-8",
    )
    result = _run_standin(["--port=0", f"--model_config_file={config}"])
    assert result.returncode == 255
    assert result.stdout.strip() == (
        "Failed to start server. Error: FAILED_PRECONDITION: Request to assign label to version "
        "123 of model m, which is not currently available for inference")
