"""Does a class loss on the teacher's communities make the landmark path's student keep them? (issue 6)

Run:  .venv/bin/python benchmarks/pseudo_classes.py [--sizes 30000,100000] [--files-seeds 1,2]
                        [--seeds 0,1] [--weights 0,0.3]      (about 12 minutes)

Each fit is the package's landmark path (``ScLSTM(kernel="landmark")``, unsupervised, k
estimated), trained with ``training.train_siamese(pseudo_classes=<the leiden_pca view's
communities on the training sample>, pseudo_weight=w)``: a linear head on the embedding learns
those label-free groups beside the pair loss (``sclstm.landmark.PSEUDO_CLASS_WEIGHT``, set here per
fit). w = 0 is the package's training before this, pair for pair; w = 0.3 was adopted by the rule
written before the runs (``benchmarks/results/pseudo_classes/decision.md``).

Data: the tuning files of ``landmark_views.py`` (random_state 1 and 2, never the scale
benchmark's file). Writes benchmarks/results/pseudo_classes/tuning.tsv and prints the means.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import RESULTS  # noqa: E402
from tuning_files import add_arguments, fit_candidates, write_and_summarise  # noqa: E402

import sclstm.estimator as est_mod  # noqa: E402

OUT = RESULTS / "pseudo_classes"


def use_weight(weight: float) -> None:
    """Make the landmark path's class loss weigh ``weight`` (0: none, the package before it was adopted)."""
    est_mod.lm.PSEUDO_CLASS_WEIGHT = weight


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap)
    ap.add_argument("--weights", default="0,0.3", help="candidate weights w of the class loss (0: none)")
    args = ap.parse_args()

    rows = fit_candidates(args, "weight", [float(w) for w in args.weights.split(",")], use_weight)
    write_and_summarise(rows, OUT, "pseudo_classes.py", "weight")


if __name__ == "__main__":
    main()
