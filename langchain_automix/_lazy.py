"""The one lazy-export helper of the package's ``__init__`` modules.

Like langchain-core's ``_import_utils.import_attr``: a package lists where each public
name lives, and the module is imported on first use of the name, so importing a package
does not import every module below it (nor their dependencies: langgraph, matplotlib).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``package.where[name]`` on first use of ``name``.

    The value is then cached in the package, so later lookups cost nothing.

    Args:
        package: the package's ``__name__``.
        where: each exported name and the module (relative to ``package``) defining it.

    Example:
        >>> get = lazy_getattr("langchain_automix.calibration", {"CostSpec": "metrics"})
        >>> get("CostSpec").__name__
        'CostSpec'
    """

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
