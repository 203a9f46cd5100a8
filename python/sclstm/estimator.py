"""``ScLSTM``: the scikit-learn–style estimator that runs the whole method.

counts → :mod:`~sclstm.preprocessing` → :mod:`~sclstm.kernel` → k (given or
:func:`~sclstm.clustering.estimate_k`) → :mod:`~sclstm.pairs` → :mod:`~sclstm.training`
→ learned similarity → :mod:`~sclstm.clustering`.

Modes
-----
``"unsupervised"`` (default) never reads labels: training pairs come from label-free views
of the data. Because self-training may fail to improve on the kernel it starts from, a
label-free guard compares the partition of the learned similarity with the partition of
the kernel by their agreement with two views kept out of training (average-linkage cosine
and Ward on PCA) and keeps the better one; ``summary_["partition_from"]`` says which.
``"labelled"`` trains on the labels of some cells (the paper's protocol); ``labelled_mask_``
marks the cells whose labels were used — score only the others. A class head trained with
the pairs gives every cell a predicted class, ``predicted_labels_`` (label transfer), with
its probability in ``predicted_confidence_``: a cell's class probabilities are the mean of
the class head's softmax and a class-balanced logistic regression on the cell's kernel row.
"""
from __future__ import annotations

import contextlib
import inspect
import json
import logging
import numbers
import os
import platform
import re
import time
from dataclasses import replace
from importlib import metadata

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin

from . import __version__
from .clustering import CLUSTER_METHODS, cluster_features, cluster_similarity, estimate_k, relabel_by_size
from .chunks import DEFAULT_CHUNK_CELLS, RowSource, counts_of, is_out_of_core
from .io._files import check_replaceable, written_beside
from .kernel import ExactKernel, LandmarkKernel
from .graph import EXACT_NEIGHBOURS_MAX_CELLS
from . import landmark as lm
from .model import HEADS, SiameseLSTM
from .pairs import LANDMARK_TRAINING_VIEWS, TRAINING_VIEWS, VIEWS, PairSource, guard_agreement, informative_views, label_free_views
from .preprocessing import Preprocessor, filter_genes, kept_genes, check_method as check_preprocess
from .sequences import Sequencer, fit_sequencer
from .training import class_probabilities, embed, pair_probabilities, torch_rng_of_our_own, train_siamese
from .validation import (InputError, NotFittedError, first_line, check_counts, check_flag, check_fraction, check_labels, check_n_clusters,
                         check_two_dimensional, drop_unread_cells, frame_values, reindex_by_name, warn_user)

log = logging.getLogger("sclstm")
MODES = ("unsupervised", "labelled")
KERNEL_CHOICES = ("auto", "exact", "landmark")
# The exact path holds n × n matrices (kernel, learned similarity, distances): about 30n²
# bytes at its peak beyond the input (exact_memory_bytes). kernel="exact" refuses more than
# MAX_EXACT_CELLS cells (≈ 25 GiB); kernel="auto" takes it up to AUTO_EXACT_MAX_CELLS
# (≈ 3.0 GiB) and the landmark path above.
MAX_EXACT_CELLS = 30_000
AUTO_EXACT_MAX_CELLS = 10_000
MAX_SEED = 2**32 - 1
MODEL_FORMAT = "sclstm-model-1"  # written by save(); load() refuses other versions by name


EXACT_BYTES_PER_PAIR = 30  # n × n matrices: kernel, similarity, distances
EXACT_FIXED_BYTES = int(0.2 * 2**30)
FIT_FLOOR_BYTES = int(1.0 * 2**30)  # training and clustering, reached from about 1,400 cells
FIT_FLOOR_PAIRS = 2_000_000  # cell pairs where the floor is reached (below, a share of it)
MEASURED_GENES = 2000  # the genes of the measurements the formula was fitted to (the default n_top_genes)
DENSE_GENE_BYTES = 16  # per cell and gene beyond those: dense float64 log expression and PCA's copy


def exact_memory_bytes(n_cells: int, n_genes: int = MEASURED_GENES) -> int:
    """Peak memory the exact path adds to the input's, fitted to measurements (simulated
    counts, 2,000 genes, benchmarks/fit_memory.py, benchmarks/results/exact_memory.tsv): 1.95–1.97
    GiB at 8,000 cells and 4.12–4.14 GiB at 12,000 (two runs), and about 1 GiB from 2,000 to
    6,000 cells; the formula says 1.99, 4.22 and 1.2. Below about 1,400 cells the fixed part
    shrinks with the pairs (measured 2026-12-07, audit helper-48: 0.22, 0.53 and 0.89 GiB at 500,
    1,000 and 1,400 cells; the formula says 0.32, 0.70 and 1.18; before, 1.2 at any size).
    ``n_genes``: the genes the kernel reads (with preprocess="paper" every gene of the input, an
    upper bound: genes in fewer than min_cells cells are dropped after this estimate); each one
    beyond 2,000 adds 16 bytes per cell (3,000 cells × 19,625 genes, "paper": measured 1.71 GiB,
    the formula says 1.99; before, 1.2). Earlier forms: 24n², which said 3.22 GiB at 12,000 and
    0.00 GiB for Pollen's 299 cells; then 29n², fitted to a measurement whose base was the peak
    before the fit, which said 4.09 GiB at 12,000."""
    pairs = n_cells * n_cells
    fixed = FIT_FLOOR_BYTES * min(1.0, pairs / FIT_FLOOR_PAIRS)
    genes = DENSE_GENE_BYTES * n_cells * max(0, n_genes - MEASURED_GENES)
    return int(EXACT_FIXED_BYTES + max(fixed, EXACT_BYTES_PER_PAIR * pairs) + genes)


