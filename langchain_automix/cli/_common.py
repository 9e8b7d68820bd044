"""Helpers shared by the ``automix`` sub-commands."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any

__all__ = [
    "CliError",
    "add_cost_options",
    "add_objective_options",
    "fail",
    "float_in",
    "int_at_least",
    "parse_costs",
    "parse_verify_costs",
    "VERIFY_GRAMMARS",
    "VERIFY_PROMPTS",
    "add_verify_grammar_option",
    "add_verify_prompt_option",
    "verify_grammar",
    "verify_prompt",
]


class CliError(Exception):
    """A user error: printed as ``automix: error: ...`` with exit code 2."""


def _numbers(text: str, what: str, example: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{what} must be comma-separated numbers like {example}, got {text!r}"
        ) from None
    if any(not math.isfinite(v) or v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"{what} must be finite and >= 0, got {text!r}")
    return values


def int_at_least(least: int, most: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer >= ``least`` (and <= ``most``), checked at parse time.

    Example:
        >>> int_at_least(1)("8")
        8
        >>> int_at_least(1)("0")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be an integer >= 1, got '0'
        >>> int_at_least(1, 65535)("99999")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be an integer from 1 to 65535, got '99999'
    """
    what = f"an integer >= {least}" if most is None else f"an integer from {least} to {most}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < least or (most is not None and value > most):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    parse.__name__ = what.removeprefix("an ")
    return parse


def float_in(
    low: float, high: float = math.inf, *, low_open: bool = False, high_open: bool = False
) -> Callable[[str], float]:
    """An argparse ``type``: a finite number in the given interval.

    Example:
        >>> float_in(0, 1, low_open=True)("0.5")
        0.5
        >>> float_in(0, 1, low_open=True)("0")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be a number in (0, 1], got '0'
        >>> float_in(0)("nan")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be a finite number >= 0, got 'nan'
    """
    if math.isinf(high):
        what = f"a finite number {'>' if low_open else '>='} {low:g}"
    else:
        what = f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        if not (math.isfinite(value) and above and below):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    parse.__name__ = what
    return parse


def parse_costs(text: str) -> tuple[float, ...]:
    """Parse ``"1,50"`` into unit costs (one per tier, at least two)."""
    values = _numbers(text, "costs", "1,50")
    if len(values) < 2:
        raise argparse.ArgumentTypeError(f"need a cost per tier (at least 2), got {text!r}")
    return values


def parse_verify_costs(text: str) -> tuple[float, ...]:
    """Parse ``"1"`` or ``"1,10"`` into verification costs (one per non-final tier)."""
    return _numbers(text, "verification costs", "1")


def add_cost_options(p: argparse.ArgumentParser) -> None:
    """``--costs`` (unit cost per tier) and ``--verify-costs`` (per non-final tier)."""
    p.add_argument(
        "--costs",
        type=parse_costs,
        default=(1.0, 50.0),
        help="unit cost per tier, e.g. 1,50 (default)",
    )
    p.add_argument(
        "--verify-costs",
        type=parse_verify_costs,
        default=None,
        help="verification cost per non-final tier, e.g. 1 (default: its unit cost)",
    )


def add_objective_options(p: argparse.ArgumentParser) -> None:
    """The fitting objective: a target share, a budget, a lambda, or (none) max ΔIBC."""
    goal = p.add_mutually_exclusive_group()
    goal.add_argument(
        "--target-llm-share", type=float_in(0, 1), help="share of queries to escalate, in [0, 1]"
    )
    goal.add_argument(
        "--budget", type=float_in(0, low_open=True), help="maximum average cost per query (> 0)"
    )
    goal.add_argument(
        "--lam",
        type=float_in(0),
        help="cost weight (>= 0): maximise quality - lam * cost",
    )


def parse_signal(text: str) -> str | tuple[str, ...]:
    """``verifier``, another signal name, ``combined``, or a comma-separated list to combine."""
    from langchain_automix.signals import AUTO, COMBINED, FREE, SIGNALS

    names = tuple(s.strip() for s in text.split(",") if s.strip())
    known = (*SIGNALS, COMBINED, FREE, AUTO)
    whole = (COMBINED, FREE, AUTO)
    bad = [s for s in names if s not in known or (s in whole and len(names) > 1)]
    if not names or bad:
        raise argparse.ArgumentTypeError(
            f"unknown signal {text!r}: use one of {', '.join(known)}, or a comma-separated "
            "list of signals to combine"
        )
    return names[0] if len(names) == 1 else names


