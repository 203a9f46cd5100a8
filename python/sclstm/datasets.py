"""Datasets: the small demo dataset shipped with the package, and simulated counts at any size."""
from __future__ import annotations

import numbers
import os
from importlib import resources
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .validation import InputError

__all__ = ["load_demo", "demo_path", "simulate", "reference_types"]

#: ``simulate(path=None)`` refuses when the count matrix it would hold in memory is
#: estimated to exceed this many GiB (pass ``path=`` to write a file instead).
IN_MEMORY_LIMIT_GIB = 4.0

#: Median depth of cells simulated from the default reference (the Pollen demo), chosen so
#: that scanpy's standard pipeline neither separates all types nor fails (see simulate).
DEMO_DEPTH = 200.0

# Cells drawn from one random stream. The counts depend on ``random_state`` only, never on
# ``chunk_size``: each block of _BLOCK cells has its own generator, seeded by
# (random_state, block index).
_BLOCK = 1024


#: The largest seed simulate takes (it is stored as an int64).
MAX_SEED = 2**63 - 1


def demo_path() -> str:
    """Path of the shipped demo file (Pollen et al. 2014, counts, ``obs["cell_type"]``)."""
    return str(resources.files("sclstm") / "data" / "pollen_demo.h5ad")


def load_demo() -> ad.AnnData:
    """Pollen et al. 2014: 299 cells × 3000 genes (raw counts), 11 published types in ``obs["cell_type"]``.

    The 3000 genes are the most variable of those detected in ≥ 3 cells (see
    scripts/make_demo_data.py); counts are unchanged.
    """
    return ad.read_h5ad(demo_path())


# ---------------------------------------------------------------------------------------
# Simulation
# ---------------------------------------------------------------------------------------


