r"""Import the AutoMix paper's released outputs (arXiv 2310.12963) as replay rows.

Where the layout comes from
---------------------------

The paper's repository ``automix-llm/automix`` (read at commit
``531af3ee3c4e4f4a53da1ffbc91dec4d6bb73781``; its PyPI package ``automix-llm`` 1.0.3
has the same ``automix/`` code) releases its data on Google Drive, not in git
(``data/automix_release_with_decision.jsonl`` was a 694 MB Git LFS pointer, commit
``894f5633abd3``, removed in ``9f0e68e6cee8``). The column names below are those its
code reads and writes:

* ``README.md`` ("Data and Outputs"): ``automix_inputs.jsonl`` and
  ``automix_llama2_outputs.jsonl`` with ``id``, ``pid``, ``base_ctx`` (the context),
  ``question``, ``output`` (the gold answer, one string), ``dataset``,
  ``llama13b_pred_ans``, ``llama70b_pred_ans``, ``llama13b_ver`` (verifier outputs).
* ``colabs/Step1_SolveQueries.ipynb``: reads ``data/automix_input.jsonl`` (``id``,
  ``pid``, ``base_ctx``, ``question``, ``output``, ``dataset``, ``split``), writes
  ``llama13b_pred_ans`` / ``llama70b_pred_ans`` (greedy answers, quotes stripped) and
  ``llama{size}_f1`` = SQuAD token F1 of ``llama{size}_pred_ans`` against ``output``.
* ``colabs/Step2_SelfVerify.ipynb``: reads ``data/automix_llamapair_outputs.jsonl``,
  writes ``llama13b_ver`` (a list of ``n`` verifier generations sampled at temperature
  1.0), ``p_ver_13b`` (share of generations containing "the ai generated answer is
  correct" among those containing "the ai generated answer is"; 0 when none does) and
  ``category`` (``NEEDY``/``GOOD``/``HOPELESS``/``UNDEFINED``, from the two F1 columns).
* ``Scoring.ipynb``: the released outputs' columns ``id, pid, base_ctx, question,
  output, dataset, llama13b_pred_ans, llama70b_pred_ans, llama13b_ver, split, p_ver_13b,
  llama13b_ver_n32, p_ver_13b_n32, llama13b_f1, llama70b_f1``; for ``quality`` the
  ``*_f1`` value is whether the predicted option letter is the gold one (``True`` /
  ``False`` once written, read here as 1.0 / 0.0).
* ``automix/main.py`` and ``automix/automix_methods.py`` (``Automix``, ``Threshold``,
  ``POMDP``): read ``llama13b_f1`` / ``llama70b_f1`` (scores), ``p_ver_13b``
  (confidence) and ``category``; ``FixedAnswerRouting`` reads ``llama13b_pred_ans``.
* ``scripts/paper_results.py``, ``colabs/Step3_MetaVerify.ipynb``: train on
  ``split == "train"``, test on ``split == "val"``, per ``dataset`` (``cnli``, ``coqa``,
  ``narrative_qa``, ``qasper``, ``quality``).

SCROLLS (``huggingface.co/datasets/tau/scrolls``, "Data Fields"), which four of the five
datasets come from: ``id`` is unique per input, ``pid`` per input-output pair; the
paper's CoQA rows carry the story's hash as ``id`` and the story + question hash as
``pid`` (``colabs/Preparing_COQA.ipynb``). So ``pid`` is the row's key here.

How a row is imported
---------------------

Each model is a column *prefix* ``P`` (``llama13b``): its answer is ``P_pred_ans``, its
verifier generations ``P_ver`` (another suffix with ``verifier_suffix``, e.g.
``_ver_n32``), its score ``P_f1`` when the row has it. Tiers are the prefixes cheapest
first; every tier but the last needs verifier generations. One replay row per line::

    {"id": <pid, else id>, "paper_id": <id when pid was used>, "dataset": ..., "split": ...,
     "question": ..., "context": <base_ctx>, "answers": [<output>] (a list is kept),
     "tiers": [{"model": "llama13b", "answer": ..., "score": ..., "exact_match": ...,
                "score_from": "llama13b_f1" | "squad_f1",
                "verifier_confidence": ..., "verifier_samples": [...],
                "verifier_n_valid": ..., "verifier_errors": [],
                "paper_verifier_confidence": <p_ver_13b when present>, ...},
               {"model": "llama70b", "answer": ..., "score": ...}],
     "k": <number of generations>, "prompt_version": "automix-paper"}

* **score**: ``P_f1`` when the row has it (a number in [0, 1], or a boolean), else
  :func:`~langchain_automix.collection.scoring.score` against the gold answers (SQuAD
  token F1, what the paper computed for every dataset but ``quality``; ``quality`` was
  scored by option letter, so prefer a file with the ``*_f1`` columns there; this
  package's scorer also reads yes/no answers and abstentions, see its docstring).
  ``exact_match`` is given whenever there are gold answers.
* **confidence**: each generation is read by this package's parser
  (:func:`~langchain_automix.runtime.verification.parse_verification`) and the
  confidence is the share of "Correct" among the readable ones, 0 with none
  (:func:`~langchain_automix.runtime.verification.confidence_of`), exactly as
  ``automix collect`` does. The paper's own ``p_ver_*`` value, when present, is kept as
  ``paper_verifier_confidence``: the two parsers differ on quoted or hedged decision
  phrases, and the import reports on how many rows they disagree.
* **provenance**: ``prompt_version`` is :data:`PAPER_PROMPT_VERSION`, never one of this
  package's prompt hashes, so a policy fitted on these rows says where its confidences
  came from (the paper's Llama-2 few-shot completion prompt) and warns when run with
  another verifier.

Bad input is refused, never dropped: the whole file is checked first and the first
problem is raised (:class:`PaperFormatError`, naming ``file:line``) with the number of
bad lines, before anything is written. Rows left out on purpose (``split=`` or
``dataset=``) are counted in :class:`PaperImport`.

Example:
    >>> import json, tempfile, pathlib
    >>> row = {"id": "doc", "pid": "q1", "base_ctx": "Paris is in France.",
    ...        "question": "Where is Paris?", "output": "France", "dataset": "coqa",
    ...        "split": "val", "llama13b_pred_ans": "in France", "llama70b_pred_ans": "France",
    ...        "llama13b_ver": ["... The AI generated answer is Correct.",
    ...                         "... The AI generated answer is Incorrect.",
    ...                         "... The AI generated answer is Correct.", "no decision"]}
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "paper.jsonl"
    >>> _ = path.write_text(json.dumps(row) + "\n")
    >>> imported = import_paper_outputs(path)
    >>> imported.models
    ('llama13b', 'llama70b')
    >>> small, large = imported.rows[0]["tiers"]
    >>> small["verifier_confidence"], small["verifier_n_valid"], round(small["score"], 3)
    (0.6666666666666666, 3, 0.667)
    >>> large["score"], imported.rows[0]["id"], imported.rows[0]["prompt_version"]
    (1.0, 'q1', 'automix-paper')
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from langchain_automix._jsonl import json_lines
from langchain_automix.collection.scoring import score
from langchain_automix.runtime.result import TierAttempt
from langchain_automix.runtime.tier_step import verified
from langchain_automix.runtime.verification import (
    VerificationResult,
    confidence_of,
    parse_verification,
)
from langchain_automix.signals import answer_kind_signals

__all__ = [
    "ANSWER_SUFFIX",
    "PAPER_PROMPT_VERSION",
    "SCORE_SUFFIX",
    "VERIFIER_SUFFIX",
    "PaperFormatError",
    "PaperImport",
    "detect_models",
    "import_paper_outputs",
    "iter_paper_rows",
    "paper_confidence_columns",
    "write_paper_replay",
]

PAPER_PROMPT_VERSION = "automix-paper"
"""``prompt_version`` of imported rows: not a hash of this package's prompts (those are
12 hex digits), so it never matches one."""

ANSWER_SUFFIX = "_pred_ans"
"""A model's answer column is its prefix + this (``llama13b_pred_ans``)."""

