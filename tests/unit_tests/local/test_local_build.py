"""The portable llama-server build: flags, the portability guard, and crash reports.

The guard is tested on real machine code: tiny shared libraries compiled here with
``-march=sapphirerapids`` (AMX tile instructions), ``-mavx512f`` and ``-march=x86-64-v3``.
"""

from __future__ import annotations

import json
import platform
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from langchain_automix.local import build
from langchain_automix.local import server as server_mod
from langchain_automix.local.build import (
    BuildError,
    check_portable,
    cmake_flags,
    default_cpu_level,
    describe_crash,
)
from langchain_automix.local.llama_server import LLAMA_SERVER_ENV
from langchain_automix.local.server import LocalModelServer, LocalServerError

X86 = platform.machine().lower() in ("x86_64", "amd64")
needs_x86_cc = pytest.mark.skipif(
    not (X86 and shutil.which("cc") and shutil.which("objdump")),
    reason="compiles x86-64 machine code (cc, objdump)",
)

AMX_SOURCE = """
#include <immintrin.h>
#include <stdint.h>
void tile_dot(const int8_t *a, const int8_t *b, int32_t *c, const void *cfg) {
    _tile_loadconfig(cfg);
    _tile_loadd(1, a, 64);
    _tile_loadd(2, b, 64);
    _tile_zero(0);
    _tile_dpbssd(0, 1, 2);
    _tile_stored(0, c, 64);
    _tile_release();
}
"""

AVX512_SOURCE = """
#include <immintrin.h>
void add16(const float *a, const float *b, float *c) {
    _mm512_storeu_ps(c, _mm512_add_ps(_mm512_loadu_ps(a), _mm512_loadu_ps(b)));
}
"""

AVX2_SOURCE = """
#include <immintrin.h>
void add8(const float *a, const float *b, float *c) {
    _mm256_storeu_ps(c, _mm256_fmadd_ps(_mm256_loadu_ps(a), _mm256_loadu_ps(b),
                                        _mm256_loadu_ps(c)));
}
"""


def _compile(tmp_path: Path, name: str, source: str, *flags: str) -> Path:
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    out = tmp_path / f"lib{name}.so"
    subprocess.run(
        [str(shutil.which("cc")), "-O2", "-shared", "-fPIC", *flags, str(src), "-o", str(out)],
        check=True,
        capture_output=True,
    )
    return out


def test_flags_are_portable_for_every_level() -> None:
    for level in build.CPU_LEVELS:
        flags = cmake_flags(level)
        assert "-DGGML_NATIVE=OFF" in flags
        assert {"-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF", "-DGGML_AMX_BF16=OFF"} <= set(flags)
        assert not any("march=native" in f for f in flags)
    v3 = cmake_flags("x86-64-v3")
    assert "-DGGML_AVX2=ON" in v3 and "-DGGML_AVX512=OFF" in v3
    assert "-DGGML_AVX512=ON" in cmake_flags("x86-64-v4")
    with pytest.raises(ValueError, match="x86-64-v3"):
        cmake_flags("native")


def test_default_level_by_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_cpu_level("aarch64") == "armv8"
    v3 = {"avx", "avx2", "fma", "f16c", "bmi2", "sse4_2"}
    v4 = v3 | {"avx512f", "avx512bw", "avx512vl", "avx512vbmi", "avx512_vnni", "avx512_bf16"}
    amx = v4 | {"amx_tile", "amx_int8", "amx_bf16"}
    for flags, level in [
        (amx, "x86-64-v4"),  # an AMX CPU gets AVX-512, never AMX
        (v4, "x86-64-v4"),
        (v4 - {"avx512_bf16"}, "x86-64-v3"),  # every switch the level turns on, or lower
        (v3, "x86-64-v3"),
        ({"sse4_2"}, "x86-64"),
    ]:
        monkeypatch.setattr(build, "_cpu_flags", lambda f=flags: f)
        assert default_cpu_level("x86_64") == level
    with pytest.raises(BuildError, match="AUTOMIX_LLAMA_SERVER"):
        default_cpu_level("riscv64")