def simulate(
    n_cells: int,
    n_types: int = 16,
    reference=None,
    labels_key: str = "cell_type",
    n_genes: int = 2000,
    dispersion=0.5,
    path=None,
    chunk_size: int = 50_000,
    random_state: int | None = 0,
    *,
    depth: float | None = None,
    perturb_genes: float = 0.1,
    perturb_sd: float = 1.0,
    compression: str | None = None,
):
    """Simulate a labelled count matrix with planted cell types, at any size.

    Counts are negative binomial around per-type mean profiles taken from a real dataset:

    1. **Profiles.** Every cell of ``reference`` is scaled to a common depth (its counts
       divided by its total) and the scaled cells are averaged per type
       (``reference.obs[labels_key]``), giving one expression profile per type (a
       probability vector over genes). If the reference has more than ``n_genes`` genes,
       the ``n_genes`` most variable ones (variance of log1p of counts per 10,000 over all
       cells) are kept, in the reference's order.
    2. **Types.** With ``n_types`` at most the reference's number of types, the largest
       ``n_types`` reference types are used. Beyond that, each extra type is a seeded
       perturbation of a reference type chosen at random (its *parent*): a random
       ``perturb_genes`` fraction of the genes is multiplied by log-normal factors
       ``exp(N(0, perturb_sd²))`` and the profile renormalised. Extra types thus differ from
       their parent in a few hundred genes, most of them lowly expressed: distinct, but not
       trivially separable. ``uns["simulation"]["source_type"]`` names every type's
       reference type (``"<parent>*"`` for a perturbed one).
    3. **Sizes.** Type proportions are ``0.2/n_types + 0.8 · Dirichlet(1, …, 1)`` (seeded),
       so types are unequal and the smallest holds at least a fifth of an even share; every
       type gets at least one cell. Cells are in random order.
    4. **Counts.** Cell depths are log-normal with median ``depth`` (default: the
       reference's median total count) and the reference's spread of log depth (1.4826 ×
       MAD of log total count, clipped to [0.1, 1]). Count of gene g in cell c of type t:
       ``NB(mean = depth_c · profile_t[g], variance = mean + dispersion · mean²)``, drawn
       as a gamma–Poisson mixture. A cell that draws no count at all is drawn again, up to
       100 times; at very low depths (below about 1) some cells can stay empty, which
       :class:`~sclstm.ScLSTM` refuses unless ``drop_empty``.

    Parameters
    ----------
    n_cells
        Number of cells (≥ n_types).
    n_types
        Number of planted types (≥ 2); they are named ``type_0``, ``type_1``, ….
    reference
        AnnData of counts with labels in ``obs[labels_key]``, or a path to such an .h5ad.
        Default: the shipped Pollen demo (:func:`load_demo`; 11 types, 3000 genes), so
        that it works with the package alone; its cells are then drawn at a droplet-like
        median depth of 200 (:data:`DEMO_DEPTH`) rather than the demo's own ≈ 150,000
        full-length reads, at which every type is trivially separable. For data closer to
        10x pass a droplet dataset (the benchmarks use the human kidney data: 11 types,
        median depth 263 UMIs).
    labels_key
        Column of ``reference.obs`` with the type labels.
    n_genes
        Number of genes (≤ the reference's); ``var_names`` are the reference's.
    dispersion
        Negative-binomial dispersion φ (variance = μ + φμ²), one number or one per gene.
        0 gives Poisson counts.
    path
        If given (a name ending in .h5ad), the file is written there chunk by chunk (memory
        bounded by one chunk, whatever ``n_cells``; missing folders are created) and the
        path is returned. Otherwise an AnnData is returned;
        it must fit in :data:`IN_MEMORY_LIMIT_GIB`.
    chunk_size
        Cells held (as sparse counts) and written at a time. Dense values exist only for
        1024 cells at a time. Does not change the counts.
    random_state
        Seed (a non-negative integer). The same seed gives the same counts, in memory or
        on disk, for any ``chunk_size``. None draws a fresh seed.
    depth
        Median total count per cell; default the reference's median (:data:`DEMO_DEPTH`
        for the default reference).
    perturb_genes, perturb_sd
        Fraction of genes changed, and sd of their log fold change, for the extra types
        (see 2. above).
    compression
        h5py compression of the written counts (``"gzip"``, ``"lzf"``) or None (default:
        faster to write and to read).

    Returns
    -------
    AnnData (``path=None``) or the path written, as a string. ``X`` holds integer-valued
    counts as CSR float32 (in a file, int32 indices while the matrix could hold no more than
    2³¹ − 1 values, else int64; in memory, scipy's choice); cells named ``sim<tag>_cell_<i>``, the tag a hash of the arguments
    (two different simulations share no cell name); ``obs["cell_type"]`` the planted type (categorical);
    ``uns["simulation"]`` the parameters, the type sizes and each type's source.

    Difficulty, tuned once (scanpy 1.11 standard pipeline: normalize_total, log1p, 2000
    HVG, scale, 50 PCs, 15-NN, Leiden igraph resolution 1, seed 0; 20,000 cells, 16 types,
    all other arguments default):

    - human kidney reference: ARI 0.86 / 0.87 / 0.85 for random_state 0 / 1 / 2 (Leiden
      finds 14 / 16 / 15 clusters). The reference types are found; some perturbed types
      merge with their parent. With perturb_sd=1.5 the perturbed types separate too
      (ARI 0.97); dispersion 0.2 or 1.0 changes little (0.85, 0.90), 2.0 gives 0.80.
    - default reference (Pollen demo at depth 200): ARI 0.89 / 0.83 for random_state 0 / 1
      (at the demo's own depth, ARI 1.0).

    Speed: 100,000 kidney-like cells × 2000 genes in about 10 s on one core, peak memory
    about 0.5–0.6 GiB for a file whatever ``n_cells`` (most of it the imported packages).
    """
    cfg = _check_simulate_args(n_cells, n_types, n_genes, dispersion, chunk_size, random_state,
                               depth, perturb_genes, perturb_sd, compression)
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise InputError(f"simulate: path must be a file name (str or Path), got {type(path).__name__}.")
    if path is not None and Path(os.fspath(path)).suffix.lower() != ".h5ad":
        raise InputError(f"simulate writes an .h5ad file; name it so (got {os.fspath(path)!r}).")
    if path is not None:
        path = _check_output(Path(os.fspath(path)).expanduser(), reference)
    n_cells, n_types, n_genes, chunk_size, seed = (cfg[k] for k in ("n_cells", "n_types", "n_genes", "chunk_size", "seed"))
    if reference is None and cfg["depth"] is None:
        cfg["depth"] = DEMO_DEPTH
    ref, ref_name = _read_reference(reference)
    plan = _plan(ref, ref_name, labels_key, n_cells, n_types, n_genes, cfg)
    del ref

    if path is None:
        est_gib = _estimated_bytes(plan) / 2**30
        if est_gib > IN_MEMORY_LIMIT_GIB:
            raise InputError(
                f"simulate: {n_cells} cells would take about {est_gib:.1f} GiB in memory "
                f"(limit {IN_MEMORY_LIMIT_GIB:g} GiB); pass path='cells.h5ad' to write them to a file chunk by chunk."
            )
        X = sp.vstack(list(_chunks(plan, chunk_size)), format="csr")
        return ad.AnnData(X=X, obs=_obs(plan), var=_var(plan), uns={"simulation": _record(plan)})
    return _write_h5ad(plan, path, chunk_size, compression)