VERIFIER_SUFFIX = "_ver"
"""A model's verifier generations column is its prefix + this (``llama13b_ver``)."""

SCORE_SUFFIX = "_f1"
"""A model's score column is its prefix + this (``llama13b_f1``), when present."""

_MAX_COLUMNS_SHOWN = 30


class PaperFormatError(ValueError):
    """The paper's file cannot be imported; the message names ``file:line`` and the problem."""


@dataclass
class PaperImport:
    """The outcome of an import.

    Attributes:
        rows: the replay rows (empty from :func:`write_paper_replay`, which streams them).
        models: the model prefixes, cheapest first (the tiers).
        lines: data lines read (blank lines aside).
        written: rows imported.
        left_out: lines of other splits or datasets than asked for, not imported.
        scores_from: per model, how many scores came from its ``*_f1`` column and how many
            were computed (``{"llama13b": {"llama13b_f1": 10, "squad_f1": 0}, ...}``).
        no_valid_sample: per verifying model, rows where no generation held a decision
            (confidence 0).
        confidence_differs: per verifying model, rows where the confidence parsed here
            differs from the paper's ``p_ver_*`` column (absent when there is none).
        confidence_columns: per verifying model, the paper's ``p_ver_*`` column found.
        k: the number of verifier generations per row when every row has the same, else
            None.
    """

    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)
    models: tuple[str, ...] = ()
    lines: int = 0
    written: int = 0
    left_out: int = 0
    scores_from: dict[str, dict[str, int]] = field(default_factory=dict)
    no_valid_sample: dict[str, int] = field(default_factory=dict)
    confidence_differs: dict[str, int] = field(default_factory=dict)
    confidence_columns: dict[str, str] = field(default_factory=dict)
    k: int | None = None


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([bBmM])$")


