"""Contract -> hypothesis strategies for signature calls; see :mod:`harness.generation`.

In short: named dims drawn once per call (at their min or max with probability
``fuzz.edge_probability``, default 0.25); tensors of <= 64 elements drawn element-wise,
larger ones filled from a seeded PCG64 after hypothesis picks a fill kind (zeros 10%,
constant 10%, uniform 40%, band 20%, sparse 20%) and a seed; edge values (range ends, 0,
-0.0, smallest normal, and NaN/+-Inf/subnormals only where allowed) seeded into a tensor
with probability ``edge_probability``; vocabulary inputs with ``oov`` ~10% out of vocabulary.

This module is the stable import path; the implementation lives in :mod:`harness.generation`
(one module per idea: shapes and calls, numeric/text/pool/example domains, tensor drawing,
wrong-input variants). Imports neither TensorFlow nor any backend.
"""

from harness.generation import (
    DEFAULT_ALPHABET,
    DEFAULT_FLOAT_RANGE,
    DEFAULT_INT_RANGE,
    DEFAULT_LENGTH,
    KIND_TABLE,
    OOV_SHARE,
    SMALL_TENSOR,
    WRONG_DTYPES,
    Call,
    call_strategy,
    check_satisfiable,
    plan_call,
    wrong_dtype_inputs,
    wrong_rank_inputs,
)

__all__ = [
    "Call", "call_strategy", "check_satisfiable", "plan_call", "wrong_dtype_inputs",
    "wrong_rank_inputs", "DEFAULT_FLOAT_RANGE", "DEFAULT_INT_RANGE", "DEFAULT_ALPHABET",
    "DEFAULT_LENGTH", "OOV_SHARE", "KIND_TABLE", "SMALL_TENSOR", "WRONG_DTYPES",
]
