"""Where the landmark path's gap to scanpy is not (issue 6): probes on exploration files.

Run:  .venv/bin/python benchmarks/landmark_probes.py [--files-seeds 3,4] [--probes NAMES]
      (about 6 minutes a file for every probe, one process)

Exploration files only: ``bench_scale.ensure_data(cache, 30000, random_state)`` with random_state
3 and 4 (16 planted types, 2,000 genes; never the scale benchmark's file 0 nor the tuning files 1
and 2). One unsupervised landmark fit (``ScLSTM(kernel="landmark", random_state=0)``) per probe and
file; labels only score. Every row: k, ARI against the planted types (``ARI``) and the reference
types (``ARI_ref``), ``micro``: ARI if every micro-cluster of the merge took its majority planted
type (the best a merge of these micro-clusters could do), and the tree cut at 16.

Probes (``--probes``, comma-separated; default all):

* ``current``: the package as it is;
* ``sample10k``: training sample of 10,000 cells instead of 5,000;
* ``genes500`` / ``genes1000``: ``n_top_genes`` 500 / 1,000 instead of all 2,000;
* ``steps1200``: ``n_steps=1200`` (3×); ``wide``: also ``hidden_size=128, embedding_dim=64``;
* ``merges``: the ``steps1200`` fit's micro-clusters merged other ways, cut at 11, 13 and 16:
  average linkage on 1 − P (the package), complete linkage on 1 − P, Ward on micro-cluster
  centroids of the embedding, average linkage on their cosine distance;
* ``allcells``: the package's ``leiden_pca`` view computed on all cells (the all-cells teacher of
  ``all_cells_teacher.py``) as the only training view, *named* ``leiden_pca`` so that the class loss
  uses it, k = its community count, class-loss weight 0.3 and 1.0;
* ``leiden_on_student``: Leiden (resolution 1) on the current fit's sparse learned-P graph of all
  cells and on the fuzzy 15-NN graph of its embedding: a second-round teacher from the student.
* ``truth80``: a ceiling, not an unsupervised run: labelled mode with the *planted* types of a
  stratified 80% of the cells (``labelled_fraction=0.8``), scored only on the other 20%. It asks
  whether a perfect teacher gets the perturbed children through the pair head: ARI of the
  clusters (k = 16 from the labels, and the tree cut at 11), of the class head's predictions, the
  micro-bound, and the mean learned P(same) between micro-clusters whose majority types are
  the same, a perturbed child and its parent, or otherwise different.
* ``truth80_hard``: ``truth80`` with a share h = 0.25 and 0.5 of every batch's negatives drawn
  from neighbour pairs of the sample with different labels (``hard_negatives.NeighbourNegatives``
  on the 15 nearest neighbours in the sample's 50 PCs): do right hard negatives teach the pair
  head the child–parent boundary, and do the clusters follow?
* ``child_split``: can each of the ``current`` fit's clusters be split afterwards, in the input?
  For every cluster (at most 3,000 of its cells, seeded), in 50 PCs of its own cells' preprocessed
  expression (the package's ``preprocessor_``): k-means with 2 clusters on the first 10 and on
  all 50 PCs, and Leiden (resolution 1) on their fuzzy 15-NN graph, each scored by ARI against the
  planted types inside the cluster; and, for a cluster whose second planted type holds ≥ 10% of
  it, the 3-fold cross-validated accuracy of linear discriminant analysis on the 50 PCs telling its
  two largest planted types apart (a ceiling: labels used). Does a post-hoc split find the
  perturbed children the merge joined to their parents?

Writes benchmarks/results/landmark_probes/probes_files<files-seeds>[_<probes>].tsv (the probes named
only when not all ran; header line: date and command).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.metrics import adjusted_rand_score

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_core import RESULTS, write_tsv  # noqa: E402
from bench_scale import ensure_data  # noqa: E402
from diagnose_landmark import micro_bound, micro_majority  # noqa: E402

OUT = RESULTS / "landmark_probes"
FIT_PROBES = {"current": {}, "sample10k": dict(sample_size=10_000), "genes500": dict(n_top_genes=500),
              "genes1000": dict(n_top_genes=1000), "steps1200": dict(n_steps=1200),
              "wide": dict(n_steps=1200, hidden_size=128, embedding_dim=64)}
PROBES = (*FIT_PROBES, "merges", "allcells", "leiden_on_student", "truth80", "truth80_hard", "child_split")


def fit_row(est, truth, reference, seconds: float) -> dict:
    return dict(k=int(est.n_clusters_), ARI=adjusted_rand_score(truth, est.labels_),
                ARI_ref=adjusted_rand_score(reference, est.labels_), micro=micro_bound(truth, est.merge_.micro_),
                cut16=adjusted_rand_score(truth, est.recluster(16)), seconds=round(seconds, 1))


def fit(X, **params):
    import sclstm

    t0 = time.perf_counter()
    est = sclstm.ScLSTM(kernel="landmark", random_state=0, **params).fit(X)
    return est, time.perf_counter() - t0


def merge_rows(est, truth) -> list[dict]:
    """The fit's micro-clusters merged four ways, cut at 11, 13 and 16."""
    from sclstm.clustering import cut_tree

    merge, E = est.merge_, est.embedding_
    micro = merge.micro_
    centroids = np.vstack([E[micro == g].mean(0) for g in range(micro.max() + 1)])
    D = np.clip(1.0 - merge.micro_similarity_, 0.0, None)
    np.fill_diagonal(D, 0.0)
    trees = {"average on 1 - P (package)": None, "complete on 1 - P": linkage(squareform(D, checks=False), "complete"),
             "Ward on centroids": linkage(centroids, "ward"), "average cosine on centroids": linkage(centroids, "average", metric="cosine")}
    rows = []
    for name, Z in trees.items():
        for k in (11, 13, 16):
            labels = cut_tree(merge.tree_, k)[micro] if Z is None else fcluster(Z, k, "maxclust")[micro]
            rows.append(dict(variant=name, k=k, ARI=adjusted_rand_score(truth, labels)))
    return rows


