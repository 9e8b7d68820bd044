r"""``automix setup``: build llama.cpp's ``llama-server`` portably, check it, smoke-test it.

The embedded local models run on ``llama-server``. This compiles it once (about 5
minutes on 2 cores) for a portable CPU level (never ``-march=native``, never AMX: see
``langchain_automix/local/build.py``), checks the machine code for instructions the level
does not allow, and generates one token with the small embedded model. ``automix demo``
and ``--local`` run it for you when no ``llama-server`` is found.

Examples::

    automix setup                        # build for this machine's portable level, once
    automix setup --cpu x86-64-v4        # AVX-512 build (only for machines that have it)
    automix setup --rebuild              # build again (e.g. after a crash report)
    automix setup --check path/to/llama-server   # is this build portable? (exit 1 if not)
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``setup`` sub-command."""
    from langchain_automix.local.build import CPU_LEVELS

    p = subparsers.add_parser(
        "setup",
        help="build llama.cpp's llama-server portably for the embedded local models",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--cpu",
        choices=tuple(CPU_LEVELS),
        default=None,
        help="CPU level to build for (default: x86-64-v3 on x86-64, armv8 on arm64)",
    )
    p.add_argument("--rebuild", action="store_true", help="build even if already built")
    p.add_argument("--source", default=None, help="a llama.cpp source folder (default: download)")
    p.add_argument("--jobs", type=int, default=None, help="parallel compile jobs (default: cores)")
    p.add_argument("--no-smoke", action="store_true", help="skip the one-token smoke test")
    p.add_argument(
        "--check",
        metavar="PATH",
        default=None,
        help="only check a built binary, library or folder for AMX / above-level "
        "instructions; exit 1 when it is not portable",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build (or check) and smoke-test ``llama-server``."""
    from langchain_automix.local.build import (
        BuildError,
        build_llama_server,
        check_portable,
        default_cpu_level,
    )
    from langchain_automix.local.server import LocalServerError

    try:
        level = args.cpu or default_cpu_level()
        if args.check is not None:
            problems = check_portable(args.check, level)
            for problem in problems:
                print(f"not portable: {problem}")
            if not problems:
                print(f"{args.check}: portable for {level} (no AMX, nothing above {level})")
            return 1 if problems else 0
        built = build_llama_server(
            level, source=args.source, jobs=args.jobs, force=args.rebuild, stream=sys.stderr
        )
        print(f"llama-server: {built.binary} ({level})")
        if not args.no_smoke:
            seconds = _smoke_test(built.binary)
            print(f"smoke test: started and generated one token in {seconds:.1f} s")
    except (BuildError, LocalServerError, ValueError, OSError) as exc:
        print(f"automix: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _smoke_test(binary: Any) -> float:
    """Start ``binary`` on the small embedded model (the start ends with one token)."""
    import time

    from langchain_automix.local.models import DEFAULT_PAIR
    from langchain_automix.local.server import LocalModelServer

    t0 = time.monotonic()
    server = LocalModelServer(
        [DEFAULT_PAIR[0]], binary=binary, backend="llama-server", n_ctx=512, parallel=1
    )
    with server:
        pass
    return time.monotonic() - t0