def _check_output(path: Path, reference) -> Path:
    """Before any work: ``path`` can be written (its missing folders can be made, it is no
    folder, no read-only file) and is not the reference's own file, which the rename at the
    end would replace with the simulation."""
    from .io._files import _why_not_writable, check_writable, same_file

    ancestor = path.absolute().parent
    while not ancestor.exists() and ancestor.parent != ancestor:  # a root's parent is itself
        ancestor = ancestor.parent
    if not ancestor.exists():  # a missing drive or network share (Windows): before, this looped forever
        raise InputError(f"simulate: cannot write {path}: {ancestor} does not exist.")
    if not ancestor.is_dir():
        raise InputError(f"simulate: cannot write {path}: {ancestor} is a file, not a folder.")
    if path.parent.exists():
        check_writable(path)
    elif (refused := _why_not_writable(ancestor)) is not None:  # tried as check_writable tries a folder
        raise InputError(f"simulate: cannot write {path}: {refused} in {ancestor}, where its folders would be made.")
    source = getattr(reference, "filename", None) if isinstance(reference, ad.AnnData) else reference
    if isinstance(source, (str, os.PathLike)) and same_file(path, source):
        raise InputError(f"simulate: path {path} is the reference's own file; write the simulation to another file.")
    return path


def reference_types(adata) -> np.ndarray:
    """For data made by :func:`simulate`: every cell's *reference* type, its simulated type
    with each perturbed type folded into its parent.

    Scoring a clustering against these as well as against the planted types shows whether
    it finds the reference types and how far it resolves the perturbed ones, which differ
    from their parents in a few hundred weakly expressed genes.
    """
    rec = adata.uns.get("simulation") if hasattr(adata, "uns") else None
    if not isinstance(rec, dict) or "source_type" not in rec:
        raise InputError("reference_types: this AnnData was not made by sclstm.datasets.simulate "
                         "(no uns['simulation']['source_type']).")
    source = np.array([str(s).rstrip("*") for s in rec["source_type"]], dtype=object)
    planted = pd.Categorical(adata.obs["cell_type"].astype(str),  # simulate always writes obs["cell_type"]
                             categories=_type_names(len(source)))
    if (planted.codes < 0).any():
        raise InputError("reference_types: obs holds types that simulate did not write (expected type_0 … "
                         f"type_{len(source) - 1}).")
    return source[planted.codes]


