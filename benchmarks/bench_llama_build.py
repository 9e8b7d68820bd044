"""Tokens per second of llama-server builds, side by side in one run.

Starts each build on the same embedded model, one after the other, and measures prompt
processing and generation speed from llama-server's own timings (a ~300-token prompt
like a verification prompt, 32 generated tokens, temperature 0), median over runs.
Each build is started with ``LocalModelServer(binary=...)``, whose start ends with a
one-token generation: a build that dies (e.g. an AMX build where the kernel withholds AMX
tile state) is reported with the signal that killed it.

Usage:
    python benchmarks/bench_llama_build.py \
        --binary x86-64-v3=PATH --binary x86-64-v4=PATH [--binary native=PATH] \
        [--model qwen2.5-coder-0.5b] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import urllib.request

from langchain_automix.local.server import LocalModelServer, LocalServerError

PROMPT = (
    "Context: The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, "
    "France. It is named after the engineer Gustave Eiffel, whose company designed and built "
    "the tower from 1887 to 1889. Locally nicknamed 'La dame de fer' (French for 'Iron Lady'), "
    "it was constructed as the centrepiece of the 1889 World's Fair, and to crown the "
    "centennial anniversary of the French Revolution. Although initially criticised by some "
    "of France's leading artists and intellectuals for its design, it has since become a "
    "global cultural icon of France and one of the most recognisable structures in the "
    "world. The tower received 5,889,000 visitors in 2022. The Eiffel Tower is the most "
    "visited monument with an entrance fee in the world: 6.91 million people ascended it in "
    "2015. It was designated a monument historique in 1964, and was named part of a UNESCO "
    "World Heritage Site (Paris, Banks of the Seine) in 1991.\n\n"
    "Question: When was the Eiffel Tower built, and by whose company?\n\nAnswer:"
)


def _post(port: int, body: dict[str, object]) -> dict[str, object]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/completion",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=300) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read())


def measure(binary: str, model: str, runs: int, threads: int) -> dict[str, object]:
    try:
        server = LocalModelServer(
            [model], binary=binary, backend="llama-server", n_threads=threads
        ).start()
    except LocalServerError as exc:  # names the signal when the binary dies
        return {"error": str(exc).split(". End of its log")[0]}
    with server:
        port = int(server.base_url().rsplit(":", 1)[1].split("/")[0])
        pp: list[float] = []
        tg: list[float] = []
        for i in range(runs + 1):
            # a different first word each run, and no prompt cache: the prompt is read in full
            body = {
                "prompt": f"Run {i}. {PROMPT}",
                "n_predict": 32,
                "temperature": 0,
                "cache_prompt": False,
                "ignore_eos": True,
            }
            timings = _post(port, body)["timings"]
            assert isinstance(timings, dict)
            if i:  # the first run warms up
                pp.append(float(timings["prompt_per_second"]))
                tg.append(float(timings["predicted_per_second"]))
    return {"prompt_tps": statistics.median(pp), "gen_tps": statistics.median(tg)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", action="append", required=True, metavar="NAME=PATH")
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    builds = [b.split("=", 1) for b in args.binary]
    results = {name: measure(path, args.model, args.runs, args.threads) for name, path in builds}
    base = next((r for r in results.values() if "error" not in r), None)
    print(f"model {args.model}, {args.threads} threads, median of {args.runs} runs")
    print(f"{'build':<14}{'prompt tok/s':>14}{'gen tok/s':>11}{'prompt x':>10}{'gen x':>8}")
    for name, r in results.items():
        if "error" in r:
            print(f"{name:<14}  died: {r['error'][:110]}")
            continue
        assert base is not None
        px = float(r["prompt_tps"]) / float(base["prompt_tps"])
        gx = float(r["gen_tps"]) / float(base["gen_tps"])
        print(f"{name:<14}{r['prompt_tps']:>14.1f}{r['gen_tps']:>11.1f}{px:>10.2f}{gx:>8.2f}")


if __name__ == "__main__":
    main()
