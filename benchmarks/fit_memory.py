"""Peak memory of the exact path against its estimate (``estimator.exact_memory_bytes``).

Each size runs in its own process (simulated counts, 2,000 genes, seed 0; unsupervised, k = 11
given, 50 training steps: memory, not accuracy, is measured). "extra" is the process's peak
resident memory minus its peak before the fit (the input and the imported packages). Writes
benchmarks/results/exact_memory.tsv. About 10 minutes on 2 cores.

    .venv/bin/python benchmarks/exact_memory.py [--sizes 2000,4000,8000,12000]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CHILD = r"""
import gc, json, resource, sys, time
import scipy.sparse as sp
import sclstm
from sclstm.estimator import exact_memory_bytes
n = int(sys.argv[1])
a = sclstm.datasets.simulate(n, random_state=0)
X = sp.csr_matrix(a.X)
del a
gc.collect()
gib = lambda kib: kib / 2**20
before = gib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
t0 = time.perf_counter()
est = sclstm.ScLSTM(n_steps=50, kernel="exact", n_clusters=11, progress=False).fit(X)
peak = gib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
print(json.dumps({"cells": n, "peak_before_fit_gib": before, "peak_gib": peak, "extra_gib": peak - before,
                  "estimate_gib": exact_memory_bytes(n) / 2**30, "seconds": time.perf_counter() - t0}))
"""


def main(argv=None) -> None:
    from bench_core import RESULTS, write_tsv

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="2000,4000,8000,12000")
    args = p.parse_args(argv)
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run([sys.executable, "-c", CHILD, str(n)], capture_output=True, text=True,
                             env=dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1")))
        if out.returncode:
            raise SystemExit(out.stderr[-2000:])
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    write_tsv(rows, RESULTS / "exact_memory.tsv", "python benchmarks/exact_memory.py " + " ".join(argv or sys.argv[1:]))


if __name__ == "__main__":
    main()
