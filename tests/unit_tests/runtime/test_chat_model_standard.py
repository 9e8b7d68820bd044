"""LangChain's standard unit tests for ``ChatAutoMix`` (fake tiers that can call tools).

Two of them skip by the suite's own rules: ``test_init_from_env`` (ChatAutoMix reads no
environment variables: its tiers do) and ``test_serdes`` (not serialisable: its tiers are
arbitrary runnables).
"""

from __future__ import annotations

from typing import Any

from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_automix.runtime.chat_model import ChatAutoMix
from tests.unit_tests.fake_models import ToolChatModel


class TestChatAutoMixStandard(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatAutoMix]:
        return ChatAutoMix

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"models": [ToolChatModel(), ToolChatModel(answer="Paris, France")]}