def available_memory_bytes():
    """Memory the system can give a process now (psutil where installed; else Linux's
    MemAvailable), or None where unknown (macOS and Windows without psutil)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # not installed, or no answer on this system
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def package_versions() -> dict:
    out = {"sclstm": __version__, "python": platform.python_version()}
    for name in ("torch", "numpy", "scipy", "scikit-learn", "pandas", "anndata"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover
            pass
    return out


def names_of(X):
    """Cell and gene names of an AnnData or DataFrame; (None, None) for arrays and sparse matrices.
    Genes numbered 0, 1, ... (what AnnData(X) and a DataFrame without column names make up, and
    what R's matrices without row names become) count as no gene names: a model then matches
    genes by position, with a warning, rather than refusing the same genes as all missing."""
    if hasattr(X, "obs_names") and hasattr(X, "X"):
        return np.asarray(X.obs_names), _real_names(X.var_names)
    if isinstance(X, pd.DataFrame):
        return _flat(X.index), _real_names(_flat(X.columns))
    return None, None


def _flat(index: pd.Index) -> np.ndarray:
    """Names as one array of strings or numbers: a MultiIndex's tuples as text ("('a', 1)"),
    where before they failed deep in numpy ("setting an array element with a sequence")."""
    return np.asarray(index.map(str) if isinstance(index, pd.MultiIndex) else index)


def _real_names(names):
    names = np.asarray(names)
    numbered = np.array_equal(names.astype(str), np.arange(len(names)).astype(str))
    return None if numbered and len(names) else names


def matrix_of(X):
    """Expression matrix and cell/gene names from an AnnData, DataFrame, array or sparse matrix."""
    cell_names, gene_names = names_of(X)
    if cell_names is None:
        return X, None, None
    return (frame_values(X) if isinstance(X, pd.DataFrame) else X.X), cell_names, gene_names


def read_counts(X, drop_empty: bool, min_cells: int = 3, cell_names=None):
    """The checked counts of X in memory (an out-of-core X — backed AnnData, Zarr, Dask — read
    chunk by chunk), and its gene names when X carries them (None otherwise). ``cell_names``
    name the cells of an X that carries none (a bare matrix from R: numbered from 1 there)."""
    matrix, own_names, gene_names = matrix_of(X)
    if own_names is not None or cell_names is None:
        cell_names = own_names
    else:
        cell_names = np.atleast_1d(np.asarray(cell_names, dtype=object)).astype(str)
    if is_out_of_core(X):
        matrix = sp.vstack(list(RowSource(matrix, cell_names=cell_names).chunks()), format="csr")
    counts = check_counts(matrix, cell_names, gene_names, drop_empty=bool(drop_empty), min_cells=min_cells)
    return counts, (None if gene_names is None else counts.gene_names)


def classes_array(classes) -> np.ndarray:
    """The labelled mode's classes as an array of their own type: whole-number or boolean codes
    stay numeric, so that predictions of them are too (scikit-learn's metrics refuse an object
    array of numbers); names are objects, as scikit-learn keeps string classes."""
    out = np.asarray(classes)
    return out if out.dtype.kind in "biuf" else np.asarray(classes, dtype=object)


def model_gene_names(gene_names):
    """The gene names a fitted model keeps to match new data by name (None without names).

    Duplicated names are kept but warned about: applying the model to data named differently
    (another gene order, extra genes) then fails, as a name cannot say which column it means.
    """
    if gene_names is None:
        return None
    names = pd.Index(np.asarray(gene_names).astype(str))
    if not names.is_unique:
        dup = names[names.duplicated()].unique()
        warn_user(
            f"{dup.size} gene names occur more than once ({', '.join(dup[:3])}); a saved model matches "
            "new data's genes by name, which then works only for data with the same genes in the same "
            "order: make them unique first (AnnData: adata.var_names_make_unique()).")
    return names.to_numpy()


def labels_in_cell_order(labels, X):
    """A pandas Series of labels put in the cell order of X (AnnData or DataFrame) by its index.

    Like ``sclstm.metrics.score``, a Series is paired by index, not position: one built from
    ``adata.obs[...]`` after sorting or subsetting would otherwise give cells each other's
    labels, silently. A Series with a default RangeIndex, and anything that is not a Series,
    is taken by position; a Series indexed by other cells is refused.
    """
    if isinstance(labels, str):  # a column name, as sclstm.tl.sclstm's labels_key takes
        raise InputError(f"labels is one string ({labels!r}); pass one label per cell, e.g. "
                         f"labels=adata.obs[{labels!r}] (or sclstm.tl.sclstm(adata, labels_key={labels!r})).")
    if not isinstance(labels, pd.Series):
        return labels
    cell_names, _ = names_of(X)
    if cell_names is None:
        return labels  # no cell names to pair with
    names = pd.Index(cell_names.astype(str))
    index = pd.Index(np.asarray(labels.index).astype(str))
    if (len(index) != len(names) or index.equals(names)
            or labels.index.equals(pd.RangeIndex(len(labels)))):
        return labels  # in order already, or by position (a length mismatch is refused later)
    return reindex_by_name(pd.Series(labels.to_numpy(), index=index), names, "labels", "X",
                           "pass one label per cell of X, indexed by its cell names or in its order.")


def class_codes(prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's most probable class (its column in ``prob``, cells × classes) and that
    probability; -1 and NaN for a NaN row (a cell left out). One rule for fit, predict and apply."""
    kept = ~np.isnan(prob).any(axis=1)
    codes = np.full(len(prob), -1)
    codes[kept] = prob[kept].argmax(axis=1)
    confidence = np.full(len(prob), np.nan, dtype=np.float32)
    confidence[kept] = prob[kept].max(axis=1)
    return codes, confidence


def stratified_subset(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask choosing ``fraction`` of the known cells of every class (≥ 1 left out when possible)."""
    mask = np.zeros(len(labels), dtype=bool)
    known = np.array([x is not None for x in labels])
    for cls in sorted({x for x in labels[known]}):
        idx = np.flatnonzero(known & (labels == cls))
        take = int(np.floor(fraction * len(idx) + 0.5))
        take = max(1, min(take, len(idx) - 1)) if len(idx) >= 2 else len(idx)
        mask[rng.choice(idx, size=take, replace=False)] = True
    return mask


class _UnknownParameters(Exception):
    """A saved model names parameters this version's ScLSTM lacks (:meth:`ScLSTM.load`)."""


def _device_here(device) -> bool:
    """Whether a device ("cpu", "cuda", "cuda:N") exists on this machine. A device asked for that
    does not is refused (:meth:`ScLSTM._device`); a saved model's that does not (fitted on
    "cuda:1", loaded where torch sees fewer GPUs or none) runs on this machine's choice ("auto")."""
    device = str(device)
    if not device.startswith("cuda"):
        return True
    return torch.cuda.is_available() and int(device.partition(":")[2] or 0) < torch.cuda.device_count()


class ScLSTM(ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin, BaseEstimator):
    """Single-cell type detection with a siamese LSTM and agglomerative clustering.

    A scikit-learn clusterer and transformer: ``fit`` / ``fit_predict`` give ``labels_``,
    ``transform`` / ``fit_transform`` the embedding (``set_output(transform="pandas")`` works),
    and scikit-learn's tools (``clone``, ``check_is_fitted``, pipelines) accept it.

    Parameters
    ----------
    n_clusters : int or None
        Number of cell types. ``None``: in labelled mode the number of classes among the
        labels used; otherwise estimated (eigengap of the kernel's 5-NN graph, at most
        ``k_max``).
    mode : {"unsupervised", "labelled"}
        Where training pairs come from (see module docs). Unsupervised never reads labels.
    random_state : int
        Seed for every random choice; the same seed and input give the same clusters at the
        same number of torch threads (``torch.set_num_threads``; see the README).
    preprocess : {"scaled", "normalised", "paper"}
        ``"scaled"``: depth-normalised log expression of the most variable genes, each gene
        scaled to unit variance; ``"normalised"`` centres without scaling; ``"paper"`` is
        log(A+1) of all kept genes, exactly as Jiang et al. (:mod:`sclstm.preprocessing`).
    n_top_genes : int
        Most variable genes kept by ``"scaled"`` and ``"normalised"`` (2,000).
    min_cells : int
        Genes expressed in fewer cells are dropped before anything else (3).
    head : {"absdiff", "concat"}
        Pair head; ``"concat"`` is the paper's. ``"absdiff"`` measured better (README).
    labelled_fraction : float or None
        In labelled mode, use the labels of only this stratified fraction of the labelled
        cells (the paper used 0.8), leaving the rest to score honestly.
    cluster_method : {"agglomerative", "kmeans", "spectral"}
        Agglomerative (average linkage on 1 − P) is the paper's; k-means runs on the
        embedding, spectral on P.
    fallback : bool
        Unsupervised only: keep the kernel's partition when the learned one agrees less
        with the independent views (see module docs). Exact kernel and agglomerative
        clustering only: ``summary_["guard"]`` is None in labelled mode or with another
        cluster_method, and on the landmark path a record with ``applied`` False.
    kernel : {"auto", "exact", "landmark"}
        ``"exact"``: every cell against every cell (n × n; up to 30,000 cells).
        ``"landmark"``: every cell against ``n_landmarks`` seeded landmark cells, training on a
        seeded sample of ``sample_size`` cells, clustering by a hierarchical merge of
        micro-clusters — memory grows linearly with n (see :mod:`sclstm.landmark`).
        ``"auto"``: exact up to 10,000 cells (counts on disk or in Dask are then read into
        memory), landmark above, by the number of cells alone (not this machine's free memory,
        so a file takes the same path everywhere). The choice and its estimated peak memory
        beyond the input are in ``summary_["kernel"]`` and ``summary_["memory_estimate_gib"]``;
        an estimate above the free memory warns before the fit, which goes on.
    n_landmarks, sample_size : int
        Landmark path: landmark cells (1,024), and cells in the seeded training sample (5,000).
    n_steps, batch_size, learning_rate : int, int, float
        Training: optimiser steps (400), cell pairs per step (256), Adam's learning rate (1e-3).
    hidden_size, embedding_dim : int
        LSTM hidden units (64) and the size of the embedding, ``obsm["X_sclstm"]`` (32).
    sequence_length, max_columns : int
        A cell's kernel row is read by the LSTM as ``sequence_length`` steps (16) over at most
        ``max_columns`` kernel columns (512, exact path; the landmark path reads all landmarks);
        never more steps than columns (on fewer cells or landmarks than steps, one per column).
    k_max : int
        Largest k the estimator considers (30).
    drop_empty : bool
        Cells with no counts in the genes read are refused (False), or left out of the fit
        (True): ``labels_``, ``embedding_`` and the other fitted per-cell attributes then hold
        the kept cells only, in order (``kept_cells_`` marks them among the input's rows);
        ``fit_transform``, ``transform``, ``predict`` and ``tl.sclstm`` give every input cell a
        row, NaN (None, no cluster) for those left out.
    device : {"auto", "cpu", "cuda", "cuda:N"}
        Where torch trains and embeds; ``"auto"``: CUDA when torch sees a GPU, else the CPU.
    progress : bool
        Show a progress bar while training.
    """

    def __init__(
        self,
        n_clusters=None,
        mode: str = "unsupervised",
        random_state: int = 0,
        preprocess: str = "scaled",
        n_top_genes: int = 2000,
        min_cells: int = 3,
        head: str = "absdiff",
        n_steps: int = 400,
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        hidden_size: int = 64,
        embedding_dim: int = 32,
        sequence_length: int = 16,
        max_columns: int = 512,
        labelled_fraction=None,
        cluster_method: str = "agglomerative",
        fallback: bool = True,
        k_max: int = 30,
        drop_empty: bool = False,
        device: str = "auto",
        progress: bool = False,
        kernel: str = "auto",
        n_landmarks: int = lm.DEFAULT_LANDMARKS,
        sample_size: int = lm.DEFAULT_SAMPLE,
    ):
        self.n_clusters = n_clusters
        self.mode = mode
        self.random_state = random_state
        self.preprocess = preprocess
        self.n_top_genes = n_top_genes
        self.min_cells = min_cells
        self.head = head
        self.n_steps = n_steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.hidden_size = hidden_size
        self.embedding_dim = embedding_dim
        self.sequence_length = sequence_length
        self.max_columns = max_columns
        self.labelled_fraction = labelled_fraction
        self.cluster_method = cluster_method
        self.fallback = fallback
        self.k_max = k_max
        self.drop_empty = drop_empty
        self.device = device
        self.progress = progress
        self.kernel = kernel
        self.n_landmarks = n_landmarks
        self.sample_size = sample_size

    # scikit-learn conventions -------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict:
        """The constructor's parameters and their values (scikit-learn's convention)."""
        return {k: getattr(self, k) for k in inspect.signature(type(self).__init__).parameters if k != "self"}

    def set_params(self, **params):
        """Change parameters by name; an unknown name is refused. Returns the estimator."""
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise InputError(f"unknown parameter {k!r}; valid ones: {', '.join(valid)}.")
            setattr(self, k, v)
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    @property
    def n_features_in_(self) -> int:
        """Number of genes of the fitted counts (scikit-learn's name for ``n_genes_in_``)."""
        self._check_fitted()
        return self.n_genes_in_

    @property
    def _n_features_out(self) -> int:
        """Columns of the embedding: the names ``get_feature_names_out`` gives (sclstm0, ...)."""
        self._check_fitted()
        return self.embedding_.shape[1]

    def _check_params(self):
        if self.mode not in MODES:
            raise InputError(f"mode must be one of {MODES}, got {self.mode!r}.")
        if self.head not in HEADS:
            raise InputError(f"head must be one of {HEADS}, got {self.head!r}.")
        if self.cluster_method not in CLUSTER_METHODS:
            raise InputError(f"cluster_method must be one of {CLUSTER_METHODS}, got {self.cluster_method!r}.")
        if self.kernel not in KERNEL_CHOICES:
            raise InputError(f"kernel must be one of {KERNEL_CHOICES}, got {self.kernel!r}.")
        check_preprocess(self.preprocess)  # here, before the counts are read (twice, on the landmark path)
        for name, least in (("n_steps", 1), ("batch_size", 1), ("sequence_length", 1), ("max_columns", 1),
                            ("n_top_genes", 1), ("min_cells", 1), ("n_landmarks", 1), ("sample_size", 1), ("hidden_size", 1),
                            ("embedding_dim", 1), ("k_max", 2), ("random_state", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < least:
                what = {0: "a non-negative whole number", 1: "a positive whole number"}.get(least, f"a whole number ≥ {least}")
                extra = " (a fixed seed is what makes results reproducible)" if name == "random_state" else ""
                raise InputError(f"{name} must be {what}{extra}, got {v!r}.")
        if self.kernel != "exact":  # values with which the landmark path cannot work (see the README)
            if self.n_landmarks < self.sequence_length:
                raise InputError(f"n_landmarks ({self.n_landmarks}) must be at least sequence_length "
                                 f"({self.sequence_length}), so that each step of the LSTM reads a landmark "
                                 f"(default {lm.DEFAULT_LANDMARKS}).")
            if self.sample_size < lm.MIN_SAMPLE:
                raise InputError(f"sample_size ({self.sample_size}) must be at least {lm.MIN_SAMPLE}: the training "
                                 f"views cluster {lm.MIN_SAMPLE} principal components of the sample "
                                 f"(default {lm.DEFAULT_SAMPLE}).")
        if self.random_state > MAX_SEED:  # numpy's and scikit-learn's seeds stop there
            raise InputError(f"random_state must be at most {MAX_SEED} (2**32 - 1), got {self.random_state}.")
        for name in ("drop_empty", "fallback", "progress"):
            check_flag(name, getattr(self, name))
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.number)) or not np.isfinite(lr) or lr <= 0:
            raise InputError(f"learning_rate must be a positive number, got {lr!r}.")
        self._device()  # an unknown or unavailable device, before any work
        if self.labelled_fraction is not None:
            check_fraction(self.labelled_fraction)
            if self.mode != "labelled":
                raise InputError("labelled_fraction applies only to mode='labelled' (unsupervised mode reads no labels).")

    def _device(self) -> str:
        """The torch device: CUDA when torch sees one (``"auto"``), else what was asked."""
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if not (isinstance(self.device, str) and re.fullmatch(r"cpu|cuda(:\d+)?", self.device)):
            raise InputError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}.")
        if _device_here(self.device):
            return self.device
        if not torch.cuda.is_available():
            raise InputError(f"device={self.device!r} but torch sees no CUDA GPU; use device='auto' or device='cpu'.")
        raise InputError(f"device={self.device!r} but torch sees {torch.cuda.device_count()} CUDA GPU(s), "
                         f"numbered from 0; use device='cuda:0' or device='auto'.")

    # fitting --------------------------------------------------------------------------
    def fit(self, X, labels=None):
        """Learn the similarity and cluster the cells of X (cells × genes).

        ``labels`` (labelled mode only): one entry per cell, None/NaN (or an empty or blank
        string, or the text "nan", "NA", "<NA>", "None" or "null") for cells whose type is unknown. A fit that fails (bad input, Ctrl-C) leaves
        an estimator fitted before as it was.
        """
        before = dict(self.__dict__)
        try:
            return self._fit(X, labels)
        except BaseException:  # before: the new genes' names beside the old model gave wrong embeddings
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    def _fit(self, X, labels):
        t0 = time.perf_counter()
        self._check_params()
        if self.mode == "unsupervised" and labels is not None:
            raise InputError("labels were given but mode='unsupervised' never reads labels; use mode='labelled'.")
        labels = labels_in_cell_order(labels, X)
        self.gene_names_ = model_gene_names(names_of(X)[1])  # warned about before training, not after
        kernel, n_rows, memory = self._choose_kernel(X)
        self.__dict__.pop("merge_", None)  # a landmark fit's merge tree must not outlive a refit
        self.__dict__.pop("classes_", None)  # nor a labelled fit's classes
        try:
            facts = self._fit_exact(X, labels) if kernel == "exact" else self._fit_landmark(X, labels)
        except (RuntimeError, MemoryError) as exc:  # torch's, numpy's or scipy's: say which settings drive it
            if not _is_out_of_memory(exc):
                raise
            raise InputError(
                f"out of memory on {self._device()} while fitting ({first_line(exc, limit=160)}); memory grows with "
                f"the cells on the exact kernel (kernel='landmark' bounds it) and, in training, with batch_size "
                f"(now {self.batch_size}), hidden_size ({self.hidden_size}) and sequence_length "
                f"({self.sequence_length}).") from None
        self.summary_ = {
            "mode": self.mode,
            "n_clusters": int(self.n_clusters_),
            **facts,
            "n_cells": int(self.n_cells_),
            "n_genes_in": int(self.n_genes_in_),
            "n_genes_kept": int(len(self.preprocessor_.genes_kept_)),
            "n_genes_used": int(len(self.preprocessor_.genes_used_)),
            "n_labelled_cells_used": int(self.labelled_mask_.sum()) if self.labelled_mask_ is not None else 0,
            "kernel": kernel,
            "kernel_choice": (f"{kernel} (kernel='auto': exact up to {AUTO_EXACT_MAX_CELLS} cells, "
                              f"landmark above; {n_rows} cells)") if self.kernel == "auto" else f"{kernel} (forced)",
            "memory_estimate_gib": round(memory / 2**30, 3),
            "device": self._device(),
            "seconds": round(time.perf_counter() - t0, 3),
            "random_state": int(self.random_state),
            "params": {k_: v for k_, v in self.get_params().items()},
            "history": self.history_,
            "versions": package_versions(),
        }
        return self

    def _choose_kernel(self, X) -> tuple[str, int, int]:
        """Exact or landmark, with the estimated memory of the choice; logged for the user."""
        counts = counts_of(X)
        if counts is None:  # before a plan for "0 cells" is logged
            raise InputError("no expression matrix was given.")
        shape = getattr(counts, "shape", None)
        if shape is None:  # a list of lists: its size, as the checks read it (before: "0 cells")
            try:
                shape = np.shape(counts)
            except ValueError:  # ragged rows: as_csr says what is wrong
                shape = None
        if shape is not None:
            check_two_dimensional(len(shape))
        n_rows, n_genes = (int(s) for s in shape) if shape is not None else (0, 0)
        # the genes the kernel reads: "paper" keeps every gene, counted before the min_cells filter
        # (an upper bound; before: counted as n_top_genes,
        # 1.02 GiB said where a 6,000-cell fit of 19,625 genes passed 2.4 GiB)
        genes_read = n_genes if self.preprocess == "paper" else min(n_genes, self.n_top_genes)
        kernel = self.kernel
        if kernel == "auto":
            # by size only, not by this machine's free memory, so that a file gets the same answer
            # on every machine: a small file opened backed (or a small Dask array) is read whole and
            # gets the exact path's answer (Biase backed: ARI 1.00 exact against 0.71 landmark)
            kernel = "landmark" if n_rows > AUTO_EXACT_MAX_CELLS else "exact"
        if kernel == "exact":
            memory = exact_memory_bytes(n_rows, genes_read)
            if n_rows > MAX_EXACT_CELLS:
                raise InputError(
                    f"{n_rows} cells: the exact kernel would need about {memory / 2**30:.1f} GiB; "
                    f"it handles up to {MAX_EXACT_CELLS} cells — use kernel='landmark' (or 'auto')."
                )
            bound = "kernel='landmark' bounds it"
        else:
            memory = lm.memory_estimate(n_rows, genes_read, self.n_landmarks,
                                        self.sample_size, lm.DEFAULT_MICRO, DEFAULT_CHUNK_CELLS)
            if (isinstance(self.n_clusters, (int, np.integer)) and not isinstance(self.n_clusters, bool)
                    and self.n_clusters <= n_rows):  # refused before the fit, not by its last step
                lm.check_k_fits(int(self.n_clusters), min(lm.DEFAULT_MICRO, n_rows), n_rows <= MAX_EXACT_CELLS)
            bound = ("a smaller sample_size lowers it" if self.preprocess != "paper" else
                     "a smaller sample_size or the default preprocess (2,000 genes) lowers it")
        free = available_memory_bytes()
        if free is not None and memory > free:  # said before the fit, not by the system killing it
            # before: said for the exact path only, and advised kernel='auto' to a user who had asked for it
            warn_user(f"{n_rows} cells: the {kernel} kernel needs about {memory / 2**30:.1f} GiB, more than the "
                      f"{free / 2**30:.1f} GiB this machine has available now; the fit goes on, and the system "
                      f"may stop it; {bound}.")
        # kept as kernel_note_ too, for callers that show it their own way (the R package's message());
        # logged once the counts have passed their checks, so bad input gets its one line alone
        self.kernel_note_ = (f"sclstm: {kernel} kernel for {n_rows} cells, estimated peak memory "
                             f"{memory / 2**30:.2f} GiB (beyond the input)")
        return kernel, n_rows, memory

    def _labelled_codes(self, label_values, rng):
        """Codes of the labels that may be used (-1 elsewhere) and the mask of those cells."""
        known = np.array([x is not None for x in label_values])
        used = stratified_subset(label_values, self.labelled_fraction, rng) if self.labelled_fraction else known
        classes = sorted({x for x in label_values[used]})
        self.classes_ = classes_array(classes)
        codes = np.where(used, pd.Categorical(label_values, categories=classes).codes, -1).astype(np.int64)
        return codes, used, len(classes)

    def _classes_in_sample(self, sample_codes: np.ndarray, n_sample: int) -> int:
        """Landmark path, labelled mode: the classes the training sample holds labels of. A class
        outside it cannot be learned or predicted, so it is not counted in k, and a warning names it."""
        present = set(np.unique(sample_codes).tolist())
        absent = [str(c) for i, c in enumerate(self.classes_) if i not in present]
        if absent:
            warn_user(f"{len(absent)} class(es) have no labelled cell in the training sample of {n_sample} "
                      f"cells ({', '.join(absent[:3])}{', …' if len(absent) > 3 else ''}): they cannot be "
                      f"predicted and are not counted in k; raise sample_size to take them in.")
        return len(present)

    @staticmethod
    def _choose_k(k_given, n: int, n_classes, estimate) -> tuple[int, str, dict]:
        """k given; else, in labelled mode, the number of classes in the labels used; else
        ``estimate()`` → (k, curve). Returns k, how it was chosen, and its curve."""
        if k_given:
            return k_given, "given", {}
        if n_classes is not None:
            if n_classes < 2:  # before: "n_clusters must be at least 2", a parameter the user never set
                raise InputError(
                    f"the labels used hold {n_classes} class(es) where at least two cell types are needed "
                    "(the labels of cells left out as empty, and on the landmark path of cells outside the "
                    "training sample, are not used); label cells of another type, or give n_clusters.")
            return check_n_clusters(n_classes, n), "classes in the labels used", {}
        k, curve = estimate()
        return k, "estimated", curve

    def _pair_source(self, views) -> PairSource:
        try:
            return PairSource(list(views.values()))
        except ValueError:
            if "labels" in views:  # labelled mode: say what the labels used lack
                codes = np.asarray(views["labels"])
                sizes = np.bincount(codes[codes >= 0])
                # labelled_fraction keeps one cell of every class out, so a class of 2 keeps 1
                advice = ("label more cells, or leave labelled_fraction out (every label is then used: "
                          "labelled_fraction keeps at least one labelled cell of each class out)"
                          if self.labelled_fraction else "label more cells")
                raise InputError(
                    f"no training pairs: the labels used cover {int(sizes.sum())} cells in "
                    f"{int((sizes > 0).sum())} classes, and pairs of the same type need a class with "
                    f"at least 2 labelled cells; {advice}."
                ) from None
            sample = (f" among the {self.sample_size} cells of the training sample (sample_size)"
                      if hasattr(self, "kernel_") and isinstance(self.kernel_, LandmarkKernel) else "")
            raise InputError(
                f"no training pairs: every cell is its own group or all cells are one group{sample}; "
                "check n_clusters and the labels."
            ) from None

    def _train(self, seqs, pairs, views, pseudo_weight: float = 0.0):
        """Fit the network on ``pairs``; in labelled mode its class head learns ``views["labels"]``.
        With ``pseudo_weight`` > 0 (unsupervised) the encoder also learns the ``leiden_pca``
        view's communities (:func:`~sclstm.training.train_siamese`'s ``pseudo_classes``)."""
        classes = views["labels"] if self.mode == "labelled" else None
        self._warn_oversized_batch(seqs.shape[0])
        self.model_, self.history_ = train_siamese(
            seqs, pairs, head=self.head, n_steps=self.n_steps, batch_size=self.batch_size,
            lr=self.learning_rate, hidden=self.hidden_size, embedding_dim=self.embedding_dim,
            random_state=self.random_state, device=self._device(), progress=self.progress,
            classes=classes, n_classes=None if classes is None else len(self.classes_),
            pseudo_classes=views.get("leiden_pca"), pseudo_weight=pseudo_weight,
        )

    def _warn_oversized_batch(self, n_training_cells: int) -> None:
        """Warn when a batch holds more pairs than the training cells have distinct pairs: the
        steps then repeat pairs, which costs time (it grows with batch_size) and adds nothing.
        The default batch_size never warns, even on a few cells."""
        distinct = n_training_cells * (n_training_cells - 1) // 2
        default = ScLSTM().batch_size
        if self.batch_size > max(distinct, default):
            warn_user(f"batch_size={self.batch_size} pairs per step exceeds the {distinct:,} distinct pairs of "
                      f"the {n_training_cells:,} training cells, so every step repeats pairs; training time "
                      f"grows with batch_size (default {default}) and gains nothing from them.")

    def _set_predictions(self, prob) -> None:
        """Labelled mode: every cell's class and its probability from the class head's
        ``prob`` (cells × classes); None in unsupervised mode (``prob`` None)."""
        self.predicted_labels_, self.predicted_confidence_ = None, None
        if prob is not None:
            codes, self.predicted_confidence_ = class_codes(prob)
            self.predicted_labels_ = self.classes_[codes]

    def _genes_read(self) -> str:
        return f"the genes expressed in at least {self.min_cells} cells (min_cells; the fit reads no others)"

    def _fit_exact(self, X, labels) -> dict:
        counts, _ = read_counts(X, self.drop_empty)
        counts = drop_unread_cells(counts, filter_genes(counts.X, self.min_cells), self._genes_read(),
                                   self.drop_empty)
        n = counts.X.shape[0]
        k_given = check_n_clusters(self.n_clusters, n)
        label_values = check_labels(labels, len(counts.kept))[counts.kept] if self.mode == "labelled" else None
        log.info(self.kernel_note_)
        device = self._device()

        self.preprocessor_ = Preprocessor(self.preprocess, self.min_cells, self.n_top_genes)
        L = self.preprocessor_.fit_transform(counts.X)
        self.kernel_ = ExactKernel()
        S = self.kernel_.fit_transform(L)

        rng = np.random.default_rng(self.random_state)
        self.labelled_mask_, n_classes = None, None
        if self.mode == "labelled":
            codes, self.labelled_mask_, n_classes = self._labelled_codes(label_values, rng)
            views = {"labels": codes}
        k, k_method, k_curve = self._choose_k(k_given, n, n_classes, lambda: estimate_k(S, k_max=self.k_max))
        if self.mode != "labelled":  # every view: the training ones, the kernel's partition, the guard's
            all_views = label_free_views(L, S, k, random_state=self.random_state, names=VIEWS)
            views = informative_views({name: all_views[name] for name in TRAINING_VIEWS})
        pairs = self._pair_source(views)

        self.sequencer_ = fit_sequencer(S, self.kernel_.columns_, self.sequence_length, self.max_columns, self.random_state)
        seqs = self.sequencer_.transform(S)
        self._train(seqs, pairs, views)
        self.embedding_ = embed(self.model_, seqs, device)
        self._set_predictions(class_probabilities(self.model_, seqs, self.embedding_, device)
                              if self.model_.classifier is not None else None)
        self.similarity_ = pair_probabilities(self.model_, self.embedding_, device)

        labels_learned = self._cluster(self.similarity_, self.embedding_, k)
        partition_from, guard = "learned similarity", None
        if self.mode == "unsupervised" and self.fallback and self.cluster_method == "agglomerative":
            labels_kernel = relabel_by_size(all_views["ward_kernel"])
            agree = {name: guard_agreement(lab, all_views)
                     for name, lab in (("learned similarity", labels_learned), ("kernel", labels_kernel))}
            guard = {"criterion": "mean ARI with average-linkage cosine and Ward-on-PCA partitions", **agree}
            if agree["kernel"] > agree["learned similarity"]:
                partition_from, labels_learned = "kernel", labels_kernel
        self.labels_ = labels_learned
        self.n_clusters_ = int(k)
        self.n_cells_, self.n_genes_in_ = n, counts.X.shape[1]
        self.cell_names_ = counts.cell_names
        self.kept_cells_ = counts.kept
        return {"k_method": k_method, "k_curve": k_curve, "partition_from": partition_from, "guard": guard,
                "n_empty_cells_dropped": int(counts.n_empty_cells), "n_empty_genes": int(counts.n_empty_genes),
                "n_confident_cells": int(pairs.n_confident_cells), "training_views": list(views)}

    def _fit_landmark(self, X, labels) -> dict:
        """The path for many cells (:mod:`sclstm.landmark`): nothing n × n is held."""
        source = RowSource(X, cell_names=names_of(X)[0])
        _, gene_nnz = source.scan_empty(self.drop_empty)
        depths = source.drop_unread(kept_genes(gene_nnz, self.min_cells), self._genes_read(), self.drop_empty)
        n_empty = int((~source.kept).sum())  # all-zero cells and cells with counts only in unread genes
        n = source.n_cells
        k_given = check_n_clusters(self.n_clusters, n)
        label_values = check_labels(labels, source.n_rows)[source.kept] if self.mode == "labelled" else None
        log.info(self.kernel_note_)
        device = self._device()
        self.preprocessor_ = Preprocessor(self.preprocess, self.min_cells, self.n_top_genes).fit_chunks(
            source, gene_nnz, depths)
        landmarks, L_landmarks, sample, L_sample = lm.read_landmarks_and_sample(
            source, self.preprocessor_, self.n_landmarks, self.sample_size, self.random_state)
        self.kernel_ = lm.fit_landmark_kernel(source, self.preprocessor_, landmarks, L_landmarks)
        K_sample = self.kernel_.transform(L_sample)

        rng = np.random.default_rng(self.random_state)
        self.labelled_mask_, n_classes = None, None
        if self.mode == "labelled":
            codes, used, n_classes = self._labelled_codes(label_values, rng)
            in_sample = np.zeros(n, dtype=bool)
            in_sample[sample] = True
            self.labelled_mask_ = used & in_sample  # only the sample's labels reach training
            views = {"labels": np.where(self.labelled_mask_, codes, -1)[sample]}
            n_classes = self._classes_in_sample(codes[self.labelled_mask_], len(sample))
        k, k_method, k_curve = self._choose_k(k_given, n, n_classes,
                                              lambda: lm.estimate_k_on_sample(L_sample, self.k_max))
        if self.mode != "labelled":
            views = informative_views(label_free_views(L_sample, K_sample, k, random_state=self.random_state,
                                                          names=LANDMARK_TRAINING_VIEWS))
        pairs = self._pair_source(views)

        self.sequencer_ = lm.landmark_sequencer(self.kernel_, K_sample, self.sequence_length, self.random_state)
        pseudo = lm.PSEUDO_CLASS_WEIGHT if "leiden_pca" in views else 0.0
        self._train(self.sequencer_.transform(K_sample), pairs, views, pseudo_weight=pseudo)
        del K_sample, L_sample, L_landmarks
        self.embedding_, prob = lm.embed_all(source, self.preprocessor_, self.kernel_, self.sequencer_,
                                             self.model_, device)
        self._set_predictions(prob)
        self.merge_ = lm.MicroClusterMerge(self.model_, self.embedding_, lm.DEFAULT_MICRO, lm.MICRO_MEMBERS,
                                           self.random_state, device)
        self.similarity_ = lm.knn_similarity(self.model_, self.embedding_, lm.SIMILARITY_NEIGHBOURS, device)
        self.labels_ = self._cluster(self.similarity_, self.embedding_, k)
        self.n_clusters_ = int(k)
        self.n_cells_, self.n_genes_in_ = n, source.n_genes
        names = source.cell_names if source.cell_names is not None else np.arange(source.n_rows)
        self.cell_names_ = names[source.kept].astype(str)  # AnnData or DataFrame names, as on the exact path
        self.kept_cells_ = source.kept
        return {"k_method": k_method, "k_curve": k_curve, "partition_from": "learned similarity",
                "guard": {"applied": False, "reason": "the kernel's own partition of all cells is not computed "
                          "in landmark mode, so there is nothing to fall back to"},
                "n_empty_cells_dropped": n_empty, "n_empty_genes": int((gene_nnz == 0).sum()),
                "n_confident_cells": int(pairs.n_confident_cells), "training_views": list(views),
                "pseudo_class_loss": ({"view": "leiden_pca", "weight": pseudo} if pseudo > 0 else None),
                "n_landmarks": int(len(self.kernel_.columns_)), "training_sample": int(len(sample)),
                "n_micro_clusters": int(len(self.merge_.sizes_)),
                "similarity": f"learned P(same) on each cell's {lm.SIMILARITY_NEIGHBOURS} nearest neighbours in the "
                              f"embedding (sparse; exact up to {EXACT_NEIGHBOURS_MAX_CELLS:,} cells, approximate above)"}

    def _cluster(self, P, E, k) -> np.ndarray:
        if self.cluster_method == "agglomerative":
            if hasattr(self, "merge_"):  # landmark path: cut the micro-cluster merge tree
                lm.check_k_fits(k, len(self.merge_.sizes_), len(self.merge_.micro_) <= MAX_EXACT_CELLS)
                return self.merge_.cut(k)
            return cluster_similarity(P, k)
        if self.cluster_method == "kmeans":
            return cluster_features(E, k, "kmeans", self.random_state)
        from sklearn.cluster import SpectralClustering

        lab = SpectralClustering(n_clusters=k, affinity="precomputed", random_state=self.random_state,
                                 assign_labels="cluster_qr").fit_predict(P.astype(np.float64))  # sparse P too
        return relabel_by_size(lab)

    def recluster(self, n_clusters=None, cluster_method=None) -> np.ndarray:
        """Cluster the fitted representation again with another k or method, without retraining.

        Uses the learned similarity (agglomerative, spectral) or the embedding (kmeans); on the
        landmark path, agglomerative cuts the fit's merge tree of micro-clusters. The fallback
        guard is not applied. Fitted attributes are not changed.
        """
        self._check_fitted()
        k = check_n_clusters(self.n_clusters_ if n_clusters is None else n_clusters, len(self.labels_))
        method = cluster_method or self.cluster_method
        if method not in CLUSTER_METHODS:
            raise InputError(f"cluster_method must be one of {CLUSTER_METHODS}, got {method!r}.")
        if not hasattr(self, "similarity_"):
            raise InputError("this model has no learned similarity (it was loaded from a file); refit to recluster.")
        saved, self.cluster_method = self.cluster_method, method
        try:
            return self._cluster(self.similarity_, self.embedding_, k)
        finally:
            self.cluster_method = saved

    def fit_predict(self, X, labels=None) -> np.ndarray:
        """Fit, and return the cluster of every cell (``labels_``)."""
        return self.fit(X, labels).labels_

    def fit_transform(self, X, labels=None) -> np.ndarray:
        """Fit, and return the embedding of every cell of X (``embedding_``, with NaN rows for
        cells left out by ``drop_empty``), without embedding the cells a second time."""
        self.fit(X, labels)
        return self._one_row_per_cell(self.embedding_, self.kept_cells_)

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise NotFittedError("this ScLSTM is not fitted yet; call fit(X) first.")

    def transform(self, X, drop_empty=None) -> np.ndarray:
        """Embedding of the cells of X in the learned space, one row per cell of X.

        Genes are matched by name when both the fitted data and X carry names (AnnData,
        DataFrame): X may hold them in another order or hold extra genes, but must hold every
        gene the model reads. Where either side has no names they are matched by position (with
        a warning if the other side has names). All-zero cells, and cells with counts only in
        genes the model does not read, are refused unless ``drop_empty`` (default: the
        estimator's), which gives them NaN rows.
        Any number of cells (one too) may be embedded. X may be a backed AnnData (or another
        out-of-core array): it is read chunk by chunk into one sparse matrix, so it must fit in
        memory as sparse counts; only ``fit`` keeps memory bounded for larger data.
        """
        return self._new_cells(X, drop_empty, with_probabilities=False)[0]

    def predict(self, X, drop_empty=None) -> np.ndarray:
        """Labelled mode: the predicted type of every cell of X (label transfer to new cells).

        The class head of a labelled fit, as in ``predicted_labels_``; classes keep the type
        of the labels fitted on. Genes are matched as in :meth:`transform`; all-zero cells
        dropped by ``drop_empty`` get None. An unsupervised model has no classes to predict:
        its clusters are not defined for new cells, so this is refused (use :meth:`transform`).
        """
        codes, _ = class_codes(self.predict_proba(X, drop_empty))
        if (codes >= 0).all():
            return self.classes_[codes]
        out = np.full(len(codes), None, dtype=object)
        out[codes >= 0] = self.classes_[codes[codes >= 0]]
        return out

    def predict_proba(self, X, drop_empty=None) -> np.ndarray:
        """Labelled mode: every cell's probability of each class (columns in the order of
        ``classes_``), as :meth:`predict` reads it; NaN rows for all-zero cells dropped by
        ``drop_empty``. Refused for an unsupervised model, as :meth:`predict` is."""
        return self._new_cells(X, drop_empty, with_probabilities=True)[1]

    def _new_cells(self, X, drop_empty, with_probabilities: bool, cell_names=None):
        """Embedding of the cells of X and, for a labelled model when asked, their class
        probabilities (None otherwise): one row per cell, NaN rows for dropped all-zero cells.
        One pass serves both (``sclstm apply`` writes both). ``cell_names``: see :func:`read_counts`."""
        self._check_fitted()
        if drop_empty is not None and not isinstance(drop_empty, (bool, np.bool_)):  # "no" would act as True
            raise InputError(f"drop_empty must be True, False or None (the model's setting), got {drop_empty!r}.")
        if with_probabilities and (getattr(self, "classes_", None) is None or self.model_.classifier is None):
            raise InputError("predict needs a model fitted with mode='labelled' (it predicts the types of "
                             "the labels it learned); this one is unsupervised: use transform(X) for the "
                             "embedding of new cells, or fit with mode='labelled' and labels.")
        E, seqs, kept = self._embed_new(X, drop_empty, cell_names)
        prob = class_probabilities(self.model_, seqs, E, self._device()) if with_probabilities else None
        return self._one_row_per_cell(E, kept), None if prob is None else self._one_row_per_cell(prob, kept)

    def _embed_new(self, X, drop_empty, cell_names=None):
        """Embedding and input sequences of the non-empty cells of X, and the mask of those cells."""
        self._check_fitted()
        drop_empty = self.drop_empty if drop_empty is None else drop_empty
        counts, gene_names = read_counts(X, drop_empty, min_cells=1, cell_names=cell_names)
        genes = self.preprocessor_.genes_kept_
        counts = drop_unread_cells(replace(counts, X=self._align_genes(counts.X, gene_names)), genes,
                                   f"the {len(genes)} genes the model reads", drop_empty, min_cells=1)
        L = self.preprocessor_.transform(counts.X)
        seqs = self.sequencer_.transform(self.kernel_.transform(L))
        device = self._device()
        self.model_.to(device)  # trained on another device, or loaded (weights load onto the CPU)
        return embed(self.model_, seqs, device), seqs, counts.kept

    @staticmethod
    def _one_row_per_cell(E, kept) -> np.ndarray:
        """E back on the input's cells: NaN rows for the all-zero cells that were dropped."""
        if kept.all():
            return E
        out = np.full((len(kept), E.shape[1]), np.nan, dtype=E.dtype)
        out[kept] = E
        return out

    def _align_genes(self, M: sp.csr_matrix, gene_names) -> sp.csr_matrix:
        """Columns of M in the order of the fitted genes, matched by name where both have names.

        Genes the model never reads (filtered out at fit) may be missing; they count as zero.
        """
        fitted = self.gene_names_
        if (fitted is None) != (gene_names is None):
            warn_user(
                f"the {'model' if fitted is None else 'data'} has no gene names, so genes are matched by "
                f"position: the data must hold the model's {self.n_genes_in_} genes in the order it was fitted "
                "on (give both names — an AnnData, a DataFrame or a model fitted on one — to match by name).")
        if fitted is None or gene_names is None or (len(gene_names) == len(fitted)
                                                     and np.array_equal(gene_names, fitted)):
            self.preprocessor_.check_gene_count(M.shape[1])  # by position
            return M
        position = pd.Index(gene_names)
        if not position.is_unique:
            dup = position[position.duplicated()].unique()[:3]
            raise InputError(f"the data has duplicated gene names ({', '.join(map(str, dup))}); "
                             "genes are matched to the model by name, so make them unique.")
        where = position.get_indexer(pd.Index(fitted))
        needed = self.preprocessor_.genes_kept_
        missing = needed[where[needed] < 0]
        if missing.size == needed.size:  # not a subset: other names (symbols against Ensembl IDs?)
            raise InputError(
                f"none of the {needed.size} genes the model reads is in the data: the model's names look like "
                f"{', '.join(map(str, fitted[needed[:3]]))}, the data's like {', '.join(map(str, position[:3]))}; "
                "give the data the kind of gene names the model was fitted with (symbols or IDs).")
        if missing.size:
            used = self.preprocessor_.genes_used_
            raise InputError(
                f"{missing.size} of the {needed.size} genes the model reads are not in the data (e.g. "
                f"{', '.join(map(str, fitted[missing[:3]]))}; {int((where[used] < 0).sum())} of them among its "
                f"{used.size} variable genes): it reads every gene kept at fit for each cell's depth, so give "
                "counts for all the genes it was fitted on, not a subset such as the variable genes.")
        zero = M.shape[1]  # missing genes the model never reads: an all-zero column
        padded = sp.hstack([M, sp.csr_matrix((M.shape[0], 1))], format="csr")
        return padded[:, np.where(where < 0, zero, where)]

    # persistence ----------------------------------------------------------------------
    def save(self, path) -> None:
        """Write the fitted model (weights, preprocessing, kernel reference, results) to one file."""
        self._check_fitted()
        from pathlib import Path

        path = Path(path).expanduser()  # checked and written at the same place
        check_replaceable(path, f"cannot save the model to {path}")  # torch's own: a RuntimeError deep in its writer
        ref = self.kernel_.reference_
        state = {
            "format": MODEL_FORMAT,
            "params": json.dumps(self.get_params(), default=_plain),
            "summary": json.dumps(self.summary_, default=_plain),
            "model_state": self.model_.state_dict(),
            "step_width": int(self.sequencer_.step_width),
            "labels": torch.from_numpy(self.labels_),
            "embedding": torch.from_numpy(self.embedding_),
            "labelled_mask": None if self.labelled_mask_ is None else torch.from_numpy(self.labelled_mask_),
            "classes": None if self.predicted_labels_ is None else [_plain(x) for x in self.classes_],
            "predicted": None if self.predicted_labels_ is None else {  # the head needs kernel rows: kept, not redone
                "codes": torch.from_numpy(pd.Categorical(self.predicted_labels_, categories=self.classes_).codes
                                          .astype(np.int64)),
                "confidence": torch.from_numpy(self.predicted_confidence_)},
            "cell_names": [str(x) for x in self.cell_names_],
            "gene_names": None if self.gene_names_ is None else [str(x) for x in self.gene_names_],
            "kept_cells": torch.from_numpy(self.kept_cells_),
            "kernel": {"name": self.kernel_.name, "lo": _plain(self.kernel_.lo_), "hi": _plain(self.kernel_.hi_),
                       "columns": torch.from_numpy(np.asarray(self.kernel_.columns_, dtype=np.int64)),
                       "reference": _dense_or_sparse_to_state(ref)},
            "sequencer": {"columns": torch.from_numpy(self.sequencer_.columns),
                          "mean": torch.from_numpy(self.sequencer_.mean),
                          "scale": torch.from_numpy(self.sequencer_.scale),
                          "n_steps": int(self.sequencer_.n_steps)},
            # numpy scalars as plain values: torch.load(weights_only=True) refuses them, so a model
            # fitted with min_cells=np.int64(3) (a grid over np.arange) was saved but could not be loaded
            "preprocessor": {k: (torch.from_numpy(np.asarray(v)) if isinstance(v, np.ndarray) else _plain(v))
                             for k, v in self.preprocessor_.get_state().items()},
        }
        with written_beside(path) as partial, _checksums_on():  # a save stopped midway leaves an earlier model whole
            torch.save(state, partial)

    @classmethod
    def load(cls, path) -> "ScLSTM":
        """Read a model written by :meth:`save`. A model saved with ``device="cuda"`` loads on a
        machine without a GPU with ``device="auto"`` (its weights are read onto the CPU)."""
        if not isinstance(path, (str, os.PathLike)):
            raise InputError(f"load needs the model file's name (str or Path), got {type(path).__name__}.")
        path = os.path.expanduser(os.fspath(path))
        try:
            _check_checksums(path)
            state = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise InputError(f"model file not found: {path}") from None
        except IsADirectoryError:
            raise InputError(f"{path} is a folder, not a model file.") from None
        except InputError:
            raise
        except Exception as exc:
            raise InputError(_why_unreadable(path, exc)) from None
        fmt = state.get("format") if isinstance(state, dict) else None
        if isinstance(fmt, str) and fmt.startswith("sclstm-model-") and fmt != MODEL_FORMAT:
            raise InputError(f"{path} is an sclstm model in format {fmt!r}, but this sclstm {__version__} "
                             f"reads {MODEL_FORMAT!r}; load it with the sclstm version that wrote it.")
        if fmt != MODEL_FORMAT:
            raise InputError(f"{path} is not an sclstm model file.")
        try:
            return cls._from_state(state)
        except KeyError as exc:  # a file cut short or put together by hand
            raise InputError(f"{path} is an incomplete sclstm model: it lacks {exc}.") from None
        except InputError:  # already says what is wrong (an InputError is a ValueError too)
            raise
        except _UnknownParameters as exc:
            raise InputError(f"{path} has parameters this sclstm {__version__} does not know ({exc}): it was "
                             "written by another sclstm version; load it with that version.") from None
        except (TypeError, ValueError, RuntimeError, AttributeError, IndexError) as exc:
            # before: the traceback of json, ScLSTM() or torch's load_state_dict
            raise InputError(f"{path} is damaged or was written by another sclstm version: "
                             f"{first_line(exc, limit=160)}") from None

    @classmethod
    def _from_state(cls, state: dict) -> "ScLSTM":
        params = json.loads(state["params"])
        unknown = sorted(set(params) - set(cls().get_params()))
        if unknown:
            raise _UnknownParameters(", ".join(unknown))
        if not _device_here(params.get("device", "auto")):
            params["device"] = "auto"  # before: every transform refused, naming an option the CLI lacks
        est = cls(**params)
        est.summary_ = json.loads(state["summary"])
        est.history_ = est.summary_["history"]
        est.n_clusters_ = est.summary_["n_clusters"]
        est.labels_ = state["labels"].numpy()
        est.embedding_ = state["embedding"].numpy()
        est.labelled_mask_ = None if state["labelled_mask"] is None else state["labelled_mask"].numpy()
        est.cell_names_ = np.asarray(state["cell_names"])
        genes = state.get("gene_names")  # absent from files written before names were kept
        est.gene_names_ = None if genes is None else np.asarray(genes)
        est.kept_cells_ = state["kept_cells"].numpy()
        est.n_cells_ = len(est.labels_)
        classes = state.get("classes")
        _check_weights(state["model_state"], est, state["step_width"])
        skip = state["model_state"].get("class_skip.weight")
        with torch_rng_of_our_own():  # its first weights, overwritten below, are drawn
            # from torch's generator: before, loading a model moved the caller's random numbers
            est.model_ = SiameseLSTM(state["step_width"], head=est.head, hidden=est.hidden_size,
                                     embedding_dim=est.embedding_dim, n_classes=0 if classes is None else len(classes),
                                     skip_width=0 if skip is None else int(skip.shape[1]),
                                     sequence_classifier="sequence_classifier.weight" in state["model_state"])
        est.model_.load_state_dict(state["model_state"])
        est.model_.eval()
        est.predicted_labels_, est.predicted_confidence_ = None, None
        if classes is not None:
            est.classes_ = classes_array(classes)
            predicted = state.get("predicted")
            if predicted is None:  # written before the head had its skip: the embedding is all it reads
                est._set_predictions(class_probabilities(est.model_, None, est.embedding_))
            else:
                est.predicted_labels_ = est.classes_[predicted["codes"].numpy()]
                est.predicted_confidence_ = predicted["confidence"].numpy()
        ks = state["kernel"]
        reference = _state_to_dense_or_sparse(ks["reference"])
        if ks.get("name") == LandmarkKernel.name:
            kern = LandmarkKernel(reference, ks["columns"].numpy())
        else:
            kern = ExactKernel()
            kern.reference_, kern.columns_ = reference, np.arange(est.n_cells_)
        kern.lo_, kern.hi_ = ks["lo"], ks["hi"]
        est.kernel_ = kern
        sq = state["sequencer"]
        est.sequencer_ = Sequencer(sq["columns"].numpy(), sq["mean"].numpy(), sq["scale"].numpy(),
                                   sq["n_steps"], state["step_width"])
        est.preprocessor_ = Preprocessor.from_state(
            {k: (v.numpy() if isinstance(v, torch.Tensor) else v) for k, v in state["preprocessor"].items()})
        est.n_genes_in_ = est.preprocessor_.n_genes_in_
        _check_consistent(est, reference)
        return est


def _check_weights(weights, est, step_width) -> None:
    """Weights whose sizes are those of the parameters and whose values are finite, checked
    before the network is built: a file whose hidden_size was edited to 8000 took 1.3 GB and
    4.6 s to be refused, and all-NaN weights gave NaN embeddings that apply called empty cells.
    A ValueError here is reported as a damaged file."""
    if not isinstance(weights, dict) or not all(isinstance(w, torch.Tensor) for w in weights.values()):
        raise ValueError("its weights are not a set of tensors")
    sizes = {"encoder.lstm.weight_ih_l0": (4 * est.hidden_size, step_width),
             "encoder.lstm.weight_hh_l0": (4 * est.hidden_size, est.hidden_size),
             "encoder.project.weight": (est.embedding_dim, est.hidden_size)}
    for name, size in sizes.items():
        if name not in weights:
            raise KeyError(name)
        if tuple(weights[name].shape) != size:
            raise ValueError(f"its weights {name} are {tuple(weights[name].shape)}, not the {size} its saved "
                             "settings give")
    if any(w.is_floating_point() and not torch.isfinite(w).all() for w in weights.values()):
        raise ValueError("its weights hold NaN or infinite values")


def _check_consistent(est, reference) -> None:
    """The loaded arrays agree with one another: per-cell arrays one entry per cell, indices
    within what they index, numbers finite. Before, such a file loaded and failed later with an
    IndexError from transform, or loaded with 10 labels for 60 cells."""
    n = est.n_cells_
    per_cell = {"embedding rows": est.embedding_, "cell names": est.cell_names_,
                "labelled-cell flags": est.labelled_mask_, "predicted types": est.predicted_labels_,
                "confidences": est.predicted_confidence_}
    for what, values in per_cell.items():
        if values is not None and len(values) != n:
            raise ValueError(f"it has {len(values)} {what} for its {n} cells")
    if np.asarray(est.kept_cells_).sum() != n:
        raise ValueError(f"its kept-cells mask keeps {int(np.asarray(est.kept_cells_).sum())} cells for its {n}")
    if not np.isfinite(est.embedding_).all():
        raise ValueError("its embedding holds NaN or infinite values")
    pp = est.preprocessor_
    width = reference.shape[0]  # the kernel's columns: its reference cells
    for what, index, bound, unit in (("kept genes", pp.genes_kept_, pp.n_genes_in_, "genes"),
                                     ("genes used", pp.genes_used_, pp.n_genes_in_, "genes"),
                                     ("sequence columns", est.sequencer_.columns, width, "kernel columns")):
        index = np.asarray(index)
        if index.size and (index.min() < 0 or index.max() >= bound):
            raise ValueError(f"its {what} are numbered {int(index.min())}–{int(index.max())}, outside its {bound} {unit}")
    target = pp.target_sum_
    if target is not None and not (isinstance(target, numbers.Real) and np.isfinite(target) and target > 0):
        raise ValueError(f"its depth target {target!r} is not a positive number")
    steps = est.sequencer_.n_steps
    if not (isinstance(steps, numbers.Integral) and steps >= 1
            and steps * est.sequencer_.step_width >= len(est.sequencer_.columns)):
        raise ValueError(f"its sequence length {steps!r} does not hold its {len(est.sequencer_.columns)} columns")


@contextlib.contextmanager
def _checksums_on():
    """torch.save with its checksums, which load checks, even where the process switched them
    off (torch.serialization.set_crc32_options(False)); put back as it was."""
    ser = torch.serialization
    if not hasattr(ser, "get_crc32_options"):
        yield
        return
    before = ser.get_crc32_options()
    ser.set_crc32_options(True)
    try:
        yield
    finally:
        ser.set_crc32_options(before)


def _check_checksums(path: str) -> None:
    """A model file (a zip, as torch.save writes it) whose parts fail their checksums: torch.load
    does not check them, so a file damaged in a copy loaded and gave other embeddings."""
    import zipfile

    if not zipfile.is_zipfile(path):
        return  # not torch's format: torch.load says so
    with zipfile.ZipFile(path) as z:
        if all(i.CRC == 0 for i in z.infolist() if i.file_size):
            return  # written with torch.serialization.set_crc32_options(False): nothing to check
        try:  # reads the file once more (0.13 s beside torch.load's 0.22 s for 0.4 GB, cached)
            bad = z.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise InputError(f"{path} is damaged ({first_line(exc)}): an interrupted copy or download?") from None
    if bad is not None:
        raise InputError(f"{path} is damaged: its part {bad.split('/', 1)[-1]!r} fails its checksum (an interrupted copy or "
                         "download?); save the model again or copy it anew.")


def _why_unreadable(path: str, exc: Exception) -> str:
    """The message for a model file torch.load refused: empty, holding code, another kind of
    file, or cut short (before: only the exception's type, "(EOFError)", "(UnpicklingError)")."""
    try:
        empty = os.path.getsize(path) == 0
    except OSError:
        empty = False
    if empty:
        return f"{path} is empty (0 bytes): save the model again, or copy it anew."
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        head = b"PK"
    looks = _looks_like(head)  # first: torch refuses an .h5ad or .rds as "weights only load failed" too
    if looks:
        return f"could not read {path} as an sclstm model ({type(exc).__name__}){looks}."
    torch_format = head[:2] in (b"PK", b"\x80\x02")  # torch.save's zip; its older pickle
    if torch_format and "Weights only load failed" in str(exc):  # torch's refusal of all but tensors and plain data
        return (f"{path} holds objects other than tensors and plain values, which sclstm does not load (numpy "
                "values, as an sclstm before 2026-12-07 could save, or code that loading would run); fit and save the model "
                "again with this sclstm, or use one from a source you trust.")
    import zipfile

    cut_zip = head[:2] == b"PK" and not zipfile.is_zipfile(path)
    if isinstance(exc, (EOFError, OSError)) or cut_zip:  # a cut zip: torch's RuntimeError "central directory"
        looks = ": it is cut short or damaged (an interrupted copy or download?)"
    elif not torch_format:
        looks = ": it is not a file that ScLSTM.save writes"
    return f"could not read {path} as an sclstm model ({type(exc).__name__}){looks}."


def _looks_like(head: bytes) -> str:
    """What a file given as a model seems to be instead, from its first bytes, for the message
    (the data, when ``sclstm apply``'s two arguments were swapped)."""
    if head.startswith(b"\x89HDF"):
        return ": it is an HDF5 file (an .h5ad?), not the .pt file that save wrote"
    if head.startswith(b"\x1f\x8b") or head.startswith(b"RDX") or head.startswith(b"X\n"):
        return ": it looks like an R file (.rds / .RData), not the .pt file that save wrote"
    return ""


def _is_out_of_memory(exc: BaseException) -> bool:
    oom = getattr(torch, "OutOfMemoryError", ())
    # torch's CPU allocator says "can't allocate memory" on Linux and macOS, "not enough memory" on Windows
    return (isinstance(exc, (MemoryError, oom)) or "can't allocate memory" in str(exc)
            or "not enough memory" in str(exc) or "out of memory" in str(exc))


def _plain(x):
    """A plain Python value for torch.save and json: numpy scalars → int/float/str (so
    ``ScLSTM(random_state=np.int64(0))`` saves), arrays → lists."""
    if isinstance(x, np.ndarray):
        return x.tolist()
    return x.item() if isinstance(x, np.generic) else x


def _dense_or_sparse_to_state(M) -> dict:
    if sp.issparse(M):
        M = sp.csr_matrix(M)
        return {"sparse": True, "data": torch.from_numpy(M.data), "indices": torch.from_numpy(M.indices.astype(np.int64)),
                "indptr": torch.from_numpy(M.indptr.astype(np.int64)), "shape": list(M.shape)}
    return {"sparse": False, "data": torch.from_numpy(np.ascontiguousarray(M))}


def _state_to_dense_or_sparse(state: dict):
    if state["sparse"]:
        return sp.csr_matrix((state["data"].numpy(), state["indices"].numpy(), state["indptr"].numpy()),
                             shape=tuple(state["shape"]))
    return state["data"].numpy()
