"""Tiers given as OpenAI-compatible endpoints: ``MODEL@BASE_URL[:API_KEY_ENV_VAR]``."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["TierSpec", "build_tier_models", "parse_tier", "parse_tiers"]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class TierSpec:
    """One tier: a model name on an OpenAI-compatible server.

    Attributes:
        model: the model name sent to the server.
        base_url: the server's base URL (``.../v1``).
        api_key_env: environment variable holding the API key (None: no key).
    """

    model: str
    base_url: str
    api_key_env: str | None = None

    def chat_model(self, **kwargs: Any) -> Any:
        """A ``ChatOpenAI`` for this tier (the key is read from the environment now).

        Raises:
            ValueError: when ``api_key_env`` is named but unset.
        """
        from langchain_openai import ChatOpenAI

        key = "unused"  # local servers ignore it, but the client requires one
        if self.api_key_env:
            key = os.environ.get(self.api_key_env, "")
            if not key:
                raise ValueError(
                    f"tier {self.model!r}: environment variable {self.api_key_env} is not set"
                )
        return ChatOpenAI(model=self.model, base_url=self.base_url, api_key=key, **kwargs)


def parse_tier(text: str) -> TierSpec:
    """Parse ``MODEL@BASE_URL[:API_KEY_ENV_VAR]``.

    The part after the last ``:`` is taken as the key's variable only when it is a
    valid variable name, so ports (``:8080``) and paths stay in the URL.

    Example:
        >>> spec = parse_tier("gpt-4o-mini@https://api.openai.com/v1:OPENAI_API_KEY")
        >>> spec.base_url, spec.api_key_env
        ('https://api.openai.com/v1', 'OPENAI_API_KEY')
        >>> parse_tier("qwen@http://127.0.0.1:8080/v1")
        TierSpec(model='qwen', base_url='http://127.0.0.1:8080/v1', api_key_env=None)
    """
    model, sep, rest = text.strip().partition("@")
    if not sep or not model or not rest:
        raise ValueError(f"tier must look like MODEL@BASE_URL[:API_KEY_ENV_VAR], got {text!r}")
    base_url, env = rest, None
    head, colon, tail = rest.rpartition(":")
    if colon and _ENV_NAME.fullmatch(tail) and "://" in head:
        base_url, env = head, tail
    if not re.match(r"https?://", base_url):
        raise ValueError(
            f"tier {model!r}: base URL must start with http:// or https://, got {base_url!r}"
        )
    return TierSpec(model=model, base_url=base_url, api_key_env=env)


def parse_tiers(text: str) -> list[TierSpec]:
    """Parse a comma-separated list of tiers, cheapest first (as in ``$AUTOMIX_TIERS``).

    Example:
        >>> [t.model for t in parse_tiers("a@http://h:1/v1, b@http://h:2/v1")]
        ['a', 'b']
    """
    return [parse_tier(part) for part in text.split(",") if part.strip()]


def build_tier_models(specs: list[TierSpec], **kwargs: Any) -> list[Any]:
    """One ``ChatOpenAI`` per tier, cheapest first."""
    return [spec.chat_model(**kwargs) for spec in specs]