def _check_simulate_args(n_cells, n_types, n_genes, dispersion, chunk_size, random_state,
                         depth, perturb_genes, perturb_sd, compression) -> dict:
    def integer(name, value, lo):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise InputError(f"simulate: {name} must be an integer, got {value!r}.")
        if value < lo:
            raise InputError(f"simulate: {name} must be at least {lo}, got {value}.")
        return int(value)

    n_types = integer("n_types", n_types, 2)
    n_cells = integer("n_cells", n_cells, 2)
    if n_cells < n_types:
        raise InputError(f"simulate: n_cells ({n_cells}) must be at least n_types ({n_types}).")
    n_genes = integer("n_genes", n_genes, 2)
    chunk_size = integer("chunk_size", chunk_size, 1)
    if random_state is None:
        seed = int(np.random.SeedSequence().entropy % 2**63)
    else:
        seed = integer("random_state", random_state, 0)
        if seed > MAX_SEED:  # recorded in uns["simulation"], which .h5ad stores as int64
            raise InputError(f"simulate: random_state must be at most 2**63 - 1, got {seed}.")
    disp = np.asarray(dispersion, dtype=float) if not isinstance(dispersion, (str, bytes)) else None
    if disp is None or disp.ndim > 1 or not np.all(np.isfinite(disp)) or np.any(disp < 0):
        raise InputError(f"simulate: dispersion must be a non-negative number or one per gene, got {dispersion!r}.")
    if disp.ndim == 1 and disp.shape[0] != n_genes:
        raise InputError(f"simulate: dispersion has {disp.shape[0]} values; give one number or n_genes ({n_genes}).")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, numbers.Real) or not np.isfinite(depth) or depth <= 0):
        raise InputError(f"simulate: depth must be a positive number (median total count per cell), got {depth!r}.")
    if not isinstance(perturb_genes, numbers.Real) or not 0 <= perturb_genes <= 1:
        raise InputError(f"simulate: perturb_genes must be a fraction in [0, 1], got {perturb_genes!r}.")
    if not isinstance(perturb_sd, numbers.Real) or not np.isfinite(perturb_sd) or perturb_sd < 0:
        raise InputError(f"simulate: perturb_sd must be a non-negative number, got {perturb_sd!r}.")
    if compression not in (None, "gzip", "lzf"):
        raise InputError(f"simulate: compression must be None, 'gzip' or 'lzf', got {compression!r}.")
    return dict(n_cells=n_cells, n_types=n_types, n_genes=n_genes, chunk_size=chunk_size, seed=seed,
                dispersion=disp, depth=depth, perturb_genes=float(perturb_genes), perturb_sd=float(perturb_sd))


def _read_reference(reference) -> tuple[ad.AnnData, str]:
    if reference is None:
        return load_demo(), "sclstm demo (Pollen 2014)"
    if isinstance(reference, ad.AnnData):
        return reference, "AnnData"
    if isinstance(reference, (str, os.PathLike)):
        p = Path(reference).expanduser()
        if not p.is_file():
            raise InputError(f"simulate: reference file not found: {p}")
        try:
            return ad.read_h5ad(p), str(p)
        except Exception as exc:
            raise InputError(f"simulate: could not read the reference {p} as .h5ad ({exc}).") from None
    raise InputError(f"simulate: reference must be an AnnData, a path to an .h5ad, or None, got {type(reference).__name__}.")