def _size(prefix: str) -> float | None:
    """Parameter count read from a prefix such as ``llama13b`` (in billions), or None."""
    found = _SIZE.search(prefix)
    if found is None:
        return None
    value = float(found.group(1))
    return value / 1000 if found.group(2) in "mM" else value


def paper_confidence_columns(prefix: str, verifier_suffix: str = VERIFIER_SUFFIX) -> list[str]:
    """The names the paper gives a model's verifier confidence column, most likely first.

    The paper names it by size, ``p_ver_13b`` for ``llama13b`` (``p_ver_13b_n32`` for the
    32-sample ``llama13b_ver_n32``).

    Example:
        >>> paper_confidence_columns("llama13b")
        ['p_ver_13b', 'p_ver_llama13b']
        >>> paper_confidence_columns("llama13b", "_ver_n32")[0]
        'p_ver_13b_n32'
    """
    rest = verifier_suffix.removeprefix(VERIFIER_SUFFIX)
    short = re.sub(r"^[A-Za-z_-]+", "", prefix) or prefix
    names = [f"p_ver_{short}{rest}", f"p_ver_{prefix}{rest}"]
    return list(dict.fromkeys(names))


def _columns_text(columns: Iterable[str]) -> str:
    cols = sorted(columns)
    shown = ", ".join(cols[:_MAX_COLUMNS_SHOWN])
    more = f" ... ({len(cols)} in all)" if len(cols) > _MAX_COLUMNS_SHOWN else ""
    return shown + more if cols else "none"


