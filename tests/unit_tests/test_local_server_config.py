"""LocalModelServer without starting llama.cpp: config, validation, clients."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_automix.local.server import LocalModelServer, LocalServerError, _free_port, _Proc


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
    with pytest.raises(LocalServerError, match=r"langchain-automix\[local\]"):
        LocalModelServer(["qwen2.5-coder-0.5b"]).start()
