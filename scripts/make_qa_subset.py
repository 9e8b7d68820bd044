"""Build the shipped QA subsets in langchain_automix/data from ../shared/data/qa (fixed seeds).

Usage: python scripts/make_qa_subset.py /work/shared/data/qa
qa_mix_500.jsonl: 300 SQuAD 2.0 dev and 200 BoolQ dev questions whose context has at
most 150 words (short prompts for CPU inference), with random.Random(20240101), then
shuffled together so that any prefix mixes both sets.
squad11_200.jsonl: 200 SQuAD 1.1 dev questions (context at most 150 words), with
random.Random(20261128): a second, answerable-only set for held-out replays.
squad11_extra_200.jsonl: 200 more SQuAD 1.1 dev questions (context at most 150 words),
none of them in squad11_200.jsonl, with random.Random(20261129): more held-out rows for
the same replay (its ΔIBC over 100 test rows was mostly noise).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

SEED = 20240101
SQUAD11_SEED = 20261128
SQUAD11_EXTRA_SEED = 20261129
MAX_WORDS = 150
KEEP = ("id", "dataset", "title", "context", "question", "answers", "is_impossible", "source")


def pick(
    path: Path, n: int, rng: random.Random, exclude: frozenset[str] = frozenset()
) -> list[dict]:
    """Sample ``n`` rows with short contexts from one QA file (ids in ``exclude`` left out)."""
    rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    short = [r for r in rows if len(r["context"].split()) <= MAX_WORDS and r["id"] not in exclude]
    chosen = rng.sample(short, n)
    return [{k: r[k] for k in KEEP if k in r} for r in chosen]


def write(out: Path, rows: list[dict]) -> None:
    """Write ``rows`` as JSON Lines to ``out`` and say so."""
    with out.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {out}")


def main() -> None:
    """Write the shuffled subset."""
    src = Path(sys.argv[1])
    out = Path(__file__).resolve().parents[1] / "langchain_automix" / "data" / "qa_mix_500.jsonl"
    rng = random.Random(SEED)  # noqa: S311 - reproducible sampling, not security
    rows = pick(src / "squad_v2_dev.jsonl", 300, rng) + pick(src / "boolq_dev.jsonl", 200, rng)
    rng.shuffle(rows)
    write(out, rows)
    rows = pick(src / "squad_v1.1_dev.jsonl", 200, random.Random(SQUAD11_SEED))  # noqa: S311
    out = out.with_name("squad11_200.jsonl")
    write(out, rows)
    taken = frozenset(r["id"] for r in rows)
    rng = random.Random(SQUAD11_EXTRA_SEED)  # noqa: S311
    rows = pick(src / "squad_v1.1_dev.jsonl", 200, rng, exclude=taken)
    out = out.with_name("squad11_extra_200.jsonl")
    write(out, rows)


if __name__ == "__main__":
    main()
