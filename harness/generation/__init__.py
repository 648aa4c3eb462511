"""Input generation: contract signature -> hypothesis strategy of calls (numpy + hypothesis only).

Nothing here imports TensorFlow or a backend.

How a call is drawn
-------------------
* **Shapes** (:mod:`.calls`): named dims once per call within ``/dims`` bounds; with
  probability ``edge_probability`` a named dim (e.g. ``batch``) is drawn at its min or max
  (50/50). ``null`` dims in [1, max_free_dim]; ``shape: null`` -> rank 1..3.
* **Values** (:mod:`.tensors`): tensors of at most 64 elements are drawn element-wise by
  hypothesis; larger ones from a seeded ``PCG64`` generator after hypothesis draws a fill
  kind - zeros 10%, constant 10%, uniform 40%, band 20%, sparse 20% - and a 32-bit seed.
  Shrinking goes to: named dims at their min, the ``zeros`` kind (0, or the range end
  nearest 0), seed 0, no edge values.
* **Edge values**: with probability ``edge_probability`` (default 0.25) per tensor, a
  drawn non-empty subset of the domain's edge values is written at 1..3 positions each:
  range ends, 0 and -0.0 (when inside the range), the smallest normal, and only when the
  contract allows them NaN, +-Inf (``allow_nan``/``allow_inf``) and subnormals
  (``allow_subnormal``); for ints also -1 and 1; for strings b"" (when the length may be 0
  or OOV strings are allowed) and a longest string; for tf.Example inputs examples whose
  values all sit at a range end.
* **Domains** (:mod:`.numeric`, :mod:`.text`, :mod:`.pool`, :mod:`.example`): default float
  range [-1e3, 1e3]; default ints: dtype range within [-1000, 1000]; strings: printable
  ASCII, 0..8 characters; vocabulary inputs with ``oov``: about 10% out-of-vocabulary.

Public API: :class:`Call`, :func:`call_strategy`, :func:`check_satisfiable`,
:func:`wrong_dtype_inputs`, :func:`wrong_rank_inputs`.
"""

from harness.generation.call import Call
from harness.generation.calls import call_strategy, check_satisfiable, plan_call
from harness.generation.numeric import DEFAULT_FLOAT_RANGE, DEFAULT_INT_RANGE
from harness.generation.pool import OOV_SHARE
from harness.generation.tensors import KIND_TABLE, SMALL_TENSOR
from harness.generation.text import DEFAULT_ALPHABET, DEFAULT_LENGTH
from harness.generation.variants import WRONG_DTYPES, wrong_dtype_inputs, wrong_rank_inputs

__all__ = [
    "Call", "call_strategy", "check_satisfiable", "plan_call", "wrong_dtype_inputs",
    "wrong_rank_inputs", "DEFAULT_FLOAT_RANGE", "DEFAULT_INT_RANGE", "DEFAULT_ALPHABET",
    "DEFAULT_LENGTH", "OOV_SHARE", "KIND_TABLE", "SMALL_TENSOR", "WRONG_DTYPES",
]
