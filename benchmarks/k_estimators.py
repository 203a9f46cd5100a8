"""Estimators of k on the 7 datasets, and whether choosing among them would generalise (issue 3).

Run:  .venv/bin/python benchmarks/k_estimators.py      (about a minute; no network is trained)

Candidates, all label-free: the eigengap of the normalised Laplacian of the 5-, 10- (the
package's) and 15-nearest-neighbour graph of the kernel S, with the default ``"scaled"`` and with
the ``"normalised"`` (centred only) preprocessing, the number of Leiden communities of the
package's ``leiden_pca`` view, and the median of the package's estimate, its centred-only twin
and the Leiden count. The issue's target is "within 1 of the true k on at least 5 of 7".

Choosing the estimator by how it does on these same datasets would be tuning on the scored
cells, so the choice is also made leave-one-dataset-out: for each dataset, the candidate with
the most hits on the other six (ties: the smallest mean |log(k_est / k_true)|), scored on the
one left out. Writes benchmarks/results/k_estimators.md.
"""
import sys
import time
from pathlib import Path

import anndata as ad
import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import DATA, DATASETS, RESULTS  # noqa: E402
from sclstm.clustering import estimate_k  # noqa: E402
from sclstm.kernel import ExactKernel  # noqa: E402
from sclstm.pairs import label_free_views  # noqa: E402
from sclstm.preprocessing import Preprocessor  # noqa: E402
from sclstm.validation import check_counts  # noqa: E402

PACKAGE = "eigengap, 10-NN graph of S, scaled (package default)"


def estimates(adata) -> dict:
    counts = check_counts(sp.csr_matrix(adata.X), np.asarray(adata.obs_names), np.asarray(adata.var_names))
    out = {}
    for prep in ("scaled", "normalised"):
        L = Preprocessor(prep, 3, 2000).fit_transform(counts.X)
        S = ExactKernel().fit_transform(L)
        for nn in (5, 10, 15):
            name = PACKAGE if (prep, nn) == ("scaled", 10) else f"eigengap, {nn}-NN graph of S, {prep}"
            out[name] = estimate_k(S, 30, nn)[0]
        if prep == "scaled":
            leiden = label_free_views(L, S, 2, random_state=0, names=("leiden_pca",))["leiden_pca"]
            out["Leiden communities (leiden_pca view)"] = len(set(leiden))
    out["median of package, centred-only twin, Leiden"] = int(np.median(
        [out[PACKAGE], out["eigengap, 10-NN graph of S, normalised"], out["Leiden communities (leiden_pca view)"]]))
    return out


def main():
    est, truth = {}, {}
    for name in DATASETS:
        adata = ad.read_h5ad(DATA / f"{name}.h5ad")
        truth[name] = adata.obs["cell_type"].nunique()
        est[name] = estimates(adata)
        print(name, truth[name], est[name], flush=True)
    cands = list(est[DATASETS[0]])
    hits = lambda c, ds: sum(abs(est[d][c] - truth[d]) <= 1 for d in ds)  # noqa: E731
    err = lambda c, ds: float(np.mean([abs(np.log(est[d][c] / truth[d])) for d in ds]))  # noqa: E731
    lines = [f"# Estimating k: candidates and leave-one-dataset-out choice ({time.strftime('%Y-%m-%d')})", "",
             "`.venv/bin/python benchmarks/k_estimators.py`: unsupervised, all cells, seed 0. "
             "Each cell is the k estimated, in bold when within 1 of the published number of types.", "",
             "| estimator | " + " | ".join(f"{d} ({truth[d]})" for d in DATASETS) + " | within 1 | mean abs log ratio |",
             "|---|" + "---:|" * (len(DATASETS) + 2)]
    for c in cands:
        cells = [f"**{est[d][c]}**" if abs(est[d][c] - truth[d]) <= 1 else str(est[d][c]) for d in DATASETS]
        lines.append(f"| {c} | " + " | ".join(cells) + f" | {hits(c, DATASETS)} of 7 | {err(c, DATASETS):.2f} |")
    lines += ["", "Chosen on the other six datasets, scored on the one left out:", "",
              "| left out | chosen | k | true k | within 1 |", "|---|---|---:|---:|---|"]
    total = 0
    for d in DATASETS:
        rest = [x for x in DATASETS if x != d]
        best = max(cands, key=lambda c: (hits(c, rest), -err(c, rest)))
        ok = abs(est[d][best] - truth[d]) <= 1
        total += ok
        lines.append(f"| {d} | {best} | {est[d][best]} | {truth[d]} | {'yes' if ok else 'no'} |")
    lines += ["", f"Held out, the chosen estimator is within 1 on {total} of 7 datasets."]
    (RESULTS / "k_estimators.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
