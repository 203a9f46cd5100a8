"""Scale benchmark (issue 6): time and peak memory of ScLSTM and scanpy's standard pipeline
as the number of cells grows, on simulated data with planted types.

Run:  make bench-scale ARGS="--sizes 10000,30000,100000"
      (or: .venv/bin/python benchmarks/bench_scale.py [--sizes ...] [--kernel auto] [--also-k-given]
                                                     [--scanpy-max N] [--backed])

Data: ``sclstm.datasets.simulate`` with the human kidney data as the reference
($SCLSTM_DATA/human_kidney_top2000.h5ad, like bench_core), 16 types, 2000 genes, seed 0;
one .h5ad per size in benchmarks/results/scale/cache (reused when its parameters match).

Per size, each method runs in its own child process, timed, with its peak resident memory
sampled every 20 ms (bench_core.run_measured): ScLSTM(n_clusters=None, kernel=--kernel,
random_state=0).fit(adata) (and with k = 16 given, --also-k-given), and scanpy's standard
pipeline exactly as in bench_core (normalize_total, log1p, 2000 HVG, scale, 50 PCs, 15-NN,
Leiden igraph). Both read the file; "seconds" is the whole child (imports and reading
included), "method s" the fit alone. Labels are read only to score: ARI against the planted
types, and "ARI ref." against the reference types they were made from
(``sclstm.datasets.reference_types``), beside the ARI of that reference partition itself.

Writes benchmarks/results/scale.tsv (header line: date and command), scale.md (table,
ratios sclstm / scanpy per size, growth exponents of time and memory) and scale.png
(log–log time and memory vs cells).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_core import CHILD as CORE_CHILD  # noqa: E402  (scanpy's standard pipeline, unchanged)
from bench_core import DATA, RESULTS, run_measured, write_tsv  # noqa: E402

REFERENCE = DATA / "human_kidney_top2000.h5ad"
N_TYPES, N_GENES, SEED = 16, 2000, 0

SIMULATE_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from sclstm.datasets import simulate
n, ref, path, n_types, n_genes, seed = sys.argv[1:7]
simulate(int(n), n_types=int(n_types), reference=ref, n_genes=int(n_genes), path=path, random_state=int(seed))
print(json.dumps(dict(method="simulate", seconds_total=time.perf_counter() - t0)))
"""

SCLSTM_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
path, kernel, k, backed = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
seed = int(sys.argv[5]) if len(sys.argv) > 5 else 0  # 0: the benchmark's own runs
import anndata as ad
import sclstm
from sclstm.metrics import score
adata = ad.read_h5ad(path, backed="r" if backed else None)
truth = adata.obs["cell_type"].astype(str).to_numpy()
t1 = time.perf_counter()
est = sclstm.ScLSTM(n_clusters=None if k == "estimated" else int(k), random_state=seed, kernel=kernel).fit(adata)
t2 = time.perf_counter()
m = score(truth, est.labels_)
from sklearn.metrics import adjusted_rand_score
from sclstm.datasets import reference_types
m["ARI_reference"] = adjusted_rand_score(reference_types(adata), est.labels_)
print(json.dumps(dict(method="sclstm", seconds_total=t2 - t0, seconds_method=t2 - t1, k=int(est.n_clusters_),
                      kernel=str(est.summary_.get("kernel", "exact")), **m)))
