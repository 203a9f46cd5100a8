"""ARI of the landmark path on Pollen as n_landmarks and sample_size shrink below their defaults.

Unsupervised, k = 11 given, seed 0, 150 training steps, all 299 cells scored against the
published types; n_landmarks 128 while the sample varies, the sample all cells while
n_landmarks varies. Values below the floors (n_landmarks < sequence_length, sample_size < 50)
are refused by the estimator, and printed as such. Prints a TSV (the committed one is
benchmarks/results/landmark_settings.tsv, written by redirecting it); torch uses its default
threads, which change the trained network (set OMP_NUM_THREADS to fix them).

Run: .venv/bin/python benchmarks/landmark_settings.py > benchmarks/results/landmark_settings.tsv
"""
import argparse
import logging
import os
import warnings
from pathlib import Path

import anndata as ad

import sclstm
from sclstm.metrics import score
from sclstm.validation import InputError

warnings.simplefilter("ignore")
logging.disable(logging.WARNING)


def main():
    data = Path(os.environ.get("SCLSTM_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    a = ad.read_h5ad(data / "pollen.h5ad")
    y = a.obs["cell_type"].astype(str).to_numpy()
    runs = [("n_landmarks", v, dict(n_landmarks=v, sample_size=a.n_obs)) for v in (8, 16, 32, 64, 128)]
    runs += [("sample_size", v, dict(n_landmarks=128, sample_size=v)) for v in (10, 50, 100, 200)]
    print("setting\tvalue\tARI")
    for name, value, params in runs:
        try:
            est = sclstm.ScLSTM(n_clusters=11, kernel="landmark", n_steps=150, random_state=0, **params).fit(a)
            print(f"{name}\t{value}\t{score(y, est.labels_)['ARI']:.3f}", flush=True)
        except InputError as exc:
            print(f"{name}\t{value}\trefused: {exc}", flush=True)


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()
