"""Golden outputs and parity across TensorFlow versions (``python -m harness.golden``).

* :mod:`~harness.golden.inputs`    - the seeded golden input set of a signature
* :mod:`~harness.golden.arrays`    - calls of tensors in a pickle-free ``.npz``
* :mod:`~harness.golden.manifest`  - what a golden was recorded from and with
* :mod:`~harness.golden.run`       - golden calls through a backend
* :mod:`~harness.golden.record`    - recording that never overwrites silently
* :mod:`~harness.golden.compare`   - a run against a golden: match, mismatch, stale
* :mod:`~harness.golden.crossload` - exported by one TF version, loaded by the others
* :mod:`~harness.golden.drift`     - the drift report of a matrix run

Importing this package imports nothing heavy; TensorFlow is loaded only by the backends.
"""

from __future__ import annotations

__all__ = ["arrays", "compare", "crossload", "drift", "inputs", "manifest", "record", "run"]