def _plan(ref: ad.AnnData, ref_name: str, labels_key: str, n_cells: int, n_types: int, n_genes: int, cfg: dict) -> dict:
    """Everything but the counts: profiles, labels, depth law. Small (n_types × n_genes + n_cells)."""
    if labels_key not in ref.obs:
        raise InputError(f"simulate: the reference has no obs[{labels_key!r}]; pass labels_key= the column with its cell types.")
    if ref.n_vars < n_genes:
        raise InputError(f"simulate: the reference has {ref.n_vars} genes, fewer than n_genes={n_genes}; pass n_genes ≤ {ref.n_vars}.")
    if ref.isbacked:
        ref = ref.to_memory()
    X = sp.csr_matrix(ref.X, dtype=np.float64) if sp.issparse(ref.X) else sp.csr_matrix(np.asarray(ref.X, dtype=np.float64))
    if X.nnz and (not np.all(np.isfinite(X.data)) or X.data.min() < 0):
        raise InputError("simulate: the reference's X must hold non-negative finite counts.")
    labels = ref.obs[labels_key].astype(str).to_numpy()
    totals = np.asarray(X.sum(axis=1)).ravel()
    keep = (totals > 0) & (ref.obs[labels_key].notna().to_numpy())
    X, labels, totals = X[keep], labels[keep], totals[keep]
    if X.shape[0] == 0:
        raise InputError("simulate: the reference has no cell with a positive total count.")

    if X.shape[1] > n_genes:  # the most variable genes of log1p(counts per 10k)
        L = sp.diags(1e4 / totals) @ X
        L.data = np.log1p(L.data)
        mean = np.asarray(L.mean(axis=0)).ravel()
        var = np.asarray(L.multiply(L).mean(axis=0)).ravel() - mean**2
        genes = np.sort(np.argsort(-var, kind="stable")[:n_genes])
    else:
        genes = np.arange(X.shape[1])
    gene_names = np.asarray(ref.var_names)[genes].astype(str)

    # Profiles on all genes (common depth), then restricted to the kept genes and renormalised.
    P_all = sp.diags(1.0 / totals) @ X
    names, inverse, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    if len(names) < 2:
        raise InputError(f"simulate: the reference needs at least 2 types in obs[{labels_key!r}], it has {len(names)}.")
    member = sp.csr_matrix((np.ones(len(labels)), (inverse, np.arange(len(labels)))), shape=(len(names), len(labels)))
    profiles = np.asarray((member @ P_all[:, genes]).todense()) / sizes[:, None]
    ok = profiles.sum(axis=1) > 0
    names, sizes, profiles = names[ok], sizes[ok], profiles[ok]
    order = np.argsort(-sizes, kind="stable")  # largest reference types first
    names, profiles = names[order], profiles[order]
    profiles /= profiles.sum(axis=1, keepdims=True)

    rng = np.random.default_rng([cfg["seed"], 0])
    n_base = min(n_types, len(names))
    base = profiles[:n_base]
    source = list(names[:n_base])
    extra, parents = [], []
    for _ in range(n_types - n_base):
        parent = int(rng.integers(n_base))
        p = base[parent].copy()
        n_pert = int(round(cfg["perturb_genes"] * n_genes))
        idx = rng.choice(n_genes, size=n_pert, replace=False)
        p[idx] *= np.exp(rng.normal(0.0, cfg["perturb_sd"], size=n_pert))
        extra.append(p / p.sum())
        parents.append(parent)
        source.append(f"{names[parent]}*")
    profiles = np.vstack([base, *extra]) if extra else base

    props = 0.2 / n_types + 0.8 * rng.dirichlet(np.ones(n_types))
    counts = 1 + np.floor(props * (n_cells - n_types)).astype(np.int64)
    rest = n_cells - counts.sum()
    frac = props * (n_cells - n_types) - np.floor(props * (n_cells - n_types))
    counts[np.argsort(-frac, kind="stable")[:rest]] += 1
    cell_types = rng.permutation(np.repeat(np.arange(n_types, dtype=np.int32), counts))

    log_tot = np.log(totals)
    med = float(np.median(totals)) if cfg["depth"] is None else float(cfg["depth"])
    sd = float(np.clip(1.4826 * np.median(np.abs(log_tot - np.median(log_tot))), 0.1, 1.0))
    disp = cfg["dispersion"]
    return dict(profiles=profiles, cell_types=cell_types, type_sizes=counts, source=source,
                gene_names=gene_names, depth_median=med, depth_log_sd=sd, dispersion=disp,
                seed=cfg["seed"], n_cells=n_cells, n_types=n_types, n_genes=n_genes,
                reference=ref_name, labels_key=labels_key,
                perturb_genes=cfg["perturb_genes"], perturb_sd=cfg["perturb_sd"])


