"""The serving family end to end against the stand-in (a test fixture, NOT TF Serving).

One stand-in serves every model of the session (``shared_server``); the binary path
starts its own server through the stand-in's ``tensorflow_model_server`` wrapper.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import FIXTURES, ROOT
from tests.serving.conftest import LABELS, TF1_LABELS, TWO_VERSIONS, Shared, contract_copy
from tests.serving.runner import not_passed, run_serving
from tests.standin import STANDIN_WRAPPER

CLASSIFIER = ROOT / "contracts" / "classifier.json"
TINY = FIXTURES / "contracts" / "tiny.json"

SERVING_CHECKS = {"status", "metadata", "predict-rest-row", "predict-rest-columnar",
                  "predict-grpc", "addressing", "bad-requests", "batch-consistency"}


def url_options(server: Shared) -> dict[str, Any]:
    return {"serving_url": server.rest_url, "serving_grpc": server.grpc_target}


def test_classifier_through_a_given_server_passes(shared_server: Shared) -> None:
    results, record = run_serving(CLASSIFIER, **url_options(shared_server))
    assert not_passed(results) == {}
    assert {k.rsplit("::", 1)[1] for k in results} == SERVING_CHECKS
    notes = [n for r in results.values() for n in r.notes]
    assert any(f"serving (server at {shared_server.rest_url}" in n for n in notes)
    assert not any("TF Serving)" in n or "tensorflow_model_server at" in n for n in notes)
    kinds = {(f["signature"], f["tensor"], f["kind"]) for f in record.findings}
    assert kinds == {("classify", "class_id", "int64-above-2^53"),
                     ("embed", "embedding", "nan-inf-not-json")}
    formats = {row["format"] for row in record.parity}
    assert formats == {"serving-rest", "serving-grpc"}
    assert all(row["passed"] for row in record.parity)
    assert all(r["max_abs"] == 0.0 for r in record.rest_vs_grpc)


def test_corpus_two_versions_with_labels_classify_and_regress(shared_server: Shared,
                                                                tmp_path: Path) -> None:
    if shared_server.corpus is None:
        pytest.skip("TF Serving corpus not found (set MODEL_CONTRACT_CORPUS)")
    contract = contract_copy(tmp_path, ROOT / "contracts" / "corpus" / "half_plus_two.json",
                             "h.json", models=[str(shared_server.corpus / TWO_VERSIONS)],
                             formats={"serving": {"version_labels": LABELS}})
    results, record = run_serving(contract, **url_options(shared_server))
    assert not_passed(results) == {}
    checks = {k.split("::", 2)[2] for k in results}
    assert {"regress_x_to_y::regress", "classify_x_to_y::classify",
            "serving_default::addressing"} <= checks
    addressing = results["half_plus_two::saved_model_half_plus_two_2_versions@124::"
                         "serving_default::addressing"]
    assert "/versions/124, /labels/canary answer as version 124's SavedModel" in addressing.notes[0]


def test_bundled_tf1_two_versions_with_labels_classify_and_regress(shared_server: Shared,
                                                                    tmp_path: Path) -> None:
    """The corpus test above, from the repository alone (version 2 needs the TF1 loader)."""
    contract = contract_copy(tmp_path, FIXTURES / "contracts" / "tf1_half_plus_two.json", "t.json",
                             formats={"serving": {"version_labels": TF1_LABELS}})
    results, engine = run_serving(contract, **url_options(shared_server))
    assert not_passed(results) == {}
    checks = {k.split("::", 2)[2] for k in results}
    assert {"regress_x_to_y::regress", "classify_x_to_y::classify",
            "serving_default::addressing", "predict_x2_to_y2::predict-grpc"} <= checks
    addressing = results["tf1_half_plus_two::tf1_half_plus_two@2::serving_default::addressing"]
    assert "/versions/2, /labels/canary answer as version 2's SavedModel" in addressing.notes[0]


def test_a_label_pointing_elsewhere_fails_addressing_on_the_bundled_tf1_export(
        shared_server: Shared, tmp_path: Path) -> None:
    contract = contract_copy(tmp_path, FIXTURES / "contracts" / "tf1_half_plus_two.json", "t.json",
                             formats={"serving": {"version_labels": {"canary": 1}}})
    results, _ = run_serving(contract, checks=("addressing",), **url_options(shared_server))
    bad = results["tf1_half_plus_two::tf1_half_plus_two@1::serving_default::addressing"]
    assert bad.outcome == "failed"
    assert "label 'canary' does not point at version 1" in bad.message
    assert ("Received: PredictResponse.model_spec.version = 2 for "
            "ModelSpec.version_label='canary'") in bad.message


def test_binary_path_starts_lays_out_and_stops_the_server(tmp_path: Path) -> None:
    results, record = run_serving(TINY, serving_binary=str(STANDIN_WRAPPER), examples=2,
                                  checks=("status", "metadata", "predict-grpc",
                                          "predict-rest-row"))
    assert not_passed(results) == {}
    status = results["tiny::tiny::-::status"].notes
    assert status[0].startswith(f"serving (tensorflow_model_server at {STANDIN_WRAPPER}): "
                                "model 'tiny' version 1 AVAILABLE")
    assert "started in" in status[1]
    [start] = record.server_starts
    port = int(start["rest_url"].rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    with pytest.raises(OSError):  # stopped: nothing listens any more
        conn.request("GET", "/v1/models/tiny")
        conn.getresponse()
    assert not list((FIXTURES / "tiny").glob("models.config"))  # nothing written into the model


def test_perturbed_model_fails_parity_naming_format_signature_output_tolerance(
        shared_server: Shared, tmp_path: Path) -> None:
    contract = contract_copy(tmp_path, TINY, "p.json",
                             formats={"serving": {"model_name": "tiny_perturbed"}})
    # 10 calls: hypothesis' first is all zeros (and the next may be as near zero), where the
    # perturbed weights do not show
    results, _ = run_serving(contract, checks=("metadata", "predict-grpc", "predict-rest-columnar"),
                             examples=10, **url_options(shared_server))
    assert results["tiny::tiny::serving_default::metadata"].outcome == "passed"
    grpc = results["tiny::tiny::serving_default::predict-grpc"]
    assert grpc.outcome == "failed"
    assert (f"serving-grpc (server at {shared_server.rest_url} and {shared_server.grpc_target}): "
            "output 'y' of signature 'serving_default' differs from the SavedModel beyond "
            "tolerance atol=1e-05, rtol=0.0001") in grpc.message
    assert "would pass with atol=" in grpc.message and "Reproduce with:" in grpc.message
    rest = results["tiny::tiny::serving_default::predict-rest-columnar"]
    assert rest.outcome == "failed" and "serving-rest (server at" in rest.message


def test_renamed_output_fails_metadata(shared_server: Shared, tmp_path: Path) -> None:
    contract = contract_copy(tmp_path, TINY, "r.json",
                             formats={"serving": {"model_name": "tiny_renamed"}})
    results, _ = run_serving(contract, checks=("metadata", "predict-grpc"),
                             **url_options(shared_server))
    meta = results["tiny::tiny::serving_default::metadata"]
    assert meta.outcome == "failed"
    assert "does not serve the model under test" in meta.message
    assert ("signature 'serving_default' output 'y': in the SavedModel (float32 [-1, 2]) but "
            "not served (served outputs: label, probabilities)") in meta.message
    assert results["tiny::tiny::serving_default::predict-grpc"].outcome == "failed"


class _Yes(BaseHTTPRequestHandler):
    """Forwards to the stand-in, but turns every refusal into 200 (a broken server)."""

    upstream = ("127.0.0.1", 0)
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        conn = http.client.HTTPConnection(*self.upstream, timeout=30)
        conn.request(self.command, self.path, body=body or None,
                     headers={"Content-Type": "application/json"})
        reply = conn.getresponse()
        payload = reply.read()
        if reply.status != 200:
            payload = json.dumps({"outputs": {}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _handle

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def yes_server(shared_server: Shared) -> Iterator[str]:
    host, port = shared_server.rest_url.removeprefix("http://").rsplit(":", 1)
    handler = type("Yes", (_Yes,), {"upstream": (host, int(port))})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_200_for_a_bad_request_fails_bad_requests(yes_server: str, tmp_path: Path) -> None:
    contract = contract_copy(tmp_path, TINY, "b.json", formats={"serving": {"protocols": ["rest"]}})
    results, _ = run_serving(contract, checks=("bad-requests", "predict-rest-columnar"),
                             serving_url=yes_server)
    assert results["tiny::tiny::serving_default::predict-rest-columnar"].outcome == "passed"
    bad = results["tiny::tiny::serving_default::bad-requests"]
    assert bad.outcome == "failed"
    assert (f"[bad-requests] serving-rest (server at {yes_server}): answered 200 for an unknown "
            "signature name (signature 'serving_default')") in bad.message
    assert 'Documented: HTTP 400 with {"error": "..."}' in bad.message


def test_no_server_skips_with_reason_and_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.serving import servers

    monkeypatch.setattr(servers, "find_binary", lambda option: None)
    monkeypatch.setattr(servers, "docker_available", lambda: "no Docker engine answers (test)")
    results, _ = run_serving(TINY, checks=("status", "predict-grpc"))
    assert {r.outcome for r in results.values()} == {"skipped"}
    message = results["tiny::tiny::-::status"].message
    assert "no model server: no --serving-url/--serving-grpc given, no tensorflow_model_server" in message
    assert "tensorflow/serving:2.19.1: no Docker engine answers (test)" in message
    assert "hint: install tensorflow_model_server" in message


def test_server_that_exits_fails_with_its_log_tail(tmp_path: Path) -> None:
    fake = tmp_path / "tensorflow_model_server"
    fake.write_text("#!/bin/sh\necho 'Failed to start server. Error: boom on purpose'\nexit 3\n")
    fake.chmod(0o755)
    results, _ = run_serving(TINY, checks=("status", "metadata"), serving_binary=str(fake))
    status = results["tiny::tiny::-::status"]
    assert status.outcome == "failed"
    assert "the model server could not serve tiny" in status.message
    assert "exited before serving model 'tiny'" in status.message
    assert "boom on purpose" in status.message
    assert results["tiny::tiny::serving_default::metadata"].outcome == "failed"


def test_plugin_runs_the_serving_family_with_serving_url(pytester: pytest.Pytester,
                                                          shared_server: Shared) -> None:
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly",
                                "--contract", str(CLASSIFIER), "--backend", "serving",
                                "--serving-url", shared_server.rest_url,
                                "--serving-grpc", shared_server.grpc_target, "--in-process",
                                "--examples", "2", "-m", "serving", "-rA")
    result.stdout.fnmatch_lines(["*classifier@1::classify::predict-rest-row*"])
    result.stdout.fnmatch_lines(["*classify::metadata: REST fidelity (int64-above-2^53): "
                                 "signature 'classify' output 'class_id' (int64)*"])
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes["passed"] == 15


# ------------------------------------------------------------------ real servers, where present

REAL_BINARY = __import__("shutil").which("tensorflow_model_server")


def _docker_works() -> bool:
    from harness.serving.servers import docker_available

    return docker_available() is None


@pytest.mark.skipif(REAL_BINARY is None or "standin" in str(REAL_BINARY),
                    reason="no real tensorflow_model_server on PATH (TF Serving is not on PyPI or "
                           "in Debian; see https://www.tensorflow.org/tfx/serving/setup)")
def test_real_binary_serves_the_classifier() -> None:
    results, _ = run_serving(CLASSIFIER)
    assert not_passed(results) == {}


@pytest.mark.skipif(os.environ.get("MODEL_CONTRACT_SKIP_DOCKER") == "1" or not _docker_works(),
                    reason="no Docker engine answers here (start Docker to run the "
                           "tensorflow/serving:2.19.1 container path)")
def test_docker_container_serves_the_classifier(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.serving import servers

    monkeypatch.setattr(servers, "find_binary", lambda option: None)
    results, _ = run_serving(CLASSIFIER)
    assert not_passed(results) == {}
    assert any("tensorflow/serving:2.19.1 container" in n for r in results.values()
               for n in r.notes)


def test_batch_dependent_model_fails_batch_consistency(shared_server: Shared) -> None:
    contract = FIXTURES / "contracts" / "batch_dependent.json"
    results, _ = run_serving(contract, checks=("batch-consistency", "predict-grpc"), examples=5,
                             **url_options(shared_server))
    assert results["batch_dependent::batch_dependent::serving_default::predict-grpc"].outcome \
        == "passed"
    bad = results["batch_dependent::batch_dependent::serving_default::batch-consistency"]
    assert bad.outcome == "failed"
    assert "of a batch of" in bad.message and "differs from the same row sent alone" in bad.message


def test_label_answered_by_another_version_fails_addressing(shared_server: Shared,
                                                            tmp_path: Path) -> None:
    if shared_server.corpus is None:
        pytest.skip("TF Serving corpus not found (set MODEL_CONTRACT_CORPUS)")
    # the server maps canary -> 124; this contract says canary is 123
    contract = contract_copy(tmp_path, ROOT / "contracts" / "corpus" / "half_plus_two.json",
                             "h.json", models=[str(shared_server.corpus / TWO_VERSIONS)],
                             formats={"serving": {"version_labels": {"canary": 123}}})
    results, _ = run_serving(contract, checks=("addressing",), **url_options(shared_server))
    bad = results["half_plus_two::saved_model_half_plus_two_2_versions@123::serving_default::"
                  "addressing"]
    assert bad.outcome == "failed"
    assert "label 'canary' does not point at version 123" in bad.message
    assert ("Received: PredictResponse.model_spec.version = 124 for "
            "ModelSpec.version_label='canary'") in bad.message
    assert "Documented: version 123 (formats.serving.version_labels['canary'] in h.json)" \
        in bad.message


def test_dead_serving_url_says_nothing_answers_there(pytester: pytest.Pytester) -> None:
    """A refused connection is not a wrong model name: the message says nothing answers."""
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--contract", str(TINY), "--backend", "serving",
        "--serving-url", url, "-k", "status", "--results-dir", str(pytester.path / "results"))
    result.stdout.fnmatch_lines([
        f"*server at {url}): nothing answers at {url}",
        "*hint: is the server running, and is this the port of its REST API (--serving-url)?*"])
    assert "model_name" not in result.stdout.str()
    result.assert_outcomes(failed=1)


def test_starting_a_model_server_is_announced_with_its_time(pytester: pytest.Pytester) -> None:
    """The stand-in (a test fixture, not TF Serving) started as --serving-binary: the run says
    it is starting a server while it does, then how long it took."""
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--contract", str(TINY), "--backend", "serving",
        "--serving-binary", str(STANDIN_WRAPPER), "-k", "status", "-v",
        "--results-dir", str(pytester.path / "results"))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "*::tiny::status ",
        "model-contract: serving: starting (or checking) the model server for tiny ...",
        "model-contract: serving: starting (or checking) the model server for tiny: done in * s",
        "*::tiny::status PASSED*"])
