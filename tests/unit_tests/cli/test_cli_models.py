"""The CLI's tier factories: embedded models get llama.cpp's settings, endpoints none."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

import langchain_automix.local as local
from langchain_automix.cli._models import add_model_options, tier_factories


class FakeServer:
    """Stands in for LocalModelServer: records its arguments, starts nothing."""

    started: dict[str, Any] = {}  # noqa: RUF012 - test record
    supports_n = False

    def __init__(self, ids: Any, **kwargs: Any) -> None:
        FakeServer.started = {"ids": tuple(ids), **kwargs}

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def chat_model(self, model_id: str, **kwargs: Any) -> tuple[str, dict[str, Any]]:
        return model_id, kwargs


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_model_options(p, default_local=True)
    return p.parse_args(list(argv))


def test_local_tiers_send_one_request_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "LocalModelServer", FakeServer)
    with tier_factories(parse()) as factories:
        assert [f.name for f in factories] == list(local.DEFAULT_PAIR)
        assert all(f.max_concurrency == 1 and f.request_n is False for f in factories)
        assert factories[0].make(temperature=0.0) == (local.DEFAULT_PAIR[0], {"temperature": 0.0})
    assert FakeServer.started["process_per_model"] is True
    # a missing llama-server is compiled by the server on start, not before the CLI knows
    # whether it will start one (unit tests swap the server out and compile nothing)
    assert FakeServer.started["build_missing"] is True


class FakeNativeServer(FakeServer):
    """A llama-server backend: honours ``n`` and decodes requests side by side."""

    supports_n = True


def test_llama_server_tiers_ask_for_n_without_a_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "LocalModelServer", FakeNativeServer)
    args = parse("--backend", "llama-server")
    args.k = 12
    with tier_factories(args) as factories:
        assert all(f.max_concurrency is None and f.request_n is None for f in factories)
    assert FakeServer.started["backend"] == "llama-server"
    assert FakeServer.started["parallel"] == 12  # every sample of k = 12 gets a slot


def test_endpoint_tiers_have_no_limit() -> None:
    args = parse(
        "--tier", "small=tiny@http://127.0.0.1:9/v1", "--tier", "big@http://127.0.0.1:9/v1"
    )
    with tier_factories(args) as factories:
        assert [f.name for f in factories] == ["small", "big"]
        assert all(f.max_concurrency is None for f in factories)
