"""The contract as frozen data: what a model promises, already validated and canonicalised.

Nothing here imports TensorFlow or a backend. Loading (parse -> validate -> canonicalise)
lives in :mod:`harness.contract.load`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, Union

from harness.contract.bounds import DEFAULT_CALL_BUDGET_BYTES

#: A shape entry: an int (fixed), None (any size) or a dim name.
Dim = Union[int, None, str]

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
COMPLEX_DTYPES = ("complex64", "complex128")
DTYPES = FLOAT_DTYPES + INT_DTYPES + ("bool", "string") + COMPLEX_DTYPES

#: Formats that can be compared against the SavedModel reference.
FORMATS = ("tflite", "onnx", "tfjs", "serving")

#: what a signature must refuse when its contract says nothing (``reject``): wrong dtypes,
#: which TensorFlow refuses. A wrong rank is only a finding unless ``"rank"`` is listed:
#: loaded signatures (TF Serving's too) do not enforce declared ranks.
DEFAULT_REJECT: tuple[str, ...] = ("dtype",)

DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-4
DEFAULT_EXAMPLES = 20
DEFAULT_MAX_FREE_DIM = 4
DEFAULT_EDGE_PROBABILITY = 0.25


def frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A read-only view of a mapping (used for raw option blocks kept as data)."""
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class DimBound:
    """Inclusive bounds of a named dimension."""

    name: str
    min: int
    max: int


@dataclass(frozen=True)
class Tolerance:
    """|received - reference| <= atol + rtol * |reference|, aggregated by ``statistic``."""

    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL
    statistic: str = "max"

    def merged(self, override: Mapping[str, Any] | None) -> "Tolerance":
        """This tolerance with the fields ``override`` sets replaced (field-wise)."""
        if not override:
            return self
        return Tolerance(
            atol=float(override.get("atol", self.atol)),
            rtol=float(override.get("rtol", self.rtol)),
            statistic=str(override.get("statistic", self.statistic)),
        )

    def describe(self) -> str:
        stat = "" if self.statistic == "max" else f", statistic={self.statistic}"
        return f"atol={self.atol:g}, rtol={self.rtol:g}{stat}"


@dataclass(frozen=True)
class ExampleFeature:
    """One feature of a serialized ``tf.train.Example`` input."""

    name: str
    dtype: str  # float32 | int64 | string
    shape: tuple[int, ...] = (1,)
    range: tuple[float, float] | None = None


@dataclass(frozen=True)
class ValueCheck:
    """An invariant on one output's values, e.g. ``finite`` or ``sum``; ``params`` as written."""

    kind: str
    params: Mapping[str, Any]
    pointer: str


@dataclass(frozen=True)
class Relation:
    """An invariant across outputs of one call, e.g. ``argmax(prob) == class_id``."""

    kind: str
    params: Mapping[str, Any]
    pointer: str


@dataclass(frozen=True)
class TensorSpec:
    """An input or output as the contract declares it."""

    name: str
    dtype: str
    shape: tuple[Dim, ...] | None  # None: any rank
    pointer: str
    graph_name: str | None = None
    range: tuple[float, float] | None = None
    enum: tuple[Any, ...] | None = None
    allow_nan: bool = False
    allow_inf: bool = False
    allow_subnormal: bool = False
    alphabet: str | None = None
    length: tuple[int, int] | None = None
    vocabulary: tuple[str, ...] | None = None
    vocabulary_asset: str | None = None
    vocabulary_oov: bool = True
    example: tuple[ExampleFeature, ...] | None = None
    checks: tuple[ValueCheck, ...] = ()
    tolerance: Mapping[str, Any] = field(default_factory=lambda: frozen({}))
    sunset: str | None = None  # deprecated: may be removed from this date (YYYY-MM-DD)

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    @property
    def is_string(self) -> bool:
        return self.dtype == "string"

    def describe_shape(self) -> str:
        return describe_shape(self.shape)


