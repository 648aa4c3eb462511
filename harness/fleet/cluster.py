"""``--executor ray``: one Ray task per model, each running the normal engine in a Ray worker.

The driver (the pytest process) submits every selected model at once, as one task carrying
the model's fleet entry and the ids of its selected cases; Ray runs them on its workers
(processes of the local node, or of the cluster at ``--address``). A task plans its model
again (planning is deterministic and reads no model, so the ids are the driver's), runs each
case through :class:`~harness.engine.Engine` exactly as a local run does (``open_backend``,
the op-policy gate, isolation unchanged), and returns the fleet rows
(:class:`~harness.fleet.result.CaseRows`). The driver hands each model's rows to its test
items as the model's task finishes, so they reach the same table, JSON, HTML and JUnit.

A worker that dies (a crash of TensorFlow in ``--in-process`` mode, the OOM killer, a lost
node) makes Ray retry the task once (``max_retries=1``). The retry resumes: the rows of cases
an earlier attempt finished are kept in the task's journal and not run again. If the retry dies
too, the cases without a row are reported as crashed with the worker's last words: the tail of
the task's log, where the task sent its stderr and the id of each case as it started. Journal
and log live in ``RESULTS/fleet/ray/`` (on a cluster, a folder every node can write, or the
last words say they are missing).

A model's ``runtime_env`` (from the manifest) goes to its task as is: e.g.
``{"pip": ["tensorflow-cpu==2.19.1", "model-contract[all]"]}`` runs that model under another
TensorFlow on the cluster; each row records the TensorFlow the task ran.
"""

from __future__ import annotations

import json
import os
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from harness.engine import Engine
from harness.errors import FleetError
from harness.fleet.cores import share_cores
from harness.fleet.describe import Fleet, FleetEntry
from harness.fleet.plan import plan_fleet
from harness.fleet.result import CaseRows, crashed_row
from harness.options import RunOptions

#: how often Ray runs a task whose worker died: the first attempt and one retry
ATTEMPTS = 2
LAST_WORDS_LINES = 8
RAY_HINT = "pip install 'model-contract[ray]' (or pip install ray)"


@dataclass(frozen=True)
class ModelTask:
    """What one Ray task needs: the run's options, the model's fleet entry, its cases."""

    options: RunOptions
    fleet_path: Path
    fleet_name: str
    entry: FleetEntry
    case_ids: tuple[str, ...]
    journal: Path  # one JSON row per finished case (the retry resumes after them)
    log: Path  # the task's stderr and progress: the worker's last words


def run_model(task: ModelTask) -> dict[str, Any]:
    """The body of a Ray task (runs in the Ray worker): the model's cases through the engine."""
    task.log.parent.mkdir(parents=True, exist_ok=True)
    share_cores(1, cores=1)  # a task holds one of Ray's CPUs: TensorFlow's pools sized to it
    done = _journal(task.journal)
    with _stderr_to(task.log) as say:
        say(f"attempt {_attempt(task.log)} of {ATTEMPTS} in process {os.getpid()} "
            f"(Python {sys.version.split()[0]})")
        engine = Engine(replace(task.options, executor="local"))
        rows = CaseRows.attach(engine.context.events)
        try:
            plan = plan_fleet(Fleet(task.fleet_path, task.fleet_name, (task.entry,)), engine)
            cases = {c.id: c for m in plan.models for c in m.cases}
            for case_id in task.case_ids:
                if case_id in done or case_id not in cases:
                    continue  # finished by an earlier attempt; or no longer planned (driver says)
                say(f"running {case_id}")
                try:
                    engine.execute(cases[case_id])
                except Exception:  # noqa: BLE001 - the engine's CaseFinished has the outcome
                    pass  # (a failure, a skip, a user error, or a bug: "crashed" with its text)
                row = rows.rows.get(case_id)
                if row is not None:
                    done[case_id] = row
                    with open(task.journal, "a", encoding="utf-8") as fh:
                        fh.write(json.dumps(row) + "\n")
        finally:
            engine.close()
        say("finished")
    return {"rows": done, "tensorflow": _tensorflow_version(), "pid": os.getpid(),
            "runtime_env": _runtime_env()}


def _runtime_env() -> dict[str, Any]:
    """The runtime environment Ray says this task runs in (empty: the cluster's own)."""
    import ray

    return dict(json.loads(ray.get_runtime_context().get_runtime_env_string() or "{}"))


def _tensorflow_version() -> str | None:
    module = sys.modules.get("tensorflow")
    return str(getattr(module, "__version__", "")) or None if module is not None else None


def _journal(path: Path) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return rows
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue  # the line the dead worker was writing
        rows[row["id"]] = row
    return rows


def _attempt(log: Path) -> int:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 1
    return text.count("model-contract: attempt ") + 1


@contextmanager
def _stderr_to(log: Path) -> Iterator[Any]:
    """File descriptor 2 (TensorFlow's C++ messages too) appended to ``log`` for the task."""
    sys.stderr.flush()
    saved = os.dup(2)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def say(text: str) -> None:
        os.write(2, f"model-contract: {text}\n".encode())

    try:
        os.dup2(fd, 2)
        yield say
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(fd)


#: lines of a dying process's stderr that say nothing of why: stack frames, module lists,
#: TensorFlow's start-up chatter
_NOISE = re.compile(r"^\s*$|@\s+0x|^\s+File \"|^Extension modules:|^Thread 0x|^Current thread|"
                    r"^Stack \(most recent|logging\.cc:\d+\]?|^WARNING: All log messages before|"
                    r"^I\d{4} .*port\.cc")
