"""One AutoMix query in a process of its own, for the durable-execution tests.

Usage: python _durable_child.py CHECKPOINT_URL THREAD_ID CALL_LOG CRASH MODE

Every completed model call appends ``node tier kind`` to CALL_LOG (flushed and synced).
CRASH ``large`` kills the process (``os._exit``) inside the large tier's answer call,
``meta_decide`` kills it when the meta-verifier decides (right after ``self_verify``),
``slow`` makes the large tier's answer take 3 s (for concurrent requests), ``none`` lets
the query finish. MODE ``sync`` or ``async`` picks invoke or ainvoke.
The final message's trace is printed as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from langchain_automix import AutoMixRunnable, Threshold
from langchain_automix.runtime.durable import checkpointer_from_url

CRASH_EXIT = 17
INCORRECT = "Verification Decision: The AI generated answer is Incorrect."


class RecordingModel(BaseChatModel):
    """Answers ``answer`` (verify prompts: Incorrect) and logs each completed call."""

    tier: int
    answer: str
    log: str
    crash_on_solve: bool = False
    solve_delay: float = 0.0

    @property
    def _llm_type(self) -> str:
        return "recording"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        kind = "verify" if "AI Generated Answer:" in str(messages[-1].content) else "solve"
        if kind == "solve" and self.crash_on_solve:
            os._exit(CRASH_EXIT)  # the process dies mid-call: nothing is logged or saved
        if kind == "solve" and self.solve_delay:
            time.sleep(self.solve_delay)
        tags = run_manager.tags if run_manager else []
        node = next((t.split(":", 1)[1] for t in tags if t.startswith("automix:")), "?")
        with open(self.log, "a") as f:
            f.write(f"{node} {self.tier} {kind}\n")
            f.flush()
            os.fsync(f.fileno())
        text = INCORRECT if kind == "verify" else self.answer
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


class CrashingThreshold(Threshold):
    """A threshold meta-verifier that kills the process when it is asked to decide."""

    def decide(self, observation: Any) -> Any:
        os._exit(CRASH_EXIT)


def main() -> int:
    url, thread_id, log, crash, mode = sys.argv[1:6]
    small = RecordingModel(tier=0, answer="Paris", log=log)
    large = RecordingModel(
        tier=1,
        answer="Paris, France",
        log=log,
        crash_on_solve=crash == "large",
        solve_delay=3.0 if crash == "slow" else 0.0,
    )
    meta = CrashingThreshold(0.5) if crash == "meta_decide" else Threshold(0.5)
    automix = AutoMixRunnable(
        models=[small, large],
        meta_verifier=meta,
        num_verifications=3,
        checkpointer=checkpointer_from_url(url),
    )
    query = {"question": "What is the capital of France?", "context": "Paris is in France."}
    config: Any = {"configurable": {"thread_id": thread_id}}
    if mode == "async":
        msg = asyncio.run(automix.ainvoke(query, config))
    else:
        msg = automix.invoke(query, config)
    print(json.dumps({"content": msg.content, "trace": msg.response_metadata["automix"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
