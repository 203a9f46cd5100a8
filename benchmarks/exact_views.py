"""Would the exact path do better trained on the landmark path's views? (issue 3)

Run:  .venv/bin/python benchmarks/exact_views.py --simulated [--part 0|1]   (decide here)
      .venv/bin/python benchmarks/exact_views.py --real [--part 0|1]        (then check here)
      .venv/bin/python benchmarks/exact_views.py --combine simulated|real   (both halves' table)

Each case is fitted twice with the package's exact path (``ScLSTM(kernel="exact")``,
unsupervised, guard on): once as it is (training pairs from ``TRAINING_VIEWS``, Leiden + Ward on
S), once trained on ``LANDMARK_TRAINING_VIEWS`` (Leiden + Ward on PCs) with the guard judging by
``average_cosine`` alone, the guard view left out of that training (``use_views`` below). The
candidate lives here, not in the package; the rule for adopting it was written before the runs
(``benchmarks/results/exact_views/decision.md``).

Data and options as in ``exact_candidates``; writes benchmarks/results/exact_views/<run>.tsv and .md.
"""
from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import exact_candidates  # noqa: E402

import sclstm.estimator as est_mod  # noqa: E402
from sclstm.pairs import LANDMARK_TRAINING_VIEWS, TRAINING_VIEWS, guard_agreement  # noqa: E402

RESULTS = HERE / "results" / "exact_views"
CURRENT, CANDIDATE = "leiden_pca + ward_kernel", "leiden_pca + ward_pca"


def use_views(landmark_views: bool) -> None:
    """Train the exact path on the landmark path's views, guard by average_cosine (on), or as the package does (off)."""
    if landmark_views:
        est_mod.TRAINING_VIEWS = LANDMARK_TRAINING_VIEWS
        est_mod.guard_agreement = partial(guard_agreement, names=("average_cosine",))
    else:
        est_mod.TRAINING_VIEWS, est_mod.guard_agreement = TRAINING_VIEWS, guard_agreement


def candidates(args) -> dict:
    return {CURRENT: lambda: use_views(False), CANDIDATE: lambda: use_views(True)}


if __name__ == "__main__":
    exact_candidates.main(__doc__, RESULTS, "Exact-path training views", "views", candidates)
