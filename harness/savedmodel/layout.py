"""Where the models of a contract are: SavedModel directories and TF Serving base paths."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import ModelError


def is_saved_model_dir(path: Path) -> bool:
    return (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file()


@dataclass(frozen=True)
class ModelRef:
    """One SavedModel to check: a plain directory, or one version of a TF Serving base path."""

    path: Path
    base: Path
    version: int | None = None

    @property
    def label(self) -> str:
        """Short id used in test ids: ``classifier`` or ``classifier@1``."""
        name = self.base.name or str(self.base)
        return name if self.version is None else f"{name}@{self.version}"


#: the hint for a model path a contract's "models" names
CONTRACT_MODELS_HINT = "paths in a contract's \"models\" are relative to the contract file"


def resolve_model(path: str | Path, *, hint: str | None = None) -> list[ModelRef]:
    """The SavedModels at ``path``: itself, or each numeric version folder of a base path.

    A base path with version folders yields every version, lowest first (as TF Serving
    numbers them). A path that is neither still yields one ref, so that the static check
    reports precisely what is wrong with it instead of the run failing at collection.
    """
    path = Path(path)
    if not path.exists():
        if hint is None and not path.is_absolute():
            hint = f"the path is relative to the current directory ({Path.cwd()})"
        raise ModelError("model path does not exist", file=path, hint=hint)
    if path.is_dir() and not is_saved_model_dir(path):
        versions = sorted(
            (int(p.name), p) for p in path.iterdir() if p.is_dir() and p.name.isdigit()
        )
        if versions:
            return [ModelRef(p, path, v) for v, p in versions]
    return [ModelRef(path, path, None)]
