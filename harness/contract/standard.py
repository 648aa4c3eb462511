"""Standards and inheritance: resolve a file's ``extends`` into one merged document.

A *standard* (``standard-v1.schema.json``) is a file of the contract family that may leave
values open and lock requirements. A contract or a standard names its parents in
``extends``: a path relative to the file, or ``PACKAGE:NAME``, a standard an installed
package ships through the ``model_contract.standards`` entry point (the entry point's
object is the folder holding ``NAME.json``; nothing is fetched from a network).

Resolution is depth first and deterministic:

1. every parent is resolved (transitively) in the order ``extends`` lists them;
2. the parents are merged; two parents that set one value differently are an error naming
   both files (a diamond, where both inherit the value from one file, is not a conflict);
3. the file's own values are laid over the merge: objects key by key, anything else
   replaced, ``null`` removes an inherited key;
4. every locked pointer of every ancestor is compared (:mod:`harness.contract.tighten`):
   loosening one is an error naming the file and pointer that loosens and the standard and
   ``/locked/N`` pointer that locks it.

The result keeps, for every leaf value, the file it came from (``show --resolved``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Mapping

from harness.contract.document import infinite_numbers, parse, schema_problems
from harness.contract.json_limits import pointer
from harness.contract.tighten import Context, loosenings, show
from harness.errors import ContractError

STANDARD_SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "standard-v1.schema.json"
SCHEMA_VERSION = 1
ENTRY_POINT_GROUP = "model_contract.standards"
#: keys that describe the file itself and are never inherited (a standard's description
#: describes the standard)
OWN_KEYS = ("$schema", "description", "extends", "locked", "standard", "schema_version")


@dataclass(frozen=True)
class Lock:
    """A locked requirement: the pointer it locks, and where it is declared."""

    pointer: str
    file: Path
    place: str  # e.g. /locked/0


@dataclass(frozen=True)
class Resolved:
    """A document with its ``extends`` applied."""

    path: Path
    data: Mapping[str, Any]  # the merged document, without OWN_KEYS
    origins: Mapping[str, Path]  # JSON pointer of every leaf value -> the file it came from
    locks: tuple[Lock, ...]
    chain: tuple[Path, ...]  # every file read, parents first, each once


def standard_schema() -> dict[str, Any]:
    """The published JSON Schema (draft 2020-12) of standard files."""
    return dict(_standard_schema())


@lru_cache(maxsize=1)
def _standard_schema() -> dict[str, Any]:
    with open(STANDARD_SCHEMA_PATH, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def resolve(path: Path, data: Mapping[str, Any] | None = None) -> Resolved:
    """The document at ``path`` (already parsed as ``data``, if given) with its parents applied."""
    path = Path(path)
    return _resolve(path, parse(path) if data is None else data, ())


def _resolve(path: Path, data: Any, stack: tuple[Path, ...]) -> Resolved:
    key = path.resolve()
    extends = data.get("extends", []) if isinstance(data, dict) else []
    if not isinstance(extends, list) or not all(isinstance(e, str) and e for e in extends):
        raise ContractError(f"found {show(extends)}; expected an array of standard paths or "
                            "PACKAGE:NAME names", file=path, place="/extends")
    parents: list[Resolved] = []
    for i, ref in enumerate(extends):
        parent_path = locate(ref, path, f"/extends/{i}")
        if parent_path.resolve() in stack + (key,):
            cycle = " -> ".join(p.name for p in stack + (key, parent_path.resolve()))
            raise ContractError(f"extends {ref!r}, which extends this file again (a cycle: "
                                f"{cycle})", file=path, place=f"/extends/{i}")
        parent_data = parse(parent_path)
        _check_standard(parent_data, parent_path, ref, path, i)
        parents.append(_resolve(parent_path, parent_data, stack + (key,)))

    merged, origins, locks, chain = _merge_parents(parents, path)
    own_keys = OWN_KEYS if "standard" in data else tuple(k for k in OWN_KEYS if k != "description")
    own = {k: v for k, v in data.items() if k not in own_keys}
    inherited = json.loads(json.dumps(merged))
    result = _overlay(merged, own, [], origins, path)
    _check_locks(inherited, result, locks, origins, path)
    for i, locked in enumerate(data.get("locked", []) if "standard" in data else []):
        if _at(result, _split(locked)) is _MISSING:
            raise ContractError(f"locks {locked}, which this standard (with its parents) does "
                                "not declare", file=path, place=f"/locked/{i}")
        locks = locks + (Lock(locked, path, f"/locked/{i}"),)
    return Resolved(path, result, origins, locks, chain + (key,))


def load_standard(path: Path) -> Resolved:
    """Read and check the standard at ``path`` (its schema, its parents, its locks)."""
    path = Path(path)
    data = parse(path)
    if not isinstance(data, dict) or "standard" not in data:
        raise ContractError("is not a standard (no \"standard\" key)", file=path)
    _check_version(data, path, "")
    _check_schema(data, path)
    return _resolve(path, data, ())


def locate(ref: str, child: Path, place: str) -> Path:
    """The file ``ref`` names from ``child``: a path relative to it, or PACKAGE:NAME."""
    if ":" in ref and not ref.endswith(".json") and "/" not in ref.split(":", 1)[0]:
        package, _, name = ref.partition(":")
        folder = _entry_point_folder(package, child, place)
        target = folder / f"{name}.json"
        if not target.is_file():
            known = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
            raise ContractError(f"package {package!r} ships no standard {name!r} "
                                f"(it ships: {', '.join(known) or 'none'})", file=child, place=place)
        return target
    target = Path(os.path.normpath(child.parent / ref))
    if not target.is_file():
        raise ContractError(f"extends {ref!r}, but {target} does not exist", file=child, place=place,
                            hint="paths in extends are relative to the file that names them")
    return target


def _entry_point_folder(package: str, child: Path, place: str) -> Path:
    from importlib.metadata import entry_points

    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == package]
    if not found:
        names = sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})
        raise ContractError(f"no installed package ships standards named {package!r} (the "
                            f"{ENTRY_POINT_GROUP} entry points: {', '.join(names) or 'none'})",
                            file=child, place=place,
                            hint="install the wheel that ships the standards, e.g. pip install "
                                 f"{package}")
    target = found[0].load()
    if callable(target):
        target = target()
    return Path(str(target))


def _check_standard(data: Any, path: Path, ref: str, child: Path, i: int) -> None:
    if not isinstance(data, dict) or "standard" not in data:
        raise ContractError(f"extends {ref!r}, which is not a standard (no \"standard\" key; "
                            "only standards can be extended)", file=child, place=f"/extends/{i}")
    _check_version(data, path, f" (extended by {child} /extends/{i})")
    _check_schema(data, path)


def _check_version(data: dict[str, Any], path: Path, by: str) -> None:
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ContractError(f"written for standard schema version {show(version)}; this "
                            f"model-contract reads version {SCHEMA_VERSION}{by}", file=path,
                            place="/schema_version")


def _check_schema(data: dict[str, Any], path: Path) -> None:
    problems = infinite_numbers(data) or schema_problems(data, _standard_schema())
    if problems:
        raise ContractError(problems[0][1], file=path, place=problems[0][0], problems=problems)


def _merge_parents(parents: list[Resolved], child: Path
                   ) -> tuple[dict[str, Any], dict[str, Path], tuple[Lock, ...], tuple[Path, ...]]:
    merged: dict[str, Any] = {}
    origins: dict[str, Path] = {}
    locks: list[Lock] = []
    chain: list[Path] = []
    for parent in parents:
        for ptr, value in _leaves(parent.data, []):
            there = _at(merged, ptr)
            if there is _MISSING and _blocked(merged, ptr):
                there = _at(merged, _blocked(merged, ptr))
                ptr = _blocked(merged, ptr)
            if there is _MISSING:
                _put(merged, ptr, value)
                origins[pointer(ptr)] = parent.origins[pointer(ptr)]
            elif there != value:
                first = origins.get(pointer(ptr)) or _first_origin(origins, pointer(ptr))
                raise ContractError(
                    f"its standards disagree at {pointer(ptr)}: {first} says {show(there)}, "
                    f"{parent.origins.get(pointer(ptr), parent.path)} says {show(value)}",
                    file=child, place="/extends",
                    hint="make one standard extend the other, or settle the value in one of them")
        for lock in parent.locks:
            if lock not in locks:
                locks.append(lock)
        for p in parent.chain:
            if p not in chain:
                chain.append(p)
    return merged, origins, tuple(locks), tuple(chain)


def _first_origin(origins: Mapping[str, Path], ptr: str) -> Path | str:
    for key, file in origins.items():
        if key.startswith(ptr + "/") or ptr.startswith(key + "/"):
            return file
    return "?"


def _overlay(base: dict[str, Any], own: Mapping[str, Any], path: list[Any],
             origins: dict[str, Path], file: Path) -> dict[str, Any]:
    """``own`` laid over ``base`` in place: objects key by key, null removes a key."""
    for key, value in own.items():
        here = path + [key]
        if value is None:
            base.pop(key, None)
            _forget(origins, pointer(here))
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            _overlay(base[key], value, here, origins, file)
        else:
            base[key] = json.loads(json.dumps(value))
            _forget(origins, pointer(here))
            for ptr, _ in _leaves(value, here):
                origins[pointer(ptr)] = file
    ordered = {key: base[key] for key in own if key in base}  # the file's own order first
    ordered.update((key, value) for key, value in base.items() if key not in ordered)
    base.clear()
    base.update(ordered)
    return base


def _forget(origins: dict[str, Path], ptr: str) -> None:
    for key in [k for k in origins if k == ptr or k.startswith(ptr + "/")]:
        del origins[key]


def _check_locks(inherited: Mapping[str, Any], result: Mapping[str, Any], locks: tuple[Lock, ...],
                 origins: Mapping[str, Path], file: Path) -> None:
    context = Context(inherited.get("dims", {}), result.get("dims", {}))
    problems: list[tuple[str, str]] = []
    for lock in locks:
        path = _split(lock.pointer)
        was = _at(inherited, path)
        if was is _MISSING:
            continue
        now = _at(result, path)
        found: Iterator[tuple[str, str]]
        if now is _MISSING:
            found = iter([(lock.pointer, f"removes {lock.pointer.rsplit('/', 1)[-1]!r}, "
                                         "which the standard locks")])
        else:
            found = loosenings(was, now, path, context)
        for ptr, message in found:
            problems.append((ptr, f"{message} (locked by {lock.file} {lock.place}: "
                                  f"{lock.pointer})"))
    if problems:
        problems = list(dict.fromkeys(problems))
        raise ContractError(problems[0][1], file=file, place=problems[0][0], problems=problems,
                            hint="a file that extends a standard may only tighten what it locks; "
                                 "change the standard, or drop the change")


class _Missing:
    pass


_MISSING: Any = _Missing()


def _split(ptr: str) -> list[Any]:
    if ptr in ("", "/"):
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in ptr.split("/")[1:]]


def _at(data: Any, path: list[Any]) -> Any:
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and str(part).isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return _MISSING
    return data


def _blocked(data: Any, path: list[Any]) -> list[Any]:
    """The shortest prefix of ``path`` that holds a non-object value (or [] if none)."""
    for n in range(1, len(path)):
        value = _at(data, path[:n])
        if value is _MISSING:
            return []
        if not isinstance(value, dict):
            return path[:n]
    return []


def _put(data: dict[str, Any], path: list[Any], value: Any) -> None:
    for part in path[:-1]:
        data = data.setdefault(part, {})
    data[path[-1]] = json.loads(json.dumps(value))


def _leaves(data: Any, path: list[Any]) -> Iterator[tuple[list[Any], Any]]:
    """(path, value) of every leaf: a non-object value or an empty object."""
    if isinstance(data, dict) and data:
        for key, value in data.items():
            yield from _leaves(value, path + [key])
    else:
        yield path, data


def provenance(resolved: Resolved) -> list[tuple[str, Any, Path]]:
    """(pointer, value, file) for every leaf of the merged document, in document order."""
    return [(pointer(p), v, resolved.origins.get(pointer(p), resolved.path))
            for p, v in _leaves(dict(resolved.data), [])]
