"""Command line: ``python -m models_under_test build [NAME ...] [--out DIR]`` and ``list``.

``build`` writes each model to its default place below ``--out`` (default: this
package's directory, i.e. it regenerates the committed artifacts). Each model
is built into a temporary directory next to its destination and then swapped
in, so a failed build never leaves a half-written model behind.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from models_under_test import ENTRIES, MODELS_DIR, build, default_dest


def build_in_place(name: str, root: Path) -> Path:
    """Build ``name`` into ``default_dest(name, root)``, replacing any previous version."""
    dest = default_dest(name, root)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.building-", dir=dest.parent))
    staging.chmod(0o755)  # mkdtemp makes it 0700; TF Serving may run as another user
    try:
        build(name, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    retired = None
    if dest.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{name}.old-", dir=dest.parent))
        retired.rmdir()
        dest.rename(retired)
    staging.rename(dest)
    if retired is not None:
        shutil.rmtree(retired)
    return dest


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _cmd_list() -> int:
    width = max(len(name) for name in ENTRIES)
    path_width = max(len(str(entry.relative_dest())) for entry in ENTRIES.values())
    for entry in ENTRIES.values():
        kind = "fixture" if entry.fixture else "bundled"
        where = str(entry.relative_dest())
        print(f"{entry.name:<{width}}  {kind:<7}  {where:<{path_width}}  {entry.description}")
    return 0


def _cmd_build(names: list[str], out: Path) -> int:
    unknown = [name for name in names if name not in ENTRIES]
    if unknown:
        print(
            f"error: unknown model(s) {', '.join(unknown)}; "
            f"run 'python -m models_under_test list' to see the {len(ENTRIES)} known models",
            file=sys.stderr,
        )
        return 2
    for name in names or list(ENTRIES):
        started = time.perf_counter()
        dest = build_in_place(name, out)
        seconds = time.perf_counter() - started
        print(f"built {name:<18} {seconds:6.1f} s  {_du(dest) / 1024:8.1f} KiB  {dest}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(
        prog="python -m models_under_test",
        description="Build the example and fixture SavedModels of the contract test suite.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the registered models")
    build_parser = commands.add_parser("build", help="build models (all if no NAME is given)")
    build_parser.add_argument("names", nargs="*", metavar="NAME", help="model name(s) to build")
    build_parser.add_argument(
        "--out", type=Path, default=MODELS_DIR,
        help=f"models root to write into (default: {MODELS_DIR})",
    )
    args = parser.parse_args(argv)
    if args.command == "list":
        return _cmd_list()
    return _cmd_build(args.names, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
