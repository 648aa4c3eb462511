"""TensorFlow's generated protobuf classes and its op registry, without importing TensorFlow.

``from tensorflow.core.protobuf import saved_model_pb2`` runs ``tensorflow/__init__.py``
first, and that loads the whole runtime: about 5 s of a run that may never call a
TensorFlow model (given TFLite/ONNX files, ``validate``, ``lint``, a model read by the
static checks and the op-policy scan). Reading ``saved_model.pb`` needs only the generated
classes (Python over protobuf, about 50 ms); the scan needs only the registry of op types
(one extension module, about 0.5 s).

:func:`tf_module` imports such a module with TensorFlow's packages entered as plain folders
(their ``__init__.py`` is not run), then takes those placeholders out of ``sys.modules``
again: a later ``import tensorflow`` runs exactly as always and finds the same classes
(one descriptor pool, one ``saved_model_pb2``). Once TensorFlow itself is imported, this is
a plain import.

:func:`op_registered` answers "does the running TensorFlow know this op type?" from the
registry extension. That extension holds every op of TensorFlow's core library; a few ops
come from libraries only ``import tensorflow`` loads (``AudioMicrofrontend``), so an op it
does not know is asked of TensorFlow itself before it is called unregistered: the answer is
always the one the full runtime gives.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import re
import sys
import tempfile
import threading
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Iterator, Sequence

__all__ = ["STARTUP_LINE", "op_registered", "quiet_startup", "tensorflow_imported", "tf_module"]

_LOCK = threading.RLock()

#: absl's informational/warning start-up lines (``I0000 00:00:17.. 123 port.cc:153] ...``)
STARTUP_LINE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    r"STDERR$|[IW]\d{4} \S+\s+\d+ \S+:\d+\] )")
_REGISTRY = "tensorflow.python.framework._op_def_registry"


def tensorflow_imported() -> bool:
    """Whether TensorFlow itself (its ``__init__``, the runtime) is imported in this process."""
    module = sys.modules.get("tensorflow")
    return module is not None and not isinstance(getattr(module, "__loader__", None),
                                                 _FolderLoader)


def tf_module(name: str) -> ModuleType:
    """The module ``name`` of the ``tensorflow`` package, imported without running TensorFlow.

    Raises ``ImportError`` when TensorFlow is not installed.
    """
    module = sys.modules.get(name)
    if module is not None:
        return module
    if tensorflow_imported():
        return importlib.import_module(name)
    with _LOCK:
        finder = _Folders()
        sys.meta_path.insert(0, finder)
        try:
            return importlib.import_module(name)
        finally:
            sys.meta_path.remove(finder)
            for package in finder.made:
                if isinstance(getattr(sys.modules.get(package), "__loader__", None),
                              _FolderLoader):
                    del sys.modules[package]


def op_registered(op: str) -> bool:
    """Whether the TensorFlow installed here registers the op type ``op``."""
    if not tensorflow_imported():
        with quiet_startup():
            registry: Any = tf_module(_REGISTRY)
        if registry.get(op) is not None:
            return True
    # Not in the core library (or TensorFlow already runs): the full runtime answers.
    with quiet_startup():
        import tensorflow  # noqa: F401 - loads the libraries that register the remaining ops
    registry = importlib.import_module("tensorflow.python.framework.op_def_registry")
    return registry.get(op) is not None


@contextmanager
def quiet_startup() -> Iterator[None]:
    """File descriptor 2 captured while TensorFlow's libraries load; only their informational
    start-up lines are dropped, anything else is written on."""
    with tempfile.TemporaryFile() as log:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            log.seek(0)
            kept = [line for line in log.read().decode("utf-8", "replace").splitlines()
                    if line.strip() and not STARTUP_LINE.match(line)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")


class _FolderLoader(importlib.abc.Loader):
    """A package of ``tensorflow`` as a plain folder: a module with ``__path__``, no code run."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        pass


class _Folders(importlib.abc.MetaPathFinder):
    """Finds TensorFlow's packages as folders (remembering them); modules as usual."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "tensorflow" and not fullname.startswith("tensorflow."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.submodule_search_locations is None:
            return spec  # a module (a *_pb2.py, an extension): imported as usual
        folder = importlib.machinery.ModuleSpec(fullname, _FolderLoader(), is_package=True)
        folder.submodule_search_locations = list(spec.submodule_search_locations)
        self.made.append(fullname)
        return folder
