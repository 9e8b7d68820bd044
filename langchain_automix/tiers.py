"""Tier specifications for any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp).

A tier is a model name, an optional base URL, and the *name* of the environment
variable that holds its API key. Keys are read from the environment when the chat
model is built and are never printed, logged or written to disk.

On the command line (``automix collect --tier ...``, cheapest tier first)::

    --tier small=gpt-4o-mini,key_env=OPENAI_API_KEY
    --tier large=meta-llama/Llama-3.1-70B-Instruct@http://gpu-box:8000/v1,key_env=VLLM_KEY
    --tier local=qwen2.5:0.5b@http://127.0.0.1:11434/v1

That is ``[NAME=]MODEL[@BASE_URL][,key=value...]`` where the keys are ``key_env``,
``temperature``, ``max_tokens``, ``timeout`` (seconds per HTTP request, default 60)
and ``max_retries`` (retries with exponential backoff on connection errors, 408,
429 and 5xx answers, done by the OpenAI client itself; default 2). Or a config file
(JSON, or TOML on Python 3.11+)::

    # tiers.toml
    [[tiers]]
    name = "small"
    model = "gpt-4o-mini"
    api_key_env = "OPENAI_API_KEY"

    [[tiers]]
    name = "large"
    model = "gpt-4o"
    base_url = "https://api.openai.com/v1"
    api_key_env = "OPENAI_API_KEY"

A literal ``api_key`` in a config file is refused: put the key in an environment
variable and name the variable.

Example:
    >>> spec = parse_tier("small=gpt-4o-mini@http://127.0.0.1:8000/v1,key_env=MY_KEY")
    >>> spec.name, spec.model, spec.base_url, spec.api_key_env
    ('small', 'gpt-4o-mini', 'http://127.0.0.1:8000/v1', 'MY_KEY')
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_openai import ChatOpenAI, OpenAI

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_REQUEST_TIMEOUT",
    "TierConfigError",
    "TierSpec",
    "build_tier_models",
    "load_tier_config",
    "parse_tier",
    "parse_tiers",
]

DEFAULT_REQUEST_TIMEOUT = 60.0
"""Seconds one request to a tier's endpoint may take (the OpenAI client's ``timeout``)."""

DEFAULT_MAX_RETRIES = 2
"""Retries of a failed request, with the OpenAI client's exponential backoff."""

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NO_KEY = "not-needed"


class TierConfigError(ValueError):
    """A tier flag or config file is malformed."""


@dataclass(frozen=True, slots=True)
class TierSpec:
    """One tier: model name, endpoint and the environment variable holding its key.

    Attributes:
        name: label used in replay rows and traces.
        model: model name sent to the endpoint.
        base_url: OpenAI-compatible base URL (``None``: the OpenAI default).
        api_key_env: name of the environment variable that holds the key
            (``None``: no key, for local servers).
        temperature: answer temperature (default 0, greedy).
        max_tokens: answer length cap.
        timeout: seconds one HTTP request may take before the client gives up (and
            retries); a silent endpoint never hangs a query.
        max_retries: retries of a failed request (connection errors, 408, 429, 5xx),
            with the OpenAI client's exponential backoff.
    """

    name: str
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    temperature: float = 0.0
    max_tokens: int | None = None
    timeout: float = DEFAULT_REQUEST_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES

    def __post_init__(self) -> None:
        if not self.name or not self.model:
            raise TierConfigError("a tier needs a name and a model")
        if not self.timeout > 0 or self.timeout == float("inf"):
            raise TierConfigError(
                f"tier {self.name!r}: timeout must be a positive number of seconds, "
                f"got {self.timeout!r}"
            )
        if self.max_retries < 0:
            raise TierConfigError(
                f"tier {self.name!r}: max_retries must be >= 0, got {self.max_retries!r}"
            )
        if self.api_key_env is not None and not _ENV_NAME.match(self.api_key_env):
            raise TierConfigError(
                f"tier {self.name!r}: api_key_env must be the NAME of an environment "
                "variable (letters, digits, underscore), not a key"
            )

    def chat_model(self, **kwargs: Any) -> ChatOpenAI:
        """Build a ``ChatOpenAI`` for this tier, reading the key from the environment.

        Raises:
            TierConfigError: ``api_key_env`` is set but the variable is empty.
        """
        from langchain_openai import ChatOpenAI

        # a streamed answer reports its tokens too (stream_options.include_usage);
        # ChatOpenAI asks for it by default only from OpenAI's own endpoint
        return ChatOpenAI(**self._params(**{"stream_usage": True, **kwargs}))

    def completion_model(self, **kwargs: Any) -> OpenAI:
        """Build a text-completion ``OpenAI`` model for this tier (``/v1/completions``).

        The verifier in completion mode (see
        :func:`~langchain_automix.runtime.verification.verify_mode`).

        Raises:
            TierConfigError: ``api_key_env`` is set but the variable is empty.
        """
        from langchain_openai import OpenAI

        return OpenAI(**self._params(**kwargs))

    def _params(self, **kwargs: Any) -> dict[str, Any]:
        key = _NO_KEY
        if self.api_key_env is not None:
            key = os.environ.get(self.api_key_env, "")
            if not key:
                raise TierConfigError(
                    f"tier {self.name!r}: environment variable {self.api_key_env} is not set"
                )
        params: dict[str, Any] = {
            "model": self.model,
            "api_key": key,
            "temperature": self.temperature,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
        }
        if self.max_tokens is not None:
            params["max_tokens"] = self.max_tokens
        if self.base_url is not None:
            params["base_url"] = self.base_url
        params.update(kwargs)
        return params


