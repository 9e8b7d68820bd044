"""Rows that copy one observation (served traces weighted by replication) stay together."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from langchain_automix.calibration.replay import ReplayDataset
from langchain_automix.calibration.synthetic import synthetic_replay
from langchain_automix.evaluation import evaluate_policy
from langchain_automix.meta_verifiers import Calibrated, Threshold


def _row(i: int, small: float, conf: float) -> dict[str, Any]:
    return {"id": f"q{i}", "tiers": [{"score": small, "verifier_confidence": conf}, {"score": 1}]}


def _weighted(n: int = 40, copies: int = 10, every: int = 4, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` observations; every ``every``-th is repeated ``copies`` times, as
    ``served_replay`` weights an explored query (the copies name it in ``copy_of``)."""
    rng = np.random.default_rng(seed)
    out: list[dict[str, Any]] = []
    for i in range(n):
        conf = float(rng.integers(0, 9) / 8)
        row = _row(i, float(rng.random() < conf), conf)
        out.append(row)
        if i % every == 0:
            out += [{**row, "id": f"q{i}#{k}", "copy_of": f"q{i}"} for k in range(1, copies)]
    return out


def _group_sets(data: ReplayDataset, rows: np.ndarray) -> set[int]:
    return set(data.group_index()[rows].tolist())


def test_copy_of_groups_the_copies_with_their_original() -> None:
    data = ReplayDataset.from_records(_weighted(n=8, copies=3, every=4))
    assert data.n_rows == 12
    groups = data.group_index()
    assert len(set(groups.tolist())) == 8
    for i, qid in enumerate(data.ids):
        original = str(qid).split("#")[0]
        assert groups[i] == groups[list(data.ids).index(original)]
    # kept through subsets, tier selection and new confidences
    sub = data.subset(np.arange(6))
    assert sub.groups is not None and (sub.group_index() == groups[:6]).all()
    assert data.with_confidences(data.confidences).groups is not None


def test_rows_without_copies_have_no_groups_and_old_splits_and_draws() -> None:
    data = synthetic_replay(50, seed=3)
    assert data.groups is None
    perm = np.random.default_rng(7).permutation(50)
    folds = data.fold_of_rows(5, np.random.default_rng(7))
    assert (folds[perm] == np.arange(50) % 5).all()  # plain k-fold: perm dealt out in turn
    draws = data.resample_rows(20, np.random.default_rng(1))
    assert (draws == np.random.default_rng(1).integers(0, 50, size=(20, 50))).all()


def test_a_copy_naming_a_row_outside_the_set_still_groups_with_its_siblings() -> None:
    rows = _weighted(n=4, copies=3, every=4)  # q0 and its two copies, q1..q3
    data = ReplayDataset.from_records(rows[1:])  # the original q0 is not here
    groups = data.group_index()
    assert groups[0] == groups[1] and len(set(groups.tolist())) == 4


def test_split_and_folds_never_separate_a_group() -> None:
    data = ReplayDataset.from_records(_weighted())
    for seed in range(20):
        train, test = data.split(0.5, seed=seed)
        assert not {str(i).split("#")[0] for i in train.ids} & {
            str(i).split("#")[0] for i in test.ids
        }
        folds = data.fold_of_rows(5, np.random.default_rng(seed))
        for g in set(data.group_index().tolist()):
            assert len(set(folds[data.group_index() == g].tolist())) == 1


def test_sample_takes_whole_groups() -> None:
    data = ReplayDataset.from_records(_weighted())
    for seed in range(10):
        part = data.sample(30, seed=seed)
        assert part.n_rows >= 30
        originals = {str(i).split("#")[0] for i in part.ids}
        expected = sum(int((np.char.partition(data.ids.astype(str), "#")[:, 0] == o).sum())
                       for o in originals)  # fmt: skip
        assert part.n_rows == expected  # every copy of a drawn observation came along


def test_bootstrap_draws_whole_groups_and_spreads_wider() -> None:
    data = ReplayDataset.from_records(_weighted(n=200))
    groups, sizes = data.group_index(), np.bincount(data.group_index())
    draws = data.resample_rows(300, np.random.default_rng(0))
    assert draws.shape == (300, data.n_rows)
    for draw in draws[:50]:
        counts = np.bincount(groups[draw], minlength=sizes.size)
        cut = counts % sizes != 0  # only the last group drawn may be cut short
        assert cut.sum() <= 1
    # a group-level quantity: its resampled mean varies as over 200 observations, not
    # as over the 650 rows the copies make
    value = data.scores[:, 0]
    grouped = value[draws].mean(axis=1).std()
    plain = value[np.random.default_rng(0).integers(0, data.n_rows, (300, data.n_rows))]
    assert grouped > 1.3 * plain.mean(axis=1).std()


def test_calibrated_cross_validation_never_trains_on_a_held_out_rows_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = ReplayDataset.from_records(_weighted(n=60))
    seen: list[np.ndarray] = []
    subset = ReplayDataset.subset

    def spy(self: ReplayDataset, index: Any) -> ReplayDataset:
        if self is data:
            seen.append(np.arange(self.n_rows)[np.asarray(index)])
        return subset(self, index)

    monkeypatch.setattr(ReplayDataset, "subset", spy)
    Calibrated(Threshold(), signal="verifier").fit(data, costs=(1.0, 50.0))
    assert len(seen) >= 2 and len(seen) % 2 == 0
    for train_rows, test_rows in zip(seen[::2], seen[1::2], strict=True):
        assert not _group_sets(data, train_rows) & _group_sets(data, test_rows)


def test_evaluate_intervals_count_copies_once() -> None:
    records = _weighted(n=120)
    plain = [{k: v for k, v in r.items() if k != "copy_of"} for r in records]
    policy = Threshold(0.5)

    def width(rows: list[dict[str, Any]]) -> float:
        res = evaluate_policy(
            policy, ReplayDataset.from_records(rows), costs=(1.0, 50.0), bootstrap=400
        )
        lo, hi = np.percentile(res.bootstrap["avg_performance"], [2.5, 97.5])
        return float(hi - lo)

    assert width(records) > 1.2 * width(plain)
