"""A fleet as its users describe it: a model_config_list with a contracts folder, or a manifest.

Either way the result is a :class:`Fleet`: one :class:`FleetEntry` per model (its name,
base path, version policy, labels, and the contract that applies to it, or none). A contract
applies to the model whose ``name`` it has; a manifest may name a contract for a model
explicitly. A model with no contract is kept (and reported as such), never dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from harness.contract.load import load_contract
from harness.errors import FleetError
from harness.fleet.config import ServedModel, VersionPolicy, read_model_config

MANIFEST_SCHEMA = Path(__file__).resolve().parent / "schema" / "fleet-manifest-v1.schema.json"


@dataclass(frozen=True)
class FleetEntry:
    name: str
    base_path: Path
    policy: VersionPolicy
    contract: Path | None
    labels: tuple[tuple[str, int], ...] = ()
    #: where the entry was declared (file and place), for messages
    source: str = ""
    #: the formats checked besides the SavedModel (manifest ``formats``), instead of the
    #: contract's ``formats`` list; None: the contract's
    formats: tuple[str, ...] | None = None
    #: standards the model's contract must meet (manifest ``standards``): its lint case
    #: resolves the contract with them as parents
    standards: tuple[Path, ...] = ()
    #: the Ray runtime environment of the model's task (manifest ``runtime_env``)
    runtime_env: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)

    def label_of(self, version: int | None) -> tuple[str, ...]:
        """The version labels (model_config_list ``version_labels``) that name ``version``."""
        return tuple(name for name, v in self.labels if v == version)


@dataclass(frozen=True)
class Fleet:
    path: Path
    name: str
    entries: tuple[FleetEntry, ...]
    #: contracts of the contracts folder that no model of the fleet is named after
    unused_contracts: tuple[Path, ...] = ()


def load_fleet(path: str | Path, contracts: str | Path | None = None) -> Fleet:
    """Read a fleet: a manifest (``.json``) or a model_config_list (with ``contracts``)."""
    path = Path(path)
    if not path.is_file():
        raise FleetError("fleet file does not exist", file=path,
                         hint="give a TF Serving model_config_list file or a fleet manifest (.json)")
    if path.suffix == ".json":
        return _from_manifest(path, Path(contracts) if contracts else None)
    return _from_config(path, read_model_config(path), Path(contracts) if contracts else None)


def contracts_by_name(folder: Path) -> dict[str, Path]:
    """The contracts of a folder by their ``name`` (two with one name are refused)."""
    if not folder.is_dir():
        raise FleetError("contracts folder does not exist", file=folder)
    found: dict[str, Path] = {}
    for file in sorted(folder.glob("*.json")):
        name = _contract_name(file)
        if name in found:
            raise FleetError(f"two contracts are named {name!r}: {found[name].name} and "
                             f"{file.name}", file=folder,
                             hint="a contract applies to the model whose name it has; rename one")
        found[name] = file
    return found


def _contract_name(file: Path) -> str:
    return load_contract(file).name


def _from_config(path: Path, served: list[ServedModel], folder: Path | None) -> Fleet:
    by_name = contracts_by_name(folder) if folder is not None else {}
    entries = tuple(FleetEntry(m.name, m.base_path, m.policy, by_name.get(m.name), m.labels,
                               f"{path}: line {m.line}") for m in served)
    _no_duplicates(path, entries)
    named = {m.name for m in served}
    unused = tuple(p for n, p in by_name.items() if n not in named)
    return Fleet(path, path.stem, entries, unused)


def _from_manifest(path: Path, folder: Path | None) -> Fleet:
    data = _read_json(path)
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        pointer = "/" + "/".join(str(p) for p in first.absolute_path)
        raise FleetError(f"not a fleet manifest: {first.message}", file=path, place=pointer,
                         hint=f"the schema: {MANIFEST_SCHEMA.name}")
    base = path.parent
    if folder is None and data.get("contracts"):
        folder = base / data["contracts"]
    by_name = contracts_by_name(folder) if folder is not None else {}
    entries = []
    for i, item in enumerate(data["models"]):
        labels = tuple(sorted((str(k), int(v)) for k, v in item.get("labels", {}).items()))
        policy = _policy(item.get("versions", "latest"), dict(labels), path, f"/models/{i}/versions")
        contract = base / item["contract"] if "contract" in item else by_name.get(item["name"])
        if contract is not None and not contract.is_file():
            raise FleetError("contract file does not exist", file=path,
                             place=f"/models/{i}/contract", hint=f"{contract}")
        standards = tuple(base / s for s in item.get("standards", data.get("standards", [])))
        for j, standard in enumerate(standards):
            if not standard.is_file():
                where = f"/models/{i}/standards/{j}" if "standards" in item else f"/standards/{j}"
                raise FleetError("standard file does not exist", file=path, place=where,
                                 hint=f"{standard}")
        formats = item.get("formats", data.get("formats"))
        runtime_env = item.get("runtime_env", data.get("runtime_env"))
        entries.append(FleetEntry(item["name"], base / item["base_path"], policy, contract, labels,
                                  f"{path}: /models/{i}",
                                  tuple(formats) if formats is not None else None, standards,
                                  runtime_env))
    _no_duplicates(path, entries)
    return Fleet(path, str(data.get("fleet") or path.stem), tuple(entries))


def _policy(versions: Any, labels: Mapping[str, int], path: Path, place: str) -> VersionPolicy:
    """A manifest's ``versions``: latest, all, or a list of version numbers and label names."""
    if not isinstance(versions, list):
        return VersionPolicy(versions)
    numbers = []
    for item in versions:
        if isinstance(item, str):
            if item not in labels:
                raise FleetError(f"version label {item!r} is not one of the model's labels "
                                 f"({', '.join(sorted(labels)) or 'it has none'})", file=path,
                                 place=place, hint='declare it in "labels": {"NAME": VERSION}')
            numbers.append(labels[item])
        else:
            numbers.append(int(item))
    return VersionPolicy("specific", versions=tuple(dict.fromkeys(numbers)))


def _no_duplicates(path: Path, entries: tuple[FleetEntry, ...] | list[FleetEntry]) -> None:
    seen: dict[str, str] = {}
    for entry in entries:
        if entry.name in seen:
            raise FleetError(f"model {entry.name!r} is declared twice ({seen[entry.name]} and "
                             f"{entry.source})", file=path)
        seen[entry.name] = entry.source


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FleetError(f"not valid JSON: {exc.msg}", file=path,
                         place=f"line {exc.lineno} column {exc.colno}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FleetError(f"cannot read: {exc}", file=path) from None


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    with open(MANIFEST_SCHEMA, encoding="utf-8") as fh:
        return jsonschema.Draft202012Validator(json.load(fh))


def manifest_schema() -> dict[str, Any]:
    with open(MANIFEST_SCHEMA, encoding="utf-8") as fh:
        return dict(json.load(fh))