def _from_mapping(data: Mapping[str, Any], where: str) -> TierSpec:
    if "api_key" in data:
        raise TierConfigError(
            f"{where}: literal 'api_key' is not accepted; put the key in an environment "
            "variable and give its name as 'api_key_env'"
        )
    allowed = {
        "name",
        "model",
        "base_url",
        "api_key_env",
        "temperature",
        "max_tokens",
        "timeout",
        "max_retries",
    }
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise TierConfigError(f"{where}: unknown field(s) {', '.join(unknown)}")
    try:
        return TierSpec(
            name=str(data["name"]),
            model=str(data["model"]),
            base_url=str(data["base_url"]) if data.get("base_url") else None,
            api_key_env=str(data["api_key_env"]) if data.get("api_key_env") else None,
            temperature=float(data.get("temperature", 0.0)),
            max_tokens=int(data["max_tokens"]) if data.get("max_tokens") is not None else None,
            timeout=float(data.get("timeout", DEFAULT_REQUEST_TIMEOUT)),
            max_retries=int(data.get("max_retries", DEFAULT_MAX_RETRIES)),
        )
    except KeyError as exc:
        raise TierConfigError(f"{where}: missing field {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        if isinstance(exc, TierConfigError):
            raise
        raise TierConfigError(f"{where}: {exc}") from None


def parse_tier(flag: str) -> TierSpec:
    """Parse one ``--tier [NAME=]MODEL[@BASE_URL][,key_env=VAR][,temperature=T][,max_tokens=N]``.

    Without ``NAME=`` the tier is named after its model.

    Example:
        >>> parse_tier("big=gpt-4o,key_env=OPENAI_API_KEY").api_key_env
        'OPENAI_API_KEY'
        >>> spec = parse_tier("qwen2.5:0.5b@http://127.0.0.1:11434/v1")
        >>> spec.name, spec.model, spec.base_url
        ('qwen2.5:0.5b', 'qwen2.5:0.5b', 'http://127.0.0.1:11434/v1')
    """
    head, *options = flag.split(",")
    at = head.find("@")
    eq = head.find("=")
    if eq >= 0 and (at < 0 or eq < at):
        name, target = head[:eq].strip(), head[eq + 1 :].strip()
    else:
        name, target = "", head.strip()
    model, has_url, base_url = target.partition("@")
    model = model.strip()
    if not model or (eq >= 0 and (at < 0 or eq < at) and not name):
        raise TierConfigError(f"--tier {flag!r}: expected [NAME=]MODEL[@BASE_URL][,key_env=VAR]")
    base_url = base_url.strip()
    if has_url and not base_url.startswith(("http://", "https://")):
        raise TierConfigError(f"--tier {flag!r}: the base URL must start with http:// or https://")
    data: dict[str, Any] = {"name": name or model, "model": model}
    if base_url:
        data["base_url"] = base_url
    aliases = {"key_env": "api_key_env", "api_key_env": "api_key_env"}
    for opt in options:
        key, sep, value = opt.partition("=")
        key = key.strip()
        if not sep:
            raise TierConfigError(f"--tier {flag!r}: option {opt!r} is not key=value")
        if key == "api_key":
            raise TierConfigError(
                "--tier: keys are not accepted on the command line; use key_env=VARIABLE"
            )
        data[aliases.get(key, key)] = value.strip()
    return _from_mapping(data, f"--tier {data['name']!r}")


def parse_tiers(text: str) -> list[TierSpec]:
    """Parse ``;``-separated tier flags, cheapest first (as in ``$AUTOMIX_TIERS``).

    Example:
        >>> [t.name for t in parse_tiers("small=a@http://h/v1; big=b,key_env=K")]
        ['small', 'big']
    """
    return [parse_tier(part) for part in text.split(";") if part.strip()]


def build_tier_models(specs: Sequence[TierSpec], **kwargs: Any) -> list[ChatOpenAI]:
    """One ``ChatOpenAI`` per tier, cheapest first (keys read from the environment now)."""
    return [spec.chat_model(**kwargs) for spec in specs]


def load_tier_config(path: str | os.PathLike[str]) -> list[TierSpec]:
    """Read tiers from a JSON or TOML file with a ``tiers`` list (cheapest first).

    Raises:
        TierConfigError: the file is malformed (the message names the file).
    """
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    try:
        if p.suffix == ".toml":
            try:
                import tomllib
            except ImportError as exc:  # pragma: no cover - Python 3.10
                raise TierConfigError(f"{p}: TOML needs Python 3.11+; use JSON") from exc
            data: Any = tomllib.loads(text)
        else:
            data = json.loads(text)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, TierConfigError):
            raise
        raise TierConfigError(f"{p}: cannot parse ({exc})") from None
    tiers = data.get("tiers") if isinstance(data, dict) else None
    if not isinstance(tiers, list) or not tiers:
        raise TierConfigError(f"{p}: expected a non-empty 'tiers' list")
    specs = []
    for i, entry in enumerate(tiers):
        if not isinstance(entry, dict):
            raise TierConfigError(f"{p}: tiers[{i}] must be a table/object")
        specs.append(_from_mapping(entry, f"{p}: tiers[{i}]"))
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise TierConfigError(f"{p}: tier names must be unique, got {names}")
    return specs
