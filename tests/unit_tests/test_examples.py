import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


# examples/rag_pipeline.py embeds 91 paragraphs (about 15 s on 2 cores): its runs, scripted
# and on the embedded models, are in tests/integration_tests/test_rag_example.py.


def test_quickstart_without_configuration_says_what_to_set() -> None:
    out = subprocess.run(
        [sys.executable, "quickstart.py"],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(EXAMPLES.parent), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode != 0
    assert "set AUTOMIX_SMALL_MODEL" in out.stderr


def test_agent_example_runs_offline() -> None:
    out = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "agent_example.py"],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"PYTHONPATH": str(EXAMPLES.parent), "PATH": "/usr/bin:/bin"},
    )
    # the small tier's tool call escalated; its answer from the tool result was kept
    assert (
        "tier 1 (fake-messages-list-chat-model) called ['get_weather']; escalated=True"
        in out.stdout
    )
    assert "tier 0 (fake-messages-list-chat-model) answered; escalated=False" in out.stdout
    assert "answer: It is sunny and 24 degrees Celsius in Paris." in out.stdout
