"""The pre-load op scan: hostile models are refused with a precise message, good ones pass."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")

from harness.errors import ContractError, ModelError, PolicyViolation  # noqa: E402
from harness.safety import DEFAULT_DENY, DEFAULT_POLICY, OpPolicy, load_policy, scan_saved_model  # noqa: E402
from models_under_test.fixtures_hostile import (  # noqa: E402
    CUSTOM_OP_TYPE,
    HOSTILE_BUILDERS,
    HOSTILE_DIR,
    OUTSIDE_VOCAB_PATH,
    PRINT_FILE_TARGET,
    WRITE_FILE_TARGET,
)

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models_under_test"
TINY = MODELS / "fixtures" / "tiny"


def corpus_root() -> Path:
    override = os.environ.get("MODEL_CONTRACT_CORPUS")
    return Path(override) if override else REPO.parent / "shared/corpus/tf-serving-testdata"


def corpus_models() -> list[Path]:
    root = corpus_root()
    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.glob("*/*/saved_model.pb"))


def bundled_models() -> list[Path]:
    names = ("classifier", "text_classifier", "image_classifier")
    return [MODELS / n / "1" for n in names if (MODELS / n / "1" / "saved_model.pb").is_file()]


def violation_text(model_dir: Path, policy: OpPolicy = DEFAULT_POLICY) -> str:
    report = scan_saved_model(model_dir, policy)
    with pytest.raises(PolicyViolation) as caught:
        report.raise_for_violations()
    return str(caught.value)


# --------------------------------------------------------------------------- hostile fixtures

EXPECTED = {
    "reads_file_nested": ({"ReadFile"}, [
        "ReadFile (node 'ReadFile'): reads a file from the filesystem",
        "path: signature 'serving_default' -> __inference_signature_wrapper_serve_",
        "-> cond/then_branch cond_true_",
        "-> __inference_read_",
        "-> node 'ReadFile'",
        "rule: default deny list",
        '"ops": {"permit": ["ReadFile"]}',
        "--allow-op ReadFile",
    ]),
    "py_func": ({"PyFunc", "EagerPyFunc"}, [
        "EagerPyFunc (node 'EagerPyFunc'): runs a Python callback (py_func)",
        "path: signature 'serving_default' -> ",
        "PyFunc (node 'PyFunc'): runs a Python callback",
        "path: signature 'numpy' -> ",
    ]),
    "custom_op": ({CUSTOM_OP_TYPE}, [
        f"{CUSTOM_OP_TYPE} (node 'add'): op type is not registered in the running TensorFlow",
        "path: signature 'serving_default' -> __inference_signature_wrapper_serve_",
        "rule: unregistered op",
        '"allow_unregistered": true',
    ]),
    "asset_outside": ({"InitializeTableFromTextFileV2"}, [
        f"asset read from outside assets/: {OUTSIDE_VOCAB_PATH}",
        "path: load-time op 'saved_model_main_op' -> node ",
        "rule: asset hermeticity",
    ]),
    "writes_file": ({"WriteFile", "PrintV2"}, [
        "WriteFile (node 'WriteFile'): writes a file to the filesystem",
        f"file name: constant '{WRITE_FILE_TARGET}'",
        f"PrintV2 (node 'PrintV2'): prints tensors to a file (output_stream {PRINT_FILE_TARGET})",
    ]),
    "dataset_reads_file": ({"TextLineDataset", "ReadFile"}, [
        "TextLineDataset (node 'TextLineDataset'): tf.data source reading files",
        "-> __inference_Dataset_map_read_file_",
        "-> node 'ReadFile'",
    ]),
    "lambda_layer": ({"Lambda"}, [
        "Lambda (node 'lambda'): Keras Lambda layer: deserialising it runs Python bytecode",
        "path: keras_metadata.pb: root.layer-2",
        '"allow_lambda_layers": true',
    ]),
}


def test_every_hostile_builder_has_expectations() -> None:
    assert set(HOSTILE_BUILDERS) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_fixture_is_refused_with_a_precise_message(name: str) -> None:
    model_dir = HOSTILE_DIR / name
    assert (model_dir / "saved_model.pb").is_file(), f"fixture {name} not built"
    ops, fragments = EXPECTED[name]
    report = scan_saved_model(model_dir)
    assert {f.op for f in report.findings} == ops
    text = violation_text(model_dir)
    assert text.startswith(f"{model_dir}: the op policy forbids {len(ops)} finding")
    assert "it was not loaded" in text
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} missing from:\n{text}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_fixture_passes_when_its_ops_are_permitted(name: str) -> None:
    ops, _ = EXPECTED[name]
    policy = OpPolicy.from_mapping({"permit": sorted(ops)}, file="contract.json")
    report = scan_saved_model(HOSTILE_DIR / name, policy)
    assert report.findings == ()
    report.raise_for_violations()
    assert scan_saved_model(HOSTILE_DIR / name).violations(DEFAULT_POLICY.permitting(ops)) == ()


def test_flags_accept_custom_ops_and_lambda_layers() -> None:
    unregistered = OpPolicy.from_mapping({"allow_unregistered": True})
    assert scan_saved_model(HOSTILE_DIR / "custom_op", unregistered).ok
    lambdas = OpPolicy.from_mapping({"allow_lambda_layers": True})
    assert scan_saved_model(HOSTILE_DIR / "lambda_layer", lambdas).ok


def test_builders_reproduce_the_committed_hostile_fixtures(tmp_path: Path) -> None:
    for name in ("custom_op", "asset_outside"):
        HOSTILE_BUILDERS[name](tmp_path / name)
        ops = {f.op for f in scan_saved_model(tmp_path / name).findings}
        assert ops == EXPECTED[name][0]


# --------------------------------------------------------------------------- good models


@pytest.mark.parametrize("model_dir", corpus_models(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_model_passes_default_policy(model_dir: Path) -> None:
    report = scan_saved_model(model_dir)
    assert report.findings == (), "\n".join(f.render() for f in report.findings)
    assert report.ops_by_signature


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_tf1_export_passes_default_policy(version: str) -> None:
    """The bundled TF1 export: graph nodes, the legacy init op (1) or main op (2), a saver."""
    report = scan_saved_model(MODELS / "fixtures" / "tf1_half_plus_two" / version)
    assert report.findings == (), "\n".join(f.render() for f in report.findings)
    assert set(report.ops_by_signature) == {"classify_x_to_y", "predict_x2_to_y2", "regress_x_to_y",
                                            "serving_default"}
    assert "ParseExample" in report.ops_by_signature["regress_x_to_y"]
    assert "Assign" in set().union(*report.ops_at_load.values())  # the init op assigns the asset
    assert report.saver_ops


def test_corpus_is_present_or_skipped() -> None:
    if not corpus_root().is_dir():
        pytest.skip(f"corpus not found at {corpus_root()} (set MODEL_CONTRACT_CORPUS)")
    assert len(corpus_models()) >= 5


@pytest.mark.parametrize("model_dir", bundled_models(), ids=lambda p: p.parent.name)
def test_bundled_model_passes_default_policy(model_dir: Path) -> None:
    report = scan_saved_model(model_dir)
    assert report.findings == (), "\n".join(f.render() for f in report.findings)
    assert "serving_default" in report.ops_by_signature


def test_saver_ops_are_not_reported_for_a_normal_model() -> None:
    report = scan_saved_model(TINY)
    assert report.ok
    assert {"SaveV2", "RestoreV2", "MergeV2Checkpoints"} <= report.saver_ops
    for ops in report.ops_by_signature.values():
        assert not ops & {"SaveV2", "RestoreV2", "MergeV2Checkpoints"}
    restore = {k: v for k, v in report.ops_at_load.items() if k.startswith("load-time restore")}
    assert list(restore) == ["load-time restore op 'StatefulPartitionedCall_2' (saver_def)"]
    for label, ops in report.ops_at_load.items():
        assert not ops & {"SaveV2", "MergeV2Checkpoints"}
        assert ("RestoreV2" in ops) == (label in restore)


def test_tf2_lookup_table_from_an_asset_passes(tmp_path: Path) -> None:
    import tensorflow as tf

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("a\nb\n")

    class Table(tf.Module):
        def __init__(self) -> None:
            init = tf.lookup.TextFileInitializer(
                str(vocab), tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)
            self.table = tf.lookup.StaticHashTable(init, -1)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(self, words: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"ids": self.table.lookup(words)}

    module = Table()
    tf.saved_model.save(module, str(tmp_path / "model"), signatures={"serving_default": module.serve})
    report = scan_saved_model(tmp_path / "model")
    assert report.ok, "\n".join(f.render() for f in report.findings)
    assert any("InitializeTableFromTextFileV2" in ops for ops in report.ops_at_load.values())
    # the table initializer was traced back to the asset, both as graph init op and TF2 resource
    sites = [s for s in report.sites if s.op == "InitializeTableFromTextFileV2"]
    assert len(sites) >= 2 and all("asset 'vocab.txt'" in s.detail for s in sites)


# --------------------------------------------------------------------------- policies


def test_allowlist_mode() -> None:
    report = scan_saved_model(TINY)
    used = set().union(*report.ops_by_signature.values(), *report.ops_at_load.values())
    assert "MatMul" in used
    assert report.violations(OpPolicy(allow=frozenset(used))) == ()
    findings = report.violations(OpPolicy.from_mapping({"allow": sorted(used - {"MatMul"})}))
    assert {(f.op, f.rule) for f in findings} == {("MatMul", "allowlist")}
    assert "op type is not in the allowlist" in findings[0].reason
    permitted = OpPolicy.from_mapping({"allow": sorted(used - {"MatMul"}), "permit": ["MatMul"]})
    assert report.violations(permitted) == ()


def test_contract_deny_extends_the_default_list() -> None:
    policy = OpPolicy.from_mapping({"deny": ["MatMul"]})
    assert policy.deny == DEFAULT_DENY | {"MatMul"}
    text = violation_text(TINY, policy)
    assert "MatMul (node " in text and "rule: contract deny list" in text


def test_default_deny_list_covers_the_named_ops() -> None:
    assert {"ReadFile", "WriteFile", "MatchingFiles", "Save", "SaveV2", "SaveSlices", "Restore",
            "RestoreV2", "RestoreSlice", "MergeV2Checkpoints", "PrintV2", "PyFunc",
            "PyFuncStateless", "EagerPyFunc", "WholeFileReaderV2", "TFRecordReaderV2",
            "FixedLengthRecordReaderV2", "ImmutableConst", "DecodeProtoV2",
            "CreateSummaryFileWriter", "WriteSummary", "DebugIdentity"} <= DEFAULT_DENY
    assert "InitializeTableFromTextFileV2" not in DEFAULT_DENY


@pytest.mark.parametrize("data, place, words", [
    ([], "/ops", "must be an object"),
    ({"deny": "ReadFile"}, "/ops/deny", "must be a list"),
    ({"permit": ["ReadFile", 3]}, "/ops/permit/1", "non-empty strings"),
    ({"permit": ["Read File"]}, "/ops/permit/0", "is not an op type name"),
    ({"allow_unregistered": "yes"}, "/ops/allow_unregistered", "must be true or false"),
    ({"allowed": ["MatMul"]}, "/ops", "unknown key(s) 'allowed'"),
    ({"deny": ["MatMul"], "permit": ["MatMul"]}, "/ops/permit", "both denied and permitted"),
])
def test_bad_policy_gives_contract_error(data: object, place: str, words: str) -> None:
    with pytest.raises(ContractError) as caught:
        OpPolicy.from_mapping(data, file="c.json", pointer="/ops")
    assert caught.value.file == "c.json" and caught.value.place == place
    assert words in caught.value.message


def test_load_policy_file(tmp_path: Path) -> None:
    nested = tmp_path / "nested.json"
    nested.write_text(json.dumps({"ops": {"permit": ["ReadFile"]}}))
    assert load_policy(nested).allowed_ops == {"ReadFile"}
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"allow": ["MatMul"], "allow_lambda_layers": True}))
    assert load_policy(flat).allow == {"MatMul"} and load_policy(flat).allow_lambda_layers
    broken = tmp_path / "broken.json"
    broken.write_text('{"permit": [\n  "ReadFile",\n]}')
    with pytest.raises(ContractError, match="not valid JSON") as caught:
        load_policy(broken)
    assert caught.value.place == "line 3 column 1"
    with pytest.raises(ContractError, match="not found"):
        load_policy(tmp_path / "missing.json")


# --------------------------------------------------------------------------- broken models


def test_truncated_pb_gives_model_error(tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(TINY, model)
    data = (model / "saved_model.pb").read_bytes()
    (model / "saved_model.pb").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError) as caught:
        scan_saved_model(model)
    assert caught.value.file == str(model / "saved_model.pb")
    assert "truncated or corrupt" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_empty_pb_and_missing_pb_give_model_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "saved_model.pb").write_bytes(b"")
    # the scan reads saved_model.pb the way the static checks do: the same message
    with pytest.raises(ModelError, match=r"saved_model.pb: is empty \(0 bytes\)"):
        scan_saved_model(tmp_path / "empty")
    base = tmp_path / "base"
    shutil.copytree(TINY, base / "1")
    with pytest.raises(ModelError, match="no saved_model.pb") as caught:
        scan_saved_model(base)
    assert caught.value.hint and str(base / "1") in caught.value.hint
    with pytest.raises(ModelError, match="does not exist"):
        scan_saved_model(tmp_path / "nowhere")


def test_tags_select_the_meta_graph() -> None:
    assert scan_saved_model(TINY, tags={"serve"}).ok
    with pytest.raises(ModelError, match=r"no MetaGraphDef with tags \{gpu\}") as caught:
        scan_saved_model(TINY, tags={"gpu"})
    assert "serve" in (caught.value.hint or "")


# --------------------------------------------------------------------------- hand-made graphs


def write_meta_graph(dest: Path, pbtxt: str) -> Path:
    """A saved_model.pb holding one MetaGraphDef given as text (the scan never runs it)."""
    from google.protobuf import text_format
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    text_format.Parse(pbtxt, saved_model.meta_graphs.add())
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "saved_model.pb").write_bytes(saved_model.SerializeToString())
    return dest


def const(name: str, value: str) -> str:
    return (f'node {{ name: "{name}" op: "Const" attr {{ key: "value" value {{ tensor {{ '
            f'dtype: DT_STRING string_val: "{value}" }} }} }} }}')


SIGNATURE_Y = ('meta_info_def { tags: "serve" } signature_def { key: "serving_default" value { '
               'outputs { key: "y" value { name: "y:0" } } } }')


def test_save_op_reachable_from_a_signature_is_refused(tmp_path: Path) -> None:
    model = write_meta_graph(tmp_path / "m", SIGNATURE_Y + f"""
      graph_def {{
        node {{ name: "prefix" op: "Placeholder" }}
        {const("names", "v")}
        node {{ name: "save" op: "SaveV2" input: "prefix" input: "names" input: "names" }}
        node {{ name: "y" op: "Identity" input: "prefix" input: "^save" }}
        node {{ name: "restore" op: "RestoreV2" input: "prefix" input: "names" input: "names" }}
      }}
      saver_def {{ restore_op_name: "restore" }}""")
    report = scan_saved_model(model)
    assert [(f.op, f.node) for f in report.findings] == [("SaveV2", "save")]
    assert "writes a checkpoint file" in report.findings[0].reason
    assert report.saver_ops == {"RestoreV2", "Placeholder", "Const"}


def test_print_to_stderr_is_fine_but_print_to_file_is_not(tmp_path: Path) -> None:
    def model(stream: str) -> Path:
        return write_meta_graph(tmp_path / stream.replace("/", "_"), SIGNATURE_Y + f"""
          graph_def {{
            {const("msg", "hello")}
            node {{ name: "print" op: "PrintV2" input: "msg"
                    attr {{ key: "output_stream" value {{ s: "{stream}" }} }} }}
            node {{ name: "y" op: "Identity" input: "msg" input: "^print" }}
          }}""")

    assert scan_saved_model(model("stderr")).ok
    findings = scan_saved_model(model("file:///var/tmp/leak.log")).findings
    assert [f.op for f in findings] == ["PrintV2"]
    assert "output_stream file:///var/tmp/leak.log" in findings[0].reason


def test_dataset_from_graph_is_scanned_inside_and_refused_when_dynamic(tmp_path: Path) -> None:
    from google.protobuf import text_format
    from tensorflow.core.framework import graph_pb2
    from tensorflow.core.protobuf import saved_model_pb2

    inner = graph_pb2.GraphDef()
    text_format.Parse(const("p", "/etc/shadow") +
                      ' node { name: "secret" op: "ReadFile" input: "p" }', inner)
    model = write_meta_graph(tmp_path / "static", SIGNATURE_Y + f"""
      graph_def {{
        {const("g", "placeholder")}
        node {{ name: "ds" op: "DatasetFromGraph" input: "g" }}
        node {{ name: "y" op: "Identity" input: "ds" }}
      }}""")
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((model / "saved_model.pb").read_bytes())
    graph_const = saved_model.meta_graphs[0].graph_def.node[0]
    graph_const.attr["value"].tensor.string_val[0] = inner.SerializeToString()
    (model / "saved_model.pb").write_bytes(saved_model.SerializeToString())

    findings = scan_saved_model(model).findings
    assert [(f.op, f.node) for f in findings] == [("ReadFile", "secret")]
    assert findings[0].path == ("signature 'serving_default' -> ds/graph_def (embedded GraphDef)"
                                " -> node 'secret'")
    assert "constant '/etc/shadow'" in findings[0].reason

    dynamic = write_meta_graph(tmp_path / "dynamic", SIGNATURE_Y + """
      graph_def {
        node { name: "g" op: "Placeholder" }
        node { name: "ds" op: "DatasetFromGraph" input: "g" }
        node { name: "y" op: "Identity" input: "ds" }
      }""")
    findings = scan_saved_model(dynamic).findings
    assert [f.op for f in findings] == ["DatasetFromGraph"]
    assert "graph from graph input 'g'" in findings[0].reason


def test_unregistered_op_outside_any_signature_is_still_reported(tmp_path: Path) -> None:
    model = write_meta_graph(tmp_path / "m", SIGNATURE_Y + """
      graph_def {
        node { name: "y" op: "Placeholder" }
        library { function { signature { name: "unused_fn" }
                             node_def { name: "boom" op: "ZzOtherOp" } } }
      }""")
    findings = scan_saved_model(model).findings
    assert [(f.op, f.rule) for f in findings] == [("ZzOtherOp", "unregistered op")]
    assert findings[0].path == ("function library: unused_fn -> node 'boom' "
                                "(not reachable from a signature)")


def test_relative_const_vocabulary_path_is_not_hermetic(tmp_path: Path) -> None:
    model = write_meta_graph(tmp_path / "m", SIGNATURE_Y + f"""
      graph_def {{
        node {{ name: "table" op: "HashTableV2" }}
        {const("path", "data/vocab.txt")}
        node {{ name: "init" op: "InitializeTableFromTextFileV2" input: "table" input: "path" }}
        node {{ name: "y" op: "Identity" input: "table" input: "^init" }}
      }}""")
    findings = scan_saved_model(model).findings
    assert [f.rule for f in findings] == ["asset hermeticity"]
    assert "asset read from outside assets/: data/vocab.txt (a relative path" in findings[0].reason


def test_a_function_shared_by_two_signatures_is_one_finding(tmp_path: Path) -> None:
    model = write_meta_graph(tmp_path / "m", SIGNATURE_Y + f"""
      signature_def {{ key: "other" value {{ outputs {{ key: "y" value {{ name: "call:0" }} }} }} }}
      graph_def {{
        {const("p", "/etc/hostname")}
        node {{ name: "y" op: "PartitionedCall" input: "p"
                attr {{ key: "f" value {{ func {{ name: "reader" }} }} }} }}
        node {{ name: "call" op: "reader" input: "p" }}
        library {{ function {{ signature {{ name: "reader" input_arg {{ name: "path" }} }}
                               node_def {{ name: "r" op: "ReadFile" input: "path" }} }} }}
      }}""")
    findings = scan_saved_model(model).findings
    assert len(findings) == 1
    assert findings[0].path == "signature 'other' -> reader -> node 'r'"
    assert findings[0].also_from == ("signature 'serving_default'",)
    assert "file name: constant '/etc/hostname'" in findings[0].reason
    assert "also reachable from: signature 'serving_default'" in findings[0].render()


def test_absurdly_deep_function_nesting_is_refused_not_crashed(tmp_path: Path) -> None:
    functions = "".join(
        f'function {{ signature {{ name: "f{i}" }} node_def {{ name: "n" op: "f{i + 1}" }} }}'
        for i in range(300))
    model = write_meta_graph(tmp_path / "m", SIGNATURE_Y + f"""
      graph_def {{ node {{ name: "y" op: "f0" }} library {{ {functions} }} }}""")
    with pytest.raises(ModelError, match="nested more than 200 levels"):
        scan_saved_model(model)


def test_default_deny_list_names_real_ops() -> None:
    from tensorflow.python.framework import op_def_registry

    assert sorted(op for op in DEFAULT_DENY if op_def_registry.get(op) is None) == []
