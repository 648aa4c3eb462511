"""The SavedModel itself, run by TensorFlow: the reference every other format is compared to.

Loads with ``tf.saved_model.load`` and calls signatures by name with named inputs. When
that loader cannot load an export that TF Serving can (TF1 graphs, reference variables),
it falls back to the TF1 session loader, the one TF Serving uses, and says so in its label.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from harness.backends.base import Backend, register
from harness.backends.tf_import import import_tensorflow
from harness.contract.model import SignatureSpec
from harness.errors import BackendUnavailable, ModelError
from harness.interface.model import SignatureInterface, TensorInterface
from harness.safety.symlinks import copy_model


class HermeticCopy:
    """A read-only copy of a model directory in a fresh temporary folder.

    The model is loaded from the copy, so nothing it does can change the user's files, and
    an asset it finds only because the original folder is where it was exported (a path
    baked in at export time) is missing here: the call fails and names the path. The op
    scan catches absolute asset paths before loading; this catches the rest at run time.
    The copy never follows a symbolic link (:func:`harness.safety.symlinks.copy_model`).
    """

    def __init__(self, source: Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="model-contract-"))
        self.path = self.root / source.name
        try:
            copy_model(source, self.path)
        except BaseException:
            self.remove()
            raise
        for folder, _dirs, files in os.walk(self.path):
            for name in files:
                os.chmod(os.path.join(folder, name), stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
            os.chmod(folder, stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP
                     | stat.S_IROTH | stat.S_IXOTH)

    def remove(self) -> None:
        from harness.backends.isolation import remove_tree

        remove_tree(self.root)


def _first_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (TensorFlow's messages run on for pages)."""
    lines = str(exc).strip().splitlines() or [""]
    return f"{type(exc).__name__}: {lines[0][:300]}"


def hermetic_copy(source: Path) -> HermeticCopy:
    return HermeticCopy(Path(source))


_RETIRED: list[tuple[Any, HermeticCopy]] = []


@atexit.register
def _remove_retired() -> None:
    for _loaded, copy in _RETIRED:
        copy.remove()
    _RETIRED.clear()


@register
class SavedModelBackend(Backend):
    name = "savedmodel"
    install = "pip install 'model-contract[tf]'"

    loader: str = ""
    fallback_reason: str = ""

    @classmethod
    def check_available(cls) -> None:
        # Found, not imported: the process that runs the model imports it (an isolated
        # child, usually), and says so with BackendUnavailable if the import fails there.
        if importlib.util.find_spec("tensorflow") is None:
            raise BackendUnavailable(cls.name, "TensorFlow is not installed", install=cls.install)

    @property
    def label(self) -> str:
        if self.loader == "tf1":
            return f"savedmodel (TF1 session loader; tf.saved_model.load failed: {self.fallback_reason})"
        return "savedmodel (tf.saved_model.load)"

    def activate_impl(self) -> None:
        tf = import_tensorflow()
        self._tf = tf
        self._copy = hermetic_copy(self.model.path)
        self._path = self._copy.path
        try:
            self._loaded = tf.saved_model.load(str(self._path), tags=list(self.contract.tags))
            self._functions = dict(self._loaded.signatures)
            self.loader = "tf2"
        except Exception as exc:  # noqa: BLE001 - fall back exactly as TF Serving would load it
            self.fallback_reason = _first_line(exc)
            try:
                self._load_tf1()
            except Exception as tf1_exc:  # noqa: BLE001 - the model, not the harness, is at fault
                self._copy.remove()
                raise ModelError(
                    f"the model cannot be loaded: tf.saved_model.load: {self.fallback_reason}; "
                    f"TF1 session loader: {_first_line(tf1_exc)}", file=self.model.path,
                    hint="check that variables/ (variables.index and its data shards) is "
                         "complete and was written with this saved_model.pb") from None

    def _load_tf1(self) -> None:
        tf = self._tf
        graph = tf.Graph()
        session = tf.compat.v1.Session(graph=graph)
        with graph.as_default():
            meta = tf.compat.v1.saved_model.loader.load(session, list(self.contract.tags),
                                                        str(self._path))
        self._session = session
        self._graph = graph
        self._signature_defs = dict(meta.signature_def)
        self.loader = "tf1"

    def deactivate_impl(self) -> None:
        if self.loader == "tf1":
            self._session.close()
        # TensorFlow shares some resources (random generators, tables) between loads of one
        # model in a process: destroying this load can break a later one mid-call. The
        # loaded object and its copy therefore live until the process ends (in an isolated
        # child that is now; in-process, at exit).
        _RETIRED.append((self._loaded, self._copy))
        self._loaded = None
        self._functions = {}

    def infer_impl(self, signature: SignatureSpec, inputs: Mapping[str, np.ndarray]
                   ) -> Mapping[str, Any]:
        if self.loader == "tf1":
            return self._infer_tf1(signature, inputs)
        tf = self._tf
        fn = self._functions.get(signature.name)
        if fn is None:
            raise KeyError(f"no signature {signature.name!r}; the model has {sorted(self._functions)}")
        # tf.constant keeps the array's dtype: a wrong dtype is refused by the signature, never cast.
        feeds = {k: tf.constant(v) for k, v in inputs.items()}
        outputs = fn(**feeds)
        return {k: v.numpy() for k, v in outputs.items()}

    def _infer_tf1(self, signature: SignatureSpec, inputs: Mapping[str, np.ndarray]
                   ) -> Mapping[str, Any]:
        sig = self._signature_defs.get(signature.name)
        if sig is None:
            raise KeyError(f"no signature {signature.name!r}; the model has {sorted(self._signature_defs)}")
        feeds = {}
        for key, value in inputs.items():
            info = sig.inputs.get(key)
            if info is None:
                raise ValueError(f"signature {signature.name!r} has no input {key!r}")
            tensor = self._graph.get_tensor_by_name(info.name)
            # session.run would cast a numpy feed silently; refuse like a typed call does.
            want = tensor.dtype.base_dtype.as_numpy_dtype
            have = np.asarray(value).dtype
            if np.dtype(want) != have and not (tensor.dtype.base_dtype == self._tf.string
                                                and have.kind in "OSU"):
                raise TypeError(f"input {key!r} expects {tensor.dtype.base_dtype.name} "
                                f"but {have.name} is provided")
            feeds[tensor] = value
        names = {k: v.name for k, v in sig.outputs.items()}
        fetched = self._session.run(names, feed_dict=feeds)
        return fetched

    def signatures_impl(self) -> Mapping[str, SignatureInterface]:
        if self.loader == "tf1":
            from harness.savedmodel.reader import signature_info

            return {key: signature_info(key, sig) for key, sig in self._signature_defs.items()}
        out = {}
        for key, fn in self._functions.items():
            _, kwargs = fn.structured_input_signature
            ins = {k: _declared(k, s) for k, s in kwargs.items()}
            outs = {k: _declared(k, t) for k, t in fn.structured_outputs.items()}
            out[key] = SignatureInterface(key, None, ins, outs)
        return out


def _declared(key: str, spec: Any) -> TensorInterface:
    """A loaded function's TensorSpec (or output tensor) as a declared tensor."""
    return TensorInterface.of_sizes(
        key, spec.dtype.name, None if spec.shape.rank is None else spec.shape.as_list())
