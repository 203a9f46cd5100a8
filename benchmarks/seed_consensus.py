"""Does a consensus of several networks beat one on the exact path? (issue 3)

Run:  .venv/bin/python benchmarks/seed_consensus.py --simulated [--part 0|1]   (decide here)
      .venv/bin/python benchmarks/seed_consensus.py --real [--part 0|1]        (then check here)
      .venv/bin/python benchmarks/seed_consensus.py --combine simulated|real   (both halves' table)

Each case is fitted twice with the package's exact path (``ScLSTM(kernel="exact")``,
unsupervised, guard on): once as it is (one network), once with ``--networks`` networks trained
on the same pairs and sequences — the first is the package's own, the others use
``random_state + 1000 r`` — whose P(same) matrices are averaged before the package's clustering
and guard (``use_networks`` below). The candidate lives here, not in the package; the rule for
adopting it was written before the runs (``benchmarks/results/seed_consensus/decision.md``).

Data and options as in ``exact_candidates``; writes benchmarks/results/seed_consensus/<run>.tsv and .md.
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import exact_candidates  # noqa: E402

import sclstm.estimator as est_mod  # noqa: E402
from sclstm.training import embed, pair_probabilities  # noqa: E402

RESULTS = HERE / "results" / "seed_consensus"
PACKAGE_TRAIN = est_mod.ScLSTM._train


def use_networks(n_networks: int) -> None:
    """Make the exact path train ``n_networks`` networks and cluster the mean of their P(same)."""
    extra = []

    def train(self, seqs, pairs, views):
        PACKAGE_TRAIN(self, seqs, pairs, views)  # network 1: the package's, pair for pair
        first, seed = (self.model_, self.history_), self.random_state
        extra.clear()
        for r in range(1, n_networks):  # the package's own training, with another seed
            self.random_state = seed + 1000 * r
            PACKAGE_TRAIN(self, seqs, pairs, views)
            extra.append((self.model_, embed(self.model_, seqs, self._device())))
        self.random_state = seed
        self.model_, self.history_ = first

    def mean_pair_probabilities(model, emb, device="cpu"):
        P = pair_probabilities(model, emb, device)
        for other, other_emb in extra:
            P += pair_probabilities(other, other_emb, device)
        return P / (1 + len(extra))

    est_mod.ScLSTM._train = train
    est_mod.pair_probabilities = mean_pair_probabilities


def candidates(args) -> dict:
    return {n: (lambda n=n: use_networks(n)) for n in (1, args.networks)}


def networks_argument(ap) -> None:
    ap.add_argument("--networks", type=int, default=3, help="networks in the consensus (default 3)")


if __name__ == "__main__":
    exact_candidates.main(__doc__, RESULTS, "Consensus of networks", "networks", candidates, networks_argument)
