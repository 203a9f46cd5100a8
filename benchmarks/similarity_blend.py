"""Does the learned similarity blended with the kernel cluster better than it alone? (issue 3)

Run:  .venv/bin/python benchmarks/similarity_blend.py --simulated [--part 0|1]   (decide here)
      .venv/bin/python benchmarks/similarity_blend.py --real [--part 0|1]        (then check here)
      .venv/bin/python benchmarks/similarity_blend.py --combine simulated|real   (both halves' table)

Each case is fitted twice with the package's exact path (``ScLSTM(kernel="exact")``,
unsupervised, guard on): once as it is (the learned P(same) is clustered), once with
``B = (mm(P) + mm(S)) / 2`` clustered instead, where S is the kernel of the same fit and ``mm``
min–max scales to [0, 1] over the off-diagonal entries (``use_blend`` below). The network, k and
the guard are the package's in both. The candidate lives here, not in the package; the rule for
adopting it was written before the runs (``benchmarks/results/similarity_blend/decision.md``).

Data and options as in ``exact_candidates``; writes benchmarks/results/similarity_blend/<run>.tsv and .md.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import exact_candidates  # noqa: E402

import sclstm.estimator as est_mod  # noqa: E402

RESULTS = HERE / "results" / "similarity_blend"
PACKAGE_KERNEL = est_mod.ExactKernel
PACKAGE_PAIR_PROBABILITIES = est_mod.pair_probabilities
CURRENT, BLEND = "learned P", "blend of P and S"


def min_max(M: np.ndarray) -> np.ndarray:
    """M scaled to [0, 1] by the range of its off-diagonal entries."""
    off = ~np.eye(M.shape[0], dtype=bool)
    lo, hi = float(M[off].min()), float(M[off].max())
    return (M - lo) / (hi - lo) if hi > lo else np.zeros_like(M)


def use_blend(on: bool) -> None:
    """Make the exact path cluster ``(mm(P) + mm(S)) / 2`` (on) or P, as the package does (off)."""
    if not on:
        est_mod.ExactKernel, est_mod.pair_probabilities = PACKAGE_KERNEL, PACKAGE_PAIR_PROBABILITIES
        return
    kernel = {}

    class RecordingKernel(PACKAGE_KERNEL):
        def fit_transform(self, L):
            kernel["S"] = super().fit_transform(L)
            return kernel["S"]

    def blended(model, emb, device="cpu"):
        P = PACKAGE_PAIR_PROBABILITIES(model, emb, device)
        return ((min_max(P) + min_max(kernel["S"])) / 2).astype(P.dtype)

    est_mod.ExactKernel, est_mod.pair_probabilities = RecordingKernel, blended


def candidates(args) -> dict:
    return {CURRENT: lambda: use_blend(False), BLEND: lambda: use_blend(True)}


if __name__ == "__main__":
    exact_candidates.main(__doc__, RESULTS, "Learned similarity blended with the kernel", "similarity", candidates)
