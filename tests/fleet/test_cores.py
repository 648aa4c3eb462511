"""Worker processes of a fleet run share the cores: TensorFlow's pools sized to a share."""

from __future__ import annotations

from harness.fleet.cores import THREAD_VARIABLES, share_cores


def test_each_worker_gets_its_share_of_the_cores_and_a_user_setting_is_kept() -> None:
    environ = {"OMP_NUM_THREADS": "3"}
    assert share_cores(2, environ, cores=8) == 4
    assert environ == {"TF_NUM_INTRAOP_THREADS": "4", "TF_NUM_INTEROP_THREADS": "4",
                       "OMP_NUM_THREADS": "3"}
    many: dict[str, str] = {}
    assert share_cores(6, many, cores=2) == 1  # more workers than cores: one thread each
    assert set(many) == set(THREAD_VARIABLES)
