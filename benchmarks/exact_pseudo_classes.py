"""Does the landmark path's class loss on the Leiden view's communities help the exact path? (issue 3)

Run:  .venv/bin/python benchmarks/exact_pseudo_classes.py --simulated [--part 0|1]   (decide here)
      .venv/bin/python benchmarks/exact_pseudo_classes.py --real [--part 0|1]        (then check here)
      .venv/bin/python benchmarks/exact_pseudo_classes.py --combine simulated|real   (both halves' table)

Each case is fitted twice with the package's exact path (``ScLSTM(kernel="exact")``,
unsupervised, guard on). Once as it is: the network learns from pairs only. Once with
``train_siamese(pseudo_classes=<the leiden_pca view's communities>, pseudo_weight=0.3)``, the
landmark path's class loss (``sclstm.landmark.PSEUDO_CLASS_WEIGHT``). Pairs, k and the guard are
the package's in both. The rule for adopting it was written before the runs
(``benchmarks/results/exact_pseudo_classes/decision.md``).

Data and options as in ``exact_candidates``; writes benchmarks/results/exact_pseudo_classes/<run>.tsv and .md.
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import exact_candidates  # noqa: E402

import sclstm.estimator as est_mod  # noqa: E402
from sclstm.landmark import PSEUDO_CLASS_WEIGHT  # noqa: E402

RESULTS = HERE / "results" / "exact_pseudo_classes"
PACKAGE_TRAIN = est_mod.ScLSTM._train
CURRENT, CANDIDATE = "pairs only", f"pairs + class loss (w = {PSEUDO_CLASS_WEIGHT:g})"


def use_class_loss(on: bool) -> None:
    """Make the exact path train with the class loss (on) or on pairs only, as the package does (off)."""
    def train(self, seqs, pairs, views, pseudo_weight: float = 0.0):
        PACKAGE_TRAIN(self, seqs, pairs, views, pseudo_weight=PSEUDO_CLASS_WEIGHT if on else pseudo_weight)

    est_mod.ScLSTM._train = train


def candidates(args) -> dict:
    return {CURRENT: lambda: use_class_loss(False), CANDIDATE: lambda: use_class_loss(True)}


if __name__ == "__main__":
    exact_candidates.main(__doc__, RESULTS, "Class loss on the Leiden view's communities, exact path",
                          "training", candidates)
