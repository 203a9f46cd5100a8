"""Why does the kernel trail PCA on a dataset? A diagnosis, not a tuning run.

For one dataset (any name bench_accuracy takes), with k = the published number of types: Ward on
the kernel S (what the kernel-only row and the guard's fallback do) against Ward on 50 PCs of the
same preprocessed matrix L, for the default ("scaled") and the "normalised" preprocessing, and the
cross-table of Ward on S against the published labels.

Run:  .venv/bin/python benchmarks/kernel_probe.py zeisel
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402
from sklearn.cluster import AgglomerativeClustering  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from acc_common import load_dataset  # noqa: E402
from sclstm.clustering import cluster_features  # noqa: E402
from sclstm.kernel import sigmoid_kernel  # noqa: E402
from sclstm.preprocessing import Preprocessor  # noqa: E402
from sclstm.validation import check_counts  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", help="a name bench_accuracy takes, e.g. zeisel or pollen")
    name = ap.parse_args(argv).dataset
    adata, truth, k = load_dataset(name)
    X = check_counts(adata.X).X
    for method in ("scaled", "normalised"):
        L = Preprocessor(method=method).fit_transform(X)
        on_s = cluster_features(sigmoid_kernel(L), k)
        on_pcs = AgglomerativeClustering(k, linkage="ward").fit_predict(PCA(50, random_state=0).fit_transform(L))
        print(f"{name}, preprocess={method!r}, k={k}: ARI Ward on S {adjusted_rand_score(truth, on_s):.3f}, "
              f"Ward on 50 PCs of L {adjusted_rand_score(truth, on_pcs):.3f}")
        print(pd.crosstab(pd.Series(truth, name="published"), pd.Series(on_s, name="Ward on S")), "\n")


if __name__ == "__main__":
    main()
