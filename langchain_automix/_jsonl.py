"""Reading JSON Lines files, with one error form for a bad line (private).

Every JSONL reader of the package goes through :func:`json_lines`, so a bad line is
always reported as ``<path>:<line>: <problem>`` (line numbers count every line of the
file, blank ones included), raised as whatever exception type the caller's own
callers catch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["json_lines"]


def json_lines(
    path: str | os.PathLike[str],
    *,
    error: type[Exception] = ValueError,
    objects: bool = False,
    on_bad: Callable[[str], Any] | None = None,
) -> Iterator[tuple[int, Any]]:
    r"""``(line number, parsed value)`` of every non-blank line of a JSON Lines file.

    Blank (or whitespace-only) lines are skipped but counted, so the numbers are the
    file's own 1-based line numbers.

    Args:
        path: the file to read (UTF-8).
        error: exception type raised for a bad line, with the message
            ``"<path>:<line>: invalid JSON (<reason>)"``.
        objects: also refuse a line whose value is not a JSON object, with
            ``"<path>:<line>: expected a JSON object, got <type>"``.
        on_bad: instead of raising, yield ``(line number, on_bad(problem))`` for a bad
            line and go on; ``problem`` is the message without ``<path>:<line>: ``.

    Raises:
        error: on the first bad line (unless ``on_bad`` is given).
        FileNotFoundError: if the file does not exist.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> path = Path(tempfile.mkdtemp()) / "rows.jsonl"
        >>> _ = path.write_text('{"id": 1}\n\n[2]\n', encoding="utf-8")
        >>> list(json_lines(path))
        [(1, {'id': 1}), (3, [2])]
        >>> list(json_lines(path, objects=True))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: ...rows.jsonl:3: expected a JSON object, got list
        >>> _ = path.write_text('{"id": 1}\n\n{"id": \n', encoding="utf-8")
        >>> list(json_lines(path, error=RuntimeError))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        RuntimeError: ...rows.jsonl:3: invalid JSON (Expecting value)
    """
    where = os.fspath(path)
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                problem = f"invalid JSON ({exc.msg})"
            else:
                if not objects or isinstance(value, dict):
                    yield lineno, value
                    continue
                problem = f"expected a JSON object, got {type(value).__name__}"
            if on_bad is None:
                raise error(f"{where}:{lineno}: {problem}") from None
            yield lineno, on_bad(problem)
