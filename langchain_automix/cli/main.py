"""Entry point of the ``automix`` command: one sub-command per module in this package.

Each sub-command module defines ``register(subparsers)`` that adds its parser and
sets ``func`` (called with the parsed namespace, returns an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Sub-command modules, in the order ``automix --help`` lists them.
COMMANDS: tuple[str, ...] = (
    "demo",
    "setup",
    "fit",
    "evaluate",
    "serve",
    "collect",
    "import_paper",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the ``automix`` argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="automix",
        description="AutoMix: answer with a small model, self-verify, escalate when needed.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"langchain_automix.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``automix`` command line and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
