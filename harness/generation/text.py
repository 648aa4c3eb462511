"""String value domains: free text over an alphabet, and vocabularies (a list or an asset file).

Strings are numpy object arrays of UTF-8 ``bytes``. ``length`` counts characters. Without
``alphabet``, text is printable ASCII (:data:`DEFAULT_ALPHABET`); without ``length``, 0..8
characters (:data:`DEFAULT_LENGTH`).
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

from harness.contract.model import TensorSpec
from harness.generation.domain import Domain, Place
from harness.generation.pool import PoolDomain

DEFAULT_ALPHABET = string.ascii_lowercase + string.digits + string.ascii_uppercase + \
    string.punctuation + " "
DEFAULT_LENGTH = (0, 8)


@dataclass(frozen=True, eq=False)
class TextDomain(Domain):
    """Strings of ``min_length``..``max_length`` characters from ``alphabet``."""

    alphabet: str
    min_length: int
    max_length: int
    dtype: np.dtype[Any] = np.dtype(object)
    _ascii: np.ndarray | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        ascii_only = all(ord(c) < 128 for c in self.alphabet)
        table = np.frombuffer(self.alphabet.encode("ascii"), dtype=np.uint8) if ascii_only else None
        object.__setattr__(self, "_ascii", table)

    def simplest(self) -> bytes:
        return (self.alphabet[0] * self.min_length).encode("utf-8")

    def uniform(self, rng: np.random.Generator, n: int) -> np.ndarray:
        lengths = rng.integers(self.min_length, self.max_length, size=n, endpoint=True)
        codes = rng.integers(0, len(self.alphabet), size=int(lengths.sum()))
        ends = np.cumsum(lengths).tolist()
        out = np.empty(n, dtype=object)
        if self._ascii is not None:
            flat = self._ascii[codes].tobytes()
            out[:] = [flat[e - k:e] for e, k in zip(ends, lengths.tolist(), strict=True)]
        else:
            chars = [self.alphabet[c] for c in codes.tolist()]
            out[:] = ["".join(chars[e - k:e]).encode("utf-8") for e, k in zip(ends, lengths.tolist(), strict=True)]
        return out

    def elements(self) -> st.SearchStrategy[bytes]:
        return st.text(alphabet=self.alphabet, min_size=self.min_length,
                       max_size=self.max_length).map(lambda s: s.encode("utf-8"))

    def from_elements(self, values: list[Any]) -> np.ndarray:
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out

    def edges(self) -> tuple[bytes, ...]:
        candidates = [b"" if self.min_length == 0 else self.simplest(),
                      (self.alphabet[-1] * self.max_length).encode("utf-8")]
        return tuple(dict.fromkeys(candidates))


def text_domain(spec: TensorSpec, place: Place) -> TextDomain:
    alphabet = spec.alphabet if spec.alphabet is not None else DEFAULT_ALPHABET
    if not alphabet:
        raise place.at("alphabet").error("the alphabet is empty; no string can be drawn")
    low, high = spec.length if spec.length is not None else DEFAULT_LENGTH
    if low > high:
        raise place.at("length").error(f"length [{low}, {high}] is empty: min is greater than max")
    return TextDomain(alphabet, low, high)


def vocabulary_domain(spec: TensorSpec, place: Place, assets_dir: Path | None) -> PoolDomain:
    """Tokens from ``vocabulary`` (a list, or an asset file read one token per line)."""
    oov = TextDomain(DEFAULT_ALPHABET, *DEFAULT_LENGTH) if spec.vocabulary_oov else None
    if spec.vocabulary is not None:
        tokens = tuple(dict.fromkeys(t.encode("utf-8") for t in spec.vocabulary))
        return PoolDomain(np.dtype(object), tokens, oov)
    assert spec.vocabulary_asset is not None
    return PoolDomain(np.dtype(object), read_vocabulary(spec.vocabulary_asset, place, assets_dir), oov)


def read_vocabulary(name: str, place: Place, assets_dir: Path | None) -> tuple[bytes, ...]:
    """The tokens of asset ``name``: one per line, line ends (\\n or \\r\\n) removed."""
    where = place.at("vocabulary", "asset")
    if assets_dir is None:
        raise where.error(f"vocabulary asset {name!r} cannot be read: no assets directory given",
                          hint="pass assets_dir (the SavedModel's assets/ folder)")
    path = Path(assets_dir) / name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise where.error(f"vocabulary asset {name!r} not found: {path} does not exist") from None
    except OSError as exc:
        raise where.error(f"vocabulary asset {name!r} cannot be read: {exc.strerror} ({path})") from None
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    tokens = tuple(dict.fromkeys(line[:-1] if line.endswith(b"\r") else line for line in lines))
    if not tokens:
        raise where.error(f"vocabulary asset {name!r} is empty ({path}); expected one token per line")
    return tokens
