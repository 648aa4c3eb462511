"""What a converted format's backend (TFLite, ONNX, TF.js) shares: its contract options and names.

A converted file names signatures and tensors its own way. :meth:`ConvertedBackend.resolution`
maps the contract's names onto the file's (:mod:`harness.backends.names`) once per
signature, after loading; a backend supplies only :meth:`declared_io`: the file's view of one
signature, and what to call the file in messages.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from harness.backends.base import Backend
from harness.backends.names import Resolution, name_map_of, resolve
from harness.context import RunContext
from harness.contract.model import Contract, SignatureSpec
from harness.errors import ExportError, HarnessError
from harness.exports import Export
from harness.interface.model import SignatureInterface
from harness.savedmodel.layout import ModelRef


class ConvertedBackend(Backend):
    """A backend running a file converted from the SavedModel (or given by the user)."""

    def __init__(self, model: ModelRef, contract: Contract,
                 context: RunContext | None = None) -> None:
        super().__init__(model, contract, context)
        self._resolutions: dict[str, Resolution] = {}

    @property
    def options(self) -> Mapping[str, Any]:
        """The contract's ``formats.<name>`` block (empty when the contract has none)."""
        spec = self.contract.formats.get(self.name)
        return spec.options if spec is not None else {}

    def resolution(self, spec: SignatureSpec) -> Resolution:
        """The names of ``spec`` in the file; raises CheckFailure when they do not resolve
        (or ExportError when the file could not be made)."""
        if spec.name in self._resolutions:
            return self._resolutions[spec.name]
        if not self.active:
            self.activate()
        name_map = name_map_of(self.options, spec.name)
        io, source = self.declared_io(spec, name_map)
        io = replace(io, name=name_map.get("signature", io.name))
        found = resolve(self.name, spec, io, name_map, source=source,
                        check=f"conformance[{self.name}]")
        self._resolutions[spec.name] = found
        return found

    def declared_io(self, spec: SignatureSpec, name_map: Mapping[str, Any]
                    ) -> tuple[SignatureInterface, str]:
        """The file's signature for ``spec`` and the label of the file, for messages."""
        raise NotImplementedError

    def artifact_for(self, spec: SignatureSpec, artifacts: Mapping[str, Export | ExportError],
                     what: str) -> Export:
        """The file of a format with one file per signature (ONNX, TF.js) for ``spec``: raises
        the signature's ExportError, or says the given paths (``what``) do not name it."""
        art = artifacts.get(spec.name)
        if isinstance(art, ExportError):
            raise art
        if art is None:
            raise HarnessError(f"no {what} for signature {spec.name!r}: formats.{self.name}.path "
                               f"names only {sorted(artifacts)}", file=self.contract.path,
                               place=f"/formats/{self.name}/path")
        return art
