"""The AutoMix graph served by the real LangGraph server (``langgraph dev``), via ``langgraph_sdk``.

``langgraph dev`` (``langgraph-cli[inmem]``: ``langgraph-api`` with the in-memory
runtime) loads ``langgraph.json`` and serves the ``automix`` graph; the test talks to it
the way LangGraph clients do: assistants, threads, runs, streaming. The server runs from
its own virtual environment, ``.venv-langgraph`` (``make langgraph-venv``), because
``langgraph-api`` pins ``jsonschema-rs`` below the version ``schemathesis`` needs in the
main one; ``$AUTOMIX_LANGGRAPH_VENV`` points elsewhere. Without it the test skips, except
under ``CI=true``, where it fails.

The tiers are ``ChatOpenAI`` clients (``$AUTOMIX_TIERS``, as in production) of a
deterministic fake OpenAI-compatible endpoint in this process: the small tier answers
"Paris" and judges itself Incorrect, so the query escalates to the large tier.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration_tests._fake_openai import INCORRECT, FakeEndpoint, fake_openai_endpoint
from tests.integration_tests._serve import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
VENV_ENV = "AUTOMIX_LANGGRAPH_VENV"
K = 3
QUERY = {"question": "What is the capital of France?", "context": "Paris is in France."}


def langgraph_cli() -> Path:
    venv = Path(os.environ.get(VENV_ENV) or ROOT / ".venv-langgraph")
    cli = venv / "bin" / "langgraph"
    if cli.is_file():
        return cli
    hint = f"{cli} is missing: run `make langgraph-venv` (or set ${VENV_ENV})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {hint}")
    pytest.skip(hint)


def absolute_config(workdir: Path) -> Path:
    """The repository's ``langgraph.json`` with absolute paths, written to ``workdir``.

    ``langgraph dev`` resolves the graphs' paths against its working directory, and
    keeps its in-memory runtime's state in ``./.langgraph_api``: the server runs in a
    temporary directory, so that state never lands in the work tree.
    """
    config = json.loads((ROOT / "langgraph.json").read_text())
    config["graphs"] = {
        name: str((ROOT / target.split(":", 1)[0]).resolve()) + ":" + target.split(":", 1)[1]
        for name, target in config["graphs"].items()
    }
    config["dependencies"] = [str((ROOT / d).resolve()) for d in config["dependencies"]]
    env_file = config.get("env")
    if isinstance(env_file, str):
        if (ROOT / env_file).is_file():
            config["env"] = str((ROOT / env_file).resolve())
        else:
            del config["env"]
    path = workdir / "langgraph.json"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def endpoint() -> Iterator[FakeEndpoint]:
    with fake_openai_endpoint(
        {"small": "Paris", "large": "Paris, France"}, {"small": INCORRECT}
    ) as ep:
        yield ep


@pytest.fixture(scope="module")
def server(endpoint: FakeEndpoint, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cli = langgraph_cli()
    port = free_port()
    workdir = tmp_path_factory.mktemp("langgraph-dev")  # its .langgraph_api/ goes here
    env = {
        **os.environ,
        "AUTOMIX_TIERS": f"small@{endpoint.url};large@{endpoint.url}",
        "AUTOMIX_COSTS": "1,20",
        "AUTOMIX_NUM_VERIFICATIONS": str(K),
        "LANGSMITH_TRACING": "false",
        "LANGCHAIN_TRACING_V2": "false",
    }
    env.pop("VIRTUAL_ENV", None)
    log = workdir / "server.log"
    cmd = [
        str(cli), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1",
        "--port", str(port), "--config", str(absolute_config(workdir)),
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"langgraph dev exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"langgraph dev not healthy in 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def test_sync_client_runs_a_thread_and_streams_values_and_node_updates(
    server: str, endpoint: FakeEndpoint
) -> None:
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=server)
    assert [a["graph_id"] for a in client.assistants.search(graph_id="automix")] == ["automix"]
    thread = client.threads.create(metadata={"test": "automix"})
    endpoint.calls.clear()

    events: list[tuple[str, object]] = []
    for part in client.runs.stream(
        thread["thread_id"],
        "automix",
        input=QUERY,
        stream_mode=["values", "updates"],
    ):
        events.append((part.event, part.data))

    kinds = {event.split("|", 1)[0] for event, _ in events}
    assert {"metadata", "values", "updates"} <= kinds, kinds
    assert not any(event == "error" for event, _ in events), events
    # the core graph itself is served (no wrapper): its nodes are the root's
    visited = [
        node
        for event, data in events
        if event == "updates" and isinstance(data, dict)
        for node in data
    ]
    # node updates carry only the output keys: nothing of the rejected answer mid-run
    updates = [data for event, data in events if event == "updates" and isinstance(data, dict)]
    assert all(u in (None, {}) for data in updates[:3] for u in data.values()), updates
    assert visited[:3] == ["solve_small", "self_verify", "meta_decide"], visited
    assert "solve_large" in visited, visited
    # the root graph's last values event is the final state
    final = next(data for event, data in reversed(events) if event == "values")
    assert isinstance(final, dict)
    assert final["answer"] == "Paris, France"
    trace = final["trace"]
    assert trace["answered_by"] == 1 and trace["answered_by_model"] == "large"
    assert trace["escalated"] is True
    assert [a["model"] for a in trace["attempts"]] == ["small", "large"]
    assert trace["attempts"][0]["verifier_n_samples"] == K
    assert [a["decision"] for a in trace["attempts"]] == ["escalate", None]
    # each model call once: small answers, small verifies (n=k, one call), large answers
    assert endpoint.calls == [("small", "solve", 1), ("small", "verify", K), ("large", "solve", 1)]

    # the thread keeps the run's final state, and the run is recorded as a success
    state = client.threads.get_state(thread["thread_id"])
    assert state["values"]["answer"] == "Paris, France" and state["next"] == []
    (run,) = client.runs.list(thread["thread_id"])
    assert run["status"] == "success"


async def test_async_client_waits_for_a_run_with_run_context_knobs(
    server: str, endpoint: FakeEndpoint
) -> None:
    from langgraph_sdk import get_client

    client = get_client(url=server)
    thread = await client.threads.create()
    endpoint.calls.clear()
    # a threshold of 0 accepts the small tier's answer whatever its verifier says
    knobs = {"threshold": 0.0, "num_verifications": 2}
    out = await client.runs.wait(thread["thread_id"], "automix", input=QUERY, context=knobs)
    assert isinstance(out, dict)
    assert out["answer"] == "Paris"
    assert out["trace"]["answered_by"] == 0 and out["trace"]["escalated"] is False
    assert out["trace"]["attempts"][0]["verifier_n_samples"] == 2
    assert endpoint.calls == [("small", "solve", 1), ("small", "verify", 2)]


@pytest.mark.parametrize("subgraphs", [False, True])
@pytest.mark.parametrize("mode", ["messages-tuple", "messages"])
@pytest.mark.parametrize("kept", [False, True], ids=["escalated", "small-kept"])
def test_message_streams_show_only_the_accepted_answer(
    server: str, endpoint: FakeEndpoint, mode: str, subgraphs: bool, kept: bool
) -> None:
    """Once the rejected small answer and every verifier token leaked (or nothing came)."""
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=server)
    thread = client.threads.create()
    endpoint.calls.clear()
    parts = list(
        client.runs.stream(
            thread["thread_id"],
            "automix",
            input=QUERY,
            stream_mode=mode,  # type: ignore[arg-type]
            stream_subgraphs=subgraphs,
            # a threshold of 0 keeps the small answer whatever its verifier says
            context={"threshold": 0.0} if kept else None,
        )
    )
    assert not any(p.event == "error" for p in parts), parts
    answer, node = ("Paris", "meta_decide") if kept else ("Paris, France", "solve_large")
    if mode == "messages-tuple":
        chunks = [p.data for p in parts if p.event.startswith("messages")]
        texts = [c[0].get("content", "") for c in chunks]
        nodes = {c[1].get("langgraph_node") for c in chunks}
        assert nodes == {node}, nodes  # the final tier's tokens, or the kept answer
        assert "".join(texts) == answer
    else:  # "messages": the server's accumulated message, partial then complete
        messages = [
            m
            for p in parts
            if p.event.startswith("messages/") and isinstance(p.data, list)
            for m in p.data
        ]
        assert messages, [p.event for p in parts]
        allowed = {"Paris"} if kept else {"Paris,", "Paris, France"}
        assert {m["content"] for m in messages} <= allowed
        assert messages[-1]["content"] == answer
        assert all(m.get("id") == messages[-1]["id"] for m in messages)  # one message
    contents = json.dumps(
        [
            m.get("content")
            for p in parts
            if p.event.startswith("messages")
            for m in (p.data if isinstance(p.data, list) else [p.data])
            if isinstance(m, dict)
        ]
    )
    # no verifier token (a kept answer's message carries the trace in its metadata: the
    # record of the decision, sent once the run has decided)
    assert "Incorrect" not in contents and "Verification" not in contents
    # the streaming client does not split the verification: one n=k request
    expected = [("small", "solve", 1), ("small", "verify", K)]
    assert endpoint.calls == expected + ([] if kept else [("large", "solve", 1)])


@pytest.mark.parametrize("kept", [False, True], ids=["escalated", "small-kept"])
def test_events_stream_shows_no_hidden_call(
    server: str, endpoint: FakeEndpoint, kept: bool
) -> None:
    """The server's ``events`` mode: no model event of the small tier's answer or the verifier.

    (Node inputs and outputs, attempts included, are in this mode as in ``debug``: it is a
    view of the run's internals; see docs/serving.md.)
    """
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=server)
    thread = client.threads.create()
    endpoint.calls.clear()
    parts = list(
        client.runs.stream(
            thread["thread_id"],
            "automix",
            input=QUERY,
            stream_mode="events",
            context={"threshold": 0.0} if kept else None,
        )
    )
    events = [p.data for p in parts if p.event == "events" and isinstance(p.data, dict)]
    assert events, [p.event for p in parts]
    model_nodes = {
        e.get("metadata", {}).get("langgraph_node")
        for e in events
        if str(e.get("event", "")).startswith("on_chat_model")
    }
    assert model_nodes == (set() if kept else {"solve_large"}), model_nodes
    tokens = "".join(
        str((e.get("data", {}).get("chunk") or {}).get("content", ""))
        for e in events
        if e.get("event") == "on_chat_model_stream"
    )
    assert "Verification" not in tokens and "Incorrect" not in tokens
    expected = [("small", "solve", 1), ("small", "verify", K)]
    assert endpoint.calls == expected + ([] if kept else [("large", "solve", 1)])
