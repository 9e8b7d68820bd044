"""AutoMix against any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp, ...).

Environment variables:
    AUTOMIX_SMALL_MODEL, AUTOMIX_LARGE_MODEL   model names (cheapest first)
    AUTOMIX_SMALL_BASE_URL, AUTOMIX_LARGE_BASE_URL   optional base URLs
    OPENAI_API_KEY (or AUTOMIX_SMALL_API_KEY / AUTOMIX_LARGE_API_KEY)

Run:
    AUTOMIX_SMALL_MODEL=gpt-4o-mini AUTOMIX_LARGE_MODEL=gpt-4o python examples/quickstart.py
"""

from __future__ import annotations

import json
import os
import sys

from langchain_core.output_parsers import StrOutputParser
from langchain_openai import ChatOpenAI

from langchain_automix import AutoMixRunnable

CONTEXT = (
    "Hamlet is a tragedy written by William Shakespeare sometime between 1599 and 1601. "
    "It is Shakespeare's longest play, with 29,551 words."
)


def tier(prefix: str) -> ChatOpenAI:
    name = os.environ.get(f"AUTOMIX_{prefix}_MODEL")
    if not name:
        sys.exit(f"set AUTOMIX_{prefix}_MODEL (see the docstring of {__file__})")
    key = os.environ.get(f"AUTOMIX_{prefix}_API_KEY") or os.environ.get("OPENAI_API_KEY", "none")
    return ChatOpenAI(
        model=name, base_url=os.environ.get(f"AUTOMIX_{prefix}_BASE_URL"), api_key=key
    )


def main() -> None:
    automix = AutoMixRunnable(models=[tier("SMALL"), tier("LARGE")])
    chain = automix | StrOutputParser()
    print(chain.invoke({"question": "Who wrote Hamlet?", "context": CONTEXT}))
    msg = automix.invoke({"question": "How many words does Hamlet have?", "context": CONTEXT})
    trace = msg.response_metadata["automix"]
    print(msg.content)
    print(json.dumps({k: trace[k] for k in ("answered_by_model", "escalated", "total_cost")}))
    print("verifier confidence:", trace["attempts"][0]["verifier_confidence"])


if __name__ == "__main__":
    main()
