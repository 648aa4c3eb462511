"""The store of recorded reference answers: round trips, keys, bad rows, bad files, eviction."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from harness.backends import answers
from harness.backends.answers import (
    AnswerStore,
    NotStorable,
    Pending,
    decode_outputs,
    encode_outputs,
    inputs_digest,
    scope_key,
)

VERSIONS = {"tensorflow": "2.21.0", "keras": "3.10.0"}


def scope(**changes: object) -> str:
    args: dict[str, object] = {"model_fingerprint": "a" * 64, "tags": ["serve"],
                               "signature": "serving_default", "versions": VERSIONS,
                               "environ": {}}
    args.update(changes)
    return scope_key(**args)  # type: ignore[arg-type]


def strings(*items: bytes) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = list(items)
    return out


@pytest.mark.parametrize("value", [
    np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    np.array([[1, -2], [3, 2**40]], dtype=np.int64),
    np.array([True, False, True]),
    strings(b"", b"a\x00b", b"\xff" * 300).reshape(3, 1),
    np.zeros((0, 5), dtype=np.float32),
    strings(),
    np.array([b"ab", b"c"], dtype="S2"),
    np.float64(2.5),
], ids=["float", "int", "bool", "string", "zero-size", "zero-size-string", "fixed-bytes",
        "scalar"])
def test_outputs_round_trip_without_pickle(value: np.ndarray) -> None:
    blob = encode_outputs({"out": value, "other": np.ones(2, np.int8)})
    back = decode_outputs(blob)
    assert sorted(back) == ["other", "out"]
    assert back["out"].dtype == np.asarray(value).dtype
    assert back["out"].shape == np.shape(value)
    assert np.asarray(value).tolist() == back["out"].tolist()


def test_an_object_array_of_text_is_not_stored() -> None:
    with pytest.raises(NotStorable, match="an element of type str"):
        encode_outputs({"out": np.array(["text"], dtype=object)})
    with pytest.raises(NotStorable):
        inputs_digest(scope(), {"x": np.array(["text"], dtype=object)})


def test_a_truncated_or_padded_blob_does_not_decode() -> None:
    blob = encode_outputs({"y": strings(b"abc", b"de")})
    for bad in (blob[:-1], blob + b"\0", blob[:5]):
        with pytest.raises(ValueError):
            decode_outputs(bad)


def test_the_scope_changes_with_model_tags_signature_versions_machine_settings() -> None:
    base = scope()
    assert base == scope()
    changed = [scope(model_fingerprint="b" * 64), scope(tags=["serve", "gpu"]),
               scope(signature="other"), scope(versions={**VERSIONS, "tensorflow": "2.20.0"}),
               scope(versions={**VERSIONS, "keras": "3.11.0"}),
               scope(environ={"TF_ENABLE_ONEDNN_OPTS": "0"}),
               scope(environ={"TF_NUM_INTRAOP_THREADS": "1"}),
               scope(environ={"TF_DETERMINISTIC_OPS": "1"})]
    assert len({base, *changed}) == len(changed) + 1


def test_the_key_changes_with_every_input_byte_dtype_shape_and_name() -> None:
    s = scope()
    x = np.linspace(0, 1, 8, dtype=np.float32).reshape(2, 4)
    base = inputs_digest(s, {"x": x})
    nudged = x.copy()
    nudged.view(np.uint32)[1, 3] ^= 1  # one bit of one element
    keys = [
        inputs_digest(s, {"x": nudged}),
        inputs_digest(s, {"x": x.reshape(4, 2)}),
        inputs_digest(s, {"x": x.astype(np.float64)}),
        inputs_digest(s, {"z": x}),
        inputs_digest(scope(signature="other"), {"x": x}),
        inputs_digest(s, {"x": x, "w": np.zeros(0, np.float32)}),
        inputs_digest(s, {"x": strings(b"ab", b"c")}),
        inputs_digest(s, {"x": strings(b"a", b"bc")}),
    ]
    assert base == inputs_digest(s, {"x": x.copy()}) == inputs_digest(s, {"x": np.asfortranarray(x)})
    assert len({base, *keys}) == len(keys) + 1


def test_the_key_costs_one_pass_over_the_bytes() -> None:
    """A [1,224,224,3] float32 input is hashed, not copied element by element: the key of
    a non-contiguous view equals the key of its contiguous copy."""
    image = np.random.default_rng(0).random((1, 224, 224, 6), dtype=np.float32)[..., ::2]
    assert inputs_digest(scope(), {"x": image}) == \
        inputs_digest(scope(), {"x": np.ascontiguousarray(image)})


def record(store: AnswerStore, key: str, value: float, scope_: str = "s") -> None:
    pending = Pending()
    assert store.stage(pending, key, scope_, {"y": np.full(3, value, np.float32)})
    store.commit(pending)


def test_a_recorded_answer_is_found_and_a_miss_is_none(tmp_path: Path) -> None:
    store = AnswerStore(tmp_path)
    record(store, "k1", 0.25, "scope-1")
    found = store.lookup("k1", Pending())
    assert found is not None and found["y"].tolist() == [0.25] * 3
    assert store.lookup("k2", Pending()) is None
    assert store.has_scope("scope-1") and not store.has_scope("scope-2")
    assert (tmp_path / "answers" / "answers.sqlite3").is_file()
    again = AnswerStore(tmp_path)  # another process of the run, or the next run
    assert again.lookup("k1", Pending()) is not None
    assert store.notes == [] and again.notes == []


def test_a_bad_row_is_a_miss_and_is_deleted(tmp_path: Path) -> None:
    store = AnswerStore(tmp_path)
    record(store, "k1", 1.0)
    record(store, "k2", 2.0)
    conn = sqlite3.connect(tmp_path / "answers" / "answers.sqlite3")
    blob = conn.execute("SELECT blob FROM answers WHERE key = 'k1'").fetchone()[0]
    conn.execute("UPDATE answers SET blob = ? WHERE key = 'k1'", (blob[:-3] + b"xyz",))
    garbage = b"not an encoding"
    conn.execute("UPDATE answers SET blob = ?, digest = ? WHERE key = 'k2'",
                 (garbage, hashlib.sha256(garbage).hexdigest()))
    conn.commit()
    conn.close()
    assert store.lookup("k1", Pending()) is None  # checksum mismatch
    assert store.lookup("k2", Pending()) is None  # checksum right, does not decode
    assert store.keys() == []


def test_a_file_that_is_not_a_database_is_replaced_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "answers" / "answers.sqlite3"
    path.parent.mkdir()
    path.write_bytes(b"this is not a sqlite database, but it is long enough to look like one" * 20)
    store = AnswerStore(tmp_path)
    assert store.lookup("k1", Pending()) is None
    assert store.notes == [f"the recorded answers' database {path} could not be read "
                           "(file is not a database); it was replaced by an empty one"]
    record(store, "k1", 3.0)
    assert AnswerStore(tmp_path).lookup("k1", Pending()) is not None


def test_a_folder_that_cannot_hold_the_database_makes_misses_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "answers").write_text("a file where the folder should be")
    store = AnswerStore(tmp_path)
    assert store.lookup("k1", Pending()) is None
    record(store, "k1", 1.0)  # nothing recorded, nothing raised
    assert store.keys() == []
    assert len(store.notes) == 1
    assert store.notes[0].startswith(f"the recorded answers' database "
                                     f"{tmp_path / 'answers' / 'answers.sqlite3'} cannot be used (")
    assert store.notes[0].endswith("); every reference answer is called")


def test_past_the_cap_the_least_recently_used_answers_are_evicted(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    size = len(encode_outputs({"y": np.full(3, 0.0, np.float32)}))
    clock = iter(range(100, 200))
    monkeypatch.setattr(answers.time, "time", lambda: float(next(clock)))
    store = AnswerStore(tmp_path, cap=3 * size)
    for i in range(3):
        record(store, f"k{i}", float(i))
    used = Pending()
    assert store.lookup("k0", used) is not None  # k0 used again: k1 is now the oldest
    store.commit(used)
    record(store, "k3", 3.0)
    assert sorted(store.keys()) == ["k0", "k2", "k3"]


def test_the_cap_comes_from_the_environment() -> None:
    assert answers.cap_bytes({}) == answers.DEFAULT_CAP_MB * 1024 * 1024
    assert answers.cap_bytes({answers.CAP_ENV: "2.5"}) == int(2.5 * 1024 * 1024)
    assert answers.cap_bytes({answers.CAP_ENV: "lots"}) == answers.DEFAULT_CAP_MB * 1024 * 1024


WRITER = """
import sys
import numpy as np
from harness.backends.answers import AnswerStore, Pending

store = AnswerStore(sys.argv[1])
for case in range(10):  # ten cases, one transaction each
    pending = Pending()
    for call in range(10):
        key = f"{sys.argv[2]}-{case}-{call}"
        store.stage(pending, key, "scope", {"y": np.full(100, case * 10 + call, np.float32)})
    store.commit(pending)
print("notes", store.notes)
"""


def test_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    """pytest-xdist workers share the database: WAL and a busy timeout, no lost answer."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), f"w{i}"],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(3)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.strip() == "notes []"
    store = AnswerStore(tmp_path)
    assert len(store.keys()) == 300
    found = store.lookup("w2-9-9", Pending())
    assert found is not None and found["y"][0] == 99.0