def detect_models(
    columns: Iterable[str], verifier_suffix: str = VERIFIER_SUFFIX
) -> tuple[str, ...]:
    """The model prefixes of a paper file's columns, cheapest first.

    Every ``P_pred_ans`` column names a model ``P``. The one model without verifier
    generations (``P_ver``) is the last tier (the paper verifies only the cheaper
    model); the verifying models are ordered by the size in their name (``13b``).

    Raises:
        PaperFormatError: fewer than two answer columns, or an order that cannot be
            told (the message lists the columns found; name the prefixes instead).

    Example:
        >>> detect_models(["id", "llama70b_pred_ans", "llama13b_pred_ans", "llama13b_ver"])
        ('llama13b', 'llama70b')
        >>> detect_models(["gpt4_pred_ans", "llama13b_pred_ans", "llama70b_pred_ans",
        ...                "llama13b_ver", "llama70b_ver"])
        ('llama13b', 'llama70b', 'gpt4')
    """
    cols = set(columns)
    prefixes = sorted(c.removesuffix(ANSWER_SUFFIX) for c in cols if c.endswith(ANSWER_SUFFIX))
    verifying = [p for p in prefixes if p + verifier_suffix in cols]
    final = [p for p in prefixes if p + verifier_suffix not in cols]
    hint = (
        f"; columns found: {_columns_text(cols)}. Name the models instead "
        "(--small-prefix/--large-prefix, or small=/large=)"
    )
    if len(prefixes) < 2:
        raise PaperFormatError(
            f"need answer columns of at least two models (names ending in {ANSWER_SUFFIX}, "
            f"e.g. llama13b{ANSWER_SUFFIX}, llama70b{ANSWER_SUFFIX}) and the cheaper "
            f"model's verifier generations (llama13b{verifier_suffix}){hint}"
        )
    if not verifying:
        raise PaperFormatError(
            f"no verifier generations: no column {verifier_suffix!r} after a model prefix "
            f"({', '.join(p + verifier_suffix for p in prefixes)}){hint}"
        )
    if len(final) > 1:
        raise PaperFormatError(
            f"cannot tell the models' order: {', '.join(final)} have answers but no "
            f"verifier generations (only the last model may lack them){hint}"
        )
    sizes = [_size(p) for p in verifying]
    if len(verifying) > 1 and (None in sizes or len(set(sizes)) < len(sizes)):
        raise PaperFormatError(
            f"cannot tell the order of the verifying models {', '.join(verifying)} from "
            f"their names{hint}"
        )
    ordered = sorted(verifying, key=lambda p: _size(p) or 0.0)
    if final:
        return (*ordered, final[0])
    last = ordered.pop()  # every model verifies: the largest is the last tier
    return (*ordered, last)


# --------------------------------------------------------------------------- reading


class _BadJSON(NamedTuple):
    message: str


def _parsed(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed JSON or _BadJSON)`` of every non-blank line."""
    return json_lines(path, on_bad=_BadJSON)


def _numbered(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed JSON)`` of every non-blank line; bad JSON raises."""
    for lineno, obj in _parsed(path):
        if isinstance(obj, _BadJSON):
            raise PaperFormatError(f"{path}:{lineno}: {obj.message}")
        yield lineno, obj


def _first_columns(path: Path) -> list[str]:
    for lineno, obj in _numbered(path):
        if not isinstance(obj, dict):
            raise PaperFormatError(
                f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}"
            )
        return list(obj)
    raise PaperFormatError(f"{path}: no rows (the file is empty)")


@dataclass(frozen=True)
class _Plan:
    """What to read from each row."""

    path: Path
    models: tuple[str, ...]
    verifier_suffix: str
    split: str | None
    dataset: str | None
    confidence_columns: dict[str, list[str]]

    def wanted(self, obj: Mapping[str, Any]) -> bool:
        return (self.split is None or obj.get("split") == self.split) and (
            self.dataset is None or obj.get("dataset") == self.dataset
        )


def _gold(obj: Mapping[str, Any]) -> list[str] | None:
    output = obj.get("output")
    if isinstance(output, str):
        return [output]
    return output if isinstance(output, list) else None


def _unit(value: Any) -> float | None:
    """A score column's value as a float in [0, 1] (booleans: 1.0 / 0.0), or None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value) and 0.0 <= value <= 1.0:
        return float(value)
    return None


def _samples(value: Any) -> list[str] | None:
    """Verifier generations as a list of strings (one string: a list of one), or None."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return list(value)
    return None


