"""Run the embedded models behind an OpenAI-compatible llama.cpp server.

:class:`LocalModelServer` starts one of two llama.cpp servers as subprocesses, each
in its own process group on a free loopback port, waits until they answer, and stops
the whole process group on exit, on Ctrl-C, on errors, at interpreter exit and on
SIGTERM/SIGHUP. On Linux the servers also get ``PR_SET_PDEATHSIG`` so they die with
their parent even when the parent is killed with SIGKILL.

Backends:

* ``llama-server`` (llama.cpp's C++ server, see :mod:`~langchain_automix.local.llama_server`):
  one process per model with parallel slots. Honours ``n`` (the k verification samples
  share one prompt pass and decode as one batch), caches prompts across requests and
  returns token logprobs for free. The default when the binary is found.
* ``llama-cpp-python`` (``python -m llama_cpp.server --config_file ...``): one request
  at a time, ignores ``n``, returns logprobs only with ``logits_all``.

Models are reached through :meth:`LocalModelServer.chat_model`, a plain
``langchain_openai.ChatOpenAI`` pointed at the server: the same code path a vLLM,
Ollama or OpenAI user takes.

llama-cpp-python's server keeps one model in memory at a time and swaps models when a
request names another one. ``process_per_model=True`` starts one server per model
instead (more memory, no swapping), each on its own port.

Example:
    >>> from langchain_automix.local import LocalModelServer
    >>> with LocalModelServer() as server:  # doctest: +SKIP
    ...     small = server.chat_model("qwen2.5-coder-0.5b", temperature=0)
    ...     print(small.invoke("Say hi").content)
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, Literal, get_args

from langchain_automix.local.build import describe_crash
from langchain_automix.local.llama_server import (
    DEFAULT_PARALLEL,
    LLAMA_SERVER_ENV,
    find_llama_server,
    free_port,
    llama_server_argv,
)
from langchain_automix.local.models import DEFAULT_PAIR, MODELS, assemble

if TYPE_CHECKING:
    from langchain_openai import ChatOpenAI, OpenAI

__all__ = ["BACKENDS", "Backend", "LocalModelServer", "LocalServerError", "local_chat_models"]

Backend = Literal["auto", "llama-server", "llama-cpp-python"]
BACKENDS: tuple[str, ...] = get_args(Backend)
"""Accepted ``backend`` values; ``auto`` is ``llama-server`` when its binary is found."""

_LIVE: weakref.WeakSet[LocalModelServer] = weakref.WeakSet()
_HANDLERS_INSTALLED = False
_DUMMY_KEY = "sk-local-no-key"


class LocalServerError(RuntimeError):
    """The local llama.cpp server could not start or stopped unexpectedly."""


def _set_pdeathsig() -> None:  # pragma: no cover - runs in the child
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: nothing to save, die at once
    except OSError:
        pass


def _stop_all() -> None:
    for server in list(_LIVE):
        server.stop()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _stop_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_handlers() -> None:
    global _HANDLERS_INSTALLED
    if _HANDLERS_INSTALLED:
        return
    atexit.register(_stop_all)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, _on_signal)
    _HANDLERS_INSTALLED = True


_BIND_RETRIES = 3
"""How often a server whose port was taken before it bound is started on another."""
_BIND_ERRORS = (
    "couldn't bind http server socket",  # llama-server
    "error while attempting to bind",  # uvicorn (llama-cpp-python's server)
    "address already in use",
)


@dataclass
class _Proc:
    models: tuple[str, ...]
    port: int
    config_path: Path
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    log_file: Any = field(default=None, repr=False)
    argv: list[str] | None = None
    health_path: str = "/v1/models"


class LocalModelServer:
    """Context manager that serves embedded GGUF models over an OpenAI-compatible API.

    Args:
        models: embedded model ids (keys of
            :data:`~langchain_automix.local.models.MODELS`), cheapest first.
        n_ctx: context window in tokens.
        n_threads: CPU threads for generation and prompt processing.
        logits_all: llama-cpp-python backend only: keep logits for every token;
            needed there for ``logprobs`` (the answer signals and the logprob
            verifier) but costs memory (``n_ctx * vocab`` floats) and makes every
            prompt several times slower. True, False, or the model ids that need it.
            ``llama-server`` returns logprobs without it.
        host: loopback address to bind.
        startup_timeout: seconds to wait for the server to answer.
        cache_dir: where assembled models live (see
            :func:`~langchain_automix.local.models.cache_dir`).
        process_per_model: llama-cpp-python backend: one server process per model
            instead of one shared process that swaps models (``llama-server`` always
            runs one process per model).
        work_dir: where to write the config and the log; a temporary directory
            (removed on stop) by default.
        backend: ``"auto"`` (``llama-server`` when its binary is found, else
            llama-cpp-python), ``"llama-server"`` or ``"llama-cpp-python"``.
        parallel: ``llama-server`` slots per model: requests decoded side by side,
            and the largest ``n`` one request may ask (the verifier's k).
        binary: the ``llama-server`` executable to run; default: the one
            :func:`~langchain_automix.local.llama_server.find_llama_server` finds.
        build_missing: when no ``llama-server`` is found, compile one for this CPU (what
            ``automix setup`` does: about 4 minutes on 2 cores, once, progress on stderr)
            instead of falling back to llama-cpp-python's server. The CLI sets it.

    Every ``llama-server`` start ends with a one-token generation, so a binary that this
    CPU cannot run fails in :meth:`start` with an error that names the signal, the likely
    cause and ``automix setup --rebuild``, not in the middle of a run.

    Example:
        >>> server = LocalModelServer(["qwen2.5-coder-0.5b"], n_ctx=2048)
        >>> server.running
        False
    """

    def __init__(
        self,
        models: Sequence[str] = DEFAULT_PAIR,
        *,
        n_ctx: int = 4096,
        n_threads: int = 2,
        logits_all: bool | Sequence[str] = False,
        host: str = "127.0.0.1",
        startup_timeout: float = 300.0,
        cache_dir: str | os.PathLike[str] | None = None,
        process_per_model: bool = False,
        work_dir: str | os.PathLike[str] | None = None,
        backend: Backend = "auto",
        parallel: int = DEFAULT_PARALLEL,
        binary: str | os.PathLike[str] | None = None,
        build_missing: bool = False,
    ) -> None:
        unknown = [m for m in models if m not in MODELS]
        if unknown or not models:
            raise ValueError(
                f"Unknown embedded model(s) {unknown}; known: {', '.join(sorted(MODELS))}"
            )
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
        if not isinstance(parallel, int) or parallel < 1:
            raise ValueError(f"parallel must be an integer >= 1, got {parallel!r}")
        if binary is not None and backend == "llama-cpp-python":
            raise ValueError("binary names a llama-server; it cannot go with llama-cpp-python")
        self._binary_arg = None if binary is None else str(binary)
        self.build_missing = build_missing
        self.backend_choice: Backend = backend
        self.parallel = parallel
        self._backend: str | None = None
        self._binary: str | None = None
        self.models = tuple(models)
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.logits_all = logits_all
        self.host = host
        self.startup_timeout = startup_timeout
        self.cache_dir = cache_dir
        self.process_per_model = process_per_model
        self._work_dir_arg = work_dir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._procs: list[_Proc] = []
        self._lock = threading.RLock()  # re-entrant: the SIGTERM handler may run inside start()

    # -- lifecycle -----------------------------------------------------------------
    @property
    def backend(self) -> str:
        """The backend in use: ``llama-server`` or ``llama-cpp-python``.

        Resolved (and, for ``auto``, looked up) on first access or at ``start()``.

        Raises:
            LocalServerError: ``backend="llama-server"`` and no binary was found.
        """
        if self._backend is None:
            binary = (
                None
                if self.backend_choice == "llama-cpp-python"
                else self._binary_arg or find_llama_server()
            )
            if binary is None and self.build_missing and self.backend_choice != "llama-cpp-python":
                binary = self._build()
            if self.backend_choice == "llama-server" and binary is None:
                raise LocalServerError(
                    "backend='llama-server' but no llama-server binary was found. Fix: "
                    "run `automix setup` (builds it portably, once), or set "
                    f"${LLAMA_SERVER_ENV} to a llama-server binary, or put one on PATH"
                )
            self._binary = binary
            self._backend = "llama-server" if binary else "llama-cpp-python"
        return self._backend

    def _build(self) -> str:
        from langchain_automix.local.build import BuildError, build_llama_server

        print("no llama-server found; building one for this CPU (once)", file=sys.stderr)
        try:
            return str(build_llama_server(stream=sys.stderr).binary)
        except BuildError as exc:
            raise LocalServerError(str(exc)) from exc

    @property
    def supports_n(self) -> bool:
        """Whether a request's ``n`` > 1 is honoured (up to ``parallel``)."""
        return self.backend == "llama-server"

    @property
    def max_concurrency(self) -> int | None:
        """Useful calls in flight per model: ``parallel`` slots, or 1 for llama-cpp-python."""
        return self.parallel if self.backend == "llama-server" else 1

    def returns_logprobs(self, model_id: str) -> bool:
        """Whether ``model_id``'s endpoint answers ``logprobs`` requests."""
        return self.backend == "llama-server" or self._wants_logits(model_id)

    @property
    def running(self) -> bool:
        """Whether every server process is alive."""
        return bool(self._procs) and all(
            p.popen is not None and p.popen.poll() is None for p in self._procs
        )

    @property
    def pids(self) -> list[int]:
        """Process ids of the server processes (also their process-group ids)."""
        return [p.popen.pid for p in self._procs if p.popen is not None]

    def base_url(self, model_id: str | None = None) -> str:
        """The ``/v1`` base URL that serves ``model_id`` (the first model by default)."""
        model_id = model_id or self.models[0]
        for proc in self._procs:
            if model_id in proc.models:
                return f"http://{self.host}:{proc.port}/v1"
        raise KeyError(f"{model_id!r} is not served here (serving {self.models})")

    def start(self) -> LocalModelServer:
        """Assemble the models, start the server(s) and wait until they answer.

        Raises:
            MissingModelError: a model package is missing (see ``assemble``).
            CorruptModelError: a model file is corrupted (see ``assemble``).
            LocalServerError: llama.cpp is not installed, or the server died or did
                not answer in time (the message holds the end of its log).
        """
        with self._lock:
            if self._procs:
                return self
            native = self.backend == "llama-server"
            if not native:
                try:
                    import llama_cpp.server  # noqa: F401
                except ImportError as exc:
                    raise LocalServerError(
                        f"llama-cpp-python's server is not installed ({exc}). Fix: "
                        "pip install 'langchain-automix[llama-cpp-python]' (compiles llama.cpp; "
                        "the default backend, llama-server, needs only `automix setup`)"
                    ) from exc
            paths = {m: assemble(m, self.cache_dir) for m in self.models}
            if self._work_dir_arg is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="automix-llama-")
                work = Path(self._tmp.name)
            else:
                work = Path(self._work_dir_arg)
                work.mkdir(parents=True, exist_ok=True)
            per_model = self.process_per_model or native
            groups = [(m,) for m in self.models] if per_model else [self.models]
            _install_handlers()
            _LIVE.add(self)
            try:
                for i, group in enumerate(groups):
                    proc = _Proc(
                        models=group,
                        port=free_port(self.host),
                        config_path=work / f"llama-server-{i}.json",
                        log_path=work / f"llama-server-{i}.log",
                    )
                    self._launch(proc, paths)
                    self._procs.append(proc)
                deadline = time.monotonic() + self.startup_timeout
                for proc in self._procs:
                    self._wait_started(proc, paths, deadline)
            except BaseException:
                self._stop_locked()
                raise
            return self

    def stop(self) -> None:
        """Stop every server process (SIGTERM to its group, then SIGKILL). Idempotent."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        for proc in self._procs:
            popen = proc.popen
            if popen is None:
                continue
            if popen.poll() is None:
                try:
                    os.killpg(popen.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    popen.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(popen.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    popen.wait(timeout=10)
            if proc.log_file is not None:
                proc.log_file.close()
        self._procs = []
        _LIVE.discard(self)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalModelServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> LocalModelServer:
        import asyncio

        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- clients -------------------------------------------------------------------
    def chat_model(self, model_id: str, **kwargs: Any) -> ChatOpenAI:
        """A ``ChatOpenAI`` talking to ``model_id`` on this server.

        Args:
            model_id: one of the served models.
            **kwargs: passed to ``ChatOpenAI`` (``temperature``, ``max_tokens``...).

        Example:
            >>> with LocalModelServer(["qwen2.5-coder-0.5b"]) as s:  # doctest: +SKIP
            ...     s.chat_model("qwen2.5-coder-0.5b", max_tokens=32).invoke("2+2?")
        """
        from langchain_openai import ChatOpenAI

        if not self._procs:
            raise LocalServerError("The server is not running; use it as a context manager.")
        # stream_usage: a streamed answer reports its tokens too (llama-server honours
        # stream_options.include_usage; ChatOpenAI asks only OpenAI's own endpoint for it)
        params: dict[str, Any] = {"timeout": 600.0, "max_retries": 1, "stream_usage": True}
        params.update(kwargs)
        return ChatOpenAI(
            model=model_id,
            base_url=self.base_url(model_id),
            api_key=_DUMMY_KEY,
            **params,
        )

    def completion_model(self, model_id: str, **kwargs: Any) -> OpenAI:
        """A text-completion ``OpenAI`` model on ``model_id``'s ``/v1/completions`` route.

        The verifier in completion mode (the paper's raw few-shot text; see
        :func:`~langchain_automix.runtime.verification.verify_mode`).

        Args:
            model_id: one of the served models.
            **kwargs: passed to ``OpenAI`` (``temperature``, ``max_tokens``...).
        """
        from langchain_openai import OpenAI

        if not self._procs:
            raise LocalServerError("The server is not running; use it as a context manager.")
        params: dict[str, Any] = {"timeout": 600.0, "max_retries": 1}
        params.update(kwargs)
        return OpenAI(
            model=model_id,
            base_url=self.base_url(model_id),
            api_key=_DUMMY_KEY,
            **params,
        )

    def chat_models(self, **kwargs: Any) -> list[ChatOpenAI]:
        """One ``ChatOpenAI`` per served model, cheapest first."""
        return [self.chat_model(m, **kwargs) for m in self.models]

    # -- internals -----------------------------------------------------------------
    def _launch(self, proc: _Proc, paths: dict[str, Path]) -> None:
        if self.backend == "llama-server":
            self._native_command(proc, paths)
        else:
            self._write_config(proc, paths)
        self._spawn(proc)

    def _wait_started(self, proc: _Proc, paths: dict[str, Path], deadline: float) -> None:
        """Wait until ``proc`` answers; on a port taken meanwhile, start it on another.

        ``free_port`` finds a port that is free when asked; another process (or a
        second server of ours starting at the same moment) can bind it before the
        server does. The server then exits with a bind error: it is started again on
        a new port, up to ``_BIND_RETRIES`` times.
        """
        for attempt in range(_BIND_RETRIES + 1):
            try:
                self._wait_healthy(proc, deadline)
                return
            except LocalServerError:
                if attempt == _BIND_RETRIES or not self._lost_port(proc):
                    raise
            if proc.log_file is not None:
                proc.log_file.close()
            proc.port = free_port(self.host)
            self._launch(proc, paths)

    def _lost_port(self, proc: _Proc) -> bool:
        """Whether ``proc`` exited because its port was taken (its log says so)."""
        if proc.popen is None or proc.popen.poll() is None:
            return False
        try:
            log = proc.log_path.read_text(errors="replace").lower()
        except OSError:
            return False
        return any(marker in log for marker in _BIND_ERRORS)

    def _native_command(self, proc: _Proc, paths: dict[str, Path]) -> None:
        (model_id,) = proc.models
        assert self._binary is not None  # noqa: S101 - set by the backend property
        proc.argv = llama_server_argv(
            self._binary,
            paths[model_id],
            alias=model_id,
            port=proc.port,
            host=self.host,
            n_ctx=self.n_ctx,
            n_threads=self.n_threads,
            parallel=self.parallel,
        )
        proc.health_path = "/health"

    def _write_config(self, proc: _Proc, paths: dict[str, Path]) -> None:
        config = {
            "host": self.host,
            "port": proc.port,
            "interrupt_requests": False,
            "models": [
                {
                    "model": str(paths[m]),
                    "model_alias": m,
                    "n_ctx": self.n_ctx,
                    "n_threads": self.n_threads,
                    "n_threads_batch": self.n_threads,
                    "n_batch": 512,
                    "n_gpu_layers": 0,
                    "logits_all": self._wants_logits(m),
                    "verbose": False,
                    **({"chat_format": MODELS[m].chat_format} if MODELS[m].chat_format else {}),
                }
                for m in proc.models
            ],
        }
        proc.config_path.write_text(json.dumps(config, indent=2))

    def _wants_logits(self, model_id: str) -> bool:
        if isinstance(self.logits_all, bool):
            return self.logits_all
        return model_id in self.logits_all

    def _spawn(self, proc: _Proc) -> None:
        proc.log_file = proc.log_path.open("wb")
        env = dict(os.environ)
        env.pop("CONFIG_FILE", None)
        env.pop("HOST", None)
        env.pop("PORT", None)
        preexec = _set_pdeathsig if sys.platform.startswith("linux") else None
        if threading.current_thread() is not threading.main_thread():
            preexec = None  # PDEATHSIG fires when the spawning *thread* exits
        argv = proc.argv or [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--config_file",
            str(proc.config_path),
        ]
        proc.popen = subprocess.Popen(  # noqa: S603 - fixed argv: llama-server or our interpreter
            argv,
            stdin=subprocess.DEVNULL,
            stdout=proc.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            preexec_fn=preexec,
        )

    def _log_tail(self, proc: _Proc, n_lines: int = 30) -> str:
        try:
            lines = proc.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n_lines:])

    def _died(self, proc: _Proc, code: int, when: str) -> LocalServerError:
        program = f"{self.backend} for {', '.join(proc.models)}"
        head = describe_crash(program, code, when) or f"{program} exited with code {code} {when}"
        return LocalServerError(
            f"{head}. End of its log ({proc.log_path}):\n" + self._log_tail(proc)
        )

    def _wait_healthy(self, proc: _Proc, deadline: float) -> None:
        url = f"http://{self.host}:{proc.port}{proc.health_path}"
        assert proc.popen is not None  # noqa: S101
        while True:
            code = proc.popen.poll()
            if code is not None:
                raise self._died(proc, code, "before it was ready")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise LocalServerError(
                    f"{self.backend} for {', '.join(proc.models)} did not answer on {url} "
                    f"within {self.startup_timeout:.0f}s. End of its log:\n" + self._log_tail(proc)
                )
            time.sleep(0.25)
        if proc.argv is not None:  # llama-server: one token, so a CPU fault shows here
            self._smoke(proc)

    def _smoke(self, proc: _Proc) -> None:
        """Generate one token: a binary built for another CPU dies here, not mid-run."""
        assert proc.popen is not None  # noqa: S101
        body = json.dumps({"prompt": "Hi", "n_predict": 1, "temperature": 0}).encode()
        req = urllib.request.Request(
            f"http://{self.host}:{proc.port}/completion",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - loopback
                resp.read()
        except (urllib.error.URLError, OSError) as exc:
            try:
                code = proc.popen.wait(timeout=2)
            except subprocess.TimeoutExpired:
                raise LocalServerError(
                    f"{self.backend} for {', '.join(proc.models)} started but failed to "
                    f"generate one token ({exc}). End of its log:\n" + self._log_tail(proc)
                ) from exc
            raise self._died(proc, code, "while generating its first token") from exc


@contextlib.contextmanager
def local_chat_models(
    models: Sequence[str] = DEFAULT_PAIR,
    *,
    temperature: float = 0.0,
    max_tokens: int | None = 64,
    **server_kwargs: Any,
) -> Iterator[list[ChatOpenAI]]:
    """Start the embedded models and yield one ``ChatOpenAI`` per model, cheapest first.

    The server stops when the ``with`` block ends (also on errors and Ctrl-C).

    Args:
        models: embedded model ids, cheapest first (default: the Qwen pair).
        temperature: default temperature of the chat models (the verifier
            overrides it per call).
        max_tokens: default answer length cap.
        **server_kwargs: passed to :class:`LocalModelServer`.

    Example:
        >>> from langchain_automix import AutoMixRunnable
        >>> with local_chat_models() as (small, large):  # doctest: +SKIP
        ...     automix = AutoMixRunnable(models=[small, large])
        ...     print(automix.invoke({"question": "...", "context": "..."}).content)
    """
    with LocalModelServer(models, **server_kwargs) as server:
        yield server.chat_models(temperature=temperature, max_tokens=max_tokens)