def allcells_rows(adata, truth, reference) -> list[dict]:
    from all_cells_teacher import all_cells_leiden, fit_with_teacher

    t0 = time.perf_counter()
    teacher = all_cells_leiden(adata, 0)
    rows = [dict(variant="teacher itself", k=int(teacher.max()) + 1, ARI=adjusted_rand_score(truth, teacher),
                 ARI_ref=adjusted_rand_score(reference, teacher), seconds=round(time.perf_counter() - t0, 1))]
    for weight in (0.3, 1.0):
        t0 = time.perf_counter()
        est = fit_with_teacher(adata, teacher, 0, {}, view_name="leiden_pca", class_loss_weight=weight)
        rows.append(dict(variant=f"student, class-loss weight {weight:g}",
                         **fit_row(est, truth, reference, time.perf_counter() - t0)))
    return rows


def truth80_rows(adata, truth, reference, hard_share: float | None = None) -> list[dict]:
    """Labelled mode on the planted types of 80% of cells; every score on the unseen 20%.
    With ``hard_share``, that share of each batch's negatives are neighbour pairs of different labels."""
    import sclstm
    from sklearn.metrics import balanced_accuracy_score

    with hard_negative_pairs(hard_share):
        t0 = time.perf_counter()
        est = sclstm.ScLSTM(kernel="landmark", mode="labelled", labelled_fraction=0.8, random_state=0).fit(adata.X, labels=truth)
        seconds = round(time.perf_counter() - t0, 1)
    unseen = ~est.labelled_mask_
    t, r = truth[unseen], reference[unseen]
    prefix = "" if hard_share is None else f"h = {hard_share:g}: "
    rows = [dict(variant=f"{prefix}clusters, k = {k}", k=k, ARI=adjusted_rand_score(t, labels[unseen]),
                 ARI_ref=adjusted_rand_score(r, labels[unseen]), seconds=seconds)
            for k, labels in ((est.n_clusters_, est.labels_), (11, est.recluster(11)))]
    rows.append(dict(variant=f"{prefix}class-head predictions", ARI=adjusted_rand_score(t, est.predicted_labels_[unseen]),
                     BAS=balanced_accuracy_score(t, est.predicted_labels_[unseen])))
    micro = est.merge_.micro_
    rows.append(dict(variant=f"{prefix}micro-bound (all cells)", ARI=micro_bound(truth, micro)))
    majority = micro_majority(truth, micro)
    parent = dict(zip(truth, reference))
    same = majority[:, None] == majority[None, :]
    related = np.array([[parent[a] == parent[b] for b in majority] for a in majority]) & ~same
    P = est.merge_.micro_similarity_
    for name, mask in (("same type", same), ("child and parent", related), ("other types", ~same & ~related)):
        rows.append(dict(variant=f"{prefix}mean P(same) between micro-clusters: {name}", P=float(P[mask].mean()) if mask.any() else float("nan")))
    return rows


@contextlib.contextmanager
def hard_negative_pairs(share: float | None):
    """While active (share not None), labelled fits draw ``share`` of their negatives from
    neighbour pairs (15-NN in the training sample's 50 PCs) whose labels differ."""
    if share is None:
        yield
        return
    import sclstm.estimator as est_mod
    import sclstm.landmark as lm
    from hard_negatives import NeighbourNegatives, pc_neighbours

    seen, read, source = {}, lm.read_landmarks_and_sample, est_mod.ScLSTM._pair_source

    def read_and_keep(*args, **kwargs):
        out = read(*args, **kwargs)
        seen["L_sample"] = out[3]
        return out

    def pair_source(self, views):
        return NeighbourNegatives(list(views.values()), pc_neighbours(seen["L_sample"], self.random_state), share)

    lm.read_landmarks_and_sample, est_mod.ScLSTM._pair_source = read_and_keep, pair_source
    try:
        yield
    finally:
        lm.read_landmarks_and_sample, est_mod.ScLSTM._pair_source = read, source


