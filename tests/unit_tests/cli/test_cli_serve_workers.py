"""``automix serve --workers N`` and ``--checkpoint-url``."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from langchain_automix.cli.main import main
from langchain_automix.cli.serve import SERVE_ARGS_ENV, app_from_env
from langchain_automix.runtime.durable import UrlCheckpointer

TIERS = ["--tier", "small@http://127.0.0.1:9/v1", "--tier", "large@http://127.0.0.1:9/v1"]


def test_workers_run_a_factory_that_rebuilds_the_app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    monkeypatch.delenv("AUTOMIX_API_KEY", raising=False)
    monkeypatch.setenv(SERVE_ARGS_ENV, "")  # main sets it; put back as it was afterwards
    db = tmp_path / "ck.db"
    code = main(
        ["serve", *TIERS, "--workers", "3", "--threshold", "0.7", "--num-verifications", "2",
         "--checkpoint-url", f"sqlite:///{db}", "--port", "8124"]
    )  # fmt: skip
    assert code == 0
    assert seen["app"] == "langchain_automix.cli.serve:app_from_env"
    assert seen["factory"] is True and seen["workers"] == 3 and seen["port"] == 8124
    assert db.exists()  # tables created once, by the parent

    # what each worker does: rebuild the app from the inherited environment
    assert os.environ[SERVE_ARGS_ENV]
    module, name = seen["app"].split(":")
    factory = getattr(importlib.import_module(module), name)
    app = factory()
    automix = app.state.automix.default
    assert automix.threshold == 0.7 and automix.num_verifications == 2
    # each worker salts its exploration draws (its own count of a question's repeats):
    # without --explore-seed, a random salt of its own
    assert automix.explore_seed != factory().state.automix.default.explore_seed
    assert isinstance(automix.checkpointer, UrlCheckpointer)
    assert automix.checkpointer.url == f"sqlite:///{db}"
    assert TestClient(app, base_url="http://localhost").get("/health").json()["tiers"] == [
        "small",
        "large",
    ]


def test_workers_add_their_pid_to_a_given_explore_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    monkeypatch.delenv("AUTOMIX_API_KEY", raising=False)
    monkeypatch.setenv(SERVE_ARGS_ENV, "")  # main sets it; put back as it was afterwards
    assert main(["serve", *TIERS, "--workers", "2", "--explore", "0.1", "--explore-seed", "7"]) == 0
    assert app_from_env().state.automix.default.explore_seed == 7 + os.getpid()


def test_one_process_draws_a_random_salt_unless_given() -> None:
    from langchain_automix.cli.serve import explore_salt

    # two replicas of one server must not explore the same repeats (a collision: 2**-31)
    assert explore_salt(None) != explore_salt(None)
    assert explore_salt(5) == 5


def test_workers_need_endpoints(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--local", "--workers", "2"]) == 2
    assert "--workers needs --tier" in capsys.readouterr().err


def test_factory_without_the_parent_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SERVE_ARGS_ENV, raising=False)
    with pytest.raises(RuntimeError, match=SERVE_ARGS_ENV):
        app_from_env()


def test_bad_checkpoint_url_fails_before_serving(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: pytest.fail("served"))
    assert main(["serve", *TIERS, "--checkpoint-url", "redis://h"]) == 2
    assert "unsupported checkpoint URL" in capsys.readouterr().err


def test_single_worker_serves_durably(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    monkeypatch.delenv("AUTOMIX_API_KEY", raising=False)
    assert main(["serve", *TIERS, "--checkpoint-url", f"sqlite:///{tmp_path / 'c.db'}"]) == 0
    assert isinstance(seen["app"].state.automix.default.checkpointer, UrlCheckpointer)