def add_signal_options(p: argparse.ArgumentParser) -> None:
    """``--signal`` and ``--robust/--no-robust`` (how :class:`Calibrated` fits)."""
    p.add_argument(
        "--signal",
        type=parse_signal,
        default="auto",
        help="routing signal to fit on: auto (default: combined when the rows carry more "
        "than the verifier's signal, else verifier), verifier (the paper's k-sample "
        "confidence), logprob_verifier, answer_min_prob, answer_mean_prob, "
        "answer_first_prob, combined (a logistic combination of every signal in the "
        "rows), free (the combination of the signals that need no verifier call: a "
        "policy on it skips verification live and is charged none), or a comma-separated "
        "list to combine",
    )
    p.add_argument(
        "--robust",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="cross-validate the fit and fall back to the best fixed choice (always escalate "
        "or always accept) when routing does not pay on held-out folds (default: on)",
    )
    p.add_argument(
        "--risk",
        choices=("strict", "balanced", "off"),
        default="balanced",
        help="when the robust fit routes: strict (only when the held-out ΔIBC gain is above "
        "0 at its 5%% bootstrap bound), balanced (default: also when the held-out signal "
        "ranks the rows where the large model helps better than chance at its 5%% bound), "
        "off (never falls back); measured in docs/meta-verifiers.md",
    )
    p.add_argument(
        "--check",
        choices=("agree", "held_out", "model"),
        default="agree",
        help="how the robust fit chooses its escalation share and decides to fall back: "
        "held_out (the share with the best lower 5%% bootstrap bound of its "
        "cross-validated gain, routing when that bound is above 0), model (two tiers: "
        "each share refitted on all rows and scored under a smoothed model of the gain "
        "per signal level, routing when the lower 20%% posterior bound of its gain is "
        "above 0) or agree (default: the model's share when its bound is above 0 and the "
        "cross-validated 5%% bound of the same share is above -15, else held_out); "
        "measured in docs/meta-verifiers.md",
    )


def resolve_signal(signal: str | tuple[str, ...], data: Any) -> str | tuple[str, ...]:
    """``auto`` becomes ``combined`` or ``verifier`` for the rows of ``data``."""
    from langchain_automix.signals import AUTO, resolve_auto

    return resolve_auto(data.signal_names) if signal == AUTO else signal


def fail(message: str) -> int:
    """Print an error and return exit code 2."""
    print(f"automix: error: {message}", file=sys.stderr)
    return 2


VERIFY_GRAMMARS = ("none", "sentence", "decision", "verdict")
"""Choices of ``--verify-grammar`` (see :func:`verify_grammar`)."""


def add_verify_grammar_option(parser: Any, note: str) -> None:
    """Add ``--verify-grammar`` to a sub-command; ``note`` ends its help text."""
    parser.add_argument(
        "--verify-grammar",
        choices=VERIFY_GRAMMARS,
        default="none",
        help="constrain each verifier sample with a GBNF grammar (llama.cpp servers, e.g. "
        "--local): 'sentence' = a one-sentence evaluation, then the decision line, then stop; "
        "'decision' = the decision line alone; 'verdict' = one word, Correct or Incorrect "
        f"(with --verify-prompt shared) ({note})",
    )


VERIFY_PROMPTS = ("default", "claims", "shared")
"""Choices of ``--verify-prompt``."""


def add_verify_prompt_option(parser: Any, note: str) -> None:
    """Add ``--verify-prompt`` to a sub-command; ``note`` ends its help text."""
    parser.add_argument(
        "--verify-prompt",
        choices=VERIFY_PROMPTS,
        default="default",
        help="verification prompt: the paper's few-shot blocks (default), 'claims' with "
        "worked examples for 'unanswerable' and yes/no answers, or 'shared': the answer's "
        "own conversation plus one verification turn, so a prompt cache reuses the answer "
        f"call's prefix ({note})",
    )


def verify_prompt(choice: str) -> Any:
    """The verification prompt of a ``--verify-prompt`` choice (``default``: None).

    Example:
        >>> verify_prompt("default") is None, len(verify_prompt("shared").messages)
        (True, 4)
    """
    from langchain_automix.prompts import VERIFY_PROMPTS as PROMPTS

    if choice not in PROMPTS:
        raise ValueError(f"--verify-prompt must be one of {', '.join(PROMPTS)}, got {choice!r}")
    return PROMPTS[choice]


def verify_grammar(choice: str) -> str | None:
    """The GBNF grammar of a ``--verify-grammar`` choice (``none``: None).

    Example:
        >>> verify_grammar("none") is None, "Verification Decision" in verify_grammar("decision")
        (True, True)
    """
    from langchain_automix.prompts import VERIFY_GRAMMARS as GRAMMARS

    if choice not in GRAMMARS:
        raise ValueError(
            f"--verify-grammar must be none, sentence, decision or verdict, got {choice!r}"
        )
    return GRAMMARS[choice]
