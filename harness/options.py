"""Option definitions, written once and registered by both the pytest plugin and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

#: Backends a user can select with --backend. "savedmodel" is always the reference.
BACKEND_CHOICES = ("savedmodel", "tflite", "onnx", "tfjs", "serving")
#: Where a fleet's models run (--executor).
EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class OptionDef:
    """One command-line option: its flag, argparse keywords and help text."""

    flag: str
    dest: str
    help: str
    kwargs: dict[str, Any] = field(default_factory=dict)


def positive_int(text: str) -> int:
    """An argparse type: a whole number of 1 or more."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


OPTIONS: tuple[OptionDef, ...] = (
    OptionDef("--contract", "contract", "Contract file to check (repeatable). Without it, pytest "
              "runs as usual.", {"action": "append", "default": [], "metavar": "PATH"}),
    OptionDef("--model", "model", "Model directory or TF Serving base path to check instead of "
              "the contract's \"models\" list (repeatable).",
              {"action": "append", "default": [], "metavar": "DIR"}),
    OptionDef("--backend", "backend", "Limit the run to these backends (repeatable): "
              + ", ".join(BACKEND_CHOICES) + ". Default: savedmodel and every format the "
              "contract's \"formats\" lists. --tflite/--onnx/--tfjs add their format either way.",
              {"action": "append", "default": [], "choices": BACKEND_CHOICES, "metavar": "NAME"}),
    OptionDef("--examples", "examples", "Fuzzed examples per signature and check. Default: "
              "the contract's fuzz.examples (20 unless set), or the chosen "
              "--hypothesis-profile's when one is given.",
              {"type": int, "default": None, "metavar": "N"}),
    OptionDef("--calls-per-example", "calls_per_example", "Fuzzed calls hypothesis draws in "
              "one example. Default: the contract's fuzz.calls_per_example (1 unless set). "
              "--examples still counts calls; with N above 1, "
              "hypothesis' own cost per example is shared by N calls, and an isolated backend "
              "answers them in one round trip (conformance, values, parity): worth it when one call "
              "costs well under a millisecond (small inputs, ONNX or TFLite). A failing "
              "example still ends in the one call that fails, shrunk and saved for --replay.",
              {"type": positive_int, "default": None, "metavar": "N"}),
    OptionDef("--results-dir", "results_dir", "Where failing examples (.npz + replay command), "
              "the parity matrix and reports are written. Default: .model-contract/results.",
              {"default": None, "metavar": "DIR"}),
    OptionDef("--replay", "replay", "Replay one saved failing example (the .npz a failure's "
              "'Reproduce with:' line names, with its .json beside it) instead of fuzzing: "
              "only the test that saved it runs, and its reports go to RESULTS-DIR/replay.",
              {"default": None, "metavar": "NPZ"}),
    OptionDef("--report", "report", "Also write the results in a format CI systems read "
              "(repeatable): FORMAT:FILE, FORMAT one of json (the run report; schema "
              "check-report-v1), junit (a test case per check, with the contract's file and "
              "line) or sarif (SARIF 2.1.0: a result per failed check at the contract file and "
              "the line of the signature or tensor it is about).",
              {"action": "append", "default": [], "metavar": "FORMAT:FILE"}),
    OptionDef("--tflite", "tflite", "A .tflite file your pipeline produced, checked as is "
              "instead of exporting one; giving it adds the tflite checks even when the "
              "contract's \"formats\" and --backend do not name tflite.",
              {"default": None, "metavar": "PATH"}),
    OptionDef("--onnx", "onnx", "An .onnx file your pipeline produced, checked as is instead "
              "of exporting one; giving it adds the onnx checks even when the contract's "
              "\"formats\" and --backend do not name onnx.",
              {"default": None, "metavar": "PATH"}),
    OptionDef("--tfjs", "tfjs", "A TF.js model.json your pipeline produced (weight shards "
              "beside it), checked as is instead of exporting one; giving it adds the tfjs "
              "checks even when the contract's \"formats\" and --backend do not name tfjs.",
              {"default": None, "metavar": "PATH"}),
    OptionDef("--export-cache", "export_cache", "Cache folder for TFLite/ONNX/TF.js exports "
              "(and the SavedModel's recorded reference answers, see --fresh-references). "
              "Default: $MODEL_CONTRACT_CACHE or ~/.cache/model-contract.",
              {"default": None, "metavar": "DIR"}),
    OptionDef("--serving-url", "serving_url", "REST address (http://HOST:PORT) of a running TF "
              "Serving that serves the model under the contract's formats.serving.model_name "
              "(default: the contract's name); its metadata must match the SavedModel's "
              "signatures.", {"default": None, "metavar": "URL"}),
    OptionDef("--serving-grpc", "serving_grpc", "gRPC address (HOST:PORT) of a running TF "
              "Serving, with the same needs as --serving-url.",
              {"default": None, "metavar": "HOST:PORT"}),
    OptionDef("--serving-binary", "serving_binary", "tensorflow_model_server binary to start on "
              "free loopback ports with the versions under test (default: the one on PATH).",
              {"default": None, "metavar": "PATH"}),
    OptionDef("--serving-image", "serving_image", "Docker image to run TF Serving in when no "
              "binary is found (default: tensorflow/serving:2.19.1; needs a running Docker "
              "engine).", {"default": None, "metavar": "IMAGE:TAG"}),
    OptionDef("--in-process", "in_process", "Run backends inside the pytest process instead of "
              "an isolated child process (faster start, but a crash of TensorFlow ends the run).",
              {"action": "store_true", "default": False}),
    OptionDef("--keep-warm", "keep_warm", "Keep the fork server (TensorFlow imported, no "
              "model loaded) running after the run, for the next runs of the same checkout, "
              "Python and packages: they then pay no TensorFlow import. It ends after 15 idle "
              "minutes ($MODEL_CONTRACT_KEEP_WARM_IDLE seconds), or with 'model-contract warm "
              "stop'. Workers are still forked per run, isolated as without it. "
              "$MODEL_CONTRACT_KEEP_WARM=1 does the same.",
              {"action": "store_true", "default": False}),
    OptionDef("--call-timeout", "call_timeout", "Seconds a backend call may take before it is "
              "stopped and fails its check (default 120).",
              {"type": float, "default": None, "metavar": "S"}),
    OptionDef("--memory-limit", "memory_limit", "Memory (MB) a backend process may use before it "
              "is stopped and fails its check (default 8192).",
              {"type": float, "default": None, "metavar": "MB"}),
    OptionDef("--fleet", "fleet", "Check a fleet: a TF Serving model_config_list file (with "
              "--contracts) or a fleet manifest (.json). Every model, version and backend is "
              "planned up front.", {"default": None, "metavar": "FILE"}),
    OptionDef("--contracts", "fleet_contracts", "With --fleet: the folder of contracts; a "
              "contract applies to the model whose name it has.",
              {"default": None, "metavar": "DIR"}),
    OptionDef("--shard", "shard", "With --fleet: check only shard K of N (deterministic by "
              "model, balanced by --shard-durations).", {"default": None, "metavar": "K/N"}),
    OptionDef("--shard-durations", "shard_durations", "With --shard: a previous fleet result "
              "(fleet-result.json) whose per-model durations balance the shards.",
              {"default": None, "metavar": "FILE"}),
    OptionDef("--executor", "executor", "With --fleet: where the models run. 'local' (the "
              "default): in this process, or on pytest-xdist workers with -n. 'ray': one Ray task "
              "per model (its versions and backends together), each running the engine in a Ray "
              "worker process; needs the ray package (pip install 'model-contract[ray]').",
              {"default": None, "choices": EXECUTORS, "metavar": "NAME"}),
    OptionDef("--address", "ray_address", "With --executor ray: the address of a running Ray "
              "cluster (as ray.init takes it, e.g. ray://HOST:10001 or auto). Without it Ray "
              "starts locally for the run and stops after it.",
              {"default": None, "metavar": "ADDR"}),
    OptionDef("--fresh-references", "fresh_references", "Call the SavedModel for every "
              "reference answer of a comparison (parity) instead of reusing the answers an "
              "earlier run recorded for the same model, runtime, machine and inputs (kept in "
              "the cache folder, answers/answers.sqlite3; reused only when the examples repeat: "
              "a derandomized hypothesis profile such as the one CI runners load, or "
              "--hypothesis-seed; and for quantized variants' seeded batch).",
              {"action": "store_true", "default": False}),
    OptionDef("--allow-op", "allow_op", "Permit an op type the default op policy denies "
              "(repeatable).", {"action": "append", "default": [], "metavar": "OP"}),
)


