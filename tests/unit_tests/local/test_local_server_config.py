"""LocalModelServer without starting llama.cpp: config, validation, clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from langchain_automix.local.llama_server import free_port as _free_port
from langchain_automix.local.server import LocalModelServer, LocalServerError, _Proc


def test_unknown_model_rejected() -> None:
    with pytest.raises(ValueError, match="known"):
        LocalModelServer(["gpt-5"])


def test_config_holds_every_model_with_settings(tmp_path: Path) -> None:
    server = LocalModelServer(n_ctx=2048, n_threads=2, logits_all=True)
    proc = _Proc(
        models=server.models,
        port=12345,
        config_path=tmp_path / "c.json",
        log_path=tmp_path / "l.log",
    )
    paths = {m: tmp_path / f"{m}.gguf" for m in server.models}
    server._write_config(proc, paths)
    cfg = json.loads((tmp_path / "c.json").read_text())
    assert cfg["host"] == "127.0.0.1" and cfg["port"] == 12345
    assert [m["model_alias"] for m in cfg["models"]] == list(server.models)
    assert all(
        m["n_ctx"] == 2048 and m["n_threads"] == 2 and m["logits_all"] for m in cfg["models"]
    )
    assert cfg["models"][0]["model"] == str(paths[server.models[0]])


def test_free_port_is_loopback_and_bindable() -> None:
    import socket

    port = _free_port("127.0.0.1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_chat_model_needs_running_server() -> None:
    with pytest.raises(LocalServerError, match="not running"):
        LocalModelServer().chat_model("qwen2.5-coder-0.5b")


def test_stop_is_idempotent_before_start() -> None:
    server = LocalModelServer()
    server.stop()
    server.stop()
    assert not server.running


def test_missing_llama_cpp_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "llama_cpp.server", None)
    with pytest.raises(LocalServerError, match=r"langchain-automix\[llama-cpp-python\]"):
        LocalModelServer(["qwen2.5-coder-0.5b"], backend="llama-cpp-python").start()


def test_llama_server_argv_has_slots_unified_cache_and_loopback() -> None:
    from langchain_automix.local.llama_server import llama_server_argv

    argv = llama_server_argv(
        "/bin/llama-server", "/m/q.gguf", alias="q", port=4321, n_ctx=2048, parallel=4
    )
    opts = dict(zip(argv[1::2], argv[2::2], strict=False))
    assert argv[0] == "/bin/llama-server"
    assert opts["--model"] == "/m/q.gguf" and opts["--alias"] == "q"
    assert opts["--host"] == "127.0.0.1" and opts["--port"] == "4321"
    assert opts["--parallel"] == "4" and opts["--ctx-size"] == "4096"
    assert "--kv-unified" in argv and "--no-webui" in argv


@pytest.mark.parametrize("kwargs", [{"parallel": 0}, {"n_ctx": 16}])
def test_llama_server_argv_rejects_bad_sizes(kwargs: dict[str, int]) -> None:
    from langchain_automix.local.llama_server import llama_server_argv

    with pytest.raises(ValueError, match=next(iter(kwargs))):
        llama_server_argv("x", "m.gguf", alias="m", port=1, **kwargs)


def test_backend_and_parallel_validated() -> None:
    with pytest.raises(ValueError, match="backend"):
        LocalModelServer(backend="vllm")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="parallel"):
        LocalModelServer(parallel=0)


def test_env_var_names_a_missing_binary(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from langchain_automix.local.llama_server import LLAMA_SERVER_ENV, find_llama_server

    monkeypatch.setenv(LLAMA_SERVER_ENV, str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match=LLAMA_SERVER_ENV):
        find_llama_server()


def test_env_var_binary_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from langchain_automix.local.llama_server import LLAMA_SERVER_ENV, find_llama_server

    binary = tmp_path / "llama-server"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.setenv(LLAMA_SERVER_ENV, str(binary))
    assert find_llama_server() == str(binary)
    server = LocalModelServer(backend="auto")
    assert server.backend == "llama-server" and server.supports_n
    assert server.returns_logprobs("qwen2.5-coder-0.5b") and server.max_concurrency == 8


def test_forced_native_backend_without_binary_names_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from langchain_automix.local import server as server_mod

    monkeypatch.setattr(server_mod, "find_llama_server", lambda: None)
    with pytest.raises(LocalServerError, match=r"llama-server.*automix setup"):
        LocalModelServer(backend="llama-server").start()
    auto = LocalModelServer(backend="auto", logits_all=["qwen2.5-coder-0.5b"])
    assert auto.backend == "llama-cpp-python" and not auto.supports_n
    assert auto.returns_logprobs("qwen2.5-coder-0.5b")
    assert not auto.returns_logprobs("qwen2.5-coder-1.5b")
    assert auto.max_concurrency == 1


def test_binary_argument_wins_and_is_llama_server_only(tmp_path: Path) -> None:
    binary = tmp_path / "my-llama-server"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    server = LocalModelServer(binary=binary)
    assert server.backend == "llama-server" and server._binary == str(binary)
    with pytest.raises(ValueError, match="llama-cpp-python"):
        LocalModelServer(binary=binary, backend="llama-cpp-python")


def test_a_missing_llama_server_is_built_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from langchain_automix.local import build
    from langchain_automix.local import server as server_mod

    built = tmp_path / "llama-server"
    calls: list[object] = []

    def fake_build(**kwargs: object) -> build.BuiltServer:
        calls.append(kwargs)
        return build.BuiltServer(built, {})

    monkeypatch.setattr(server_mod, "find_llama_server", lambda: None)
    monkeypatch.setattr(build, "build_llama_server", fake_build)
    assert LocalModelServer(backend="auto").backend == "llama-cpp-python"  # not asked: no build
    assert calls == []
    server = LocalModelServer(backend="auto", build_missing=True)
    assert server.backend == "llama-server" and server._binary == str(built)
    assert len(calls) == 1
    assert LocalModelServer(backend="llama-cpp-python", build_missing=True).backend == (
        "llama-cpp-python"
    )
    assert len(calls) == 1

    def failing_build(**kwargs: object) -> build.BuiltServer:
        raise build.BuildError("cmake is needed")

    monkeypatch.setattr(build, "build_llama_server", failing_build)
    with pytest.raises(LocalServerError, match="cmake is needed"):
        _ = LocalModelServer(build_missing=True).backend


_FAKE_LLAMA_SERVER = """\
import http.server, json, sys
args = sys.argv[1:]
host, port = args[args.index("--host") + 1], int(args[args.index("--port") + 1])
if "--fail" in open(__file__).read().split("#" + "MODE ")[1]:
    sys.stderr.write("error loading model\\n")
    sys.exit(1)

