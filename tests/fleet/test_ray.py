"""--executor ray: a fleet on Ray started locally (one task per model), and a Ray worker that dies.

One Ray session serves the whole test (starting Ray and importing TensorFlow in its workers is
the cost): healthy models, a model without contract, a model whose task carries a runtime
environment, and a model that kills its Ray worker mid-task (in-process, its rejection check
reaches ``tf.raw_ops.Abort``), which Ray retries once and which is then reported as crashed
with the worker's last words, its other cases accounted.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "models_under_test" / "fixtures"


def test_a_fleet_on_local_ray_and_a_ray_worker_killed_mid_task(
        pytester: pytest.Pytester, small_fleet: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray")
    # Ray's session files (sockets, logs) go to a folder of this test's, not /tmp/ray; a short
    # path, as Ray's Unix sockets must fit in 107 bytes
    ray_tmp = tempfile.TemporaryDirectory(prefix="mc-ray-")
    monkeypatch.setenv("RAY_TMPDIR", ray_tmp.name)
    try:
        _run_fleet_on_ray(pytester, small_fleet)
    finally:
        ray_tmp.cleanup()


def _run_fleet_on_ray(pytester: pytest.Pytester, small_fleet: Path) -> None:
    models = small_fleet / "models"
    contracts = small_fleet / "contracts"
    (pytester.path / "fleet.json").write_text(json.dumps({"fleet": "on-ray", "models": [
        {"name": "scale-000", "base_path": str(models / "scale-000"),
         "contract": str(contracts / "scale-000.json")},
        {"name": "scale-003", "base_path": str(models / "scale-003"), "versions": ["stable", 2],
         "labels": {"stable": 1}, "contract": str(contracts / "scale-003.json"),
         "runtime_env": {"env_vars": {"MODEL_CONTRACT_FLEET_TEST": "pinned"}}},
        {"name": "orphan", "base_path": str(models / "orphan")},
        {"name": "aborts", "base_path": str(FIXTURES / "aborts_on_wrong_rank"),
         "contract": str(FIXTURES / "contracts" / "aborts_on_wrong_rank.json")},
    ]}))
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--fleet", "fleet.json", "--executor", "ray", "--in-process",
        "--examples", "3", "--results-dir", "results", "--junitxml", "junit.xml", timeout=900)
    result.stdout.fnmatch_lines([
        "fleet on-ray: 4 models, 5 model versions, * cases, 0 conversions; plan *; "
        "1 without a contract (linted only): orphan",
        "model * static * safety * fuzz * lint * seconds * note",
        "scale-000 * 6/0/0/0 * 1/0/0/0 * 5/0/0/0 * 1/0/0/0 *",
        "scale-003 * 12/0/0/0 * 2/0/0/0 * 10/0/0/0 * 1/0/0/0 * labels stable=1",
        "orphan * - * - * - * 1/0/0/0 * no contract named 'orphan'",
        "aborts * 6/0/0/0 * 1/0/0/0 * 4/0/0/1 * 1/0/0/0 *",
        "label stable: 13/0/0/0",
        "planned * = passed * + failed 0 + skipped 0 + crashed *",
    ])
    assert result.ret == 1
    data = json.loads((pytester.path / "results" / "fleet" / "fleet-result.json").read_text())
    by_name = {m["name"]: m for m in data["models"]}
    # the Ray tasks ran the engine: TensorFlow in the workers, the runtime env where given
    assert by_name["scale-000"]["runtime"]["tensorflow"]
    assert by_name["scale-003"]["runtime"]["runtime_env"] == {
        "env_vars": {"MODEL_CONTRACT_FLEET_TEST": "pinned"}}
    assert by_name["scale-003"]["versions"] == [1, 2]
    assert by_name["orphan"]["cases"][0]["outcome"] == "passed"
    assert "no contract: the SavedModel was linted" in by_name["orphan"]["cases"][0]["message"]
    # the dead worker: the case it ran crashed with its last words (after one retry); the cases
    # finished before it are kept; the cases after it are crashed, saying why
    cases = {c["id"].split("::")[-1]: c for c in by_name["aborts"]["cases"]}
    rejection = cases["rejection"]
    assert rejection["outcome"] == "crashed"
    assert "the Ray worker died while running this case" in rejection["message"]
    assert "attempt 2 of 2" in rejection["message"]
    assert "model-contract: running aborts_on_wrong_rank::aborts_on_wrong_rank::serving_default::rejection" \
        in rejection["message"]
    assert "an input of rank other than 2 aborts the process" in rejection["message"]
    assert cases["conformance"]["outcome"] == "passed"
    after = [c for name, c in cases.items() if c["outcome"] == "crashed" and name != "rejection"]
    assert all(c["message"].startswith("not run: the Ray worker died") for c in after)
    assert data["totals"]["crashed"] == 1 + len(after)
    log = (pytester.path / "results" / "fleet" / "ray" / "aborts.log").read_text()
    assert log.count("model-contract: attempt ") == 2  # retried once, not more
    junit = (pytester.path / "junit.xml").read_text()
    assert junit.count('<property name="fleet_outcome" value="crashed" />') == 1 + len(after)


def test_address_without_the_ray_executor_is_a_usage_error(
        pytester: pytest.Pytester, small_fleet: Path) -> None:
    result = pytester.runpytest("-p", "no:cacheprovider", "--fleet",
                                str(small_fleet / "models.config"), "--address", "auto")
    result.stderr.fnmatch_lines(["ERROR: --address is the address of a Ray cluster: give it "
                                 "with --executor ray"])
    assert result.ret == 4