def _problem(plan: _Plan, obj: Any) -> str | None:
    """What is wrong with one parsed line (None when it can be imported)."""
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {type(obj).__name__}"
    key = "pid" if obj.get("pid") is not None else "id"
    if obj.get(key) is None:
        return "missing id (pid or id)"
    if isinstance(obj[key], bool) or not isinstance(obj[key], (str, int)):
        return f"{key!r} must be a string or an integer, got {obj[key]!r}"
    if not isinstance(obj.get("question"), str):
        return "missing or non-string 'question'"
    if "base_ctx" in obj and obj["base_ctx"] is not None and not isinstance(obj["base_ctx"], str):
        return "'base_ctx' must be a string"
    output = obj.get("output")
    if output is not None and _gold(obj) is None:
        return "'output' must be a string or a list of strings"
    if output is None and "answers" in obj:
        return "has 'answers' (this package's layout) instead of the paper's 'output'"
    for t, prefix in enumerate(plan.models):
        answer_col = prefix + ANSWER_SUFFIX
        if not isinstance(obj.get(answer_col), str):
            what = "missing" if answer_col not in obj else f"not a string ({obj[answer_col]!r})"
            return f"column {answer_col!r} is {what}"
        score_col = prefix + SCORE_SUFFIX
        if obj.get(score_col) is not None:
            if _unit(obj[score_col]) is None:
                return f"column {score_col!r} must be a number in [0, 1], got {obj[score_col]!r}"
        elif _gold(obj) is None:
            return (
                f"no {score_col!r} and no gold 'output' to score {answer_col!r} against "
                "(one of them is needed)"
            )
        if t == len(plan.models) - 1:
            continue
        ver_col = prefix + plan.verifier_suffix
        if ver_col not in obj:
            return f"column {ver_col!r} (the verifier generations) is missing"
        if _samples(obj[ver_col]) is None:
            return f"column {ver_col!r} must be a list of strings, got {obj[ver_col]!r:.80}"
        for col in plan.confidence_columns[prefix]:
            if obj.get(col) is not None and _unit(obj[col]) is None:
                return f"column {col!r} must be a number in [0, 1], got {obj[col]!r}"
    return None


def _check(plan: _Plan) -> tuple[int, int]:
    """Check every line; raise on the first problem (counting the others).

    Returns:
        The number of data lines and of lines left out (other split or dataset).
    """
    first: str | None = None
    bad = lines = left_out = 0
    seen: dict[Any, int] = {}
    for lineno, obj in _parsed(plan.path):
        lines += 1
        problem = obj.message if isinstance(obj, _BadJSON) else _problem(plan, obj)
        if problem is None:
            qid = obj["pid"] if obj.get("pid") is not None else obj["id"]
            if qid in seen:
                problem = f"duplicated id {qid!r} (first on line {seen[qid]})"
            else:
                seen[qid] = lineno
        if problem is not None:
            bad += 1
            first = first or f"{plan.path}:{lineno}: {problem}"
        elif not plan.wanted(obj):
            left_out += 1
    if first is not None:
        more = f" ({bad} bad lines in all; nothing was imported)" if bad > 1 else ""
        raise PaperFormatError(first + more)
    if lines == 0:
        raise PaperFormatError(f"{plan.path}: no rows (the file is empty)")
    return lines, left_out


def _plan(
    path: str | os.PathLike[str],
    *,
    small: str | None,
    large: str | None,
    middle: Sequence[str],
    verifier_suffix: str,
    split: str | None,
    dataset: str | None,
) -> _Plan:
    p = Path(path)
    if not p.is_file():
        raise PaperFormatError(f"{p}: no such file")
    if not verifier_suffix:
        raise PaperFormatError("verifier_suffix must not be empty")
    columns = _first_columns(p)
    if small is None and large is None and not middle:
        models = detect_models(columns, verifier_suffix)
    elif small is None or large is None:
        raise PaperFormatError("name both models (small and large), or neither to detect them")
    else:
        models = (small, *middle, large)
        if len(set(models)) != len(models):
            raise PaperFormatError(f"the models repeat: {', '.join(models)}")
        missing = [
            col
            for t, prefix in enumerate(models)
            for col in (
                prefix + ANSWER_SUFFIX,
                *([prefix + verifier_suffix] if t < len(models) - 1 else []),
            )
            if col not in columns
        ]
        if missing:
            raise PaperFormatError(
                f"{p}:1: no column(s) {', '.join(missing)} for models {', '.join(models)}; "
                f"columns found: {_columns_text(columns)}"
            )
    return _Plan(
        path=p,
        models=tuple(models),
        verifier_suffix=verifier_suffix,
        split=split,
        dataset=dataset,
        confidence_columns={m: paper_confidence_columns(m, verifier_suffix) for m in models},
    )


# --------------------------------------------------------------------------- converting


