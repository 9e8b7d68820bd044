"""Synthetic replay data with easy, needs-large and hopeless queries (tests, benchmarks)."""

from __future__ import annotations

import numpy as np

from langchain_automix.calibration.replay import ReplayDataset

__all__ = ["synthetic_replay"]


def synthetic_replay(
    n: int = 1000,
    *,
    k: int = 8,
    seed: int = 0,
    shares: tuple[float, float, float] = (0.5, 0.3, 0.2),
    unanswerable_share: float = 0.0,
    verifier_strength: float = 1.0,
) -> ReplayDataset:
    """A 2-tier replay dataset whose verifier is informative but noisy.

    Three kinds of queries, in proportions ``shares``:

    * *easy*: the small model is (mostly) right; verifier says "Correct" with p = 0.8;
    * *needs-large*: only the large model is right; p = 0.45;
    * *hopeless*: neither is right; p = 0.15 (the verifier sees through bad answers).

    Confidences are ``Binomial(k, p) / k``. ``verifier_strength`` scales how far each
    ``p`` is from 0.5: 1 as above (verifier AUROC about 0.96), 0.55 about 0.84, 0.3 about
    0.71, 0.15 about 0.61, 0 a verifier at chance (measured on 40,000 rows). Answers are
    ``"answer"`` or, for a share ``unanswerable_share`` of the needs-large queries,
    ``"unanswerable"``.

    Example:
        >>> data = synthetic_replay(100, seed=1)
        >>> data.n_rows, data.n_tiers, bool(((data.confidences * 8) % 1 == 0).all())
        (100, 2, True)
    """
    rng = np.random.default_rng(seed)
    kind = rng.choice(3, size=n, p=np.asarray(shares) / sum(shares))
    small = np.where(
        kind == 0,
        np.where(rng.random(n) < 0.9, 1.0, 0.5),
        np.where(kind == 1, np.where(rng.random(n) < 0.8, 0.0, 0.25), 0.0),
    )
    large = np.where(kind == 2, 0.0, np.where(rng.random(n) < 0.95, 1.0, 0.6))
    if not 0.0 <= verifier_strength <= 1.0:
        raise ValueError(f"verifier_strength must be in [0, 1], got {verifier_strength!r}")
    p = 0.5 + verifier_strength * (np.array([0.8, 0.45, 0.15])[kind] - 0.5)
    conf = rng.binomial(k, p) / k
    unans = (kind == 1) & (rng.random(n) < unanswerable_share)
    answers = [("unanswerable" if u else "answer", "answer") for u in unans]
    return ReplayDataset.from_arrays(
        np.stack([small, large], axis=1),
        conf.reshape(-1, 1),
        ids=[f"q{i}" for i in range(n)],
        answers=answers,
        models=("small", "large"),
    )
