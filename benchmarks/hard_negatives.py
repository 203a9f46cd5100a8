"""Do negatives drawn across neighbouring groups help the landmark path? (issue 6)

Run:  .venv/bin/python benchmarks/hard_negatives.py [--sizes 30000,100000] [--files-seeds 1,2]
                        [--seeds 0,1] [--shares 0,0.25,0.5]      (about 25 minutes)

Each fit is the package's landmark path (``ScLSTM(kernel="landmark")``, unsupervised, k
estimated) with one change: a share h of every batch's negative pairs is drawn from the
*neighbour negatives* of the training sample (``NeighbourNegatives`` below). h = 0 is the
package's own training, pair for pair (since 2026-12-05 that includes the class loss of
``pseudo_classes.py``; the committed tuning.tsv is from before it). The candidate lives here, not in the package: by the rule
(``benchmarks/results/hard_negatives/decision.md``, written before the runs) it was not adopted.

Data: the tuning files of ``landmark_views.py`` (random_state 1 and 2, never the scale
benchmark's file). Writes benchmarks/results/hard_negatives/tuning.tsv and prints the means.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import RESULTS  # noqa: E402
from tuning_files import add_arguments, fit_candidates, write_and_summarise  # noqa: E402

from sclstm.pairs import PairSource  # noqa: E402

OUT = RESULTS / "hard_negatives"


class NeighbourNegatives(PairSource):
    """PairSource whose batches take a share of their negatives from ``neighbours`` pairs
    (cell i, one of its nearest neighbours j) that every view puts in different groups."""

    def __init__(self, views, neighbours: np.ndarray, share: float):
        super().__init__(views)
        rows = np.repeat(np.arange(neighbours.shape[0]), neighbours.shape[1])
        cols = neighbours.ravel()
        V = self.V
        ok = (V[rows] >= 0).all(1) & (V[cols] >= 0).all(1) & (V[rows] != V[cols]).all(1)
        self.hard_a, self.hard_b = rows[ok], cols[ok]
        self.share = float(share)

    def sample(self, rng, n_pairs):
        a, b, y = super().sample(rng, n_pairs)
        neg = np.flatnonzero(y == 0)
        n_hard = int(round(self.share * len(neg)))
        if n_hard == 0 or len(self.hard_a) == 0:
            return a, b, y
        pick = rng.integers(len(self.hard_a), size=n_hard)
        flip = rng.random(n_hard) < 0.5  # either cell may be the first of the pair
        slots = neg[:n_hard]
        a[slots] = np.where(flip, self.hard_b[pick], self.hard_a[pick])
        b[slots] = np.where(flip, self.hard_a[pick], self.hard_b[pick])
        return a, b, y


def pc_neighbours(L, random_state: int, n_neighbours: int = 15) -> np.ndarray:
    """Each training-sample cell's ``n_neighbours`` nearest cells in the 50 PCs the PCA views use."""
    from sklearn.neighbors import NearestNeighbors
    from sclstm.pairs import principal_components

    pcs = principal_components(np.asarray(L.toarray() if hasattr(L, "toarray") else L, dtype=np.float64), random_state)
    return NearestNeighbors(n_neighbors=n_neighbours + 1).fit(pcs).kneighbors(pcs, return_distance=False)[:, 1:]


def patch(share: float, n_neighbours: int = 15) -> dict:
    """Make the landmark path train on NeighbourNegatives; returns what the fit recorded."""
    import sclstm.estimator as est_mod
    from sclstm.pairs import label_free_views

    seen = {}

    def views_and_neighbours(L, S, k, random_state=0, names=None):
        seen["neighbours"] = pc_neighbours(L, random_state, n_neighbours)
        return label_free_views(L, S, k, random_state=random_state, names=names)

    def pair_source(self, views):
        src = NeighbourNegatives(list(views.values()), seen["neighbours"], share)
        seen["n_neighbour_negatives"] = int(len(src.hard_a))
        return src

    est_mod.label_free_views = views_and_neighbours
    est_mod.ScLSTM._pair_source = pair_source
    return seen


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap)
    ap.add_argument("--shares", default="0,0.25,0.5", help="candidate shares h of neighbour negatives")
    args = ap.parse_args()

    def setup(share):
        seen = patch(share)
        return lambda: {"neighbour_negatives": seen["n_neighbour_negatives"]}

    rows = fit_candidates(args, "share", [float(s) for s in args.shares.split(",")], setup)
    write_and_summarise(rows, OUT, "hard_negatives.py", "share")


if __name__ == "__main__":
    main()
