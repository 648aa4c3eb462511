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
    assert [(m.name, m.problem, len(m.cases)) for m in orphan] == [
        ("orphan", "no contract named 'orphan'", 0)]
    by_name = {m.name: m for m in plan.models}
    assert by_name["scale-000"].versions == (2,)  # latest
    assert by_name["scale-003"].versions == (1, 2)  # all
    assert by_name["scale-006"].versions == (1,)  # specific 1
    assert plan.cases == sum(len(m.cases) for m in plan.models) > 300
    assert plan.summary().startswith(f"fleet models: 34 models, 45 model versions, {plan.cases} "
                                     f"cases, 0 conversions; plan {plan.id}")
    assert plan.summary().endswith("; 1 without a contract: orphan")
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
    assert len(plan.models) == 1000 and plan.cases == 24000  # 1000 x 2 versions x 12 checks
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
