"""Helpers shared by the ``automix`` sub-commands."""

from __future__ import annotations

import argparse
import sys

__all__ = ["CliError", "fail", "parse_costs"]


class CliError(Exception):
    """A user error: printed as ``automix: error: ...`` with exit code 2."""


def parse_costs(text: str) -> tuple[float, ...]:
    """Parse ``"1,50"`` into unit costs."""
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"costs must be comma-separated numbers like 1,50, got {text!r}"
        ) from None
    if len(values) < 2:
        raise argparse.ArgumentTypeError(f"need a cost per tier (at least 2), got {text!r}")
    return values


def fail(message: str) -> int:
    """Print an error and return exit code 2."""
    print(f"automix: error: {message}", file=sys.stderr)
    return 2