def _tier(plan: _Plan, obj: Mapping[str, Any], t: int, stats: PaperImport) -> dict[str, Any]:
    prefix = plan.models[t]
    answer: str = obj[prefix + ANSWER_SUFFIX]
    gold = _gold(obj)
    computed = None if gold is None else score(answer, gold)
    score_col = prefix + SCORE_SUFFIX
    column_score = _unit(obj.get(score_col))
    if column_score is not None:
        f1, source = column_score, score_col
    else:
        assert computed is not None  # noqa: S101 - _problem refused rows with neither
        f1, source = computed.f1, "squad_f1"
    counts = stats.scores_from.setdefault(prefix, {score_col: 0, "squad_f1": 0})
    counts[source] += 1
    attempt = TierAttempt(tier=t, model=prefix, answer=answer, signals=answer_kind_signals(answer))
    if t == len(plan.models) - 1:
        entry = attempt.to_replay((f1, 0.0))
    else:
        samples = _samples(obj[prefix + plan.verifier_suffix]) or []
        verdicts = [parse_verification(s) for s in samples]
        confidence, n_valid = confidence_of(verdicts)
        result = VerificationResult(
            samples=samples,
            verdicts=verdicts,
            confidence=confidence,
            n_valid=n_valid,
            n_samples=len(samples),
        )
        entry = verified(attempt, result, method="sampling").to_replay((f1, 0.0))
        if n_valid == 0:
            stats.no_valid_sample[prefix] = stats.no_valid_sample.get(prefix, 0) + 1
        for col in plan.confidence_columns[prefix]:
            paper = _unit(obj.get(col))
            if paper is not None:
                entry["paper_verifier_confidence"] = paper
                stats.confidence_columns.setdefault(prefix, col)
                differs = stats.confidence_differs.setdefault(prefix, 0)
                if not math.isclose(paper, confidence, abs_tol=1e-9):
                    stats.confidence_differs[prefix] = differs + 1
                break
    if computed is None:
        entry.pop("exact_match", None)
    else:
        entry["exact_match"] = float(computed.exact_match)
    entry["score_from"] = source
    # nothing was measured about calls made elsewhere: no usage, no latencies
    for key in ("usage", "latency_s", "verify_usage", "verify_latency_s"):
        entry.pop(key, None)
    return entry


def _row(plan: _Plan, obj: Mapping[str, Any], stats: PaperImport) -> dict[str, Any]:
    qid = obj["pid"] if obj.get("pid") is not None else obj["id"]
    row: dict[str, Any] = {"id": qid}
    if obj.get("pid") is not None and obj.get("id") is not None:
        row["paper_id"] = obj["id"]
    row["dataset"] = str(obj.get("dataset") or "")
    if obj.get("split") is not None:
        row["split"] = obj["split"]
    row["question"] = obj["question"]
    if isinstance(obj.get("base_ctx"), str):
        row["context"] = obj["base_ctx"]
    row["answers"] = _gold(obj)
    row["tiers"] = [_tier(plan, obj, t, stats) for t in range(len(plan.models))]
    ks = {len(tier.get("verifier_samples") or ()) for tier in row["tiers"][:-1]}
    if len(ks) == 1:
        row["k"] = ks.pop()
    row["prompt_version"] = PAPER_PROMPT_VERSION
    return row


def _convert(plan: _Plan, stats: PaperImport, sink: Callable[[dict[str, Any]], None]) -> None:
    ks: set[Any] = set()
    for _, obj in _numbered(plan.path):
        if not plan.wanted(obj):
            continue
        row = _row(plan, obj, stats)
        ks.add(row.get("k"))
        sink(row)
        stats.written += 1
    stats.k = ks.pop() if len(ks) == 1 else None


def _start(
    path: str | os.PathLike[str],
    small: str | None,
    large: str | None,
    middle: Sequence[str],
    verifier_suffix: str,
    split: str | None,
    dataset: str | None,
) -> tuple[_Plan, PaperImport]:
    plan = _plan(
        path,
        small=small,
        large=large,
        middle=middle,
        verifier_suffix=verifier_suffix,
        split=split,
        dataset=dataset,
    )
    lines, left_out = _check(plan)
    return plan, PaperImport(models=plan.models, lines=lines, left_out=left_out)


