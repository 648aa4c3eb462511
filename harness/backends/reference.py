"""The SavedModel as a comparison's reference: its recorded answers, else the model itself.

Parity (TFLite, ONNX, TF.js, quantized variants) calls the SavedModel only for the answers
it compares a format with. :class:`Reference` gives those answers: from the store of
recorded answers (:mod:`harness.backends.answers`) when ``reuse`` is on and the same model
scope and input bytes were recorded, else from the SavedModel backend, which it opens
(:func:`~harness.backends.source.open_backend`) only at the first miss, and whose answer it
then records. The op-policy gate runs when the reference is made, before anything else, as
``open_backend`` runs it (once per run).

A recorded answer is never the last word on a failure: the caller asks :meth:`fresh` for a
call whose comparison failed against a recorded answer, judges again, and reports only a
failure against a fresh answer (:meth:`fresh` re-records it). The counts go to the case's
note (:meth:`finish`).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from harness.backends.answers import AnswerStore, NotStorable, Pending, inputs_digest, scope_key, store_for
from harness.backends.base import Backend
from harness.backends.source import open_backend
from harness.cache_dir import default_cache_dir
from harness.context import RunContext
from harness.contract.model import Contract
from harness.safety.gate import gate
from harness.savedmodel.layout import ModelRef

REFERENCE = "savedmodel"


def answers_store(context: RunContext) -> AnswerStore:
    """The run's store, in its cache folder (the export cache's)."""
    return store_for(context, default_cache_dir(context.options.export_cache))


def model_scope(contract: Contract, ref: ModelRef, signature: str) -> str:
    """The scope of a model's answers for ``signature`` (see :func:`answers.scope_key`)."""
    from harness.exports.cache import fingerprint

    return scope_key(fingerprint(ref.path), contract.tags, signature)


def answers_recorded(context: RunContext, contract: Contract, ref: ModelRef,
                     signature: str) -> bool:
    """Whether the store holds answers of this model and signature (no model is loaded)."""
    return answers_store(context).has_scope(model_scope(contract, ref, signature))


class Reference:
    """The reference answers of one case (made per case; the backend is the run's)."""

    def __init__(self, context: RunContext, contract: Contract, ref: ModelRef, *,
                 reuse: bool) -> None:
        gate(context, contract, ref)  # the op policy before anything, as open_backend does
        self.context, self.contract, self.ref = context, contract, ref
        self.store = answers_store(context) if reuse else None
        self._pending = Pending()
        self._scopes: dict[str, str] = {}
        self._backend: Backend | None = None
        #: answers read from the store / called on the SavedModel / recorded answers that
        #: disagreed and were replaced by fresh ones
        self.recorded = 0
        self.called = 0
        self.replaced = 0

    @property
    def reuse(self) -> bool:
        return self.store is not None

    @property
    def backend(self) -> Backend:
        """The SavedModel backend, opened at the first call that needs it."""
        if self._backend is None:
            self._backend = open_backend(self.context, REFERENCE, self.contract, self.ref)
        return self._backend

    @property
    def label(self) -> str:
        return self._backend.label if self._backend is not None else REFERENCE

    def _key(self, signature: str, inputs: Mapping[str, Any]) -> tuple[str, str] | None:
        """(scope, digest) of an answer, or None: no store, or inputs that cannot be kept."""
        if self.store is None:
            return None
        scope = self._scopes.get(signature)
        if scope is None:
            scope = self._scopes[signature] = model_scope(self.contract, self.ref, signature)
        try:
            return scope, inputs_digest(scope, inputs)
        except NotStorable:
            return None

    def answer(self, signature: str, inputs: Mapping[str, Any]
               ) -> tuple[dict[str, np.ndarray], bool]:
        """The SavedModel's outputs for ``inputs`` and whether they were recorded earlier."""
        key = self._key(signature, inputs)
        if self.store is not None and key is not None:
            found = self.store.lookup(key[1], self._pending)
            if found is not None:
                self.recorded += 1
                return found, True
        return self._call(signature, inputs, key), False

    def ahead(self, signature: str, batch: Sequence[Mapping[str, Any]]) -> None:
        """Answer a batch of calls on the SavedModel at once (one round trip to an isolated
        backend, :meth:`Backend.infer_ahead`). Only when no recorded answers are looked up:
        with the store, each call is looked up first and only a miss calls the model."""
        if self.store is None:
            self.backend.infer_ahead(signature, batch)

    def fresh(self, signature: str, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """The SavedModel's outputs for inputs whose recorded answer :meth:`answer` gave,
        called now (and recorded in its place)."""
        self.replaced += 1
        self.recorded -= 1
        return self._call(signature, inputs, self._key(signature, inputs))

    def _call(self, signature: str, inputs: Mapping[str, Any],
              key: tuple[str, str] | None) -> dict[str, np.ndarray]:
        """Call the SavedModel; record its answer under ``key`` (scope, digest) if any."""
        outputs = self.backend.infer(signature, inputs)
        self.called += 1
        if self.store is not None and key is not None:
            self.store.stage(self._pending, key[1], key[0], outputs)
        return outputs

    def finish(self) -> list[str]:
        """Write what this case recorded (one transaction); the lines for its note."""
        if self.store is None:
            return []
        self.store.commit(self._pending)
        parts = []
        if self.recorded:
            parts.append(f"{self.recorded} reference answers recorded earlier")
        if self.called:
            parts.append(f"{self.called} reference answers called and recorded")
        if self.replaced:
            parts.append(f"{self.replaced} recorded answers replaced by fresh ones after a "
                         "comparison failed against them (judged on the fresh ones)")
        if self.recorded and not self.called:
            parts[0] += " (the SavedModel was not called)"
        notes = list(dict.fromkeys(self.store.notes))
        self.store.notes.clear()
        return ["; ".join(parts)] + notes if parts else notes