def _block(plan: dict, b: int) -> sp.csr_matrix:
    """Counts of cells [b·_BLOCK, (b+1)·_BLOCK) ∩ [0, n_cells), from their own generator."""
    rng = np.random.default_rng([plan["seed"], 1, b])
    t = plan["cell_types"][b * _BLOCK:(b + 1) * _BLOCK]
    n = len(t)
    depth = plan["depth_median"] * np.exp(plan["depth_log_sd"] * rng.standard_normal(n))
    mu = depth[:, None] * plan["profiles"][t]
    counts = _nb(rng, mu, plan["dispersion"])
    empty = np.flatnonzero(counts.sum(axis=1) == 0)
    for _ in range(100):  # redraw cells without any count
        if len(empty) == 0:
            break
        counts[empty] = _nb(rng, mu[empty], plan["dispersion"])
        empty = empty[counts[empty].sum(axis=1) == 0]
    X = sp.csr_matrix(counts.astype(np.float32))
    X.indices = X.indices.astype(np.int32, copy=False)
    return X


def _nb(rng, mu: np.ndarray, disp) -> np.ndarray:
    if np.ndim(disp) == 0 and float(disp) == 0:
        return rng.poisson(mu)
    disp = np.asarray(disp, dtype=float)
    if disp.ndim == 0:
        lam = rng.standard_gamma(1.0 / float(disp), size=mu.shape) * (disp * mu)
    else:  # one per gene; Poisson where the dispersion is 0
        shape = np.where(disp > 0, 1.0 / np.where(disp > 0, disp, 1.0), 1.0)
        g = rng.standard_gamma(np.broadcast_to(shape, mu.shape))
        lam = np.where(disp > 0, g * disp * mu, mu)
    return rng.poisson(lam)


