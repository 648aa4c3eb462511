"""A fleet run end to end (pytest --fleet), its table and accounting, shards and merge."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.fleet.result import RESULT_SCHEMA


def run(pytester: pytest.Pytester, fleet: Path, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", "--fleet",
                              str(fleet / "models.config"), "--contracts",
                              str(fleet / "contracts"), "--in-process", "--examples", "2",
                              "--results-dir", str(pytester.path / "results"), *args)


def validate(result: dict) -> None:
    import jsonschema

    jsonschema.Draft202012Validator(json.loads(RESULT_SCHEMA.read_text())).validate(result)


def test_fleet_run_prints_the_plan_the_table_and_the_accounting(
        pytester: pytest.Pytester, small_fleet: Path) -> None:
    result = run(pytester, small_fleet)
    result.stdout.fnmatch_lines([
        "fleet models: 5 models, 6 model versions, 65 cases, 0 conversions; plan *; "
        "1 without a contract (linted only): orphan",
        "*= fleet =*",
        "model * static * safety * fuzz * lint * seconds * note",
        "scale-000 * 6/0/0/0 * 1/0/0/0 * 5/0/0/0 * 1/0/0/0 *",
        "scale-003 * 12/0/0/0 * 2/0/0/0 * 10/0/0/0 * 1/0/0/0 * labels stable=1",
        "orphan * - * - * - * 1/0/0/0 * no contract named 'orphan'",
        "label stable: 13/0/0/0",
        "planned 65 = passed 65 + failed 0 + skipped 0 + crashed 0",
        "fleet report: *index.html (JSON: *fleet-result.json)",
    ])
    assert result.ret == 0
    data = json.loads((pytester.path / "results" / "fleet" / "fleet-result.json").read_text())
    validate(data)
    assert data["totals"]["planned"] == 65 == data["totals"]["passed"]
    orphan = next(m for m in data["models"] if m["name"] == "orphan")
    assert [c["id"] for c in orphan["cases"]] == ["orphan::orphan@2::-::lint"]
    assert orphan["cases"][0]["message"].startswith("no contract: the SavedModel was linted")
    assert data["labels"] == {"stable": {"passed": 13, "failed": 0, "skipped": 0, "crashed": 0}}
    index = (pytester.path / "results" / "fleet" / "index.html").read_text()
    assert "<a href='models/scale-003.html'>scale-003</a>" in index
    assert (pytester.path / "results" / "fleet" / "models" / "scale-003.html").is_file()


def test_a_model_folder_vanishing_mid_run_is_reported_and_accounted(
        pytester: pytest.Pytester, small_fleet: Path, tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    shutil.copytree(small_fleet, fleet)
    (fleet / "models.config").write_text(
        (fleet / "models.config").read_text().replace(str(small_fleet), str(fleet)))
    pytester.makeconftest(f'''
import shutil
def pytest_collection_finish(session):
    shutil.rmtree({str(fleet / "models" / "total-001")!r})
''')
    result = run(pytester, fleet)
    result.stdout.fnmatch_lines([
        "total-001 * 0/0/0/6 * 0/0/0/1 * 0/0/0/5 * 1/0/0/0 *",
        "planned 65 = passed 53 + failed 0 + skipped 0 + crashed 12",
    ])
    assert result.ret == 1
    data = json.loads((pytester.path / "results" / "fleet" / "fleet-result.json").read_text())
    total = next(m for m in data["models"] if m["name"] == "total-001")
    assert all(c["outcome"] == "crashed" for c in total["cases"] if c["column"] != "lint")
    assert "total-001/2" in total["cases"][0]["message"]


def test_shards_merge_into_the_whole_fleet_and_a_truncated_shard_is_accounted(
        pytester: pytest.Pytester, small_fleet: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    shard_files = []
    for k in (1, 2):
        out = pytester.path / f"shard{k}"
        result = pytester.runpytest("-p", "no:cacheprovider", "--fleet",
                                    str(small_fleet / "models.config"), "--contracts",
                                    str(small_fleet / "contracts"), "--in-process",
                                    "--examples", "2", "--shard", f"{k}/2", "--results-dir", str(out))
        assert result.ret == 0
        shard_files.append(out / "fleet" / "fleet-result.json")
    assert main(["merge", *map(str, shard_files), "-o", str(tmp_path / "merged")]) == 0
    out = capsys.readouterr().out
    assert "planned 65 = passed 65 + failed 0 + skipped 0 + crashed 0" in out
    merged = json.loads((tmp_path / "merged" / "fleet-result.json").read_text())
    validate(merged)
    assert merged["totals"]["planned"] == 65

    second = json.loads(shard_files[1].read_text())
    lost = sum(len(m["cases"]) for m in second["models"])
    truncated = tmp_path / "truncated.json"
    truncated.write_text(shard_files[1].read_text()[:200])
    assert main(["merge", str(shard_files[0]), str(truncated), "-o", str(tmp_path / "m2")]) == 1
    captured = capsys.readouterr()
    assert f"note: {truncated}: unreadable shard result: not valid JSON (truncated?): " in captured.err
    assert (f"planned 65 = passed {65 - lost} + failed 0 + skipped 0 + crashed {lost}"
            in captured.out)


def test_merge_refuses_shards_of_different_plans(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    def shard(plan: str, k: int) -> Path:
        path = tmp_path / f"{plan}-{k}.json"
        path.write_text(json.dumps({
            "format": "model-contract-fleet-result", "version": 1,
            "plan": {"id": plan, "fleet": "f", "shard": [k, 2], "models": 0, "cases": 0},
            "fleet_models": {}, "models": []}))
        return path

    a, b = shard("aaaa", 1), shard("bbbb", 2)
    assert main(["merge", str(a), str(b)]) == 2
    assert capsys.readouterr().err == (
        f"model-contract merge: error: {b}: shards of different fleet plans: {a} has plan aaaa, "
        f"{b} has plan bbbb\n  hint: merge the shard results of one fleet run (same fleet, "
        "contracts and --shard N)\n")


def test_two_workers_keep_a_model_on_one_and_a_killed_worker_is_accounted(
        pytester: pytest.Pytester, small_fleet: Path) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(killer='''
import os
def pytest_runtest_call(item):
    if os.environ.get("PYTEST_XDIST_WORKER") and "TF_NUM_INTRAOP_THREADS" in os.environ:
        with open("threads.txt", "a") as fh:
            fh.write("TF_NUM_INTRAOP_THREADS=" + os.environ["TF_NUM_INTRAOP_THREADS"] + "\\n")
    if os.environ.get("PYTEST_XDIST_WORKER") and item.nodeid.endswith(
            "pick-002@2::serving_default::values"):
        os._exit(9)  # the worker process dies mid-run
''')
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "killer", "--fleet", str(small_fleet / "models.config"), "--contracts",
        str(small_fleet / "contracts"), "--in-process", "--examples", "2", "--results-dir",
        str(pytester.path / "results"), "-n", "2", "-v")
    result.stdout.fnmatch_lines([
        "pick-002 * 6/0/0/0 * 1/0/0/0 * 4/0/0/1 *",
        "planned 65 = passed 64 + failed 0 + skipped 0 + crashed 1",
    ])
    assert result.ret == 1
    workers: dict[str, set[str]] = {}
    for line in result.stdout.lines:
        if line.startswith("[gw") and "models.config::" in line:
            worker, model = line.split()[0], line.split("models.config::")[1].split("@")[0]
            workers.setdefault(model, set()).add(worker)
    assert set(workers) == {"scale-000", "total-001", "pick-002", "scale-003", "orphan"}
    # a model's cases on one worker (the killed worker's model continues on its replacement)
    assert all(len(w) == 1 for m, w in workers.items() if m != "pick-002"), workers
    # each worker's TensorFlow pools sized to its share of the cores
    assert "TF_NUM_INTRAOP_THREADS" in (pytester.path / "threads.txt").read_text()
    data = json.loads((pytester.path / "results" / "fleet" / "fleet-result.json").read_text())
    pick = next(m for m in data["models"] if m["name"] == "pick-002")
    crashed = [c for c in pick["cases"] if c["outcome"] == "crashed"]
    assert [c["id"] for c in crashed] == ["pick-002::pick-002@2::serving_default::values"]
    assert "crashed while running" in crashed[0]["message"]


def test_a_failing_fuzzed_case_of_a_fleet_says_how_to_replay_it(
        pytester: pytest.Pytester, small_fleet: Path) -> None:
    from models_under_test.fleet import contract_for

    contract = contract_for("scale-003", "scale")
    contract["signatures"]["serving_default"]["outputs"]["y"]["range"] = [-0.5, 0.5]
    (pytester.path / "scale-003.json").write_text(json.dumps(contract))
    base = small_fleet / "models" / "scale-003"
    (pytester.path / "fleet.json").write_text(json.dumps({"models": [
        {"name": "scale-003", "base_path": str(base), "contract": "scale-003.json"}]}))
    result = pytester.runpytest("-p", "no:cacheprovider", "--fleet", "fleet.json",
                                "--in-process", "--examples", "20", "-k", "values",
                                "--results-dir", "results")
    result.stdout.fnmatch_lines([
        f"Reproduce with: pytest --contract scale-003.json --model {base} "
        "scale-003.json::scale-003@2::serving_default::values --replay results/failures/*.npz",
        "planned 13 = passed 0 + failed 1 + skipped 12 + crashed 0",
    ])


def test_a_dead_backend_process_is_counted_as_crashed_not_failed(
        pytester: pytest.Pytester) -> None:
    """The fixture aborts (SIGABRT) on any rank but 2: the rejection check kills its backend child."""
    fixtures = Path(__file__).resolve().parents[2] / "models_under_test" / "fixtures"
    (pytester.path / "fleet.json").write_text(json.dumps({"models": [
        {"name": "aborts", "base_path": str(fixtures / "aborts_on_wrong_rank"),
         "contract": str(fixtures / "contracts" / "aborts_on_wrong_rank.json")}]}))
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--fleet", "fleet.json", "--examples", "3",
        "--hypothesis-seed", "0", "-k", "rejection or conformance", "--results-dir", "results",
        "--junitxml", "junit.xml")
    result.stdout.fnmatch_lines([
        "aborts * 1/0/*/1 *",
        "planned * = passed 1 + failed 0 + skipped * + crashed 1",
    ])
    assert result.ret == 1
    data = json.loads((pytester.path / "results" / "fleet" / "fleet-result.json").read_text())
    [crashed] = [c for c in data["models"][0]["cases"] if c["outcome"] == "crashed"]
    assert crashed["id"].endswith("::rejection")
    assert "the process was killed by SIGABRT" in crashed["message"]
    assert data["totals"]["failed"] == 0 and data["totals"]["crashed"] == 1
    junit = (pytester.path / "junit.xml").read_text()
    assert '<property name="fleet_outcome" value="crashed" />' in junit
    html = (pytester.path / "results" / "fleet" / "models" / "aborts.html").read_text()
    assert "<tr class='crashed'>" in html