class H(http.server.BaseHTTPRequestHandler):
    def _ok(self):
        body = json.dumps({"status": "ok", "content": "x"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._ok()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._ok()

    def log_message(self, *a):
        pass

try:
    srv = http.server.HTTPServer((host, port), H)
except OSError as e:
    sys.stderr.write(f"couldn't bind HTTP server socket, hostname: {host}, port: {port}\\n")
    sys.exit(1)
srv.serve_forever()
"""


def _fake_llama_server(tmp_path: Path, mode: str) -> Path:
    import sys

    binary = tmp_path / "llama-server"
    binary.write_text(f"#!{sys.executable}\n{_FAKE_LLAMA_SERVER}#MODE {mode}\n")
    binary.chmod(0o755)
    return binary


@pytest.fixture
def taken_port_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[int, list[int]]]:
    """``free_port`` hands out a port another process holds first, then free ones."""
    import socket

    from langchain_automix.local import server as server_mod

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    taken = holder.getsockname()[1]
    given: list[int] = []

    def fake_free_port(host: str = "127.0.0.1") -> int:
        port = taken if not given else _free_port(host)
        given.append(port)
        return port

    monkeypatch.setattr(server_mod, "free_port", fake_free_port)
    monkeypatch.setattr(server_mod, "assemble", lambda m, cache_dir=None: tmp_path / f"{m}.gguf")
    yield taken, given
    holder.close()


def test_a_port_taken_before_the_server_binds_is_replaced(
    tmp_path: Path, taken_port_first: tuple[int, list[int]]
) -> None:
    taken, given = taken_port_first
    binary = _fake_llama_server(tmp_path, "serve")
    with LocalModelServer(["qwen2.5-coder-0.5b"], binary=binary, startup_timeout=30) as server:
        url = server.base_url("qwen2.5-coder-0.5b")
    assert given[0] == taken and len(given) == 2
    assert url == f"http://127.0.0.1:{given[1]}/v1"


def test_a_server_that_dies_for_another_reason_is_not_restarted(
    tmp_path: Path, taken_port_first: tuple[int, list[int]]
) -> None:
    _, given = taken_port_first
    given.append(0)  # no taken port: the first port is free
    binary = _fake_llama_server(tmp_path, "--fail")
    with pytest.raises(LocalServerError, match="error loading model"):
        LocalModelServer(["qwen2.5-coder-0.5b"], binary=binary, startup_timeout=30).start()
    assert len(given) == 2  # one port asked for: started once