#: the prefix of a TensorFlow (absl) log line: ``F0000 00:00:1796.37   25160 file.cc:737] ``
_ABSL = re.compile(r"^([FEWI])\d{4} [\d:.]+\s+\d+ \S+\] ")


def last_words(log: Path, lines: int = LAST_WORDS_LINES) -> str:
    """What the task's last attempt wrote last, without stack frames and start-up chatter."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"(no log at {log}: on a cluster, --results-dir must be a folder every node can write)"
    last = text.rsplit("model-contract: attempt ", 1)[-1].splitlines()[1:]
    kept: list[str] = []
    for line in last:
        if _NOISE.search(line):
            continue
        line = _ABSL.sub(r"\1: ", line.rstrip())[:300]
        if not kept or kept[-1] != line:
            kept.append(line)
    return "\n".join(kept[-lines:]) or "(the worker wrote nothing)"


def _running(log: Path) -> str | None:
    """The case the dead worker was running: the last 'running' line of its log."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    running = [line.split("running ", 1)[1].strip() for line in text.splitlines()
               if line.startswith("model-contract: running ")]
    return running[-1] if running else None


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise FleetError("--executor ray needs the ray package", hint=RAY_HINT) from None
    return ray


class RayExecutor:
    """The driver's side: starts (or joins) Ray, submits a task per model, gives back rows."""

    def __init__(self, options: RunOptions, fleet: Fleet) -> None:
        self.options = options
        self.fleet = fleet
        self.folder = Path(options.results_dir).resolve() / "fleet" / "ray"
        self.ray = import_ray()
        self._started = False
        self._pending: dict[str, Any] = {}
        self._tasks: dict[str, ModelTask] = {}
        self._results: dict[str, dict[str, dict[str, Any]]] = {}
        #: per model: the TensorFlow version its task ran, and the Ray worker's process id
        self.runtime: dict[str, dict[str, Any]] = {}

    def start(self) -> None:
        if self.ray.is_initialized():
            return
        address = self.options.ray_address
        self.ray.init(address=address, include_dashboard=False if address is None else None,
                      log_to_driver=False, configure_logging=False)
        self._started = address is None

    def submit(self, cases: Mapping[str, Sequence[str]]) -> None:
        """Model name -> the ids of its selected cases: one task each, all at once."""
        self.start()
        entries = {e.name: e for e in self.fleet.entries}
        self.folder.mkdir(parents=True, exist_ok=True)
        remote = self.ray.remote(run_model)
        for name, ids in cases.items():
            stem = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)
            task = ModelTask(self.options, self.fleet.path.resolve(), self.fleet.name,
                             entries[name], tuple(ids), self.folder / f"{stem}.journal.jsonl",
                             self.folder / f"{stem}.log")
            for stale in (task.journal, task.log):
                stale.unlink(missing_ok=True)
            opts: dict[str, Any] = {"max_retries": ATTEMPTS - 1, "retry_exceptions": False}
            runtime_env = entries[name].runtime_env
            if runtime_env:
                opts["runtime_env"] = dict(runtime_env)
            self._tasks[name] = task
            self._pending[name] = remote.options(**opts).remote(task)

    def rows(self, model: str) -> dict[str, dict[str, Any]]:
        """The rows of one model's cases, waiting for its task; a dead task's cases crashed."""
        if model in self._results:
            return self._results[model]
        task, ref = self._tasks[model], self._pending.pop(model)
        try:
            answer = self.ray.get(ref)
            rows = dict(answer["rows"])
            self.runtime[model] = {"tensorflow": answer["tensorflow"], "pid": answer["pid"],
                                   "runtime_env": answer["runtime_env"]}
        except self.ray.exceptions.RayError as exc:
            rows = _journal(task.journal)
            rows.update(self._crashed(task, rows, exc))
        for case_id in task.case_ids:
            if case_id not in rows:
                rows[case_id] = crashed_row(case_id, "no result: the Ray task did not run it "
                                            "(the model's plan changed while the run went on)")
        self._results[model] = rows
        return rows

    def _crashed(self, task: ModelTask, rows: Mapping[str, Any],
                 exc: Exception) -> dict[str, dict[str, Any]]:
        running = _running(task.log)
        attempts = _attempt(task.log) - 1
        words = last_words(task.log)
        kind = type(exc).__name__
        if isinstance(exc, self.ray.exceptions.RayTaskError):  # the task raised: a bug, once
            kind = f"the task raised {str(exc).strip().splitlines()[-1]}"
        out = {}
        for case_id in task.case_ids:
            if case_id in rows:
                continue
            if case_id == running:
                text = (f"the Ray worker died while running this case ({kind}; attempt "
                        f"{attempts} of {ATTEMPTS}). The worker's last words ({task.log}):"
                        f"\n{words}")
            else:
                text = (f"not run: the Ray worker died ({kind}, {attempts} attempts) while "
                        f"running {running or 'the model'}; see {task.log}")
            out[case_id] = crashed_row(case_id, text)
        return out

    def close(self) -> None:
        for ref in self._pending.values():
            self.ray.cancel(ref, force=True)
        self._pending.clear()
        if self._started:
            self.ray.shutdown()
            self._started = False
