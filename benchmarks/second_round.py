"""Would a second round of self-training, taught by the first network, help the exact path? (issue 3)

Run:  .venv/bin/python benchmarks/second_round.py --simulated [--part 0|1]   (decide here)
      .venv/bin/python benchmarks/second_round.py --real [--part 0|1]        (then check here)
      .venv/bin/python benchmarks/second_round.py --combine simulated|real   (both halves' table)

Each case is fitted twice with the package's exact path (``ScLSTM(kernel="exact")``,
unsupervised, guard on): once as it is, once with a second round (``second_round`` below): after
the package's training, two views from that first network — average linkage on 1 − P at k and
Leiden on the fuzzy 15-NN graph of the embedding — give new pairs where they agree, and a fresh
network trained on them replaces the first; the rest of the fit (P, clustering at k, the guard
against Ward on S) is the package's. The candidate lives here, not in the package; the rule for
adopting it was written before the runs (``benchmarks/results/second_round/decision.md``).

Data and options as in ``exact_candidates``; writes benchmarks/results/second_round/<run>.tsv and .md.
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import exact_candidates  # noqa: E402

import sclstm.estimator as est_mod  # noqa: E402
from sclstm.graph import fuzzy_graph, leiden  # noqa: E402

RESULTS = HERE / "results" / "second_round"
CURRENT, CANDIDATE = "one round (package)", "second round from the first network"
PACKAGE_TRAIN, PACKAGE_VIEWS = est_mod.ScLSTM._train, est_mod.label_free_views


def second_round_views(est, seqs, k: int) -> dict:
    """The first network's two views of the cells: its learned partition at k and Leiden on its embedding."""
    device = est._device()
    E = est_mod.embed(est.model_, seqs, device)
    P = est_mod.pair_probabilities(est.model_, E, device)
    return est_mod.informative_views({"learned_average": est._cluster(P, E, k),
                                      "leiden_embedding": leiden(fuzzy_graph(E), random_state=0)})


def use_second_round(on: bool) -> None:
    """Patch the exact path to train twice (on), or restore the package (off)."""
    if not on:
        est_mod.ScLSTM._train, est_mod.label_free_views = PACKAGE_TRAIN, PACKAGE_VIEWS
        return
    seen = {}

    def views_seeing_k(L, S, k, random_state=0, names=None):
        seen["k"] = k
        return PACKAGE_VIEWS(L, S, k, random_state=random_state, names=names)

    def train_twice(self, seqs, pairs, views, pseudo_weight: float = 0.0):
        PACKAGE_TRAIN(self, seqs, pairs, views, pseudo_weight)
        views2 = second_round_views(self, seqs, seen["k"])
        PACKAGE_TRAIN(self, seqs, self._pair_source(views2), views2, pseudo_weight)

    est_mod.ScLSTM._train, est_mod.label_free_views = train_twice, views_seeing_k


def candidates(args) -> dict:
    return {CURRENT: lambda: use_second_round(False), CANDIDATE: lambda: use_second_round(True)}


if __name__ == "__main__":
    exact_candidates.main(__doc__, RESULTS, "Second round of self-training, exact path", "training", candidates)