def import_paper_outputs(
    path: str | os.PathLike[str],
    *,
    small: str | None = None,
    large: str | None = None,
    middle: Sequence[str] = (),
    verifier_suffix: str = VERIFIER_SUFFIX,
    split: str | None = None,
    dataset: str | None = None,
) -> PaperImport:
    """Read the paper's released outputs (JSON Lines) as replay rows, in memory.

    Args:
        path: the paper's file (``automix_llama2_outputs.jsonl`` or a file with the same
            columns; see the module docstring).
        small: column prefix of the cheapest model (``llama13b``); None with ``large``
            None: detected (:func:`detect_models`).
        large: column prefix of the final model (``llama70b``).
        middle: prefixes of the models between them, cheapest first (three or more
            tiers; each needs verifier generations).
        verifier_suffix: suffix of the verifier generations column (``_ver``; the paper's
            32-sample run is ``_ver_n32``).
        split: import only the rows of this ``split`` (``train`` or ``val`` in the paper).
        dataset: import only the rows of this ``dataset`` (``cnli``, ``coqa``...).

    Returns:
        A :class:`PaperImport` whose ``rows`` are the replay rows, in file order.

    Raises:
        PaperFormatError: the file cannot be imported (``file:line`` and the problem;
            every line is checked before any row is made).
    """
    plan, stats = _start(path, small, large, middle, verifier_suffix, split, dataset)
    _convert(plan, stats, stats.rows.append)
    return stats


def iter_paper_rows(
    path: str | os.PathLike[str],
    *,
    small: str | None = None,
    large: str | None = None,
    middle: Sequence[str] = (),
    verifier_suffix: str = VERIFIER_SUFFIX,
    split: str | None = None,
    dataset: str | None = None,
) -> Iterator[dict[str, Any]]:
    """The replay rows of :func:`import_paper_outputs` one by one (for large files).

    The whole file is checked when the first row is asked for, before it is made.
    """
    plan, stats = _start(path, small, large, middle, verifier_suffix, split, dataset)
    for _, obj in _numbered(plan.path):
        if plan.wanted(obj):
            yield _row(plan, obj, stats)


def write_paper_replay(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    small: str | None = None,
    large: str | None = None,
    middle: Sequence[str] = (),
    verifier_suffix: str = VERIFIER_SUFFIX,
    split: str | None = None,
    dataset: str | None = None,
    overwrite: bool = False,
) -> PaperImport:
    """Import the paper's file (see :func:`import_paper_outputs`) into a replay file.

    The rows are streamed (the paper's full release is 694 MB) to a temporary file beside
    ``out``, renamed to ``out`` when every row is written: a failed import leaves no
    partial output.

    Args:
        path: the paper's file.
        out: the replay JSONL to write.
        small: see :func:`import_paper_outputs` (as are ``large``, ``middle``,
            ``verifier_suffix``, ``split`` and ``dataset``).
        large: see :func:`import_paper_outputs`.
        middle: see :func:`import_paper_outputs`.
        verifier_suffix: see :func:`import_paper_outputs`.
        split: see :func:`import_paper_outputs`.
        dataset: see :func:`import_paper_outputs`.
        overwrite: replace ``out`` when it exists (otherwise that is an error).

    Returns:
        The :class:`PaperImport` counts (its ``rows`` stay empty).

    Raises:
        PaperFormatError: the file cannot be imported, no row is selected, or ``out``
            exists and ``overwrite`` is False; nothing is written.
    """
    target = Path(out)
    if target.exists() and not overwrite:
        raise PaperFormatError(f"{target} exists; replace it with --force (overwrite=True)")
    plan, stats = _start(path, small, large, middle, verifier_suffix, split, dataset)
    if stats.lines == stats.left_out:
        asked = ", ".join(
            f"{k}={v!r}" for k, v in (("split", split), ("dataset", dataset)) if v is not None
        )
        raise PaperFormatError(f"{plan.path}: no row has {asked}; nothing was written")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:

            def sink(row: dict[str, Any]) -> None:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")

            _convert(plan, stats, sink)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return stats
