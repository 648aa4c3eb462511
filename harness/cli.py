"""``model-contract``: validate, init, check, diff and scan from the command line.

A thin front end: ``check`` drives pytest (and so the plugin and the engine) in-process,
the other commands call :mod:`harness.contract`, :mod:`harness.safety` and
:mod:`harness.savedmodel` directly. Options shared with the pytest plugin come from
:mod:`harness.options`. User errors print one message on stderr (no traceback, exit 2);
anything else is a bug and keeps its traceback (exit 3).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Callable, Sequence

from harness.errors import BackendUnavailable, HarnessError
from harness.options import CONTRACT_RUN_OPTIONS, FLEET_OPTIONS, OPTIONS, add_to_argparse
from harness.printable import printable

OK = 0
FAILED = 1
USER_ERROR = 2
INTERNAL_ERROR = 3

EXIT_CODES = f"""\
exit codes:
  {OK}  ok: valid, passed, no breaking change, no policy violation
  {FAILED}  the command's verdict is negative: an invalid contract (validate), a failed check
     (check), a breaking change (diff), an op-policy violation (scan), a lint finding of
     level error (lint)
  {USER_ERROR}  usage or input error: bad arguments, an unreadable contract given to init/check/
     diff/scan, a path that is not a SavedModel, nothing to compare or collect (one message
     on stderr, no traceback)
  {INTERNAL_ERROR}  internal error: a bug in model-contract (the traceback is printed)"""

Command = Callable[[argparse.Namespace], int]


class UsageError(HarnessError):
    """Arguments that cannot work together; exit 2 with the message."""


#: commands that run a TensorFlow model in this process (``init``'s probe); the others read
#: models without starting TensorFlow, and ``check``'s backends import it where they run
TENSORFLOW_COMMANDS = ("init",)


def _import_tensorflow() -> None:
    """TensorFlow up front, without its start-up log lines (and outside any timed step)."""
    from harness.backends.tf_import import import_tensorflow

    try:
        import_tensorflow()
    except BackendUnavailable:
        pass  # the command says what it cannot do without it


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args_list = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in args_list:
        cut = args_list.index("--")
        args_list, passthrough = args_list[:cut], args_list[cut + 1:]
    parser = build_parser()
    try:
        ns = parser.parse_args(args_list)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else USER_ERROR
    ns.passthrough = passthrough
    if passthrough and ns.command not in ("check", "fleet"):
        print(f"model-contract {ns.command}: arguments after '--' are passed to pytest and only "
              "'check' and 'fleet' take them", file=sys.stderr)
        return USER_ERROR
    command: Command = ns.run
    try:
        if ns.command in TENSORFLOW_COMMANDS:
            _import_tensorflow()
        return command(ns)
    except HarnessError as exc:
        print(f"model-contract {ns.command}: error: {exc}", file=sys.stderr)
        return USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return USER_ERROR
    except BrokenPipeError:  # the reader went away (e.g. `| head`): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK
    except Exception:  # noqa: BLE001 - a bug: keep the traceback
        traceback.print_exc()
        print("model-contract: internal error (a bug in model-contract; please report it with "
              "the traceback above)", file=sys.stderr)
        return INTERNAL_ERROR


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="model-contract", formatter_class=formatter,
        description="Contracts for TensorFlow SavedModels: declare a model's signatures, "
                    "dtypes, shapes and value domains in a JSON file and test them.",
        epilog="commands:\n"
               "  validate  check contract files against the schema and their own rules\n"
               "  init      write a first contract from a model\n"
               "  check     run a contract's checks on its models (through pytest)\n"
               "  diff      list interface changes between two contracts/models, gate on "
               "breaking ones\n"
               "  scan      the op-policy scan of saved_model.pb (nothing is loaded)\n"
               "  show      print a contract; --resolved: merged with its standards, every "
               "value with its file\n"
               "  lint      house rules on contracts and SavedModels (text, JSON, JUnit, SARIF)\n"
               "  rules     list the lint rules\n"
               "  openapi   the contract as an OpenAPI 3.1 document of TF Serving's REST API\n"
               "  fleet     check every model of a fleet (model_config_list or manifest)\n"
               "  merge     combine the fleet results of CI shards into one table\n"
               "  warm      list or stop the fork servers --keep-warm keeps between runs\n\n"
               + EXIT_CODES)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, description: str, run: Command) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=description, epilog=EXIT_CODES,
                           formatter_class=formatter)
        p.set_defaults(run=run)
        return p

    p = command("validate", "validate contract files",
                "Validate contract files against the published JSON Schema and the rules a "
                "schema cannot express (declared dims, ordered ranges, known checks), merged "
                "with the standards they extend; a standard (a file with a \"standard\" key) is "
                "validated against the standard schema with its parents and locks. Prints "
                "'ok: PATH' for each valid file and the problems of each invalid one; exits 1 "
                "when any file is invalid (validation is this command's verdict).", _validate)
    p.add_argument("contracts", nargs="+", metavar="CONTRACT", help="contract or standard JSON file(s)")

    p = command("init", "write a contract from a model",
                "Write a contract from a SavedModel's signatures (read statically): names, "
                "dtypes, shapes (a leading unknown size shared by all tensors of a signature "
                "becomes the dim 'batch', 1..32), tf.Example features of parse ops, assets and "
                "tag-set. Value domains cannot be read from a model: float inputs are fuzzed "
                "in [-1, 1] and integer inputs in [0, 1] until you edit them. A TF Serving base "
                "path gives a contract for its latest version that checks every version.",
                _init)
    p.add_argument("model", metavar="MODEL_DIR", help="SavedModel directory or TF Serving base path")
    p.add_argument("--name", help="contract name (default: the model folder's name)")
    p.add_argument("--no-probe", action="store_true",
                   help="write what saved_model.pb declares without calling the model. By default "
                        "init calls the model a few times (after the op-policy scan, in an "
                        "isolated process) to settle what the file cannot say: the rank of inputs "
                        "declared with unknown or wrong shapes, whether wrong ranks are refused, "
                        "determinism and batch consistency; every adjustment is printed as a note")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write the contract here (default: stdout); paths in it are relative to "
                        "FILE's folder")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.add_argument("--schema", metavar="URL_OR_PATH",
                   help="what the contract's \"$schema\" says, for editors (default: the "
                        "published schema's $id URL; a path is written relative to FILE)")
    p.add_argument("--tags", default="serve", metavar="TAG[,TAG]",
                   help="MetaGraph tag-set to read (default: serve)")
    p.add_argument("--calibrate", action="store_true",
                   help="also export to TFLite and ONNX, run both next to the SavedModel on "
                        "fuzzed inputs and write per-format, per-output tolerances: the largest "
                        "absolute error seen times --margin, rounded up to one digit (a format "
                        "that cannot be exported is left out with the reason)")
    p.add_argument("--margin", type=float, default=10.0, metavar="X",
                   help="with --calibrate: safety factor over the largest error seen (default 10)")

    p = command("check", "run a contract's checks",
                "Run every check of CONTRACT on its models: 'pytest --contract CONTRACT' "
                "in-process, with the options below passed through and any arguments after "
                "'--' given to pytest as they are (e.g. -- -k inputs -x). The exit code is "
                "pytest's: 0 all passed, 1 a check failed; 2 for an unusable contract or model "
                "path, or when no check was collected (e.g. -k matched nothing); 3 for "
                "pytest's internal errors. --format json|junit|sarif writes the results for CI "
                "(to stdout, pytest's own lines then going to stderr, or to -o FILE) and "
                "changes no exit code; an unusable contract or model path (exit 2) writes no "
                "report.", _check)
    p.add_argument("contract_file", metavar="CONTRACT", help="contract JSON file")
    p.add_argument("--format", dest="output_format", default="text",
                   choices=["text", "json", "junit", "sarif"],
                   help="output format (default text: pytest's lines); json is the run report "
                        "(schema check-report-v1), junit a test case per check, sarif SARIF "
                        "2.1.0 with a result per failed check at the contract file and the line "
                        "of the signature or tensor it is about")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="with --format json|junit|sarif: write it here, not stdout")
    add_to_argparse(p, [o.dest for o in OPTIONS
                        if o.dest != "contract" and o.dest not in FLEET_OPTIONS])

    p = command("diff", "interface changes between two contracts or models",
                "Compare the interfaces of OLD and NEW (contract files, SavedModel directories, "
                "or TF Serving base paths: their latest version), or, given one base path, each "
                "pair of consecutive versions. Every change has a severity: breaking (a "
                "signature, input or output removed or renamed, a dtype or method changed, a "
                "new required input, an input dim narrowed, a fixed size or rank changed, an "
                "asset removed), compatible (a signature or output added, a dim widened, an "
                "asset added) or unchanged. Two models whose fingerprint.pb signature_def_hash "
                "are equal are unchanged without further comparison. Contracts also compare value "
                "ranges (an input range narrowed or an output range widened is breaking) and "
                "deprecations (removing a deprecated signature or tensor is compatible from its "
                "sunset date on, breaking before). Each "
                "change belongs to a group (signature, tensor, shape, values, assets); --gate "
                "picks the groups that fail. The release gate: when both sides are contracts "
                "with a MAJOR.MINOR.PATCH version, a breaking change fails only without a major "
                "bump and a compatible change without a minor bump warns; otherwise exits 1 when "
                "any gated change is breaking.", _diff)
    p.add_argument("old", metavar="OLD", help="contract, SavedModel or TF Serving base path")
    p.add_argument("new", metavar="NEW", nargs="?",
                   help="contract or model to compare with (omit to compare the versions of "
                        "the base path OLD)")
    p.add_argument("--against", metavar="REV:PATH|FILE|MODEL",
                   help="compare the positional contract (the new one) against this: a file, a "
                        "model, or a contract at a git revision (main:contracts/x.json, read "
                        "with git show, no checkout)")
    p.add_argument("--gate", metavar="GROUP[,GROUP]", default="signature,tensor,shape,values,assets",
                   help="fail only on breaking changes of these groups (default: all of "
                        "signature, tensor, shape, values, assets)")
    p.add_argument("--json", action="store_true", help="print the changes as JSON")
    p.add_argument("--format", dest="output_format", choices=["text", "json", "junit", "sarif"],
                   help="output format (default text; --json is --format json); SARIF results "
                        "point at the NEW contract's file and line")
    p.add_argument("--tags", default="serve", metavar="TAG[,TAG]",
                   help="MetaGraph tag-set of models (default: serve)")
    p.add_argument("--no-fingerprint", dest="fingerprint", action="store_false",
                   help="compare signatures even when fingerprint.pb says they are equal")

    p = command("scan", "op-policy scan of a model (nothing is loaded)",
                "Scan saved_model.pb statically (nothing is loaded or run) for ops the policy "
                "denies: file access, Python callbacks, custom ops, Keras Lambda layers. "
                "Default: the built-in deny list; --contract uses a contract's \"ops\" and "
                "tag-set, --policy a policy file. A TF Serving base path scans every version. "
                "Exits 1 on a violation.", _scan)
    p.add_argument("model", metavar="MODEL_DIR", help="SavedModel directory or TF Serving base path")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--policy", metavar="FILE", help="JSON op policy file ({\"ops\": {...}})")
    source.add_argument("--contract", dest="policy_contract", metavar="CONTRACT",
                        help="take the op policy and tag-set from this contract")
    add_to_argparse(p, ["allow_op"])

    p = command("show", "print a contract (merged with its standards)",
                "Validate CONTRACT and print it. With --resolved, print the contract merged with "
                "the standards it extends (transitively), one line per value: its JSON pointer, "
                "the value and the file it came from. Exits 2 when the contract is invalid.",
                _show)
    p.add_argument("contract_file", metavar="CONTRACT", help="contract JSON file")
    p.add_argument("--resolved", action="store_true",
                   help="apply extends and say where every value comes from")
    p.add_argument("--json", action="store_true",
                   help="print JSON: {\"contract\": merged document, \"provenance\": {pointer: "
                        "file}}")

    p = command("lint", "house rules on contracts and models",
                "Apply the lint rules to contract files (as merged with their standards) and to "
                "SavedModel directories (read statically from saved_model.pb: nothing is loaded "
                "or run). A contract's \"lint\" block (or a standard's) sets the tier, each "
                "rule's level and accountable ignores. Exits 1 when a finding of level error "
                "remains.", _lint)
    p.add_argument("paths", nargs="+", metavar="CONTRACT_OR_MODEL",
                   help="contract JSON files and/or SavedModel directories")
    p.add_argument("--tier", choices=["minimal", "basic", "strict"],
                   help="rules to apply (default: the contract's lint.tier, else basic)")
    p.add_argument("--format", dest="output_format", default="text",
                   choices=["text", "json", "junit", "sarif"], help="output format (default text)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the output here, not stdout")
    p.add_argument("--baseline", metavar="FILE",
                   help="leave out the findings this baseline records (legacy violations)")
    p.add_argument("--write-baseline", metavar="FILE",
                   help="record every current finding in FILE (then exit 0)")
    p.add_argument("--tags", default="serve", metavar="TAG[,TAG]",
                   help="MetaGraph tag-set of models (default: serve)")
    p.add_argument("--standard", metavar="FILE|PACKAGE:NAME",
                   help="lint SavedModels with this standard's lint settings (tier, levels, "
                        "options), as a contract that extends it would be; contracts take "
                        "theirs from their own extends")

    p = command("rules", "list the lint rules",
                "List every lint rule (built in and from installed plugins): id, tier, default "
                "level and what it asks. --markdown prints the rules reference (docs/rules.md).",
                _rules)
    p.add_argument("--markdown", action="store_true", help="print the reference as Markdown")

    p = command("warm", "list or stop the kept fork servers",
                "List the fork servers that --keep-warm keeps between runs (this user's, in "
                "$MODEL_CONTRACT_WARM_DIR, else $XDG_RUNTIME_DIR/model-contract, else the "
                "temporary folder): pid, age, idle time-out, the Python and checkout each "
                "serves. 'stop' stops them all (runs connected to one finish first) and "
                "removes the files of servers that are gone. Each holds TensorFlow imported "
                "and no model; each ends by itself after its idle time-out.", _warm)
    p.add_argument("action", nargs="?", choices=["status", "stop"], default="status",
                   help="status (the default) or stop")

    p = command("openapi", "OpenAPI 3.1 of the model's TF Serving REST API",
                "Write an OpenAPI 3.1 document of the TF Serving REST API of CONTRACT's model: "
                "status and metadata, predict in the row and columnar formats, classify/regress "
                "for signatures whose method_name says so and that take serialized tf.Examples, "
                "with request and response schemas "
                "from the contract (dtypes, shapes as array nesting, ranges, b64 strings, "
                "version and label paths).", _openapi)
    p.add_argument("contract_file", metavar="CONTRACT", help="contract JSON file")
    p.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")

    p = command("fleet", "check every model of a fleet",
                "Check a fleet: FLEET is a TF Serving model_config_list file (a contract in "
                "--contracts applies to the model whose name it has) or a fleet manifest "
                "(.json). Prints the plan first (models, versions, cases, conversions, models "
                "without a contract), then runs 'pytest --fleet FLEET' in-process and prints "
                "the fleet table; writes RESULTS/fleet/index.html and fleet-result.json. "
                "Arguments after '--' go to pytest (e.g. -- --junitxml fleet.xml).", _fleet)
    p.add_argument("fleet", metavar="FLEET", help="model_config_list file or fleet manifest (.json)")
    p.add_argument("--plan", action="store_true", help="print the plan and stop (nothing is run)")
    p.add_argument("-n", "--workers", default=None, metavar="N",
                   help="run on N processes (pytest-xdist; 'auto' = one per CPU); a model's "
                        "cases stay on one worker")
    add_to_argparse(p, [o.dest for o in OPTIONS if o.dest not in ("contract", "model", "fleet")
                        and o.dest not in CONTRACT_RUN_OPTIONS])

    p = command("merge", "combine shard results",
                "Combine the fleet-result.json files of the shards of one fleet run into one "
                "table (and RESULTS/index.html, fleet-result.json). Shards of different plans "
                "are refused; a shard file that cannot be read is reported and the cases its "
                "models planned count as crashed. Exits 1 when a case failed or crashed.", _merge)
    p.add_argument("shards", nargs="+", metavar="SHARD_JSON", help="fleet-result.json of each shard")
    p.add_argument("-o", "--output", default="fleet-merged", metavar="DIR",
                   help="folder for the merged report (default: fleet-merged)")
    return parser


# ----------------------------------------------------------------------------- validate


def _validate(ns: argparse.Namespace) -> int:
    from harness.contract.document import parse
    from harness.contract.load import load_contract
    from harness.contract.standard import load_standard
    from harness.errors import ContractError

    invalid = 0
    for path in ns.contracts:
        try:
            data = parse(Path(path))
            if isinstance(data, dict) and "standard" in data:
                load_standard(Path(path))
            else:
                load_contract(path)
        except ContractError as exc:
            invalid += 1
            print(str(exc), file=sys.stderr)
            continue
        print(f"ok: {path}")
    if invalid:
        print(f"{invalid} of {len(ns.contracts)} contract(s) invalid", file=sys.stderr)
    return FAILED if invalid else OK


# ----------------------------------------------------------------------------- init


def _init(ns: argparse.Namespace) -> int:
    from harness.contract.init import contract_from_model

    output = Path(ns.output) if ns.output else None
    if output is not None and output.exists() and not ns.force:
        raise UsageError("exists; not overwritten", file=output, hint="pass --force to replace it")
    from dataclasses import replace

    from harness.savedmodel.layout import resolve_model

    def say(notes: Sequence[str]) -> None:  # each stage's notes as soon as it has them
        for note in notes:
            print(printable(f"note: {note}"), file=sys.stderr, flush=True)

    from harness.events import EventStream
    from harness.progress import Progress, progress_lines

    def line(text: str) -> None:
        print(f"model-contract init: {text}", file=sys.stderr, flush=True)

    progress = Progress(EventStream())
    progress.events.subscribe(progress_lines(line))

    result = contract_from_model(ns.model, name=ns.name, tags=_tags(ns.tags), output=output,
                                 schema=ns.schema)
    say(result.notes)
    if not ns.no_probe:
        from harness.contract.probe import probe

        with progress.step("probing the model (isolated, after the op-policy scan)"):
            data, probed = probe(result.data, resolve_model(ns.model)[-1])
        say(probed)
        result = replace(result, data=data, notes=result.notes + tuple(probed))
    if ns.calibrate:
        from harness.contract.calibrate import calibrate

        with progress.step("calibrating tolerances: exporting to each format and comparing"):
            data, calibrated = calibrate(result.data, resolve_model(ns.model)[-1],
                                         margin=ns.margin, progress=line)
        say(calibrated)
        result = replace(result, data=data, notes=result.notes + tuple(calibrated))
    text = result.render()
    if output is None:
        sys.stdout.write(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output}: {len(result.data['signatures'])} signature(s) from {result.model_dir}")
    return OK


# ----------------------------------------------------------------------------- check


def _check(ns: argparse.Namespace) -> int:
    from harness.contract.load import load_contract
    from harness.savedmodel.layout import CONTRACT_MODELS_HINT, resolve_model

    contract = load_contract(ns.contract_file)  # an unusable contract: exit 2, not a test failure
    hint = None if ns.model else CONTRACT_MODELS_HINT  # --model paths are the user's own
    for model in ns.model or contract.models:
        resolve_model(model, hint=hint)  # a path that does not exist: exit 2
    args = ["--contract", str(ns.contract_file)]
    args += _option_args(ns, exclude=("contract",)) + list(ns.passthrough)
    nothing = (f"model-contract check: no check was collected for {ns.contract_file} (did a -k "
               "or -m expression after '--' match nothing?)")
    if ns.output_format == "text":
        if ns.output:
            raise UsageError("-o FILE goes with --format json|junit|sarif (pytest's own lines "
                             "go to stdout)")
        return _run_pytest(args, nothing)
    if ns.output:
        return _run_pytest(args + ["--report", f"{ns.output_format}:{ns.output}"], nothing)
    import contextlib
    import tempfile

    with tempfile.TemporaryDirectory(prefix="model-contract-check-") as tmp:
        out = Path(tmp) / f"report.{ns.output_format}"
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries the report alone
            code = _run_pytest(args + ["--report", f"{ns.output_format}:{out}"], nothing)
        if out.is_file():
            sys.stdout.write(out.read_text(encoding="utf-8"))
            sys.stdout.flush()
    return code


def _option_args(ns: argparse.Namespace, exclude: Sequence[str]) -> list[str]:
    """The shared options given on the command line, as pytest arguments."""
    args: list[str] = []
    for opt in OPTIONS:
        if opt.dest in exclude or not hasattr(ns, opt.dest):
            continue
        value = getattr(ns, opt.dest, None)
        action = opt.kwargs.get("action")
        if action in ("store_true", "store_false"):
            if value != (action == "store_false"):  # differs from the default: pass the flag
                args.append(opt.flag)
        elif isinstance(value, list):
            for item in value:
                args += [opt.flag, str(item)]
        elif value is not None:
            args += [opt.flag, str(value)]
    return args


def _run_pytest(args: list[str], nothing_collected: str) -> int:
    import pytest

    # harness is imported already: silence pytest's "cannot rewrite asserts" warning about it.
    code = int(pytest.main(["-W", "ignore::pytest.PytestAssertRewriteWarning", *args]))
    if code == int(pytest.ExitCode.NO_TESTS_COLLECTED):
        print(nothing_collected, file=sys.stderr)
        return USER_ERROR
    if code in (int(pytest.ExitCode.USAGE_ERROR), int(pytest.ExitCode.INTERRUPTED)):
        return USER_ERROR
    if code == int(pytest.ExitCode.INTERNAL_ERROR):
        return INTERNAL_ERROR
    return code


# ----------------------------------------------------------------------------- diff


def _diff(ns: argparse.Namespace) -> int:
    from harness.contract.diff import diff_paths, render_table
    from harness.contract.release import check_groups, judge

    groups = check_groups(g.strip() for g in ns.gate.split(",") if g.strip())
    if ns.against is not None:
        if ns.new is not None:
            raise UsageError("give NEW or --against, not both (--against names the old side)")
        old, new = ns.against, ns.old
    else:
        old, new = ns.old, ns.new
    results = diff_paths(old, new, tags=_tags(ns.tags), use_fingerprint=ns.fingerprint)
    verdicts = [judge(r, groups) for r in results]
    failed = any(v.failed for v in verdicts)
    fmt = ns.output_format or ("json" if ns.json else "text")
    if fmt != "text":
        from harness.contract import release_output

        print(release_output.OUTPUTS[fmt](results, verdicts, groups))
    else:
        blocks = []
        for result, verdict in zip(results, verdicts):
            lines = [render_table(result)]
            lines += [f"  FAIL: {reason}" for reason in verdict.reasons]
            lines += [f"  warning: {warning}" for warning in verdict.warnings]
            blocks.append("\n".join(lines))
        print(printable("\n\n".join(blocks)))
    return FAILED if failed else OK


# ----------------------------------------------------------------------------- scan


def _scan(ns: argparse.Namespace) -> int:
    from harness.safety import DEFAULT_POLICY, OpPolicy, load_policy, scan_saved_model
    from harness.savedmodel.layout import resolve_model

    tags: set[str] | None = None
    policy = DEFAULT_POLICY
    source = "default op policy"
    if ns.policy:
        policy, source = load_policy(ns.policy), f"op policy {ns.policy}"
    elif ns.policy_contract:
        from harness.contract.load import load_contract

        contract = load_contract(ns.policy_contract)
        policy = OpPolicy.from_mapping(dict(contract.ops), file=contract.path, pointer="/ops")
        tags, source = set(contract.tags), f"op policy of {ns.policy_contract}"
    if ns.allow_op:
        policy = policy.permitting(ns.allow_op)
        source += f" + --allow-op {', '.join(ns.allow_op)}"
    violations = 0
    for ref in resolve_model(ns.model):
        report = scan_saved_model(ref.path, policy, tags=tags)
        roots = {k: v for k, v in report.ops_by_signature.items() if not k.startswith("__")}
        reachable = set().union(*report.ops_by_signature.values()) if report.ops_by_signature else set()
        if report.ok:
            print(f"clean: {ref.path} ({len(reachable)} op types reachable from "
                  f"{len(roots)} signature(s); {source}; "
                  f"{report.seconds * 1000:.0f} ms)")
            continue
        violations += 1
        print(f"VIOLATION: {ref.path}: {len(report.findings)} finding(s) under the {source}")
        for finding in report.findings:
            print(printable("  " + finding.render().replace("\n", "\n  ")))
    if violations:
        print("to permit an op deliberately: --allow-op OP, or \"ops\": {\"permit\": [...]} in "
              "the contract", file=sys.stderr)
    return FAILED if violations else OK


# ----------------------------------------------------------------------------- show


def _show(ns: argparse.Namespace) -> int:
    from harness.contract.load import load_contract
    from harness.contract.standard import provenance, resolve

    path = Path(ns.contract_file)
    load_contract(path)  # invalid (or loosening a standard): exit 2 with the problems
    if not ns.resolved:
        print(path.read_text(encoding="utf-8").rstrip())
        return OK
    resolved = resolve(path)
    rows = provenance(resolved)
    if ns.json:
        print(json.dumps({"contract": dict(resolved.data),
                          "provenance": {ptr: _shown_path(file) for ptr, _, file in rows}},
                         indent=2))
        return OK
    width = max((len(ptr) for ptr, _, _ in rows), default=0)
    for ptr, value, file in rows:
        print(printable(f"{ptr.ljust(width)}  {json.dumps(value)}  # {_shown_path(file)}"))
    return OK


# ----------------------------------------------------------------------------- lint


def _lint(ns: argparse.Namespace) -> int:
    from harness.lint.output import OUTPUTS
    from harness.lint.rules import load_plugins
    from harness.lint.run import lint_paths, write_baseline

    load_plugins()
    if any(Path(p).is_dir() for p in ns.paths):  # a SavedModel: its reader imports TensorFlow
        _import_tensorflow()
    baseline = Path(ns.baseline) if ns.baseline else None
    result = lint_paths(ns.paths, tier=ns.tier, baseline=baseline, tags=_tags(ns.tags),
                        standard=ns.standard)
    if ns.write_baseline:
        write_baseline(result, Path(ns.write_baseline))
        print(f"wrote {ns.write_baseline}: {len(result.findings)} finding(s) recorded")
        return OK
    text = OUTPUTS[ns.output_format](result)
    if ns.output:
        Path(ns.output).write_text(text + "\n", encoding="utf-8")
        print(OUTPUTS["text"](result).splitlines()[-1])
    else:
        print(printable(text) if ns.output_format == "text" else text)
    return FAILED if result.failed else OK


def _rules(ns: argparse.Namespace) -> int:
    from harness.lint.rules import META_RULES, RULES, load_plugins, reference_markdown

    load_plugins()
    if ns.markdown:
        print(reference_markdown(), end="")
        return OK
    for r in RULES.values():
        print(f"{r.id:<26} {r.tier:<8} {r.level:<8} {r.doc}")
        for o in r.options:
            print(f"{'':<26} option {o.name} (default {json.dumps(o.default)}): {o.doc}")
    for rule_id, (level, doc) in META_RULES.items():
        print(f"{rule_id:<26} {'-':<8} {level:<8} {doc}")
    return OK


# ----------------------------------------------------------------------------- warm


def _warm(ns: argparse.Namespace) -> int:
    import time

    from harness.forkserver import kept

    try:
        base = kept.folder()
        found = kept.stop_all() if ns.action == "stop" else kept.servers()
    except kept.Unavailable as exc:
        raise UsageError(str(exc), hint="kept fork servers need a folder only you can enter"
                         ) from None
    if ns.action == "stop":
        print(f"stopped {len(found)} kept fork server(s) in {base}"
              + "".join(f"\n  pid {k.pid} ({k.python}, {k.harness})" for k in found))
        return OK
    running = [k for k in found if k.running]
    if not running:
        print(f"no kept fork server runs (folder {base}); --keep-warm starts one")
        return OK
    now = time.time()
    print(f"{len(running)} kept fork server(s) in {base}:")
    for k in running:
        print(f"  pid {k.pid}, up {(now - k.started) / 60:.1f} min, ends after "
              f"{k.idle_s:.0f} s without a run; {k.python}; {k.harness} (key {k.key})")
    return OK


# ----------------------------------------------------------------------------- openapi


def _openapi(ns: argparse.Namespace) -> int:
    from harness.contract.load import load_contract
    from harness.contract.openapi import openapi

    text = json.dumps(openapi(load_contract(ns.contract_file)), indent=2)
    if ns.output:
        Path(ns.output).write_text(text + "\n", encoding="utf-8")
        print(f"wrote {ns.output}")
    else:
        print(text)
    return OK


def _shown_path(file: Path) -> str:
    """``file`` relative to the working directory when it is below it."""
    full = Path(os.path.normpath(Path(file).absolute()))
    try:
        return str(full.relative_to(Path.cwd()))
    except ValueError:
        return str(full)


# ----------------------------------------------------------------------------- fleet


def _fleet(ns: argparse.Namespace) -> int:
    from harness.engine import Engine
    from harness.fleet.describe import load_fleet
    from harness.fleet.plan import plan_fleet, previous_durations
    from harness.fleet.shard import parse_shard

    fleet = load_fleet(ns.fleet, ns.fleet_contracts)
    shard = parse_shard(ns.shard) if ns.shard else None
    durations = previous_durations(Path(ns.shard_durations)) if ns.shard_durations else None
    plan = plan_fleet(fleet, Engine(), shard=shard, durations=durations)
    print(printable(plan.summary()))
    if ns.plan:
        for model in plan.models:
            n = len(model.cases)
            where = f"{n} case{'' if n == 1 else 's'}, versions {list(model.versions)}"
            if model.labels:
                where += " (labels " + ", ".join(f"{k}={v}" for k, v in model.labels) + ")"
            if model.formats is not None:
                where += f", formats {list(model.formats)}"
            print(printable(f"  {model.name}: {model.problem + '; ' + where if model.problem else where}"))
        return OK
    args = ["--fleet", str(ns.fleet), "-p", "no:cacheprovider"]
    if ns.workers is not None:
        import importlib.util

        if importlib.util.find_spec("xdist") is None:
            raise UsageError("-n needs pytest-xdist", hint="pip install pytest-xdist")
        args += ["-n", str(ns.workers), "--dist", "loadgroup"]
    args += _option_args(ns, exclude=("contract", "model", "fleet"))
    return _run_pytest(args + list(ns.passthrough),
                       f"model-contract fleet: no case was collected for {ns.fleet}")


def _merge(ns: argparse.Namespace) -> int:
    from harness.fleet.render import table_lines, write_pages
    from harness.fleet.result import merge, verdict_ok

    result, notes = merge(Path(p) for p in ns.shards)
    for note in notes:
        print(printable(f"note: {note}"), file=sys.stderr)
    for line in table_lines(result):
        print(printable(line))
    paths = write_pages(result, Path(ns.output))
    print(f"fleet report: {paths['html']} (JSON: {paths['json']})")
    return OK if verdict_ok(result) and not notes else FAILED


def _tags(text: str) -> tuple[str, ...]:
    tags = tuple(t.strip() for t in text.split(",") if t.strip())
    if not tags:
        raise UsageError("--tags needs at least one tag, e.g. --tags serve")
    return tags


if __name__ == "__main__":
    sys.exit(main())
