#!/bin/sh
# Commit the growing replay file, only when its last line is complete.
# Usage: sh scripts/commit_replay.sh [path]   (run from the repository root)
set -e
f=${1:-langchain_automix/data/replay_local_qwen.jsonl}
[ -s "$f" ] || { echo "no rows yet in $f"; exit 0; }
if [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" != '\n' ]; then
  echo "last line of $f is being written; try again in a moment"; exit 1
fi
n=$(wc -l < "$f")
git add "$f"
if git diff --cached --quiet -- "$f"; then echo "$n rows, already committed"; exit 0; fi
git commit -q -m "replay: $n rows collected with the local Qwen pair" -- "$f" && echo "committed $n rows"
