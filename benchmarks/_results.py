"""Shared by the benchmarks: print a result table and write it with its records."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def write_results(txt: str | Path, text: str, records: Iterable[dict[str, Any]]) -> None:
    """Print ``text``; write it to ``txt`` and the records, one JSON object a line, beside
    it (the same name with ``.jsonl``)."""
    print(text)
    path = Path(txt).with_suffix(".txt")
    path.write_text(text + "\n")
    path.with_suffix(".jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