def leiden_on_student_rows(est, truth, reference) -> list[dict]:
    from sclstm.graph import fuzzy_graph, leiden

    rows = []
    for name, graph in (("learned-P kNN graph", lambda: est.similarity_), ("fuzzy 15-NN graph of the embedding", lambda: fuzzy_graph(est.embedding_))):
        t0 = time.perf_counter()
        labels = leiden(graph())
        rows.append(dict(variant=name, k=int(labels.max()) + 1, ARI=adjusted_rand_score(truth, labels),
                         ARI_ref=adjusted_rand_score(reference, labels), seconds=round(time.perf_counter() - t0, 1)))
    return rows


def child_split_rows(est, X, truth) -> list[dict]:
    """Per cluster of the fit: 2-means on its local PCs and local Leiden (unsupervised), and an LDA
    ceiling on its two largest planted types; all scored inside the cluster."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.model_selection import cross_val_score
    from sclstm.graph import fuzzy_graph, leiden

    rng = np.random.default_rng(0)
    labels = np.asarray(est.labels_)
    rows = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if len(idx) < 50:
            continue
        idx = idx if len(idx) <= 3000 else np.sort(rng.choice(idx, 3000, replace=False))
        L = est.preprocessor_.transform(X[idx])
        L = np.asarray(L.todense() if hasattr(L, "todense") else L, dtype=np.float64)
        Z = PCA(50, random_state=0).fit_transform(L - L.mean(0))
        t = truth[idx]
        types, counts = np.unique(t, return_counts=True)
        order = np.argsort(-counts)
        row = dict(cluster=int(c), cells=int((labels == c).sum()),
                   types=", ".join(f"{types[i]}:{counts[i]}" for i in order[:3]),
                   kmeans2_pc10=adjusted_rand_score(t, KMeans(2, n_init=5, random_state=0).fit_predict(Z[:, :10])),
                   kmeans2_pc50=adjusted_rand_score(t, KMeans(2, n_init=5, random_state=0).fit_predict(Z)))
        local = leiden(fuzzy_graph(Z))
        row.update(leiden_k=int(local.max()) + 1, leiden_ARI=adjusted_rand_score(t, local))
        if len(order) > 1 and counts[order[1]] >= 0.1 * len(idx):
            two = np.isin(t, types[order[:2]])
            row["LDA_two_largest"] = float(cross_val_score(LinearDiscriminantAnalysis(), Z[two], t[two], cv=3).mean())
        rows.append(row)
    return rows


def main() -> None:
    import anndata as ad
    from sclstm.datasets import reference_types

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files-seeds", default="3,4")
    ap.add_argument("--probes", default=",".join(PROBES))
    ap.add_argument("--cache", type=Path, default=RESULTS / "scale" / "cache")
    args = ap.parse_args()
    probes = args.probes.split(",")
    rows = []
    for file_seed in map(int, args.files_seeds.split(",")):
        adata = ad.read_h5ad(ensure_data(args.cache, 30000, file_seed)[0])
        truth, reference = adata.obs["cell_type"].astype(str).to_numpy(), reference_types(adata)
        fits = {}
        for probe in probes:
            if probe in FIT_PROBES:
                fits[probe] = est, seconds = fit(adata.X, **FIT_PROBES[probe])
                new = [dict(variant="fit", **fit_row(est, truth, reference, seconds))]
            elif probe == "merges":
                new = merge_rows(fits["steps1200"][0] if "steps1200" in fits else fit(adata.X, n_steps=1200)[0], truth)
            elif probe == "allcells":
                new = allcells_rows(adata, truth, reference)
            elif probe == "truth80":
                new = truth80_rows(adata, truth, reference)
            elif probe == "truth80_hard":
                new = [row for share in (0.25, 0.5) for row in truth80_rows(adata, truth, reference, share)]
            elif probe == "child_split":
                new = child_split_rows(fits["current"][0] if "current" in fits else fit(adata.X)[0], adata.X, truth)
            else:
                new = leiden_on_student_rows(fits["current"][0] if "current" in fits else fit(adata.X)[0], truth, reference)
            for row in new:
                row = dict(file_seed=file_seed, probe=probe, **row)
                print(json.dumps(row, default=float), flush=True)
                rows.append(row)
    OUT.mkdir(parents=True, exist_ok=True)
    tag = "" if set(probes) == set(PROBES) else "_" + "-".join(probes)
    write_tsv(rows, OUT / f"probes_files{args.files_seeds.replace(',', '-')}{tag}.tsv", "python benchmarks/landmark_probes.py " + " ".join(sys.argv[1:]), digits=3)


if __name__ == "__main__":
    main()
