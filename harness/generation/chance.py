"""A biased coin that hypothesis can draw and shrink.

Hypothesis draws bounded integers far from uniformly (small values are favoured), so
``integers(0, 99) < 25`` would not come true 25% of the time. :func:`chance` draws a 32-bit
integer and hashes it (Fibonacci hashing) to a near-uniform fraction, which makes the
probability close to ``p`` (measured in tests/test_strategies.py), while 0 - where
hypothesis shrinks to - still maps to ``False``.
"""

from __future__ import annotations

from hypothesis import strategies as st

_GOLDEN = 0x9E3779B1  # 2**32 / golden ratio, odd


def fraction_of(u: int) -> float:
    """A fraction in [0, 1) spread evenly for any distribution of ``u`` over 32-bit ints."""
    return ((u * _GOLDEN) & 0xFFFFFFFF) / 2**32


def chance(p: float) -> st.SearchStrategy[bool]:
    """``True`` with probability about ``p``; shrinks to ``False``."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"a probability must be within [0, 1], got {p!r}")
    if p == 0.0:
        return st.just(False)
    if p == 1.0:
        return st.just(True)
    threshold = 1.0 - p
    return st.integers(0, 2**32 - 1).map(lambda u: u != 0 and fraction_of(u) >= threshold)
