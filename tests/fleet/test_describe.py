"""Reading a fleet: model_config_list text, manifests, contracts matched by name, the plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.engine import Engine
from harness.errors import FleetError
from harness.fleet.config import VersionPolicy, read_model_config
from harness.fleet.describe import load_fleet, manifest_schema
from harness.fleet.plan import plan_fleet
from harness.fleet.shard import deal, parse_shard

ROOT = Path(__file__).resolve().parents[2]


def test_model_config_list_policies_and_labels(tmp_path: Path) -> None:
    config = tmp_path / "models.config"
    config.write_text('''# a comment
model_config_list {
  config { name: "a" base_path: "/m/a" model_platform: "tensorflow" }
  config {
    name: "b"
    base_path: "rel/b"
    model_version_policy { specific { versions: 2 versions: 5 } }
    version_labels { key: "stable" value: 2 }
  }
  config { name: "c" base_path: "/m/c" model_version_policy { latest { num_versions: 2 } } }
  config { name: "d" base_path: "/m/d" model_version_policy { all {} } }
}
''')
    a, b, c, d = read_model_config(config)
    assert (a.name, a.base_path, a.policy) == ("a", Path("/m/a"), VersionPolicy())
    assert b.base_path == tmp_path / "rel" / "b" and b.labels == (("stable", 2),)
    assert b.policy.select([1, 2, 3, 5]) == [2, 5] and b.line == 4
    assert c.policy.select([3, 1, 2]) == [2, 3]
    assert d.policy.select([2, 1]) == [1, 2]


def test_broken_model_config_names_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "models.config"
    config.write_text('model_config_list {\n  config { name: "a" base_path: "/m/a"\n')
    with pytest.raises(FleetError) as info:
        read_model_config(config)
    assert str(info.value).startswith(f"{config}: line 2: not a model_config_list: the file ends "
                                      "inside a block (a '}' is missing)")
    config.write_text('model_config_list {\n  config { name: "a" }\n}\n')
    with pytest.raises(FleetError, match=r"line 2: not a model_config_list: a config needs a "
                                         r"name and a base_path"):
        read_model_config(config)


def test_manifest_schema_is_published_and_enforced(tmp_path: Path) -> None:
    published = json.loads((ROOT / "contracts" / "schema" / "fleet-manifest-v1.schema.json").read_text())
    assert published == manifest_schema()
    result = json.loads((ROOT / "contracts" / "schema" / "fleet-result-v1.schema.json").read_text())
    assert result == json.loads((ROOT / "harness" / "fleet" / "schema" / "fleet-result-v1.schema.json").read_text())
    manifest = tmp_path / "fleet.json"
    manifest.write_text(json.dumps({"models": [{"name": "a", "base_path": "m", "versions": "newest"}]}))
    with pytest.raises(FleetError) as info:
        load_fleet(manifest)
    assert str(info.value).startswith(f"{manifest}: /models/0/versions: not a fleet manifest: ")


def test_generated_fleet_plans_every_model_and_lists_the_one_without_contract(
        fleet_root: Path) -> None:
    plan = plan_fleet(load_fleet(fleet_root / "models.config", fleet_root / "contracts"), Engine())
    assert len(plan.models) == 34
    orphan = [m for m in plan.models if m.contract is None]
    # listed, and linted (one lint case per version), never silently skipped
    assert [(m.name, m.problem, [c.id for c in m.cases]) for m in orphan] == [
        ("orphan", "no contract named 'orphan'", ["orphan::orphan@2::-::lint"])]
    by_name = {m.name: m for m in plan.models}
    assert by_name["scale-000"].versions == (2,)  # latest
    assert by_name["scale-003"].versions == (1, 2)  # all
    assert by_name["scale-006"].versions == (1,)  # specific 1
    assert plan.cases == sum(len(m.cases) for m in plan.models) > 300
    assert plan.summary().startswith(f"fleet models: 34 models, 46 model versions, {plan.cases} "
                                     f"cases, 0 conversions; plan {plan.id}")
    assert plan.summary().endswith("; 1 without a contract (linted only): orphan")
    assert by_name["scale-003"].labels == (("stable", 1),)  # model_config_list version_labels
    assert sum(c.family == "lint" for c in by_name["scale-003"].cases) == 1  # its contract's
    # the manifest describes the same fleet: the same plan
    same = plan_fleet(load_fleet(fleet_root / "fleet.json"), Engine())
    assert same.id == plan.id


def test_planning_loads_no_model(fleet_root: Path) -> None:
    engine = Engine()
    plan_fleet(load_fleet(fleet_root / "fleet.json"), engine)
    assert engine.context.memo.values() == []


def test_planning_a_thousand_models(fleet_root: Path, tmp_path: Path) -> None:
    """1,000 models over the fleet's three kinds of contract (ratios live in benchmarks/)."""
    kinds = {"scale": "scale-000", "total": "total-001", "pick": "pick-002"}
    entries = [{"name": f"m{i:04d}", "base_path": str(fleet_root / "models" / kinds[k]),
                "contract": str(fleet_root / "contracts" / f"{kinds[k]}.json"), "versions": "all"}
               for i, k in enumerate(list(kinds) * 334) if i < 1000]
    manifest = tmp_path / "big.json"
    manifest.write_text(json.dumps({"models": entries}))
    engine = Engine()
    plan = plan_fleet(load_fleet(manifest), engine)
    # 1000 x (2 versions x 12 checks + the contract's lint)
    assert len(plan.models) == 1000 and plan.cases == 25000
    assert engine.context.memo.values() == []  # the time is measured in benchmarks/bench_fleet.py


