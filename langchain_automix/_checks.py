"""Strict type checks for values read from JSON policy files (private).

``json`` gives strings, numbers, booleans, ``None``, lists and dicts; Python would
happily turn ``"false"`` into ``True`` or ``"0.5"`` into ``0.5``. These helpers accept
exactly the JSON type a field needs and raise ``ValueError`` naming the field
otherwise (the policy loader turns it into a ``PolicyError`` naming the file).

Example:
    >>> as_bool(True, "inclusive")
    True
    >>> as_bool("false", "inclusive")
    Traceback (most recent call last):
    ...
    ValueError: inclusive must be true or false, got 'false'
    >>> as_float(float("nan"), "threshold")
    Traceback (most recent call last):
    ...
    ValueError: threshold must be a finite number, got nan
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "as_bool",
    "as_bool_list",
    "as_float",
    "as_float_list",
    "as_int",
    "as_mapping",
    "as_str",
    "as_str_list",
    "checked",
    "only_keys",
    "optional",
    "require",
]


def as_bool(value: Any, field: str) -> bool:
    """``value`` if it is a boolean (not a string, not a number)."""
    if not isinstance(value, bool):
        raise ValueError(f"{field} must be true or false, got {value!r}")
    return value


def as_float(value: Any, field: str) -> float:
    """``value`` as a float if it is a finite number (booleans and strings are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{field} must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{field} must be a finite number, got {value!r}")
    return x


def as_int(value: Any, field: str) -> int:
    """``value`` if it is an integer (``8``, not ``8.0``, ``"8"`` or ``true``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field} must be an integer, got {value!r}")
    return value


def as_str(value: Any, field: str) -> str:
    """``value`` if it is a string."""
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string, got {value!r}")
    return value


def as_mapping(value: Any, field: str) -> Mapping[str, Any]:
    """``value`` if it is a JSON object."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{field} must be an object, got {type(value).__name__}")
    return value


def _as_list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{field} must be a list, got {type(value).__name__}")
    return list(value)


def as_float_list(value: Any, field: str) -> list[float]:
    """A list of finite numbers."""
    return [as_float(v, f"{field}[{i}]") for i, v in enumerate(_as_list(value, field))]


def as_bool_list(value: Any, field: str) -> list[bool]:
    """A list of booleans (``["false"]`` is refused: a non-empty string is truthy)."""
    return [as_bool(v, f"{field}[{i}]") for i, v in enumerate(_as_list(value, field))]


def as_str_list(value: Any, field: str) -> list[str]:
    """A list of strings."""
    return [as_str(v, f"{field}[{i}]") for i, v in enumerate(_as_list(value, field))]


def require(params: Mapping[str, Any], key: str, where: str = "") -> Any:
    """``params[key]``, or a ``ValueError`` naming the missing field."""
    if key not in params:
        raise ValueError(f"missing field {where + key!r}")
    return params[key]


def only_keys(params: Mapping[str, Any], allowed: tuple[str, ...], where: str = "") -> None:
    """Refuse fields this version does not know (a typo would silently take the default)."""
    extra = sorted(str(k) for k in params if k not in allowed)
    if extra:
        known = [where + k for k in allowed]
        raise ValueError(f"unknown field(s) {[where + k for k in extra]}; expected {known}")


Check = Callable[[Any, str], Any]


def optional(check: Check) -> Check:
    """``check`` that also lets ``None`` through."""

    def inner(value: Any, field: str) -> Any:
        return None if value is None else check(value, field)

    return inner


def checked(
    params: Mapping[str, Any], spec: Mapping[str, Check], where: str = ""
) -> dict[str, Any]:
    """The fields of ``params``, each passed through its check in ``spec``.

    Unknown fields are refused; absent ones are left out (they take the defaults).

    Example:
        >>> checked({"t": 0.5}, {"t": as_float, "inclusive": as_bool})
        {'t': 0.5}
    """
    only_keys(params, tuple(spec), where)
    return {k: spec[k](v, where + k) for k, v in params.items()}