def test_build_key_changes_with_flags(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AUTOMIX_LLAMA_BUILDS", str(tmp_path))
    assert build.find_built_server("x86-64-v3") is None
    key = build._build_key("x86-64-v3")
    assert key != build._build_key("x86-64-v4")
    binary = tmp_path / key / "llama-server"
    binary.parent.mkdir()
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    assert build.find_built_server("x86-64-v3") == binary


@needs_x86_cc
def test_guard_flags_amx_from_a_sapphirerapids_build(tmp_path: Path) -> None:
    lib = _compile(tmp_path, "amx", AMX_SOURCE, "-march=sapphirerapids")
    problems = check_portable(lib, "x86-64-v3")
    assert any("AMX tile instruction" in p for p in problems), problems
    # AMX is refused at every level, AVX-512 allowed or not
    assert any("AMX" in p for p in check_portable(lib, "x86-64-v4"))


@needs_x86_cc
def test_guard_flags_avx512_below_v4_only(tmp_path: Path) -> None:
    lib = _compile(tmp_path, "avx512", AVX512_SOURCE, "-mavx512f")
    assert any("AVX-512" in p for p in check_portable(lib, "x86-64-v3"))
    assert check_portable(lib, "x86-64-v4") == []


@needs_x86_cc
def test_guard_passes_a_v3_build_and_scans_folders(tmp_path: Path) -> None:
    lib = _compile(tmp_path, "avx2", AVX2_SOURCE, "-march=x86-64-v3")
    assert check_portable(lib, "x86-64-v3") == []
    _compile(tmp_path, "amx", AMX_SOURCE, "-march=sapphirerapids")
    folder = check_portable(tmp_path, "x86-64-v3")
    assert len(folder) == 1 and folder[0].startswith("libamx.so")


@needs_x86_cc
def test_setup_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from langchain_automix.cli.main import main

    good = _compile(tmp_path, "avx2", AVX2_SOURCE, "-march=x86-64-v3")
    bad = _compile(tmp_path, "amx", AMX_SOURCE, "-march=sapphirerapids")
    assert main(["setup", "--cpu", "x86-64-v3", "--check", str(good)]) == 0
    assert main(["setup", "--cpu", "x86-64-v3", "--check", str(bad)]) == 1
    assert "AMX" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (-int(signal.SIGILL), "SIGILL (illegal instruction)"),
        (-int(signal.SIGSEGV), "SIGSEGV"),
        (-int(signal.SIGBUS), "SIGBUS"),
    ],
)
def test_crash_names_signal_cause_and_remedy(code: int, expected: str) -> None:
    text = describe_crash("llama-server", code)
    assert text is not None and expected in text
    assert "CPU instructions" in text and "automix setup --rebuild" in text


def test_normal_exits_and_stops_are_not_crashes() -> None:
    assert describe_crash("x", 0) is None and describe_crash("x", 1) is None
    assert "SIGTERM" in str(describe_crash("x", -int(signal.SIGTERM)))
    assert "CPU" not in str(describe_crash("x", -int(signal.SIGTERM)))


def _fake_server(tmp_path: Path, script: str) -> Path:
    binary = tmp_path / "llama-server"
    binary.write_text(f"#!{sys.executable}\n" + textwrap.dedent(script))
    binary.chmod(0o755)
    return binary


def _start_with(monkeypatch: pytest.MonkeyPatch, binary: Path, tmp_path: Path) -> str:
    monkeypatch.setenv(LLAMA_SERVER_ENV, str(binary))
    monkeypatch.setattr(server_mod, "assemble", lambda m, cache=None: tmp_path / f"{m}.gguf")
    server = LocalModelServer(["qwen2.5-coder-0.5b"], startup_timeout=30, backend="llama-server")
    with pytest.raises(LocalServerError) as info:
        server.start()
    assert not server.running
    return str(info.value)


