"""Model server configuration checks of the TF Serving stand-in (test fixture, not
TensorFlow Serving). TensorFlow-free, so start-up errors come quickly.

Follows server_core.cc: ValidateModelConfigList, then UpdateModelVersionLabelMap, which
runs before the first load (so labels need --allow_version_labels_for_unavailable_models).
"""

from __future__ import annotations

import os
from typing import Any

from standin_status import ServingError, invalid_argument
from tensorflow_serving.config import model_server_config_pb2


def single_model_config(name: str, base_path: str) -> Any:
    """main.cc BuildSingleModelConfig."""
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name, model.base_path, model.model_platform = name, base_path, "tensorflow"
    return config


def validate_config(config: Any) -> None:
    """ValidateModelConfigList + platform checks (ServerCore::ReloadConfig)."""
    if config.WhichOneof("config") != "model_config_list":
        raise invalid_argument("Invalid ServerModelConfig")
    names: set[str] = set()
    for model in config.model_config_list.config:
        if model.name in names:
            raise invalid_argument(f"Illegal to list model {model.name} multiple times in config list")
        names.add(model.name)
        if "://" not in model.base_path and not os.path.isabs(model.base_path):
            raise invalid_argument(
                f"Expected model {model.name} to have an absolute path or URI; got "
                f"base_path()={model.base_path}"
            )
        if not model.model_platform:
            raise invalid_argument(
                "Illegal setting neither ModelServerConfig::model_type (deprecated) nor "
                "ModelServerConfig::model_platform."
            )
        if model.model_platform != "tensorflow":
            raise invalid_argument(
                f"Model {model.name} requests unsupported platform {model.model_platform}"
            )


def startup_labels(config: Any, allow_unavailable: bool) -> dict[str, dict[str, int]]:
    """UpdateModelVersionLabelMap on the first config: no version is available yet."""
    labels: dict[str, dict[str, int]] = {}
    for model in config.model_config_list.config:
        for label, version in model.version_labels.items():
            if not allow_unavailable:
                raise ServingError(
                    "FAILED_PRECONDITION",
                    f"Request to assign label to version {version} of model {model.name}, "
                    "which is not currently available for inference",
                )
            labels.setdefault(model.name, {})[label] = version
    return labels
