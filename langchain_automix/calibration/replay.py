"""Replay datasets: the offline record of what each tier answered, scored and verified.

A replay file is JSON Lines with one query a line::

    {"id": "q1", "tiers": [
        {"model": "small", "answer": "...", "score": 0.67, "verifier_confidence": 0.625},
        {"model": "large", "answer": "...", "score": 1.0}]}

``id``, every tier's ``score`` (quality in ``[0, 1]``) and ``verifier_confidence`` for
every tier but the last are required; everything else is optional and kept as-is.
A non-final tier may also carry ``"signals": {"answer_min_prob": 0.41, ...}``: further
routing signals in ``[0, 1]`` (see :mod:`langchain_automix.signals`); files without
them load as before.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from langchain_automix._jsonl import json_lines
from langchain_automix.signals import answer_kind_signals

__all__ = ["ReplayDataset", "ReplayError", "load_replay", "write_replay"]


class ReplayError(ValueError):
    """A replay file or record is invalid; the message names the line and the problem."""


def _copy_groups(ids: Sequence[Any], copies: Mapping[int, Any]) -> np.ndarray | None:
    """Group index per row, ``None`` when no row copies another.

    Rows that name one ``copy_of`` id, and the row with that id, form a group.
    """
    if not copies:
        return None
    keys = [str(copies.get(i, qid)) for i, qid in enumerate(ids)]
    return np.unique(np.asarray(keys, dtype=object), return_inverse=True)[1].astype(np.intp)


def _unit_float(value: Any, what: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ReplayError(f"{where}: {what} must be a number in [0, 1], got {value!r}")
    x = float(value)
    if math.isnan(x) or not 0.0 <= x <= 1.0:
        raise ReplayError(f"{where}: {what} must be in [0, 1], got {value!r}")
    return x


@dataclass(frozen=True, eq=False)
class ReplayDataset:
    """A validated replay dataset as numpy arrays.

    Attributes:
        ids: Query ids, shape ``(n,)``.
        scores: Quality of each tier's answer, shape ``(n, n_tiers)``, values in ``[0, 1]``.
        confidences: Verifier confidence of every non-final tier, shape
            ``(n, n_tiers - 1)``, values in ``[0, 1]``.
        answers: Answer text per query and tier (``None`` when absent).
        models: Model name of each tier when the rows agree on one, else ``None``.
        records: The raw records (only when loaded from JSON Lines), for writing back.
        signals: Further routing signals by name, each shape ``(n, n_tiers - 1)`` with NaN
            where a row lacks it; the ``verifier`` signal is ``confidences``.
        groups: Group index of each row, shape ``(n,)``, or ``None`` when every row is an
            observation of its own. Rows that copy one observation share a group: served
            traces weight an explored query by repeating it (a record's ``copy_of`` names
            the row it copies). Splits, cross-validation folds and bootstrap resamples
            keep a group together (:meth:`split`, :meth:`fold_of_rows`,
            :meth:`resample_rows`), so copies never sit on both sides of a split and do
            not count as independent evidence.

    Example:
        >>> data = ReplayDataset.from_arrays(
        ...     scores=[[1.0, 1.0], [0.0, 1.0]], confidences=[[0.875], [0.25]])
        >>> data.n_rows, data.n_tiers
        (2, 2)
        >>> data.gain.tolist()
        [0.0, 1.0]
    """

    ids: np.ndarray
    scores: np.ndarray
    confidences: np.ndarray
    answers: tuple[tuple[str | None, ...], ...] = ()
    models: tuple[str | None, ...] = ()
    records: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)
    signals: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)
    groups: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        scores = np.asarray(self.scores, dtype=float)
        conf = np.asarray(self.confidences, dtype=float)
        if scores.ndim != 2 or scores.shape[1] < 2:
            raise ReplayError(f"scores must have shape (n, n_tiers >= 2), got {scores.shape}")
        n, t = scores.shape
        if conf.ndim == 1:
            conf = conf.reshape(-1, 1)
        if conf.shape != (n, t - 1):
            raise ReplayError(f"confidences must have shape {(n, t - 1)}, got {conf.shape}")
        for name, arr in (("score", scores), ("verifier_confidence", conf)):
            bad = ~((arr >= 0.0) & (arr <= 1.0))
            if bad.any():
                row, col = (int(v) for v in np.argwhere(bad)[0])
                raise ReplayError(
                    f"row {row + 1}: tier {col} {name} must be in [0, 1], got {arr[row, col]!r}"
                )
        ids = np.asarray(self.ids, dtype=object).reshape(-1)
        if ids.shape[0] != n:
            raise ReplayError(f"expected {n} ids, got {ids.shape[0]}")
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "confidences", conf)
        object.__setattr__(self, "ids", ids)
        if self.answers and len(self.answers) != n:
            raise ReplayError(f"expected {n} answer rows, got {len(self.answers)}")
        signals: dict[str, np.ndarray] = {}
        for name, values in self.signals.items():
            arr = np.asarray(values, dtype=float)
            if arr.ndim == 1:
                arr = arr.reshape(-1, 1)
            if arr.shape != (n, t - 1):
                raise ReplayError(f"signal {name!r} must have shape {(n, t - 1)}, got {arr.shape}")
            bad = ~np.isnan(arr) & ~((arr >= 0.0) & (arr <= 1.0))
            if bad.any():
                row, col = (int(v) for v in np.argwhere(bad)[0])
                raise ReplayError(
                    f"row {row + 1}: tier {col} signal {name!r} must be in [0, 1], "
                    f"got {arr[row, col]!r}"
                )
            signals[str(name)] = arr
        object.__setattr__(self, "signals", signals)
        if self.groups is not None:
            groups = np.asarray(self.groups).reshape(-1)
            if groups.shape[0] != n or (n and not np.issubdtype(groups.dtype, np.integer)):
                raise ReplayError(f"groups must be {n} integers, got {groups.shape[0]} values")
            # canonical labels 0..G-1 in order of first appearance; None when all distinct
            _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
            if first.size == n:
                object.__setattr__(self, "groups", None)
            else:
                order = np.argsort(np.argsort(first))
                object.__setattr__(self, "groups", order[inverse].astype(np.intp))

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_arrays(
        cls,
        scores: Any,
        confidences: Any,
        *,
        ids: Sequence[Any] | None = None,
        answers: Sequence[Sequence[str | None]] | None = None,
        models: Sequence[str | None] = (),
    ) -> ReplayDataset:
        """Build a dataset from arrays (scores ``(n, tiers)``, confidences ``(n, tiers-1)``)."""
        s = np.asarray(scores, dtype=float)
        n = s.shape[0] if s.ndim else 0
        return cls(
            ids=np.asarray(list(ids) if ids is not None else [str(i) for i in range(n)], object),
            scores=s,
            confidences=np.asarray(confidences, dtype=float),
            answers=tuple(tuple(a) for a in answers) if answers is not None else (),
            models=tuple(models),
        )

    @classmethod
    def from_records(
        cls, records: Iterable[Mapping[str, Any]], *, source: str = "record"
    ) -> ReplayDataset:
        """Validate replay records (dicts in the JSON Lines layout).

        Errors name the record as ``<source> <number>`` (1-based).
        """
        return cls._from_numbered(((i + 1, r) for i, r in enumerate(records)), source)

    @classmethod
    def _from_numbered(
        cls,
        numbered: Iterable[tuple[int, Any]],
        source: str,
        where_of: Callable[[int], str] | None = None,
    ) -> ReplayDataset:
        """Rows from ``(number, record)`` pairs.

        Errors name a record ``where_of(number)`` (default ``"<source> <number>"``).
        """
        where_of = where_of or (lambda number: f"{source} {number}")
        ids: list[Any] = []
        scores: list[list[float]] = []
        confs: list[list[float]] = []
        answers: list[tuple[str | None, ...]] = []
        models: list[tuple[str | None, ...]] = []
        records: list[Mapping[str, Any]] = []
        row_signals: list[list[Mapping[str, Any]]] = []
        n_tiers: int | None = None
        seen: dict[Any, int] = {}
        copies: dict[int, Any] = {}  # row -> the id of the observation it copies
        for lineno, rec in numbered:
            where = where_of(lineno)
            if not isinstance(rec, Mapping):
                raise ReplayError(f"{where}: expected a JSON object, got {type(rec).__name__}")
            if "id" not in rec or rec["id"] is None:
                raise ReplayError(f"{where}: missing required field 'id'")
            qid = rec["id"]
            if not isinstance(qid, (str, int)) or isinstance(qid, bool):
                raise ReplayError(f"{where}: 'id' must be a string or integer, got {qid!r}")
            if qid in seen:
                raise ReplayError(f"{where}: duplicate id {qid!r} (first on {where_of(seen[qid])})")
            seen[qid] = lineno
            if rec.get("copy_of") is not None:
                copies[len(ids)] = rec["copy_of"]
            tiers = rec.get("tiers")
            if not isinstance(tiers, list) or len(tiers) < 2:
                raise ReplayError(f"{where}: 'tiers' must be a list of at least 2 tiers")
            if n_tiers is None:
                n_tiers = len(tiers)
            elif len(tiers) != n_tiers:
                raise ReplayError(f"{where}: has {len(tiers)} tiers, earlier rows have {n_tiers}")
            row_s: list[float] = []
            row_c: list[float] = []
            row_a: list[str | None] = []
            row_m: list[str | None] = []
            row_sig: list[Mapping[str, Any]] = []
            for t, tier in enumerate(tiers):
                if not isinstance(tier, Mapping):
                    raise ReplayError(f"{where}: tier {t} must be an object")
                if "score" not in tier or tier["score"] is None:
                    raise ReplayError(f"{where}: tier {t} is missing required field 'score'")
                row_s.append(_unit_float(tier["score"], f"tier {t} score", where))
                if t < len(tiers) - 1:
                    if tier.get("verifier_confidence") is None:
                        raise ReplayError(
                            f"{where}: tier {t} is missing required field 'verifier_confidence'"
                        )
                    row_c.append(
                        _unit_float(
                            tier["verifier_confidence"], f"tier {t} verifier_confidence", where
                        )
                    )
                    sig = _tier_signals(tier.get("signals"), t, where)
                    if isinstance(tier.get("answer"), str):  # rows older than these signals
                        sig = {**answer_kind_signals(tier["answer"]), **sig}
                    row_sig.append(sig)
                ans = tier.get("answer")
                row_a.append(None if ans is None else str(ans))
                model = tier.get("model")
                row_m.append(None if model is None else str(model))
            ids.append(qid)
            scores.append(row_s)
            confs.append(row_c)
            answers.append(tuple(row_a))
            models.append(tuple(row_m))
            row_signals.append(row_sig)
            records.append(rec)
        if n_tiers is None:
            raise ReplayError(f"no {source}s found: the replay data is empty")
        model_names = tuple(
            models[0][t] if all(m[t] == models[0][t] for m in models) else None
            for t in range(n_tiers)
        )
        names = sorted({name for row in row_signals for tier in row for name in tier})
        signals = {
            name: np.array(
                [[tier.get(name, math.nan) for tier in row] for row in row_signals], dtype=float
            ).reshape(len(ids), n_tiers - 1)
            for name in names
        }
        return cls(
            ids=np.asarray(ids, dtype=object),
            scores=np.asarray(scores, dtype=float),
            confidences=np.asarray(confs, dtype=float).reshape(len(ids), n_tiers - 1),
            answers=tuple(answers),
            models=model_names,
            records=tuple(records),
            signals=signals,
            groups=_copy_groups(ids, copies),
        )

    @classmethod
    def from_jsonl(cls, path: str | Path) -> ReplayDataset:
        """Load and validate a JSON Lines replay file (blank lines are skipped).

        Raises:
            ReplayError: naming the file and line, ``<path>:N: ...``, for bad JSON,
                missing fields or out-of-range values.
            FileNotFoundError: if the file does not exist.
        """
        p = Path(path)
        try:
            return cls._from_numbered(
                json_lines(p, error=ReplayError), "line", lambda number: f"{p}:{number}"
            )
        except ReplayError as exc:
            msg = str(exc)
            raise ReplayError(msg if msg.startswith(str(p)) else f"{p}: {msg}") from None

    @classmethod
    def from_columns(
        cls,
        rows: Iterable[Mapping[str, Any]] | Mapping[str, Sequence[Any]] | Any,
        *,
        small_column: str = "llama13b_f1",
        large_column: str = "llama70b_f1",
        verifier_column: str = "p_ver_13b",
        id_column: str | None = "id",
        answer_column: str | None = None,
        score_columns: Sequence[str] | None = None,
        verifier_columns: Sequence[str] | None = None,
        model_names: Sequence[str] | None = None,
    ) -> ReplayDataset:
        """Load the paper's column layout (one record per query, named columns).

        ``rows`` is a pandas ``DataFrame``, a sequence of dicts (e.g. ``json.loads`` of
        each line of the paper's release, or ``df.to_dict("records")``) or a dict of
        columns. Missing ids are replaced by the row number; a missing answer column
        leaves answers empty.

        Two models by default (``small_column``, ``large_column``, ``verifier_column``);
        any number with ``score_columns`` (cheapest first) and ``verifier_columns`` (one
        per model but the last), e.g. the paper's three-model release:
        ``score_columns=["llama13b_f1", "llama70b_f1", "gpt4_f1"],
        verifier_columns=["p_ver_13b", "p_ver_70b"]``.

        Example:
            >>> rows = [{"id": "a", "llama13b_f1": 0.5, "llama70b_f1": 1.0, "p_ver_13b": 0.25}]
            >>> ReplayDataset.from_columns(rows).confidences.tolist()
            [[0.25]]
            >>> three = {"s": [0.0, 1.0], "m": [1.0, 1.0], "l": [1.0, 0.5],
            ...          "v_s": [0.25, 0.75], "v_m": [0.5, 0.5]}
            >>> ReplayDataset.from_columns(
            ...     three, score_columns=["s", "m", "l"], verifier_columns=["v_s", "v_m"]
            ... ).scores.shape
            (2, 3)
        """
        if score_columns is None:
            score_columns = (small_column, large_column)
            if verifier_columns is None:
                verifier_columns = (verifier_column,)
        elif verifier_columns is None:
            raise ReplayError("score_columns needs verifier_columns (one per model but the last)")
        score_columns, verifier_columns = list(score_columns), list(verifier_columns)
        if len(score_columns) < 2:
            raise ReplayError(f"need at least 2 score columns, got {score_columns}")
        if len(verifier_columns) != len(score_columns) - 1:
            raise ReplayError(
                f"need {len(score_columns) - 1} verifier columns (one per model but the "
                f"last), got {verifier_columns}"
            )
        if model_names is not None and len(model_names) != len(score_columns):
            raise ReplayError(f"need {len(score_columns)} model names, got {list(model_names)}")
        if hasattr(rows, "to_dict") and hasattr(rows, "columns"):  # a pandas DataFrame
            rows = rows.to_dict("records")
        if isinstance(rows, Mapping):
            cols = {k: list(v) for k, v in rows.items()}
            n = len(next(iter(cols.values()))) if cols else 0
            records: list[Mapping[str, Any]] = [
                {k: v[i] for k, v in cols.items()} for i in range(n)
            ]
        else:
            records = list(rows)

        def numbered() -> Iterable[tuple[int, Any]]:
            for i, rec in enumerate(records):
                where = f"row {i + 1}"
                if not isinstance(rec, Mapping):
                    raise ReplayError(f"{where}: expected a mapping")
                for col in (*score_columns, *verifier_columns):
                    if col not in rec:
                        raise ReplayError(f"{where}: missing column {col!r}")
                qid = rec.get(id_column) if id_column else None
                tiers: list[dict[str, Any]] = []
                for t, col in enumerate(score_columns):
                    tier: dict[str, Any] = {"score": _plain(rec[col])}
                    if t < len(verifier_columns):
                        tier["verifier_confidence"] = _plain(rec[verifier_columns[t]])
                    if model_names is not None:
                        tier["model"] = model_names[t]
                    tiers.append(tier)
                if answer_column is not None and rec.get(answer_column) is not None:
                    tiers[0]["answer"] = rec[answer_column]
                yield i + 1, {"id": _plain(qid) if qid is not None else i, "tiers": tiers}

        data = cls._from_numbered(numbered(), "row")
        return cls(data.ids, data.scores, data.confidences, data.answers, data.models)

    def select_tiers(self, tiers: Sequence[int]) -> ReplayDataset:
        """The same rows as a cascade of only ``tiers`` (increasing), e.g. ``[0, 2]``.

        Every selected tier but the last keeps its confidence and signals, so a
        three-tier replay yields each two-tier pair for comparison.

        Example:
            >>> data = ReplayDataset.from_arrays([[0.0, 0.5, 1.0]], [[0.25, 0.75]])
            >>> pair = data.select_tiers([0, 2])
            >>> pair.scores.tolist(), pair.confidences.tolist()
            ([[0.0, 1.0]], [[0.25]])
        """
        idx = [int(t) for t in tiers]
        if len(idx) < 2 or any(b <= a for a, b in pairwise(idx)):
            raise ValueError(f"tiers must be at least 2 increasing indices, got {list(tiers)}")
        if idx[0] < 0 or idx[-1] >= self.n_tiers:
            raise ValueError(f"tiers must be in [0, {self.n_tiers - 1}], got {list(tiers)}")
        head = idx[:-1]
        return ReplayDataset(
            ids=self.ids,
            scores=self.scores[:, idx],
            confidences=self.confidences[:, head],
            answers=tuple(tuple(row[t] for t in idx) for row in self.answers)
            if self.answers
            else (),
            models=tuple(self.models[t] for t in idx) if self.models else (),
            signals={k: v[:, head] for k, v in self.signals.items()},
            groups=self.groups,
        )

    # ------------------------------------------------------------------ views
    @property
    def n_rows(self) -> int:
        """Number of queries."""
        return int(self.scores.shape[0])

    def __len__(self) -> int:
        return self.n_rows

    @property
    def n_tiers(self) -> int:
        """Number of tiers (models) in the cascade."""
        return int(self.scores.shape[1])

    @property
    def gain(self) -> np.ndarray:
        """Quality gained by answering with the last tier instead of the first."""
        return np.asarray(self.scores[:, -1] - self.scores[:, 0])

    @property
    def signal_names(self) -> tuple[str, ...]:
        """Signals present in at least one row: ``verifier`` first, then the others."""
        others = sorted(
            k for k, v in self.signals.items() if k != "verifier" and (~np.isnan(v)).any()
        )
        return ("verifier", *others)

    def signal(self, name: str) -> np.ndarray:
        """One signal's values, shape ``(n, n_tiers - 1)``, NaN where a row lacks it.

        Raises:
            ReplayError: the signal is in no row (the message lists the ones present).
        """
        if name == "verifier":
            return self.confidences
        if name not in self.signal_names:
            raise ReplayError(
                f"signal {name!r} is not in this replay data; it has {list(self.signal_names)} "
                "(re-collect with `automix collect` to record answer logprob signals)"
            )
        return self.signals[name]

    @property
    def label_kind(self) -> str:
        """What the rows' scores measure: ``gold``, ``agreement``, ``judge`` or ``mixed``.

        Read from each record's ``"labels"`` (absent: ``gold``, as is a dataset built
        from arrays); see :mod:`langchain_automix.collection.labels`.

        Example:
            >>> ReplayDataset.from_records([{"id": "q", "labels": "agreement", "tiers": [
            ...     {"score": 1.0, "verifier_confidence": 0.5}, {"score": 1.0}]}]).label_kind
            'agreement'
        """
        kinds = {str(r.get("labels", "gold")) for r in self.records} or {"gold"}
        return kinds.pop() if len(kinds) == 1 else "mixed"

    def fingerprint(self) -> str:
        """A stable SHA-256 (hex) of the rows as fitting sees them.

        It covers, in row order, the ids, the tier models, the answers, every tier's
        score, the verifier confidences and the other signals (those present in some
        row; a row's missing value counts as missing); not the other fields of the raw
        records (latencies, usage, ...) nor the file's layout. The same rows give the
        same digest however they were loaded or subset; policy provenance records it.

        Example:
            >>> a = ReplayDataset.from_arrays([[1.0, 1.0], [0.0, 1.0]], [[0.875], [0.25]])
            >>> b = ReplayDataset.from_arrays([[1.0, 1.0], [0.0, 1.0]], [[0.875], [0.5]])
            >>> a.fingerprint() == a.subset([0, 1]).fingerprint() != b.fingerprint()
            True
        """
        names = [n for n in self.signal_names if n != "verifier"]
        head = {
            "n_rows": self.n_rows,
            "n_tiers": self.n_tiers,
            "ids": [q if isinstance(q, (str, int)) else str(q) for q in self.ids.tolist()],
            "models": list(self.models),
            "answers": [list(a) for a in self.answers],
            "signals": names,
        }
        h = hashlib.sha256(
            json.dumps(head, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
        )
        for arr in (self.scores, self.confidences, *(self.signals[n] for n in names)):
            # -1 marks a missing signal (values are in [0, 1]); + 0.0 turns -0.0 into 0.0
            canon = np.where(np.isnan(arr), -1.0, arr) + 0.0
            h.update(np.ascontiguousarray(canon, dtype="<f8").tobytes())
        return h.hexdigest()

    def with_confidences(self, confidences: Any) -> ReplayDataset:
        """The same rows with ``confidences`` replaced (e.g. by another signal)."""
        return replace(self, confidences=np.asarray(confidences, dtype=float))

    def tier_answers(self, tier: int = 0) -> list[str | None]:
        """Answers of one tier (``None`` where absent or when no answers were loaded)."""
        if not self.answers:
            return [None] * self.n_rows
        return [row[tier] for row in self.answers]

    def subset(self, index: Any) -> ReplayDataset:
        """Rows selected by an integer index array or a boolean mask."""
        idx = np.arange(self.n_rows)[np.asarray(index)]
        return ReplayDataset(
            ids=self.ids[idx],
            scores=self.scores[idx],
            confidences=self.confidences[idx],
            answers=tuple(self.answers[i] for i in idx) if self.answers else (),
            models=self.models,
            records=tuple(self.records[i] for i in idx) if self.records else (),
            signals={k: v[idx] for k, v in self.signals.items()},
            groups=None if self.groups is None else self.groups[idx],
        )

    @property
    def n_groups(self) -> int:
        """Number of observations: rows, counting a group of copies once."""
        return self.n_rows if self.groups is None else int(self.groups.max()) + 1

    def group_index(self) -> np.ndarray:
        """Group of every row (``arange(n)`` when every row is its own observation)."""
        return np.arange(self.n_rows) if self.groups is None else self.groups

    def fold_of_rows(self, folds: int, rng: np.random.Generator) -> np.ndarray:
        """A random fold (``0 .. folds - 1``) for every row, a group's rows in one fold.

        Without groups this is the permutation ``rng.permutation(n)`` dealt out in turn
        (row ``perm[i]`` in fold ``i % folds``), as plain k-fold cross-validation does.
        """
        units = self.n_groups
        fold_of_unit = np.empty(units, dtype=np.intp)
        fold_of_unit[rng.permutation(units)] = np.arange(units) % folds
        return fold_of_unit[self.group_index()]

    def resample_rows(self, draws: int, rng: np.random.Generator) -> np.ndarray:
        """Bootstrap resamples of the rows, shape ``(draws, n)``.

        Without groups, ``n`` rows drawn with replacement
        (``rng.integers(0, n, (draws, n))``). With groups, whole groups are drawn with
        replacement until ``n`` rows are filled (the last group drawn may be cut), so a
        group's copies move together and count as one observation.
        """
        n = self.n_rows
        if self.groups is None:
            return rng.integers(0, n, size=(draws, n))
        order = np.argsort(self.groups, kind="stable")
        sizes = np.bincount(self.groups)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        out = np.empty((draws, n), dtype=np.intp)
        # enough groups to fill n rows almost surely; topped up in the rare other case
        per_draw = 2 * sizes.size
        for d in range(draws):
            rows: list[np.ndarray] = []
            filled = 0
            while filled < n:
                picked = rng.integers(0, sizes.size, size=per_draw)
                lengths = sizes[picked]
                within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
                rows.append(order[np.repeat(starts[picked], lengths) + within])
                filled += int(lengths.sum())
            out[d] = np.concatenate(rows)[:n]
        return out

    def split(
        self, train_size: int | float, *, seed: int = 0
    ) -> tuple[ReplayDataset, ReplayDataset]:
        """Random train/test split; ``train_size`` is a row count or a fraction."""
        n = self.n_rows
        k = round(train_size * n) if isinstance(train_size, float) else int(train_size)
        if not 1 <= k < n:
            raise ValueError(f"train_size must leave rows on both sides, got {train_size!r} of {n}")
        rng = np.random.default_rng(seed)
        if self.groups is None:
            perm = rng.permutation(n)
            return self.subset(np.sort(perm[:k])), self.subset(np.sort(perm[k:]))
        train = self._whole_groups(k, rng)
        if train.all():
            raise ValueError(
                f"train_size {train_size!r} leaves no whole group of rows for the test side"
            )
        return self.subset(np.flatnonzero(train)), self.subset(np.flatnonzero(~train))

    def sample(self, size: int, *, seed: int = 0) -> ReplayDataset:
        """``size`` rows drawn without replacement.

        With :attr:`groups`, whole groups in random order until there are at least
        ``size`` rows (a group's copies are taken together or not at all).
        """
        if not 1 <= size <= self.n_rows:
            raise ValueError(f"sample size must be in [1, {self.n_rows}], got {size}")
        rng = np.random.default_rng(seed)
        if self.groups is None:
            idx = rng.choice(self.n_rows, size=size, replace=False)
            return self.subset(np.sort(idx))
        return self.subset(np.flatnonzero(self._whole_groups(size, rng)))

    def _whole_groups(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """A mask of whole groups, drawn in random order until at least ``size`` rows."""
        groups = self.group_index()
        units = rng.permutation(self.n_groups)
        take = int(np.searchsorted(np.cumsum(np.bincount(groups)[units]), size)) + 1
        return np.isin(groups, units[:take])

    def to_records(self) -> list[dict[str, Any]]:
        """Records in the JSON Lines layout (the raw records when loaded from JSON Lines)."""
        if self.records:
            return [dict(r) for r in self.records]
        out: list[dict[str, Any]] = []
        for i in range(self.n_rows):
            tiers: list[dict[str, Any]] = []
            for t in range(self.n_tiers):
                tier: dict[str, Any] = {}
                if self.models and self.models[t] is not None:
                    tier["model"] = self.models[t]
                if self.answers and self.answers[i][t] is not None:
                    tier["answer"] = self.answers[i][t]
                tier["score"] = float(self.scores[i, t])
                if t < self.n_tiers - 1:
                    tier["verifier_confidence"] = float(self.confidences[i, t])
                    signals = {
                        name: float(col[i, t])
                        for name, col in (self.signals or {}).items()
                        if np.isfinite(col[i, t])
                    }
                    if signals:
                        tier["signals"] = signals
                tiers.append(tier)
            qid = self.ids[i]
            out.append({"id": qid if isinstance(qid, (str, int)) else str(qid), "tiers": tiers})
        return out


def _plain(value: Any) -> Any:
    """A numpy scalar (from a DataFrame) as the Python value it holds."""
    return value.item() if isinstance(value, np.generic) else value


def _tier_signals(value: Any, tier: int, where: str) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ReplayError(f"{where}: tier {tier} 'signals' must be an object of numbers")
    return {
        str(k): _unit_float(v, f"tier {tier} signal {k!r}", where)
        for k, v in value.items()
        if v is not None
    }


def load_replay(path: str | Path) -> ReplayDataset:
    """Load a JSON Lines replay file (see :meth:`ReplayDataset.from_jsonl`)."""
    return ReplayDataset.from_jsonl(path)


def write_replay(data: ReplayDataset | Iterable[Mapping[str, Any]], path: str | Path) -> Path:
    """Write a dataset (or raw records) as JSON Lines; returns the path."""
    records = data.to_records() if isinstance(data, ReplayDataset) else list(data)
    p = Path(path)
    with p.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return p