"""


def cache_path(cache: Path, n: int, seed: int = SEED) -> Path:
    return cache / f"kidney_sim_{n}cells_{N_TYPES}types_{N_GENES}genes_seed{seed}.h5ad"


def cached_matches(path: Path, n: int, seed: int = SEED) -> bool:
    """Does the cached file hold what simulate would write now (same size and parameters)?"""
    import inspect

    import h5py
    from anndata.io import read_elem

    from sclstm.datasets import simulate

    if not path.exists():
        return False
    try:
        with h5py.File(path, "r") as f:
            rec = read_elem(f["uns"])["simulation"]
    except Exception:
        return False
    defaults = {k: p.default for k, p in inspect.signature(simulate).parameters.items()}
    want = dict(n_cells=n, n_types=N_TYPES, n_genes=N_GENES, random_state=seed, reference=str(REFERENCE),
                dispersion=float(defaults["dispersion"]), perturb_genes=float(defaults["perturb_genes"]),
                perturb_sd=float(defaults["perturb_sd"]))
    return all(rec.get(k) == v for k, v in want.items())


def ensure_data(cache: Path, n: int, seed: int = SEED) -> tuple[Path, dict | None]:
    """The simulated n-cell file (``random_state=seed``; the benchmark's own is SEED), made when
    the cache lacks it, with the simulation's time and peak memory when it was made."""
    path = cache_path(cache, n, seed)
    if cached_matches(path, n, seed):
        print(f"{n} cells: cached {path}", flush=True)
        return path, None
    cache.mkdir(parents=True, exist_ok=True)
    out, peak = run_measured([sys.executable, "-c", SIMULATE_CHILD, str(n), str(REFERENCE), str(path),
                              str(N_TYPES), str(N_GENES), str(seed)])
    res = json.loads(out.strip().splitlines()[-1])
    row = dict(cells=n, method="simulate", seconds_total=res["seconds_total"], peak_rss_gib=peak)
    print(f"{n} cells: simulated in {row['seconds_total']:.1f} s, peak {peak:.2f} GiB -> {path}", flush=True)
    return path, row


def measure(label: str, n: int, args: list[str]) -> dict:
    try:
        out, peak = run_measured([sys.executable, "-c", *args])
    except RuntimeError as exc:  # one failed run (e.g. out of memory) must not lose the others
        last = str(exc).strip().splitlines()[-1:] or ["?"]
        row = dict(cells=n, method=label, error=last[0][:200])
        print(row, flush=True)
        return row
    res = json.loads(out.strip().splitlines()[-1])
    res.pop("method", None)
    row = dict(cells=n, method=label, **res, peak_rss_gib=peak)
    print(f"{n} cells  {label:<22} {row['seconds_total']:8.1f} s  {peak:6.2f} GiB  k={row['k']}  "
          f"ARI {row['ARI']:.3f}" + (f"  kernel={row['kernel']}" if "kernel" in row else ""), flush=True)
    return row


def slope(x0, y0, x1, y1) -> float:
    return math.log(y1 / y0) / math.log(x1 / x0)


def growth(rows, method: str, key: str) -> tuple[list[tuple[int, int, float]], float | None]:
    pts = sorted((r["cells"], r[key]) for r in rows if r["method"] == method and r.get(key))
    pairs = [(a[0], b[0], slope(a[0], a[1], b[0], b[1])) for a, b in zip(pts, pts[1:])]
    overall = slope(pts[0][0], pts[0][1], pts[-1][0], pts[-1][1]) if len(pts) > 1 else None
    return pairs, overall


def methods_of(rows) -> list[str]:
    return list(dict.fromkeys(r["method"] for r in rows if r["method"] != "simulate"))


def reference_cap(path: Path) -> float:
    """ARI against the planted types of the partition into exactly the reference types: the
    best a method can score without resolving the perturbed types."""
    import anndata as ad
    from sklearn.metrics import adjusted_rand_score

    from sclstm.datasets import reference_types

    adata = ad.read_h5ad(path, backed="r")
    return float(adjusted_rand_score(adata.obs["cell_type"].astype(str), reference_types(adata)))


def markdown(rows, command: str, caps: dict | None = None, data_seed: int = SEED) -> str:
    import datetime

    caps = caps or {}
    shown = {n: f"{v:.3f}" for n, v in sorted(caps.items())}
    cap_text = (next(iter(shown.values())) + " at every size" if len(set(shown.values())) == 1
                else ", ".join(f"{v} ({n:,} cells)" for n, v in shown.items()) or "(not computed)")

    fmt = lambda v, f: "—" if v is None else format(v, f)  # noqa: E731
    lines = [f"# Scale: ScLSTM vs scanpy on simulated data ({datetime.date.today().isoformat()})", "",
             f"`{command}` — simulated from human kidney (16 types, 2000 genes, seed {data_seed}); each run a "
             "separate process on this machine; seconds include imports and reading the file, "
             "peak memory is the process's resident set. sclstm runs unsupervised (it never reads the "
             "planted types), fit seed 0; scanpy's Leiden seed 0; one run per row, no spread; "
             "every cell scored.", "",
             "ARI is against the 16 planted types; *ARI ref.* against the 11 reference types they were "
             "made from, each perturbed type folded into its parent (`sclstm.datasets.reference_types`). "
             "A partition into exactly the reference types scores ARI " + cap_text + " against the planted ones.", "",
             "| cells | method | seconds | method s | peak GiB | k found | kernel | ARI | ARI ref. | NMI |",
             "|---:|---|---:|---:|---:|---:|---|---:|---:|---:|"]
    for r in sorted((r for r in rows if r["method"] != "simulate"), key=lambda r: r["cells"]):
        if "error" in r:
            lines.append(f"| {r['cells']:,} | {r['method']} | failed: {r['error']} | | | | | | | |")
            continue
        lines.append(f"| {r['cells']:,} | {r['method']} | {r['seconds_total']:.1f} | {fmt(r.get('seconds_method'), '.1f')} | "
                     f"{r['peak_rss_gib']:.2f} | {r['k']} | {r.get('kernel', '')} | {r['ARI']:.3f} | "
                     f"{fmt(r.get('ARI_reference'), '.3f')} | {r['NMI']:.3f} |")
    sims = [r for r in rows if r["method"] == "simulate"]
    if sims:
        lines += ["", "Simulating the files (this run): " + "; ".join(
            f"{r['cells']:,} cells {r['seconds_total']:.0f} s, {r['peak_rss_gib']:.2f} GiB" for r in sims) + "."]

    ratios = ratio_rows(rows)
    if ratios:
        lines += ["", "Ratios sclstm / scanpy (k estimated):", "",
                  "| cells | time | peak memory | ARI sclstm − scanpy |", "|---:|---:|---:|---:|"]
        lines += [f"| {r['cells']:,} | {r['seconds_total']:.2f} | {r['peak_rss_gib']:.2f} | {r['ARI_difference']:+.3f} |" for r in ratios]

    exps = []
    for m in methods_of(rows):
        for key, what in (("seconds_total", "time"), ("seconds_method", "time (method only)"), ("peak_rss_gib", "peak memory")):
            pairs, overall = growth(rows, m, key)
            if overall is None:
                continue
            per = ", ".join(f"{a:,}→{b:,}: {s:.2f}" for a, b, s in pairs)
            exps.append(f"| {m} | {what} | {per} | {overall:.2f} |")
    if exps:
        lines += ["", "Growth exponents (slope of log cost vs log cells; 1 = linear, 2 = quadratic; "
                  "memory includes the ~0.5 GiB of imported packages, which flattens small sizes):", "",
                  "| method | cost | per consecutive pair | smallest → largest |", "|---|---|---|---:|", *exps]
    return "\n".join(lines) + "\n"


def ratio_rows(rows) -> list[dict]:
    out = []
    for n in sorted({r["cells"] for r in rows}):
        a = next((r for r in rows if r["cells"] == n and r["method"] == "sclstm (k estimated)" and "error" not in r), None)
        b = next((r for r in rows if r["cells"] == n and r["method"] == "scanpy" and "error" not in r), None)
        if a and b:
            out.append(dict(cells=n, method="ratio sclstm / scanpy", seconds_total=a["seconds_total"] / b["seconds_total"],
                            seconds_method=a["seconds_method"] / b["seconds_method"],
                            peak_rss_gib=a["peak_rss_gib"] / b["peak_rss_gib"], ARI_difference=a["ARI"] - b["ARI"]))
    return out


def plot(rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, ylabel in ((axes[0], "seconds_total", "seconds (whole process)"), (axes[1], "peak_rss_gib", "peak memory (GiB)")):
        for m in methods_of(rows):
            pts = sorted((r["cells"], r[key]) for r in rows if r["method"] == m and r.get(key))
            if pts:
                ax.plot(*zip(*pts), marker="o", label=m)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("cells")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    fig.suptitle("ScLSTM vs scanpy on simulated kidney-like data (16 types, 2000 genes)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,30000,100000", help="comma-separated cell counts (default 10000,30000,100000)")
    parser.add_argument("--kernel", default="landmark", choices=["auto", "exact", "landmark"],
                        help="ScLSTM kernel (default landmark, so that every size runs the same path)")
    parser.add_argument("--also-k-given", action="store_true", help=f"also run ScLSTM with k = {N_TYPES} given")
    parser.add_argument("--scanpy-max", type=int, default=None, help="skip scanpy above this many cells (default: run it at every size)")
    parser.add_argument("--backed", action="store_true", help="ScLSTM reads the file with backed='r' (X stays on disk)")
    parser.add_argument("--data-seed", type=int, default=SEED,
                        help=f"random_state of the simulated files (default {SEED}, the benchmark's own; "
                             "other seeds are replicates, e.g. landmark_views' tuning files)")
    parser.add_argument("--cache", type=Path, default=RESULTS / "scale" / "cache", help="folder of the simulated files")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where scale.tsv/.md/.png go (default benchmarks/results)")
    args = parser.parse_args()
    try:
        sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
    if not sizes or sizes[0] < N_TYPES:
        parser.error(f"--sizes must name at least one size of at least {N_TYPES} cells")
    if not REFERENCE.exists():
        sys.exit(f"reference data missing: {REFERENCE} (set SCLSTM_DATA to the folder with the .h5ad files)")
    command = " ".join(["python", "benchmarks/bench_scale.py", *sys.argv[1:]])
    backed = "1" if args.backed else "0"

    rows, caps = [], {}
    for n in sizes:
        path, sim_row = ensure_data(args.cache, n, args.data_seed)
        caps[n] = reference_cap(path)
        if sim_row:
            rows.append(sim_row)
        rows.append(measure("sclstm (k estimated)", n, [SCLSTM_CHILD, str(path), args.kernel, "estimated", backed]))
        if args.also_k_given:
            rows.append(measure("sclstm (k given)", n, [SCLSTM_CHILD, str(path), args.kernel, str(N_TYPES), backed]))
        if args.scanpy_max is None or n <= args.scanpy_max:
            rows.append(measure("scanpy", n, [CORE_CHILD, "scanpy", str(path)]))

    args.results.mkdir(parents=True, exist_ok=True)
    write_tsv(rows + ratio_rows(rows), args.results / "scale.tsv", command)
    md = markdown(rows, command, caps, args.data_seed)
    (args.results / "scale.md").write_text(md)
    print(f"wrote {args.results / 'scale.md'}")
    plot(rows, args.results / "scale.png")
    print(md)


if __name__ == "__main__":
    main()
