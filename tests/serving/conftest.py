"""Session fixtures of the serving tests: ONE stand-in server for the whole session.

The stand-in (tests/standin) is a test fixture imitating TF Serving's REST and gRPC APIs;
it is NOT TensorFlow Serving, and the harness labels its results by what it talked to
("serving (server at URL)", "serving (tensorflow_model_server at PATH)").
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, MODELS, ROOT, corpus_dir

TWO_VERSIONS = "saved_model_half_plus_two_2_versions"
LABELS = {"stable": 123, "canary": 124}
#: the bundled TF1 export (models_under_test/fixtures_tf1.py): versions 1 and 2.
TF1 = FIXTURES / "tf1_half_plus_two"
TF1_LABELS = {"stable": 1, "canary": 2}


@pytest.fixture(scope="session", autouse=True)
def standin_python() -> Iterator[None]:
    """The stand-in wrapper runs ${STANDIN_PYTHON:-python3}: use this interpreter (has TF)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STANDIN_PYTHON", sys.executable)
        yield


@pytest.fixture(autouse=True)
def serving_results_under_tmp_path(tmp_path: Path) -> Iterator[None]:
    from tests.serving.runner import RESULTS

    RESULTS.append(tmp_path / "results")
    yield
    RESULTS.pop()


@pytest.fixture(scope="session")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Base paths of tiny itself, tiny with perturbed weights and tiny with output y renamed."""
    from models_under_test.fixtures_exports import build_perturbed_tiny, build_renamed_tiny

    root = tmp_path_factory.mktemp("serving-variants")
    (root / "tiny").mkdir()
    (root / "tiny" / "1").symlink_to(FIXTURES / "tiny", target_is_directory=True)
    (root / "batch_dependent").mkdir()
    (root / "batch_dependent" / "1").symlink_to(FIXTURES / "batch_dependent",
                                                target_is_directory=True)
    out = {"tiny": root / "tiny", "batch_dependent": root / "batch_dependent"}
    for name, build in (("tiny_perturbed", build_perturbed_tiny),
                        ("tiny_renamed", build_renamed_tiny)):
        build(root / name / "1")
        out[name] = root / name
    return out


@dataclass(frozen=True)
class Shared:
    rest_url: str
    grpc_target: str
    corpus: Path | None


def _config_entry(name: str, base: Path, labels: dict[str, int] | None = None) -> str:
    text = f'  config {{ name: "{name}" base_path: "{base.resolve()}" model_platform: "tensorflow"'
    if labels:
        versions = " ".join(f"versions: {v}" for v in sorted(set(labels.values())))
        text += f" model_version_policy {{ specific {{ {versions} }} }}"
        text += "".join(f' version_labels {{ key: "{k}" value: {v} }}' for k, v in labels.items())
    return text + " }\n"


@pytest.fixture(scope="session")
def shared_server(variants: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[Shared]:
    """One stand-in serving the classifier, tiny variants, the bundled TF1 export and (if
    present) the corpus model."""
    from tests.standin import start_standin

    corpus = corpus_dir()
    entries = [_config_entry("classifier", MODELS / "classifier")]
    entries += [_config_entry(name, base) for name, base in variants.items()]
    entries.append(_config_entry("tf1_half_plus_two", TF1, TF1_LABELS))
    if (corpus / TWO_VERSIONS).is_dir():
        entries.append(_config_entry("half_plus_two", corpus / TWO_VERSIONS, LABELS))
    config = tmp_path_factory.mktemp("serving-config") / "models.config"
    config.write_text("model_config_list {\n" + "".join(entries) + "}\n", encoding="utf-8")
    server = start_standin(config_file=config,
                           extra_args=["--allow_version_labels_for_unavailable_models=true"],
                           python=sys.executable)
    try:
        yield Shared(server.rest_url, server.grpc_target,
                     corpus if (corpus / TWO_VERSIONS).is_dir() else None)
    finally:
        server.stop()


def contract_copy(folder: Path, source: Path, name: str, **changes: Any) -> Path:
    """A copy of a contract file with top-level keys replaced (model paths made absolute)."""
    data = json.loads(source.read_text(encoding="utf-8"))
    data["models"] = [str((source.parent / m).resolve()) for m in data.get("models", [])]
    data.pop("$schema", None)
    data.update(changes)
    path = folder / name
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


__all__ = ["FIXTURES", "LABELS", "MODELS", "ROOT", "Shared", "TWO_VERSIONS", "contract_copy"]
