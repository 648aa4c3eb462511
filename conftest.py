"""The repository's own pytest configuration: kept thin.

The contract plugin itself is registered through the ``pytest11`` entry point
(``harness.pytest_plugin``), so it works the same from any project after ``pip install``.
Here we only define the hypothesis profiles this repository's runs use.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=10, deadline=None)
settings.register_profile(
    "ci", max_examples=20, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