def describe_shape(shape: tuple[Dim, ...] | None) -> str:
    if shape is None:
        return "<any rank>"
    return "[" + ", ".join("None" if d is None else str(d) for d in shape) + "]"


@dataclass(frozen=True)
class SignatureSpec:
    """A required SignatureDef with its inputs, outputs and invariants."""

    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    pointer: str
    method_name: str | None = None
    relations: tuple[Relation, ...] = ()
    deterministic: bool = True
    batch_consistent: bool = True
    reject: tuple[str, ...] = DEFAULT_REJECT
    stateful: bool = False
    sunset: str | None = None  # deprecated: may be removed from this date (YYYY-MM-DD)

    def input(self, name: str) -> TensorSpec:
        return _by_name(self.inputs, name)

    def output(self, name: str) -> TensorSpec:
        return _by_name(self.outputs, name)


def _by_name(specs: tuple[TensorSpec, ...], name: str) -> TensorSpec:
    for spec in specs:
        if spec.name == name:
            return spec
    raise KeyError(name)


@dataclass(frozen=True)
class FormatSpec:
    """How one export format is checked. ``options`` holds the format-specific keys as written."""

    name: str
    enabled: bool = True
    tolerance: Mapping[str, Any] = field(default_factory=lambda: frozen({}))
    options: Mapping[str, Any] = field(default_factory=lambda: frozen({}))


@dataclass(frozen=True)
class FuzzSettings:
    examples: int = DEFAULT_EXAMPLES
    #: fuzzed calls per hypothesis example (:func:`harness.fuzz.batching`)
    calls_per_example: int = 1
    max_free_dim: int = DEFAULT_MAX_FREE_DIM
    edge_probability: float = DEFAULT_EDGE_PROBABILITY
    call_budget_bytes: int = DEFAULT_CALL_BUDGET_BYTES
    """Inputs of one drawn call stay within this (see :mod:`harness.contract.bounds`)."""


@dataclass(frozen=True)
class Contract:
    """A loaded, validated, canonical contract."""

    path: Path
    name: str
    signatures: tuple[SignatureSpec, ...]
    version: str = ""
    description: str = ""
    tags: tuple[str, ...] = ("serve",)
    models: tuple[Path, ...] = ()
    dims: Mapping[str, DimBound] = field(default_factory=lambda: frozen({}))
    assets: tuple[str, ...] = ()
    tolerance: Tolerance = Tolerance()
    formats: Mapping[str, FormatSpec] = field(default_factory=lambda: frozen({}))
    ops: Mapping[str, Any] = field(default_factory=lambda: frozen({}))
    fuzz: FuzzSettings = FuzzSettings()
    raw: Mapping[str, Any] = field(default_factory=lambda: frozen({}))

    def signature(self, name: str) -> SignatureSpec:
        for sig in self.signatures:
            if sig.name == name:
                return sig
        raise KeyError(name)

    def format(self, name: str) -> FormatSpec | None:
        spec = self.formats.get(name)
        return spec if spec is not None and spec.enabled else None

    def tolerance_for(self, fmt: str, signature: str, output: str,
                      variant: Mapping[str, Any] | None = None) -> Tolerance:
        """The tolerance for one output in one format, most specific first.

        Order (each level overrides the fields it sets): built-in default < contract
        ``tolerance`` < ``formats.FMT.tolerance`` < quantized variant ``tolerance`` <
        output ``tolerance`` (atol/rtol/statistic) < output ``tolerance.FMT``.
        """
        tol = self.tolerance
        spec = self.formats.get(fmt)
        if spec is not None:
            tol = tol.merged(spec.tolerance)
        if variant:
            tol = tol.merged(variant.get("tolerance"))
        out = self.signature(signature).output(output)
        tol = tol.merged({k: v for k, v in out.tolerance.items() if k in ("atol", "rtol", "statistic")})
        tol = tol.merged(out.tolerance.get(fmt))
        return tol