def test_shards_are_deterministic_balanced_and_cover_the_fleet(fleet_root: Path) -> None:
    fleet = load_fleet(fleet_root / "models.config", fleet_root / "contracts")
    shards = [plan_fleet(fleet, Engine(), shard=parse_shard(f"{k}/3")) for k in (1, 2, 3)]
    names = [m.name for s in shards for m in s.models]
    assert sorted(names) == sorted(m.name for m in fleet.entries)
    assert len({s.id for s in shards}) == 1
    sizes = [s.cases for s in shards]
    assert max(sizes) - min(sizes) <= 24
    assert deal({"a": 5.0, "b": 1.0, "c": 1.0, "d": 3.0}, 2) == {"a": 1, "d": 2, "b": 2, "c": 2}
    with pytest.raises(FleetError, match=r"--shard '4/3': expected K/N with 1 <= K <= N"):
        parse_shard("4/3")


def _manifest(tmp_path: Path, fleet_root: Path, **model: object) -> Path:
    entry = {"name": "scale-003", "base_path": str(fleet_root / "models" / "scale-003"),
             "contract": str(fleet_root / "contracts" / "scale-003.json"), **model}
    manifest = tmp_path / "fleet.json"
    manifest.write_text(json.dumps({"models": [entry]}))
    return manifest


def test_manifest_formats_labels_and_versions_by_label(fleet_root: Path, tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, fleet_root, formats=["onnx"], labels={"stable": 1, "canary": 2},
                         versions=["canary"])
    [model] = plan_fleet(load_fleet(manifest), Engine()).models
    assert model.versions == (2,) and model.labels == (("canary", 2), ("stable", 1))
    assert model.formats == ("onnx",)
    assert [c.check for c in model.cases if c.backend == "onnx"] == [
        "conformance[onnx]", "parity[onnx]"]
    assert model.conversions == 1
    # --backend on the command line still decides
    from harness.options import RunOptions

    [alone] = plan_fleet(load_fleet(manifest), Engine(RunOptions(backends=("savedmodel",)))).models
    assert not [c for c in alone.cases if c.backend == "onnx"]


def test_a_version_label_the_model_lacks_is_refused(fleet_root: Path, tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, fleet_root, labels={"stable": 1}, versions=["canary"])
    with pytest.raises(FleetError) as info:
        load_fleet(manifest)
    assert str(info.value) == (
        f"{manifest}: /models/0/versions: version label 'canary' is not one of the model's "
        "labels (stable)\n  hint: declare it in \"labels\": {\"NAME\": VERSION}")


def test_lint_case_holds_the_contract_to_the_manifest_standards(
        fleet_root: Path, tmp_path: Path) -> None:
    """The classifier standard locks tolerance at atol 1e-4; this contract loosens it."""
    from harness.errors import CheckFailure

    standard = ROOT / "standards" / "classifier.json"
    contract = tmp_path / "loose.json"
    data = json.loads((fleet_root / "contracts" / "scale-003.json").read_text())
    contract.write_text(json.dumps({**data, "tolerance": {"atol": 1e-2, "rtol": 1e-3}}))
    manifest = _manifest(tmp_path, fleet_root, standards=[str(standard)], contract=str(contract))
    engine = Engine()
    [model] = plan_fleet(load_fleet(manifest), engine).models
    [lint] = [c for c in model.cases if c.family == "lint"]
    with pytest.raises(CheckFailure) as info:
        engine.execute(lint)
    assert str(info.value).startswith(
        "[lint] the contract does not meet the fleet's standards for it\n"
        f"Received: {contract}: /tolerance/atol: ")
    assert str(info.value).endswith(f"Documented: standards: {standard}")
    # without the standard the same contract lints with a warning only (a note, not a failure)
    without = _manifest(tmp_path, fleet_root, contract=str(contract))
    [plain] = [c for c in plan_fleet(load_fleet(without), engine).models[0].cases
               if c.family == "lint"]
    assert engine.execute(plain) == [
        "warning SIGNATURE_NAME_SEMANTIC /signatures: the only signature is 'serving_default'; "
        "add one named for what it does (e.g. 'classify', 'embed')"]


def test_a_missing_standard_file_names_its_place(fleet_root: Path, tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, fleet_root, standards=["nowhere.json"])
    with pytest.raises(FleetError) as info:
        load_fleet(manifest)
    assert str(info.value) == (f"{manifest}: /models/0/standards/0: standard file does not "
                               f"exist\n  hint: {tmp_path / 'nowhere.json'}")
