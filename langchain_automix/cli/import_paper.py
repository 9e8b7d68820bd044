r"""``automix import-paper``: the AutoMix paper's released outputs as a replay file.

Examples::

    # the paper's Llama-2 pair (automix_llama2_outputs.jsonl); models detected from the
    # columns (llama13b_pred_ans, llama70b_pred_ans, llama13b_ver)
    automix import-paper automix_llama2_outputs.jsonl --out paper.jsonl

    # the paper's protocol: fit on split train, test on split val, one dataset
    automix import-paper outputs.jsonl --split train --dataset cnli --out cnli_train.jsonl
    automix import-paper outputs.jsonl --split val --dataset cnli --out cnli_val.jsonl
    automix evaluate --train cnli_train.jsonl --test cnli_val.jsonl

    # name the models, or take the 32-sample verifier run
    automix import-paper outputs.jsonl --small-prefix llama13b --large-prefix llama70b \
        --verifier-suffix _ver_n32 --out paper_n32.jsonl

Scores come from the ``*_f1`` columns when the rows have them, else SQuAD F1 against
``output``; confidences are the share of "Correct" among the verifier generations this
package's parser can read (see :mod:`langchain_automix.collection.paper`). A file that
cannot be imported is refused before anything is written (``file:line`` and the
problem, exit code 2).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``import-paper`` sub-command to ``automix``'s sub-parsers."""
    p = subparsers.add_parser(
        "import-paper",
        help="turn the AutoMix paper's released outputs (JSONL) into a replay file",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="IN.jsonl", help="the paper's outputs, JSON Lines")
    p.add_argument("--out", required=True, help="replay JSONL to write")
    p.add_argument(
        "--small-prefix",
        metavar="PREFIX",
        help="column prefix of the cheapest model, e.g. llama13b (default: detected from "
        "the *_pred_ans and *_ver columns)",
    )
    p.add_argument(
        "--large-prefix", metavar="PREFIX", help="column prefix of the final model, e.g. llama70b"
    )
    p.add_argument(
        "--middle-prefix",
        metavar="PREFIX",
        action="append",
        default=[],
        help="column prefix of a model between them (repeat, cheapest first; each needs "
        "verifier generations)",
    )
    p.add_argument(
        "--verifier-suffix",
        default="_ver",
        help="suffix of the verifier generations column (default _ver; the paper's "
        "32-sample run: _ver_n32)",
    )
    p.add_argument("--split", help="import only the rows of this split (the paper: train, val)")
    p.add_argument(
        "--dataset", help="import only the rows of this dataset (cnli, coqa, narrative_qa...)"
    )
    p.add_argument("--force", action="store_true", help="replace --out when it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``automix import-paper``; returns the exit code."""
    from langchain_automix.collection.paper import PaperFormatError, write_paper_replay

    if (args.small_prefix is None) != (args.large_prefix is None) or (
        args.middle_prefix and args.small_prefix is None
    ):
        print(
            "import-paper: give both --small-prefix and --large-prefix (and any "
            "--middle-prefix), or none to detect them from the columns",
            file=sys.stderr,
        )
        return 2
    try:
        stats = write_paper_replay(
            args.input,
            args.out,
            small=args.small_prefix,
            large=args.large_prefix,
            middle=tuple(args.middle_prefix),
            verifier_suffix=args.verifier_suffix,
            split=args.split,
            dataset=args.dataset,
            overwrite=args.force,
        )
    except (PaperFormatError, OSError) as exc:
        print(f"import-paper: {exc}", file=sys.stderr)
        return 2
    left = f", {stats.left_out} of other splits/datasets left out" if stats.left_out else ""
    print(
        f"import-paper: {stats.written} of {stats.lines} rows -> {args.out}{left}; "
        f"tiers {', '.join(stats.models)}, k={'mixed' if stats.k is None else stats.k}, "
        "prompt_version automix-paper",
        file=sys.stderr,
    )
    for model, counts in stats.scores_from.items():
        parts = [
            f"{n} computed (SQuAD F1 against output)" if src == "squad_f1" else f"{n} from {src}"
            for src, n in counts.items()
            if n
        ]
        print(f"  scores of {model}: {', '.join(parts)}", file=sys.stderr)
    for model, n in stats.no_valid_sample.items():
        print(
            f"  {model}: {n} rows without a readable verifier decision (confidence 0)",
            file=sys.stderr,
        )
    for model, n in stats.confidence_differs.items():
        column = stats.confidence_columns.get(model, "p_ver")
        if not n:
            print(
                f"  {model}: confidence equals the paper's {column} on every row", file=sys.stderr
            )
            continue
        print(
            f"  {model}: confidence differs from the paper's {column} on {n} rows (this "
            "package's parser ignores quoted and hedged decisions; the paper's value is kept "
            "as paper_verifier_confidence)",
            file=sys.stderr,
        )
    print(f"  next: automix evaluate --train {args.out}", file=sys.stderr)
    return 0
