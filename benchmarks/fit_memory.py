"""Peak memory of a fit against the estimate it prints and stores (``summary_["memory_estimate_gib"]``).

Each size runs in its own process (simulated counts, 2,000 genes, seed 0, held in memory;
unsupervised). "extra" is the process's peak resident memory during the fit minus its resident
memory just before it (the input and the imported packages), which is what the estimate
describes; the peak is restarted before the fit (Linux's /proc/self/clear_refs), so the
simulation's own peak does not hide the fit's.

- ``--kernel exact`` (default): k = 11 given, 50 training steps (memory, not accuracy, is
  measured); writes benchmarks/results/exact_memory.tsv. About 10 minutes on 2 cores.
- ``--kernel landmark``: the default fit (k estimated, 400 steps), as the scale benchmark runs
  it; writes benchmarks/results/landmark_memory.tsv. About 10 minutes on 2 cores.

    .venv/bin/python benchmarks/fit_memory.py [--sizes 2000,4000,8000,12000]
    .venv/bin/python benchmarks/fit_memory.py --kernel landmark [--sizes 10000,30000,100000,300000]
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
import gc, json, sys, time
import scipy.sparse as sp
import sclstm
n, kernel = int(sys.argv[1]), sys.argv[2]
a = sclstm.datasets.simulate(n, random_state=0)
X = sp.csr_matrix(a.X)
del a
gc.collect()

def status_gib(key):  # VmRSS / VmHWM of this process
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key)) / 2**20

with open("/proc/self/clear_refs", "w") as f:  # restart the peak here: the simulation's is not the fit's
    f.write("5")
before = status_gib("VmRSS")
t0 = time.perf_counter()
params = dict(n_steps=50, n_clusters=11) if kernel == "exact" else {}
est = sclstm.ScLSTM(kernel=kernel, progress=False, **params).fit(X)
peak = status_gib("VmHWM")
print(json.dumps({"cells": n, "before_fit_gib": before, "peak_gib": peak, "extra_gib": peak - before,
                  "estimate_gib": est.summary_["memory_estimate_gib"], "seconds": time.perf_counter() - t0}))
"""


def main(argv=None) -> None:
    from bench_core import RESULTS, write_tsv

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kernel", choices=("exact", "landmark"), default="exact")
    p.add_argument("--sizes", default=None, help="cells, comma-separated (default: 2000,4000,8000,12000 for "
                                                 "exact, 10000,30000,100000,300000 for landmark)")
    args = p.parse_args(argv)
    sizes = args.sizes or ("2000,4000,8000,12000" if args.kernel == "exact" else "10000,30000,100000,300000")
    rows = []
    for n in (int(s) for s in sizes.split(",")):
        out = subprocess.run([sys.executable, "-c", CHILD, str(n), args.kernel], capture_output=True, text=True,
                             env=dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1")))
        if out.returncode:
            raise SystemExit(out.stderr[-2000:])
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    write_tsv(rows, RESULTS / f"{args.kernel}_memory.tsv", "python benchmarks/fit_memory.py " + " ".join(argv or sys.argv[1:]))


if __name__ == "__main__":
    main()
