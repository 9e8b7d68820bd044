"""``automix serve``: options, the lazy --local import, and the app it runs."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from fastapi.testclient import TestClient

from langchain_automix.cli.main import build_parser, main


def test_serve_is_registered() -> None:
    args = build_parser().parse_args(
        ["serve", "--tier", "a@http://127.0.0.1:9/v1", "--tier", "b@http://127.0.0.1:9/v1"]
    )
    assert args.command == "serve" and args.host == "127.0.0.1" and args.port == 8000


def test_serve_builds_app_from_tiers(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    monkeypatch.delenv("AUTOMIX_API_KEY", raising=False)
    code = main(
        [
            "serve",
            "--tier", "small@http://127.0.0.1:9/v1",
            "--tier", "large@http://127.0.0.1:9/v1",
            "--costs", "1,20", "--threshold", "0.6", "--num-verifications", "3",
            "--port", "8123",
        ]
    )  # fmt: skip
    assert code == 0
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8123
    automix = seen["app"].state.automix.default
    assert automix.threshold == 0.6 and automix.num_verifications == 3
    assert automix.costs.unit_costs_for(2) == (1.0, 20.0)
    health = TestClient(seen["app"]).get("/health").json()
    assert health["tiers"] == ["small", "large"]


def test_serve_local_without_the_module_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "langchain_automix.local", None)  # import fails
    with pytest.raises(SystemExit, match=r"--local needs the embedded models.*\[local\]"):
        main(["serve", "--local"])


def test_serve_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--tier", "a@http://h/v1", "--threshold", "1.5"])
    assert "threshold must be in [0, 1]" in capsys.readouterr().err
    assert main(["serve", "--tier", "a@http://h/v1"]) == 2  # one tier is not a cascade
    assert "two or more" in capsys.readouterr().err