def _chunks(plan: dict, chunk_size: int):
    """CSR chunks of ≤ chunk_size cells covering all cells in order (the same counts for any chunk_size)."""
    n = plan["n_cells"]
    cache = (-1, None)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        pieces = []
        for b in range(start // _BLOCK, (stop - 1) // _BLOCK + 1):
            if cache[0] != b:
                cache = (b, _block(plan, b))
            lo = max(start - b * _BLOCK, 0)
            hi = min(stop - b * _BLOCK, _BLOCK)
            pieces.append(cache[1][lo:hi])
        yield pieces[0] if len(pieces) == 1 else sp.vstack(pieces, format="csr")


def _estimated_bytes(plan: dict) -> float:
    """Expected size of the CSR counts: 8 bytes per non-zero (float32 + int32) plus indptr."""
    rng = np.random.default_rng([plan["seed"], 2])
    depths = plan["depth_median"] * np.exp(plan["depth_log_sd"] * rng.standard_normal(64))
    w = plan["type_sizes"] / plan["type_sizes"].sum()
    mu = depths[:, None, None] * plan["profiles"][None]  # 64 × types × genes
    disp = np.asarray(plan["dispersion"], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p0 = np.where(disp > 0, (1 + disp * mu) ** (-1 / np.maximum(disp, 1e-12)), np.exp(-mu))
    nnz_per_cell = float(((1 - p0).sum(axis=2).mean(axis=0) * w).sum())
    return plan["n_cells"] * (nnz_per_cell * 8 + 8)


def _type_names(n_types: int) -> list[str]:
    """The planted types' names in obs["cell_type"], in the order of uns["simulation"]["source_type"]."""
    return [f"type_{i}" for i in range(n_types)]


def _obs(plan: dict) -> pd.DataFrame:
    # object-dtype categories: pandas 3 would make them its string dtype, which anndata 0.11 refuses to write
    names = pd.Index(_type_names(plan["n_types"]), dtype=object)
    cat = pd.Categorical.from_codes(plan["cell_types"], categories=names)
    tag = _file_tag(plan)
    index = pd.Index([f"{tag}_cell_{i}" for i in range(plan["n_cells"])], dtype=object)
    return pd.DataFrame({"cell_type": cat}, index=index)


def _file_tag(plan: dict) -> str:
    """A tag of the simulation's parameters and profiles for its cell names ("sim1a2b3c"): cells of two
    different simulations never share a name (which would make ``sclstm apply`` take cells of
    one for cells a model trained on in the other), while the same arguments give the same names."""
    import hashlib

    record = _record(plan)
    text = repr([(k, np.asarray(v).tolist() if isinstance(v, np.ndarray) else v) for k, v in sorted(record.items())])
    digest = hashlib.sha1(text.encode())
    # the reference's content too: two references under one name ("AnnData") are two simulations
    digest.update(np.ascontiguousarray(plan["profiles"], dtype=np.float64).tobytes())
    digest.update(repr(list(plan["gene_names"])).encode())
    return "sim" + digest.hexdigest()[:6]


def _var(plan: dict) -> pd.DataFrame:
    return pd.DataFrame(index=pd.Index(plan["gene_names"], dtype=object))


def _record(plan: dict) -> dict:
    disp = plan["dispersion"]
    return dict(
        n_cells=plan["n_cells"], n_types=plan["n_types"], n_genes=plan["n_genes"],
        reference=plan["reference"], labels_key=plan["labels_key"],
        dispersion=float(disp) if np.ndim(disp) == 0 else np.asarray(disp, dtype=float),
        depth_median=plan["depth_median"], depth_log_sd=plan["depth_log_sd"],
        perturb_genes=plan["perturb_genes"], perturb_sd=plan["perturb_sd"], random_state=plan["seed"],
        type_sizes=np.asarray(plan["type_sizes"], dtype=np.int64),
        source_type=np.asarray(plan["source"], dtype=object),
        generator="sclstm.datasets.simulate",
    )


def _write_h5ad(plan: dict, path: Path, chunk_size: int, compression) -> str:
    """Write the .h5ad chunk by chunk: obs/var/uns first, then X appended one chunk at a time."""
    import h5py

    try:
        from anndata.io import write_elem
    except ImportError:  # anndata < 0.11
        from anndata.experimental import write_elem

    from .io._files import written_beside

    path.parent.mkdir(parents=True, exist_ok=True)
    n_genes = plan["n_genes"]
    kw = dict(compression=compression) if compression else {}
    # the h5py file closes first, then the whole file is renamed onto path
    with written_beside(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["encoding-type"] = "anndata"
        f.attrs["encoding-version"] = "0.1.0"
        write_elem(f, "obs", _obs(plan))
        write_elem(f, "var", _var(plan))
        write_elem(f, "uns", {"simulation": _record(plan)})
        for key in ("obsm", "varm", "layers", "obsp", "varp"):
            write_elem(f, key, {})
        g = f.create_group("X")
        g.attrs["encoding-type"] = "csr_matrix"
        g.attrs["encoding-version"] = "0.1.0"
        g.attrs["shape"] = (0, n_genes)
        data = g.create_dataset("data", shape=(0,), maxshape=(None,), dtype=np.float32, chunks=(1 << 18,), **kw)
        # one index dtype for both, as scipy keeps it: int32 while every value fits, else int64
        # (before: int64 indptr beside int32 indices, which broke scipy's tocoo() on the file read back)
        index_dtype = np.int32 if plan["n_cells"] * n_genes <= np.iinfo(np.int32).max else np.int64
        indices = g.create_dataset("indices", shape=(0,), maxshape=(None,), dtype=index_dtype, chunks=(1 << 18,), **kw)
        indptr = g.create_dataset("indptr", shape=(1,), maxshape=(None,), dtype=index_dtype, chunks=(1 << 16,), **kw)
        indptr[0] = 0
        nnz, rows = 0, 0
        for X in _chunks(plan, chunk_size):
            k = X.nnz
            data.resize((nnz + k,))
            data[nnz:] = X.data
            indices.resize((nnz + k,))
            indices[nnz:] = X.indices
            indptr.resize((rows + X.shape[0] + 1,))
            indptr[rows + 1:] = X.indptr[1:].astype(np.int64) + nnz  # stored as index_dtype, which holds it
            nnz += k
            rows += X.shape[0]
        g.attrs["shape"] = (rows, n_genes)
    return str(path)