def test_binary_killed_by_sigill_at_start_names_the_cause(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    binary = _fake_server(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGILL)\n")
    msg = _start_with(monkeypatch, binary, tmp_path)
    assert "killed by SIGILL (illegal instruction) before it was ready" in msg
    assert "automix setup --rebuild" in msg


def test_binary_killed_by_sigill_at_first_token_names_the_cause(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # healthy on /health, then dies on its first generation, as an AMX build does
    script = """
    import os, signal, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer
    port = int(sys.argv[sys.argv.index("--port") + 1])
    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.end_headers(); self.wfile.write(b"{}")
        def do_POST(self):
            os.kill(os.getpid(), signal.SIGILL)
        def log_message(self, *a):
            pass
    HTTPServer(("127.0.0.1", port), H).serve_forever()
    """
    msg = _start_with(monkeypatch, _fake_server(tmp_path, script), tmp_path)
    assert "killed by SIGILL" in msg and "while generating its first token" in msg


def test_build_info_records_level_and_flags(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # an already-built folder is returned without work, with what was recorded
    monkeypatch.setenv("AUTOMIX_LLAMA_BUILDS", str(tmp_path))
    folder = tmp_path / build._build_key("x86-64-v3")
    folder.mkdir()
    (folder / "llama-server").write_text("")
    (folder / "build_info.json").write_text(json.dumps({"level": "x86-64-v3"}))
    built = build.build_llama_server("x86-64-v3")
    assert built.binary == folder / "llama-server" and built.info["level"] == "x86-64-v3"


def _fake_toolchain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, gate: Any) -> list[str]:
    """A build whose compile step writes the binary (after ``gate`` opens); returns the
    list of compile calls."""
    compiles: list[str] = []
    source = tmp_path / "src"
    source.mkdir(exist_ok=True)
    (source / "CMakeLists.txt").write_text("")

    def run_logged(cmd: Any, cwd: Path, log: Path, stream: Any, label: str) -> None:
        if label == "compile":
            compiles.append(label)
            gate.wait(10)
            out = Path(cmd[cmd.index("--build") + 1]) / "bin"
            out.mkdir(parents=True)
            (out / "llama-server").write_text("#!/bin/sh\n")

    monkeypatch.setenv("AUTOMIX_LLAMA_BUILDS", str(tmp_path / "builds"))
    monkeypatch.setattr(build, "_run_logged", run_logged)
    monkeypatch.setattr(build, "check_portable", lambda path, level: [])
    monkeypatch.setattr(build, "_cmake_version", lambda: (3, 28))
    monkeypatch.setattr(build.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    return compiles


def test_concurrent_setups_compile_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Two setups at once (``make demo`` beside ``make test``): the second waits for the
    first's build and takes it, instead of compiling for minutes and racing to replace
    the same folder."""
    import io
    import threading

    gate = threading.Event()
    compiles = _fake_toolchain(monkeypatch, tmp_path, gate)
    out: dict[str, Any] = {}
    streams = {name: io.StringIO() for name in ("first", "second")}

    def setup(name: str) -> None:
        out[name] = build.build_llama_server(
            "x86-64-v3", source=tmp_path / "src", stream=streams[name]
        )

    first = threading.Thread(target=setup, args=("first",))
    first.start()
    while not compiles:  # the first build is compiling
        time.sleep(0.01)
    second = threading.Thread(target=setup, args=("second",))
    second.start()
    time.sleep(0.3)
    assert second.is_alive()  # waiting for the first, not compiling
    gate.set()
    first.join(10)
    second.join(10)
    assert compiles == ["compile"]
    assert out["first"].binary == out["second"].binary and out["second"].binary.is_file()
    assert "another process is building llama-server for x86-64-v3" in streams["second"].getvalue()
