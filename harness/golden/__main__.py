"""``python -m harness.golden COMMAND``: record goldens, export and cross-load across TF versions, report.

* ``record [--contract C ...] [--root baselines] [--force]`` - record goldens; refuses to
  change a stored one without ``--force`` and prints what would change (exit status 1).
* ``export --out DIR --env NAME`` - rebuild the bundled models with this environment's
  TensorFlow into ``DIR/exported-by-NAME/<model>``, with their outputs on the golden inputs.
* ``crossload --exports DIR --env NAME`` - load every export under ``DIR`` here, compare it with
  the outputs its exporting environment recorded; writes ``DIR/loaded-by-NAME.json``.
* ``crossload-all --tox-dir .tox`` - run ``crossload`` with the Python of every ``tf2NN`` env.
* ``report --results DIR --out reports`` - ``drift.json``, ``drift.md`` and ``drift.svg``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(prog="python -m harness.golden", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record", help="record the golden outputs of the bundled (or given) contracts")
    rec.add_argument("--contract", action="append", type=Path, default=[], metavar="PATH")
    rec.add_argument("--root", type=Path, default=Path("baselines"), help="goldens folder (default baselines)")
    rec.add_argument("--force", action="store_true", help="overwrite goldens that would change")
    exp = commands.add_parser("export", help="rebuild the bundled models here for the cross-version table")
    exp.add_argument("--out", type=Path, required=True)
    exp.add_argument("--env", required=True, help="name of this environment (e.g. tf215)")
    exp.add_argument("--root", type=Path, default=Path("baselines"))
    cl = commands.add_parser("crossload", help="load every export under --exports in this environment")
    cl.add_argument("--exports", type=Path, required=True)
    cl.add_argument("--env", required=True)
    cla = commands.add_parser("crossload-all", help="crossload under every tf2NN tox env")
    cla.add_argument("--tox-dir", type=Path, required=True)
    rep = commands.add_parser("report", help="collect the per-env results into reports/drift.*")
    rep.add_argument("--results", type=Path, required=True)
    rep.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)

    from harness.errors import HarnessError

    try:
        if args.command == "record":
            from harness.golden.record import DEFAULT_CONTRACTS, record

            outcomes = record(args.contract or DEFAULT_CONTRACTS, args.root, force=args.force)
            return 1 if any(o.action == "refused" for o in outcomes) else 0
        if args.command == "export":
            from harness.golden.crossload import export_bundled

            return export_bundled(args.out, args.env, goldens=args.root)
        if args.command == "crossload":
            from harness.golden.crossload import crossload

            return crossload(args.exports, args.env)
        if args.command == "crossload-all":
            from harness.golden.crossload import crossload_all

            return crossload_all(args.tox_dir)
        from harness.golden.drift import write_report

        return write_report(args.results, args.out)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
