"""Standards and inheritance: extends, locked requirements, tighten-only, provenance.

Every fixture is built by code under tmp_path; each inheritance error is asserted on the exact
message a user sees (the file and pointer that loosen, the standard and /locked/N that lock).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.contract import load_contract
from harness.contract.load import SCHEMA_PATH
from harness.contract.standard import STANDARD_SCHEMA_PATH, provenance, resolve, standard_schema
from harness.errors import ContractError

ROOT = Path(__file__).resolve().parent.parent.parent

ORG = {
    "standard": "org", "schema_version": 1,
    "tags": ["serve"],
    "dims": {"batch": {"min": 1, "max": 64}},
    "tolerance": {"atol": 1e-4, "rtol": 1e-3},
    "locked": ["/tags", "/dims/batch", "/tolerance"],
}
IMAGE = {
    "standard": "image", "schema_version": 1, "extends": ["org.json"],
    "signatures": {"classify": {
        "inputs": {"image": {"dtype": "float32", "shape": ["batch", None, None, 3],
                             "range": [0.0, 1.0]}},
        "outputs": {"scores": {"dtype": "float32", "shape": ["batch", None], "range": [0.0, 1.0],
                               "checks": ["finite", {"sum": 1.0, "axis": -1, "atol": 1e-5}]},
                    "class_id": {"dtype": "int64", "shape": ["batch"]}},
    }},
    "locked": ["/signatures/classify"],
}
TEAM = {
    "extends": ["standards/image.json"], "name": "team_model", "version": "1.0.0",
    "dims": {"batch": {"min": 1, "max": 8}},
    "signatures": {"classify": {
        "inputs": {"image": {"shape": ["batch", 224, 224, 3]}},
        "outputs": {"scores": {"shape": ["batch", 1000]}},
    }},
}


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def project(tmp_path: Path, team: dict[str, Any] | None = None,
            **standards: dict[str, Any]) -> Path:
    """standards/org.json, standards/image.json (or the given ones) and team.json."""
    for name, data in ({"org": ORG, "image": IMAGE} | standards).items():
        write(tmp_path / "standards" / f"{name}.json", data)
    return write(tmp_path / "team.json", TEAM if team is None else team)


def error_of(path: Path) -> str:
    with pytest.raises(ContractError) as info:
        load_contract(path)
    return str(info.value)


def changed(base: dict[str, Any], ptr: str, value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(base))
    parts = ptr.strip("/").split("/")
    here = data
    for part in parts[:-1]:
        here = here.setdefault(part, {})
    here[parts[-1]] = value
    return data


# ----------------------------------------------------------------------------- what works


def test_a_contract_inherits_and_tightens(tmp_path: Path) -> None:
    contract = load_contract(project(tmp_path))
    sig = contract.signatures[0]
    assert [t.name for t in sig.outputs] == ["scores", "class_id"]
    scores = sig.outputs[0]
    assert scores.shape == ("batch", 1000)  # fixed where the standard left it open
    assert [c.kind for c in scores.checks] == ["finite", "sum"]  # inherited
    assert sig.inputs[0].range == (0.0, 1.0) and sig.inputs[0].shape == ("batch", 224, 224, 3)
    assert contract.dims["batch"].max == 8 and contract.tags == ("serve",)
    assert contract.tolerance.atol == 1e-4


def test_adding_signatures_outputs_and_checks_is_tightening(tmp_path: Path) -> None:
    team = changed(TEAM, "/signatures/classify/outputs/embedding",
                   {"dtype": "float32", "shape": ["batch", 16]})
    team = changed(team, "/signatures/classify/outputs/scores/checks",
                   ["finite", {"sum": 1.0, "axis": -1, "atol": 1e-5}, "nonnegative"])
    team = changed(team, "/signatures/embed", {"inputs": {"image": {"dtype": "float32"}},
                                                "outputs": {"e": {"dtype": "float32"}}})
    team = changed(team, "/signatures/classify/inputs/image/range", [0.0, 0.5])
    team = changed(team, "/tolerance", {"atol": 1e-6, "rtol": 1e-3})
    contract = load_contract(project(tmp_path, team))
    assert [s.name for s in contract.signatures] == ["classify", "embed"]
    assert [t.name for t in contract.signatures[0].outputs] == ["scores", "embedding", "class_id"]


def test_unlocked_values_can_be_overridden_and_null_removes_them(tmp_path: Path) -> None:
    image = changed(IMAGE, "/fuzz", {"examples": 50})
    team = changed(TEAM, "/fuzz", {"examples": 5})
    assert load_contract(project(tmp_path, team, image=image)).fuzz.examples == 5
    team = changed(TEAM, "/fuzz", None)
    assert load_contract(project(tmp_path, team, image=image)).fuzz.examples == 20


def test_a_diamond_is_not_a_conflict(tmp_path: Path) -> None:
    text = {"standard": "text", "schema_version": 1, "extends": ["org.json"],
            "signatures": {"label": {"inputs": {"tokens": {"dtype": "string"}},
                                     "outputs": {"label": {"dtype": "int64"}}}}}
    team = changed(TEAM, "/extends", ["standards/image.json", "standards/text.json"])
    path = project(tmp_path, team, text=text)
    contract = load_contract(path)
    assert [s.name for s in contract.signatures] == ["classify", "label"]
    resolved = resolve(path)
    org = tmp_path / "standards" / "org.json"
    assert [p.name for p in resolved.chain] == ["org.json", "image.json", "text.json", "team.json"]
    assert [lock.file.resolve() for lock in resolved.locks] == [org.resolve()] * 3 + [
        (tmp_path / "standards" / "image.json").resolve()]


def test_provenance_names_the_file_of_every_value(tmp_path: Path) -> None:
    path = project(tmp_path)
    rows = {ptr: (value, Path(file).resolve()) for ptr, value, file in provenance(resolve(path))}
    std = tmp_path / "standards"
    assert rows["/signatures/classify/outputs/scores/shape"] == (["batch", 1000], path.resolve())
    assert rows["/signatures/classify/outputs/scores/range"] == ([0.0, 1.0], (std / "image.json").resolve())
    assert rows["/tolerance/atol"] == (1e-4, (std / "org.json").resolve())
    assert rows["/dims/batch/max"] == (8, path.resolve())
    assert rows["/tags"] == (["serve"], (std / "org.json").resolve())


def test_resolution_is_deterministic(tmp_path: Path) -> None:
    path = project(tmp_path)
    first = json.dumps(dict(resolve(path).data))
    assert all(json.dumps(dict(resolve(path).data)) == first for _ in range(3))


def test_bundled_contracts_extend_the_bundled_standards() -> None:
    for name, standard in [("image_classifier", "image-classifier"),
                           ("text_classifier", "text-classifier"), ("classifier", "classifier")]:
        path = ROOT / "contracts" / f"{name}.json"
        resolved = resolve(path)
        assert (ROOT / "standards" / f"{standard}.json").resolve() in resolved.chain
        assert (ROOT / "standards" / "classifier.json").resolve() in resolved.chain
        load_contract(path)


def test_standard_schema_is_published_and_shares_the_contract_definitions() -> None:
    published = ROOT / "contracts" / "schema" / "standard-v1.schema.json"
    assert json.loads(published.read_text()) == standard_schema()
    contract_schema = json.loads(SCHEMA_PATH.read_text())
    assert standard_schema()["$defs"] == contract_schema["$defs"]
    assert STANDARD_SCHEMA_PATH.name == "standard-v1.schema.json"


# ----------------------------------------------------------------------------- loosening

LOOSEN = {
    "widen_range": ("/signatures/classify/inputs/image/range", [0.0, 255.0],
                    "/signatures/classify/inputs/image/range: widens range [0.0, 1.0] to "
                    "[0.0, 255.0]; only a narrower one is allowed (locked by STD/image.json "
                    "/locked/0: /signatures/classify)"),
    "change_dtype": ("/signatures/classify/outputs/scores/dtype", "float16",
                     "/signatures/classify/outputs/scores/dtype: changes dtype \"float32\" to "
                     "\"float16\" (locked by STD/image.json /locked/0: /signatures/classify)"),
    "drop_output": ("/signatures/classify/outputs/class_id", None,
                    "/signatures/classify/outputs/class_id: removes output 'class_id' the standard "
                    "locks (locked by STD/image.json /locked/0: /signatures/classify)"),
    "relax_tolerance": ("/tolerance/atol", 1e-3,
                        "/tolerance/atol: relaxes atol 0.0001 to 0.001; it may only be lowered "
                        "(locked by STD/org.json /locked/2: /tolerance)"),
    "drop_check": ("/signatures/classify/outputs/scores/checks", ["finite"],
                   "/signatures/classify/outputs/scores/checks: drops check {\"sum\": 1.0, "
                   "\"axis\": -1, \"atol\": 1e-05}; entries may only be added (locked by "
                   "STD/image.json /locked/0: /signatures/classify)"),
    "widen_dim": ("/dims/batch", {"min": 0, "max": 128},
                  "2 problems"),
    "fixed_size_outside_dim": ("/signatures/classify/inputs/image/shape", [100, 224, 224, 3],
                               "/signatures/classify/inputs/image/shape: shape[0] fixes 100, "
                               "outside dim 'batch' [1, 64] (locked by STD/image.json /locked/0: "
                               "/signatures/classify)"),
    "change_rank": ("/signatures/classify/inputs/image/shape", ["batch", 224, 224],
                    "/signatures/classify/inputs/image/shape: changes the rank of shape "
                    "[\"batch\", null, null, 3] to [\"batch\", 224, 224] (locked by STD/image.json "
                    "/locked/0: /signatures/classify)"),
    "change_tags": ("/tags", ["serve", "gpu"],
                    "/tags: changes tags [\"serve\"] to [\"serve\", \"gpu\"] (locked by "
                    "STD/org.json /locked/0: /tags)"),
}


@pytest.mark.parametrize("case", sorted(LOOSEN))
def test_loosening_a_locked_requirement_names_both_files_and_pointers(
        tmp_path: Path, case: str) -> None:
    ptr, value, expected = LOOSEN[case]
    path = project(tmp_path, changed(TEAM, ptr, value))
    message = error_of(path).replace(str(tmp_path / "standards"), "STD")
    if expected == "2 problems":
        assert message.splitlines()[0] == f"{path}: 2 problems in the contract:"
        assert message.splitlines()[1:3] == [
            f"  {path}: /dims/batch/min: lowers min 1 to 0; it may only be raised (locked by "
            "STD/org.json /locked/1: /dims/batch)",
            f"  {path}: /dims/batch/max: raises max 64 to 128; it may only be lowered (locked by "
            "STD/org.json /locked/1: /dims/batch)"]
    else:
        assert message.splitlines()[0] == f"{path}: {expected}"
    assert message.splitlines()[-1] == ("  hint: a file that extends a standard may only tighten "
                                        "what it locks; change the standard, or drop the change")


# ----------------------------------------------------------------------------- edge cases


def test_a_cycle_is_an_error(tmp_path: Path) -> None:
    org = changed(ORG, "/extends", ["image.json"])
    path = project(tmp_path, org=org)
    assert error_of(path) == (
        f"{tmp_path}/standards/org.json: /extends/0: extends 'image.json', which "
        "extends this file again (a cycle: team.json -> image.json -> org.json -> image.json)")


def test_a_missing_parent_is_an_error(tmp_path: Path) -> None:
    path = project(tmp_path, changed(TEAM, "/extends", ["standards/nope.json"]))
    assert error_of(path) == (
        f"{path}: /extends/0: extends 'standards/nope.json', but {tmp_path}/standards/nope.json "
        "does not exist\n  hint: paths in extends are relative to the file that names them")


def test_a_parent_of_another_schema_version_is_an_error(tmp_path: Path) -> None:
    path = project(tmp_path, image=changed(IMAGE, "/schema_version", 2))
    assert error_of(path) == (
        f"{tmp_path}/standards/image.json: /schema_version: written for standard schema version "
        f"2; this model-contract reads version 1 (extended by {path} /extends/0)")


def test_two_parents_that_disagree_are_an_error(tmp_path: Path) -> None:
    other = {"standard": "other", "schema_version": 1, "tolerance": {"atol": 1e-6}}
    team = changed(TEAM, "/extends", ["standards/image.json", "standards/other.json"])
    path = project(tmp_path, team, other=other)
    assert error_of(path) == (
        f"{path}: /extends: its standards disagree at /tolerance/atol: "
        f"{tmp_path}/standards/org.json says 0.0001, "
        f"{tmp_path}/standards/other.json says 1e-06\n"
        "  hint: make one standard extend the other, or settle the value in one of them")


def test_extending_a_contract_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "standards" / "plain.json", {"name": "x", "signatures": {}})
    path = project(tmp_path, changed(TEAM, "/extends", ["standards/plain.json"]))
    assert error_of(path) == (f"{path}: /extends/0: extends 'standards/plain.json', which is not "
                              "a standard (no \"standard\" key; only standards can be extended)")


def test_a_standard_is_not_a_contract(tmp_path: Path) -> None:
    project(tmp_path)
    path = tmp_path / "standards" / "image.json"
    assert error_of(path) == (f"{path}: /standard: is a standard, not a contract: a contract "
                              "names it in \"extends\"")


def test_a_lock_of_an_undeclared_pointer_is_an_error(tmp_path: Path) -> None:
    path = project(tmp_path, image=changed(IMAGE, "/locked", ["/signatures/detect"]))
    assert error_of(path) == (f"{tmp_path}/standards/image.json: /locked/0: locks "
                              "/signatures/detect, which this standard (with its parents) does "
                              "not declare")


def test_a_standard_that_breaks_its_schema_is_an_error(tmp_path: Path) -> None:
    path = project(tmp_path, image=changed(IMAGE, "/signatures/classify/inputs/image/dtype", "f32"))
    assert error_of(path).startswith(
        f"{tmp_path}/standards/image.json: /signatures/classify/inputs/image/dtype: 'f32' is not "
        "a dtype; expected one of")


def test_a_merged_contract_problem_says_where_the_value_came_from(tmp_path: Path) -> None:
    image = changed(IMAGE, "/signatures/classify/relations", [{"argmax": "scores",
                                                                "equals": "class_id"}])
    image = changed(image, "/locked", [])
    team = changed(TEAM, "/signatures/classify/outputs/scores", None)  # unlocked: allowed
    path = project(tmp_path, team, image=image)
    assert error_of(path) == (
        f"{path}: /signatures/classify/relations/0/argmax: 'scores' is not an output of "
        "signature 'classify'; outputs: class_id (inherited from "
        f"{tmp_path}/standards/image.json)")


def test_a_standard_from_an_installed_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    package = site / "acme_standards"
    write(package / "org.json", ORG)
    write(package / "image.json", IMAGE)
    (package / "__init__.py").write_text(
        "from pathlib import Path\nFOLDER = Path(__file__).parent\n", encoding="utf-8")
    info = site / "acme_model_standards-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-model-standards\n"
                                   "Version: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[model_contract.standards]\nacme = acme_standards:FOLDER\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    team = write(tmp_path / "team.json", changed(TEAM, "/extends", ["acme:image"]))
    assert load_contract(team).signatures[0].outputs[0].shape == ("batch", 1000)
    missing = write(tmp_path / "t2.json", changed(TEAM, "/extends", ["acme:detector"]))
    assert error_of(missing) == (f"{missing}: /extends/0: package 'acme' ships no standard "
                                 "'detector' (it ships: image, org)")
    unknown = write(tmp_path / "t3.json", changed(TEAM, "/extends", ["nobody:image"]))
    assert error_of(unknown).startswith(
        f"{unknown}: /extends/0: no installed package ships standards named 'nobody' (the "
        "model_contract.standards entry points: acme")
    sys.modules.pop("acme_standards", None)


def test_validate_checks_standards_with_the_standard_schema(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    assert main(["validate", *map(str, sorted((ROOT / "standards").glob("*.json")))]) == 0
    project(tmp_path)
    bad = write(tmp_path / "standards" / "bad.json", changed(ORG, "/tolerance/atol", "small"))
    capsys.readouterr()
    assert main(["validate", str(bad)]) == 1
    assert capsys.readouterr().err.splitlines()[0] == (
        f"{bad}: /tolerance/atol: found a string 'small'; expected a number")
    old = write(tmp_path / "standards" / "old.json", changed(ORG, "/schema_version", 0))
    assert main(["validate", str(old)]) == 1
    assert capsys.readouterr().err.splitlines()[0] == (
        f"{old}: /schema_version: written for standard schema version 0; this model-contract "
        "reads version 1")
