"""A fleet's worker processes share the machine's cores.

TensorFlow sizes its thread pools (intra-op, inter-op, and oneDNN's OpenMP) to every core of
the machine in every process. With ``-n N`` pytest-xdist workers (or N Ray tasks at once),
each with its backend children, that is N times too many threads on the same cores: measured
on 2 cores (13 generated models, in-process, 20 examples), the checks took 16.7 s of case time
with 2 workers against 7.4 s serially, and 10.6 s once each worker's pools were sized to its
share (see README "Checking a fleet"). The sizes are environment variables TensorFlow reads when it
is imported, so they are set before that, in the worker, and its backend children inherit
them; a value the user set is kept.
"""

from __future__ import annotations

import os
from typing import MutableMapping

THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")


def share_cores(processes: int, environ: MutableMapping[str, str] | None = None,
                cores: int | None = None) -> int:
    """Size TensorFlow's pools to this process's share of the cores; returns the share."""
    environ = os.environ if environ is None else environ
    threads = max(1, (cores or os.cpu_count() or 1) // max(1, processes))
    for name in THREAD_VARIABLES:
        environ.setdefault(name, str(threads))
    return threads