#: The options of a fleet run (not of ``check``, which takes one contract).
FLEET_OPTIONS = ("fleet", "fleet_contracts", "shard", "shard_durations", "executor", "ray_address")
#: The options of a --contract run only (not of ``fleet``, which writes its own results).
CONTRACT_RUN_OPTIONS = ("report",)


def markdown_rows() -> list[str]:
    """The README's options table: each option with its help text, word for word."""
    rows = ["| option | what it does and what it needs |", "|---|---|"]
    for opt in OPTIONS:
        metavar = opt.kwargs.get("metavar")
        flag = f"{opt.flag} {metavar}" if metavar else opt.flag
        rows.append(f"| `{flag}` | {opt.help} |")
    return rows


def add_to_argparse(parser: Any, names: Sequence[str] | None = None) -> None:
    """Register the options (all, or those named by dest) on an argparse parser."""
    for opt in OPTIONS:
        if names is None or opt.dest in names:
            parser.add_argument(opt.flag, dest=opt.dest, help=opt.help, **opt.kwargs)


def add_to_pytest(group: Any) -> None:
    """Register every option on a pytest option group."""
    for opt in OPTIONS:
        group.addoption(opt.flag, dest=f"mc_{opt.dest}", help=opt.help, **opt.kwargs)


@dataclass(frozen=True)
class RunOptions:
    """The options of one run, whichever front end parsed them."""

    contracts: tuple[Path, ...] = ()
    models: tuple[Path, ...] = ()
    backends: tuple[str, ...] = ()
    examples: int | None = None
    #: --calls-per-example: fuzzed calls per hypothesis example (None: 1)
    calls_per_example: int | None = None
    results_dir: Path = Path(".model-contract/results")
    replay: Path | None = None
    #: (format, file) of each --report
    reports: tuple[tuple[str, Path], ...] = ()
    tflite: Path | None = None
    onnx: Path | None = None
    tfjs: Path | None = None
    export_cache: Path | None = None
    serving_url: str | None = None
    serving_grpc: str | None = None
    serving_binary: str | None = None
    serving_image: str | None = None
    allow_ops: tuple[str, ...] = ()
    in_process: bool = False
    #: --keep-warm: the fork server outlives the run (:mod:`harness.forkserver.kept`)
    keep_warm: bool = False
    #: --fresh-references: every reference answer is called, none reused or recorded
    fresh_references: bool = False
    call_timeout: float | None = None
    memory_limit: float | None = None
    #: a hypothesis profile was chosen explicitly (--hypothesis-profile): it decides the
    #: number of examples unless --examples is given
    profile_chosen: bool = False
    fleet: Path | None = None
    fleet_contracts: Path | None = None
    shard: str | None = None
    shard_durations: Path | None = None
    executor: str = "local"
    ray_address: str | None = None

    def artifact(self, backend: str) -> Path | None:
        """The file given for a format's backend (--tflite, --onnx, --tfjs): that format is
        checked."""
        return {"tflite": self.tflite, "onnx": self.onnx, "tfjs": self.tfjs}.get(backend)

    @staticmethod
    def from_namespace(ns: Any, prefix: str = "") -> "RunOptions":
        def get(name: str) -> Any:
            return getattr(ns, prefix + name, None)

        def path(name: str) -> Path | None:
            value = get(name)
            return Path(value) if value else None

        return RunOptions(
            contracts=tuple(Path(p) for p in get("contract") or ()),
            models=tuple(Path(p) for p in get("model") or ()),
            backends=tuple(dict.fromkeys(get("backend") or ())),
            examples=get("examples"),
            calls_per_example=get("calls_per_example"),
            results_dir=path("results_dir") or Path(".model-contract/results"),
            replay=path("replay"),
            reports=tuple((fmt, Path(file)) for fmt, _, file in
                          (str(r).partition(":") for r in get("report") or ())),
            tflite=path("tflite"),
            onnx=path("onnx"),
            tfjs=path("tfjs"),
            export_cache=path("export_cache"),
            serving_url=get("serving_url"),
            serving_grpc=get("serving_grpc"),
            serving_binary=get("serving_binary"),
            serving_image=get("serving_image"),
            allow_ops=tuple(get("allow_op") or ()),
            in_process=bool(get("in_process")),
            keep_warm=bool(get("keep_warm")),
            fresh_references=bool(get("fresh_references")),
            call_timeout=get("call_timeout"),
            memory_limit=get("memory_limit"),
            fleet=path("fleet"),
            fleet_contracts=path("fleet_contracts"),
            shard=get("shard"),
            shard_durations=path("shard_durations"),
            executor=get("executor") or "local",
            ray_address=get("ray_address"),
        )
