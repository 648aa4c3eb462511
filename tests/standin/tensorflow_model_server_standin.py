"""STAND-IN for `tensorflow_model_server`, for tests only. NOT TensorFlow Serving.

A Python imitation of the model server's command line, REST API and gRPC API, made from
tensorflow/serving's sources (main.cc, server.cc, server_core.cc, http_rest_api_handler.cc,
json_tensor.cc, predict_util.cc, classifier.cc, regressor.cc) so that tests can run
without Docker or the real binary. See tests/standin/__init__.py for the test helper.

Flags are parsed like tensorflow::Flags (only `--name=value`, bools also `--name`).
Stand-in-only flags start with `--standin_`:
  --standin_bind_address=ADDR            listen address (default 0.0.0.0, like the binary)
  --standin_keep_serving_on_load_failure  keep serving when a model version fails to load
                                          (the binary exits); the version reports END + error
"""

from __future__ import annotations

import os
import signal
import sys
import threading

BANNER = (
    "tensorflow_model_server STAND-IN for tests: this is NOT TensorFlow Serving "
    "(a Python imitation of its REST and gRPC APIs, tests/standin)."
)

# (name, kind, default); kinds: int, int64, float, bool, str.
FLAGS: list[tuple[str, str, object]] = [
    ("port", "int", 8500),
    ("grpc_socket_path", "str", ""),
    ("rest_api_port", "int", 0),
    ("rest_api_num_threads", "int", 0),
    ("rest_api_timeout_in_ms", "int", 30000),
    ("rest_api_enable_cors_support", "bool", False),
    ("enable_batching", "bool", False),
    ("allow_version_labels_for_unavailable_models", "bool", False),
    ("batching_parameters_file", "str", ""),
    ("enable_per_model_batching_parameters", "bool", False),
    ("model_config_file", "str", ""),
    ("model_config_file_poll_wait_seconds", "int", 0),
    ("model_name", "str", "default"),
    ("model_base_path", "str", ""),
    ("num_load_threads", "int", 0),
    ("num_unload_threads", "int", 0),
    ("max_num_load_retries", "int", 5),
    ("load_retry_interval_micros", "int64", 60000000),
    ("file_system_poll_wait_seconds", "int", 1),
    ("flush_filesystem_caches", "bool", True),
    ("tensorflow_session_parallelism", "int64", 0),
    ("tensorflow_session_config_file", "str", ""),
    ("tensorflow_intra_op_parallelism", "int64", 0),
    ("tensorflow_inter_op_parallelism", "int64", 0),
    ("use_alts_credentials", "bool", False),
    ("ssl_config_file", "str", ""),
    ("platform_config_file", "str", ""),
    ("per_process_gpu_memory_fraction", "float", 0.0),
    ("saved_model_tags", "str", "serve"),
    ("grpc_channel_arguments", "str", ""),
    ("grpc_max_threads", "int", 0),
    ("enable_model_warmup", "bool", True),
    ("num_request_iterations_for_warmup", "int", 1),
    ("version", "bool", False),
    ("monitoring_config_file", "str", ""),
    ("remove_unused_fields_from_bundle_metagraph", "bool", True),
    ("prefer_tflite_model", "bool", False),
    ("num_tflite_pools", "int", 1),
    ("num_tflite_interpreters_per_pool", "int", 1),
    ("enable_signature_method_name_check", "bool", False),
    ("xla_cpu_compilation_enabled", "bool", False),
    ("enable_profiler", "bool", True),
    ("thread_pool_factory_config_file", "str", ""),
    ("mixed_precision", "str", ""),
    ("skip_initialize_tpu", "bool", False),
    ("enable_grpc_healthcheck_service", "bool", False),
    ("servable_versions_always_present", "bool", False),
    ("standin_bind_address", "str", "0.0.0.0"),
    ("standin_keep_serving_on_load_failure", "bool", False),
]

