"""Build the shipped retrieval corpus ``langchain_automix/data/squad11_paragraphs.jsonl``.

Usage: python scripts/make_corpus.py /work/shared/data/qa

Every paragraph of the 48 Wikipedia articles of the SQuAD 1.1 dev set (2,067
paragraphs), in article order and paragraph order within each article. The 400 shipped
SQuAD 1.1 questions (``squad11_200``, ``squad11_extra_200``) span all 48 articles, so
each question's gold paragraph is in the corpus together with every other paragraph of
its article (the hard distractors) and of 47 other articles. One line per paragraph:
``id`` (``<title>#<index>``), ``title``, ``text``, ``source``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    """Write the corpus and say how many paragraphs and articles it holds."""
    src = Path(sys.argv[1]) / "squad_v1.1_dev.jsonl"
    seen: dict[str, dict] = {}
    per_title: dict[str, int] = {}
    for line in src.open(encoding="utf-8"):
        row = json.loads(line)
        if row["context"] in seen:
            continue
        index = per_title.get(row["title"], 0)
        per_title[row["title"]] = index + 1
        seen[row["context"]] = {
            "id": f"{row['title']}#{index}",
            "title": row["title"],
            "text": row["context"],
            "source": row["source"],
        }
    out = Path(__file__).resolve().parents[1] / "langchain_automix" / "data"
    out = out / "squad11_paragraphs.jsonl"
    with out.open("w", encoding="utf-8") as fh:
        for para in seen.values():
            fh.write(json.dumps(para, ensure_ascii=False) + "\n")
    print(f"wrote {len(seen)} paragraphs of {len(per_title)} articles to {out}")


if __name__ == "__main__":
    main()
