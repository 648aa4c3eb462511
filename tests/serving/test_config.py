"""The commands and files that start a server: asserted exactly, since the binary and the
container cannot run here."""

from __future__ import annotations

from pathlib import Path

from harness.savedmodel.layout import ModelRef
from harness.serving.config import (
    DEFAULT_IMAGE,
    ServingModel,
    binary_command,
    binary_layout,
    container_spec,
    model_config_text,
    serving_model,
)


def two_versions(tmp_path: Path, labels: dict[str, int] | None = None) -> ServingModel:
    for v in ("00000123", "00000124"):
        (tmp_path / "src" / v).mkdir(parents=True)
    return ServingModel("clf", {123: tmp_path / "src" / "00000123",
                                124: tmp_path / "src" / "00000124"}, labels or {})


def test_model_config_lists_every_version_and_label(tmp_path: Path) -> None:
    model = two_versions(tmp_path, {"stable": 123, "canary": 124})
    assert model_config_text(model, "/models/clf") == (
        "model_config_list {\n"
        "  config {\n"
        '    name: "clf"\n'
        '    base_path: "/models/clf"\n'
        '    model_platform: "tensorflow"\n'
        "    model_version_policy { specific { versions: 123 versions: 124 } }\n"
        '    version_labels { key: "canary" value: 124 }\n'
        '    version_labels { key: "stable" value: 123 }\n'
        "  }\n"
        "}\n")


def test_model_config_parses_as_tf_serving_config(tmp_path: Path) -> None:
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    model = two_versions(tmp_path, {"stable": 123})
    config = model_server_config_pb2.ModelServerConfig()
    text_format.Parse(model_config_text(model, '/m/"q"'), config)
    entry = config.model_config_list.config[0]
    assert entry.base_path == '/m/"q"'
    assert list(entry.model_version_policy.specific.versions) == [123, 124]
    assert dict(entry.version_labels) == {"stable": 123}


def test_binary_command_exact() -> None:
    assert binary_command("/usr/bin/tensorflow_model_server", config_file="/tmp/x/models.config",
                          grpc_port=41001, rest_port=41002, labels=True) == [
        "/usr/bin/tensorflow_model_server",
        "--port=41001",
        "--rest_api_port=41002",
        "--model_config_file=/tmp/x/models.config",
        "--file_system_poll_wait_seconds=0",
        "--allow_version_labels_for_unavailable_models=true",
    ]
    assert "--allow_version_labels_for_unavailable_models=true" not in binary_command(
        "tms", config_file="c", grpc_port=1, rest_port=2, labels=False)


def test_binary_layout_symlinks_and_never_writes_into_the_model(tmp_path: Path) -> None:
    model = two_versions(tmp_path)
    before = sorted(p.name for p in (tmp_path / "src").rglob("*"))
    base = binary_layout(model, tmp_path / "layout")
    assert base == tmp_path / "layout" / "clf"
    assert sorted(p.name for p in base.iterdir()) == ["123", "124"]
    assert (base / "123").resolve() == (tmp_path / "src" / "00000123").resolve()
    assert sorted(p.name for p in (tmp_path / "src").rglob("*")) == before


def test_container_spec_mounts_read_only_and_exposes_both_ports(tmp_path: Path) -> None:
    model = two_versions(tmp_path, {"stable": 123})
    config = tmp_path / "models.config"
    spec = container_spec(model, image=DEFAULT_IMAGE, config_file=config)
    src = (tmp_path / "src").resolve()
    assert spec.image == "tensorflow/serving:2.19.1"
    assert spec.ports == (8500, 8501)
    assert spec.mounts == ((str(src / "00000123"), "/models/clf/123"),
                           (str(src / "00000124"), "/models/clf/124"),
                           (str(config.resolve()), "/models/models.config"))
    assert spec.docker_run() == [
        "docker", "run", "--rm", "-p", "127.0.0.1::8500", "-p", "127.0.0.1::8501",
        "-v", f"{src / '00000123'}:/models/clf/123:ro",
        "-v", f"{src / '00000124'}:/models/clf/124:ro",
        "-v", f"{config.resolve()}:/models/models.config:ro",
        "tensorflow/serving:2.19.1",
        "--model_config_file=/models/models.config",
        "--file_system_poll_wait_seconds=0",
        "--allow_version_labels_for_unavailable_models=true",
    ]
    assert ":latest" not in DEFAULT_IMAGE


def test_serving_model_from_contract_options(tmp_path: Path) -> None:
    from harness.contract.load import load_contract
    from tests.conftest import write_contract

    path = write_contract(tmp_path, formats={"serving": {
        "model_name": "clf", "version_labels": {"stable": 1}}})
    contract = load_contract(path)
    plain = serving_model(contract, [ModelRef(tmp_path, tmp_path, None)])
    assert (plain.name, dict(plain.versions), dict(plain.labels)) == (
        "clf", {1: tmp_path}, {"stable": 1})
    versioned = serving_model(load_contract(write_contract(tmp_path, "d.json")),
                              [ModelRef(tmp_path / "7", tmp_path, 7)])
    assert versioned.name == "tiny" and versioned.version_numbers == (7,)