_INT_RANGES = {"int": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def usage(program: str) -> str:
    lines = [f"usage: {program}", "Flags:"]
    for name, kind, default in FLAGS:
        shown = str(default).lower() if kind == "bool" else default
        lines.append(f"\t--{name}={shown}\t{kind}")
    return "\n".join(lines) + "\n"


def parse_flags(argv: list[str]) -> tuple[dict[str, object], list[str], bool]:
    """tensorflow::Flags::Parse: returns (values, unknown arguments, ok)."""
    values = {name: default for name, _, default in FLAGS}
    kinds = {name: kind for name, kind, _ in FLAGS}
    unknown: list[str] = []
    ok = True
    for arg in argv:
        if arg == "--":
            break
        if not arg.startswith("--"):
            unknown.append(arg)
            continue
        name, has_value, text = arg[2:].partition("=")
        kind = kinds.get(name)
        if kind is None:
            unknown.append(arg)
            continue
        if kind == "bool":
            if not has_value:
                values[name] = True
            elif text.lower() in ("true", "1"):
                values[name] = True
            elif text.lower() in ("false", "0"):
                values[name] = False
            else:
                sys.stderr.write(f"Couldn't interpret value {text} for flag {name}.\n")
                ok = False
            continue
        if not has_value:
            unknown.append(arg)
            continue
        try:
            if kind == "str":
                values[name] = text
            elif kind == "float":
                values[name] = float(text)
            else:
                number = int(text, 10)
                low, high = _INT_RANGES[kind]
                if not low <= number <= high:
                    raise ValueError(text)
                values[name] = number
        except ValueError:
            sys.stderr.write(f"Couldn't interpret value {text} for flag {name}.\n")
            ok = False
    if "--help" in argv:
        ok = False
    return values, unknown, ok


def fail(message: str) -> int:
    """main.cc: `Failed to start server. Error: <status>` on stdout, exit -1."""
    sys.stdout.write(f"Failed to start server. Error: {message}\n")
    sys.stdout.flush()
    return 255


def main(argv: list[str]) -> int:
    sys.stderr.write(BANNER + "\n")
    sys.stderr.flush()
    program = "tensorflow_model_server"
    flags, unknown, ok = parse_flags(argv[1:])
    if not ok:
        sys.stdout.write(usage(program))
        return 255
    if flags["version"]:
        import tensorflow as tf  # noqa: PLC0415 - slow import, only when needed

        sys.stdout.write(
            "TensorFlow ModelServer: 0.0.0-standin (NOT TensorFlow Serving)\n"
            f"TensorFlow Library: {tf.__version__}\n"
        )
        return 0
    if unknown:
        sys.stdout.write(f"unknown argument: {unknown[0]}\n{usage(program)}")
        sys.stdout.flush()
    if not flags["model_base_path"] and not flags["model_config_file"]:
        sys.stdout.write(usage(program))
        return 255

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import standin_config  # noqa: PLC0415
    from google.protobuf import text_format  # noqa: PLC0415
    from standin_status import ServingError  # noqa: PLC0415
    from tensorflow_serving.config import model_server_config_pb2  # noqa: PLC0415

    def log(message: str) -> None:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()

    try:
        if flags["model_config_file"]:
            path = str(flags["model_config_file"])
            try:
                with open(path, encoding="utf-8") as handle:
                    config_text = handle.read()
            except OSError as error:
                raise ServingError("NOT_FOUND", f"{path}; {error.strerror}") from None
            config = model_server_config_pb2.ModelServerConfig()
            try:
                text_format.Parse(config_text, config)
            except text_format.ParseError as error:
                log(f"Error parsing text-format tensorflow.serving.ModelServerConfig: {error}")
                raise ServingError("INVALID_ARGUMENT", f"Invalid protobuf file: '{path}'") from None
        else:
            log(
                "Building single TensorFlow model file config:  model_name: "
                f"{flags['model_name']} model_base_path: {flags['model_base_path']}"
            )
            config = standin_config.single_model_config(
                str(flags["model_name"]), str(flags["model_base_path"])
            )
        standin_config.validate_config(config)
        labels = standin_config.startup_labels(
            config, bool(flags["allow_version_labels_for_unavailable_models"])
        )
        import standin_batching  # noqa: PLC0415 - imports TensorFlow (slow)
        import standin_models  # noqa: PLC0415

        batching = standin_batching.batching_options(
            bool(flags["enable_batching"]), str(flags["batching_parameters_file"])
        )
        options = standin_models.ServerOptions(
            saved_model_tags=tuple(t for t in str(flags["saved_model_tags"]).split(",") if t),
            enable_signature_method_name_check=bool(flags["enable_signature_method_name_check"]),
            file_system_poll_wait_seconds=int(flags["file_system_poll_wait_seconds"]),
            batching=batching,
        )
        store = standin_models.ModelStore(config, options, labels)
        failures = store.load_all(log)
        if failures and not flags["standin_keep_serving_on_load_failure"]:
            raise ServingError(
                "UNKNOWN",
                f"{len(failures)} servable(s) did not become available: {{{''.join(failures)}}}",
            )
    except ServingError as error:
        return fail(error.to_string())

    import standin_grpc  # noqa: PLC0415
    import standin_rest  # noqa: PLC0415

    address = str(flags["standin_bind_address"])
    try:
        grpc_server, grpc_port = standin_grpc.make_grpc_server(store, address, int(flags["port"]))
    except ServingError as error:
        return fail(error.to_string())
    grpc_server.start()
    log(f"Running gRPC ModelServer at {address}:{grpc_port} ...")
    http_server = None
    rest_port = int(flags["rest_api_port"])
    if rest_port != 0:
        if rest_port == int(flags["port"]):
            log(
                "--rest_api_port cannot be same as --port. Please use a different port for "
                "HTTP/REST API. Skipped exporting HTTP/REST API."
            )
        else:
            api = standin_rest.RestApi(store, int(flags["rest_api_timeout_in_ms"]))
            try:
                http_server = standin_rest.make_http_server(api, address, rest_port)
            except OSError as error:
                grpc_server.stop(0)
                return fail(f"UNAVAILABLE: Failed to start HTTP Server at localhost:{rest_port}: {error}")
            threading.Thread(target=http_server.serve_forever, daemon=True).start()

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    if http_server is not None:
        http_server.shutdown()
    grpc_server.stop(0)
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
