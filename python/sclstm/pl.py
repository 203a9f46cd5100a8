"""Pictures: the ScLSTM embedding (t-SNE or UMAP) coloured by obs columns, and the k curve."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from .io._files import check_folder, written_beside
from .validation import InputError

__all__ = ["embedding", "k_curve"]


PICTURE_SUFFIXES = (".png", ".pdf", ".svg")


def check_picture_path(path, what: str = "save") -> None:
    """Fail before any work if a picture cannot be written there (suffix, missing folder)."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"{what} must be a file name, got {type(path).__name__}.")
    p = Path(path)
    if p.suffix.lower() not in PICTURE_SUFFIXES:
        raise InputError(f"{what} must end in .png, .pdf or .svg, got {path}.")
    check_folder(path)


class _Clusters:
    """``color``'s default: the clusters of ``key`` (``obs[key]``), whatever ``key`` is, so that
    ``key="other"`` does not colour X_other by another run's ``obs["sclstm"]``."""

    def __repr__(self):
        return "obs[key]"


CLUSTERS = _Clusters()


def _finish(fig, save, own: bool = True):
    """Write the figure to ``save`` and, as scanpy does after saving, close it in pyplot so that
    a loop of saved plots does not keep every figure open (matplotlib warns past 20). The
    returned figure stays usable (``fig.savefig``). The caller's figure (``own`` False: drawn
    into its ``ax``) is saved but neither laid out again nor closed."""
    if own:
        fig.tight_layout()
    if save:
        try:  # written beside and renamed onto it: a save stopped midway leaves an earlier picture whole
            with written_beside(save, Path(save).suffix) as partial:
                fig.savefig(partial, dpi=120, bbox_inches="tight", format=Path(save).suffix[1:].lower())
        finally:  # closed even when the save fails (before: one figure left open per failure)
            if own:
                import matplotlib.pyplot as plt

                plt.close(fig)
    return fig


@contextlib.contextmanager
def _closed_if_drawing_fails(fig, own: bool):
    """A figure of our own whose drawing fails is closed in pyplot, as :func:`_finish` closes a
    saved one: before, each failed call (a bad stored palette) left one more figure open."""
    try:
        yield
    except BaseException:
        if own:
            import matplotlib.pyplot as plt

            plt.close(fig)
        raise


def _is_continuous(values) -> bool:
    """A numeric, non-categorical obs column with more values than colours (a QC metric, a
    score): drawn with a colour scale, not one cycled colour per value."""
    import pandas as pd

    return (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
            and not isinstance(values.dtype, pd.CategoricalDtype) and values.nunique() > 20)


def _check_ax(ax, n_panels: int) -> None:
    """The caller's ``ax`` (None: a new figure) takes one panel, and must be a matplotlib Axes."""
    if ax is None:
        return
    if n_panels != 1:
        raise InputError(f"ax= draws one panel; {n_panels} colours were asked for (give one, or no ax).")
    if not hasattr(ax, "scatter") or not hasattr(ax, "figure"):
        raise InputError(f"ax must be a matplotlib Axes, got {type(ax).__name__}.")


def _figure(n_panels: int, ax=None):
    """A figure of ``n_panels`` axes side by side; or the caller's ``ax`` (one panel only)."""
    _check_ax(ax, n_panels)
    if ax is not None:
        return ax.figure, [ax]
    import matplotlib.pyplot as plt  # picks a non-interactive backend when there is no display

    fig, axes = plt.subplots(1, n_panels, figsize=(5 * n_panels, 4.5), squeeze=False)
    return fig, axes[0]


def _categories(column, values: np.ndarray, missing: np.ndarray) -> list:
    """The groups in legend order: a categorical's own order (as scanpy keeps it), else numbers
    by value ("-1", "2", "10"), then text in alphabetical order. Before: by length, then text,
    which put "b" between "2" and "10" and "-1" after "2"."""
    present = set(values[~missing])
    if column is not None and hasattr(column, "cat"):
        return [str(c) for c in column.cat.categories if str(c) in present]
    return sorted(present, key=_legend_key)


def _legend_key(value: str):
    try:
        number = float(value)
    except ValueError:
        return (1, 0.0, value)
    return (0, number, value) if np.isfinite(number) else (1, 0.0, value)


def _palette(adata, c, column, cats: list) -> list:
    """One colour per group: the colours scanpy stored for the column (``uns[c + "_colors"]``,
    one per category) where they fit; else tab10's ten, then tab20's light shades, then evenly
    spaced hues, so that no two groups share a colour (before: tab20 in order, which gave
    clusters 0 and 1 two blues, and repeated colours past 20 groups)."""
    from matplotlib import colormaps

    stored = adata.uns.get(f"{c}_colors") if c is not None else None
    if stored is not None and column is not None and hasattr(column, "cat") \
            and len(stored) == len(column.cat.categories):
        by_category = dict(zip(map(str, column.cat.categories), list(stored)))
        return [by_category[cat] for cat in cats]
    n = len(cats)
    if n <= 20:
        tab20 = colormaps["tab20"]
        return ([tab20(2 * i) for i in range(10)] + [tab20(2 * i + 1) for i in range(10)])[:n]
    return list(colormaps["turbo"](np.linspace(0.02, 0.98, n)))


MIN_PROJECTED_CELLS = 3
MISSING = "NA"  # the legend's name for cells with no value, drawn grey as scanpy draws them
LEGEND_MAX_GROUPS = 100  # more groups than this get no legend (it would cover the picture)


def project(emb: np.ndarray, basis: str = "tsne", random_state: int = 0) -> np.ndarray:
    """2-D coordinates of an embedding by t-SNE (scikit-learn) or UMAP (umap-learn, optional)."""
    emb = np.asarray(emb, dtype=np.float64)
    if basis not in ("tsne", "umap"):
        raise InputError(f"basis must be 'tsne' or 'umap', got {basis!r}.")
    if emb.ndim != 2 or emb.shape[1] < 2:  # e.g. embedding_dim=1: nothing to project (before: sklearn's error)
        raise InputError(f"the embedding has {emb.shape[1] if emb.ndim == 2 else emb.ndim} dimension(s); a 2-D "
                         "picture of it needs at least 2 (fit with embedding_dim >= 2, or plot it directly).")
    if emb.shape[0] < MIN_PROJECTED_CELLS:  # t-SNE's perplexity must stay below the number of cells
        raise InputError(f"a 2-D picture needs at least {MIN_PROJECTED_CELLS} cells with an embedding, "
                         f"got {emb.shape[0]}.")
    if basis == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30, max(2, (emb.shape[0] - 1) / 3)))
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=random_state).fit_transform(emb)
    if basis == "umap":
        try:
            import umap
        except ImportError:
            raise InputError("basis='umap' needs umap-learn: pip install umap-learn.") from None
        return umap.UMAP(random_state=random_state).fit_transform(emb)


def embedding(adata, color=CLUSTERS, key: str = "sclstm", basis: str = "tsne", random_state: int = 0,
              point_size=None, save=None, ax=None):
    """Scatter of the ScLSTM embedding (``obsm["X_" + key]``) in 2-D, one panel per ``color``.

    ``color``: an obs column or a list of them (default: the clusters ``obs[key]``; None: one
    panel, uncoloured); numeric (not categorical) columns with more than 20 distinct values get a
    colour scale, other columns one colour per value. Groups keep a categorical's order and the
    colours scanpy stored for it (``uns[color + "_colors"]``). ``random_state`` seeds UMAP; the
    t-SNE starts from PCA and does not depend on it. The 2-D coordinates are computed anew on
    every call and not stored (the AnnData is not modified); for many pictures of one layout,
    ``sc.pp.neighbors(adata, use_rep="X_" + key); sc.tl.umap(adata)`` once, then ``sc.pl.umap``.
    ``ax``: a matplotlib Axes to draw one panel into. Returns the matplotlib figure (in a
    notebook, assign it or end the line with ``;``, or it is drawn twice) and, when ``save`` is
    given, writes it there and closes it in pyplot. ``save`` is a file path (.png/.pdf/.svg),
    not scanpy's ``save=True`` or a suffix added in ``sc.settings.figdir``.
    """
    name = f"X_{key}"
    if name not in adata.obsm:
        raise InputError(f"adata.obsm has no {name!r}; run sclstm.tl.sclstm(adata, key_added={key!r}) first.")
    if save is not None:
        check_picture_path(save)
    if color is CLUSTERS:
        color = key
    if not (color is None or isinstance(color, str) or np.iterable(color)):
        raise InputError(f"color must be an obs column's name, a list of them, or None; got {color!r}.")
    colors = [None] if color is None else [color] if isinstance(color, str) else list(color)
    if not colors:
        raise InputError("color is an empty list; give an obs column, a list of them, or None.")
    for c in colors:
        if c is not None and c not in adata.obs:
            if c in adata.var_names:  # scanpy's color= takes genes too; say where to draw them
                raise InputError(f"color {c!r} is a gene, and sclstm.pl.embedding colours by obs columns only; "
                                 f"for genes: sc.pp.neighbors(adata, use_rep={name!r}); sc.tl.umap(adata); "
                                 f"sc.pl.umap(adata, color={c!r}).")
            raise InputError(f"color {c!r} is not a column of adata.obs.")
    emb = np.asarray(adata.obsm[name])
    ok = np.isfinite(emb).all(axis=1)
    _check_ax(ax, len(colors))  # before the projection's work
    xy = project(emb[ok], basis, random_state)
    n_ok = int(ok.sum())
    fig, axes = _figure(len(colors), ax)
    with _closed_if_drawing_fails(fig, own=ax is None):
        size = point_size or max(4, min(40, 3000 / max(n_ok, 1)))
        for panel, c in zip(axes, colors):
            if c is not None and _is_continuous(adata.obs[c]):
                v = adata.obs[c].to_numpy(dtype=float, na_value=np.nan)[ok]
                nan = np.isnan(v)  # drawn grey, as scanpy does, rather than left out
                panel.scatter(xy[nan, 0], xy[nan, 1], s=size, color="lightgrey", linewidths=0)
                dots = panel.scatter(xy[~nan, 0], xy[~nan, 1], s=size, c=v[~nan], cmap="viridis", linewidths=0)
                fig.colorbar(dots, ax=panel, shrink=0.8)
                panel.set_title(f"{c} ({basis.upper()} of {name})")
                panel.set_xticks([])
                panel.set_yticks([])
                continue
            column = None if c is None else adata.obs[c]
            missing = np.zeros(n_ok, bool) if c is None else column.isna().to_numpy()[ok]
            values = (np.full(n_ok, "cells") if c is None else column.astype(str).to_numpy()[ok])
            cats = _categories(column, values, missing)
            for cat, colour in zip(cats, _palette(adata, c, column, cats)):
                m = (values == cat) & ~missing
                panel.scatter(xy[m, 0], xy[m, 1], s=size, color=colour, label=cat, linewidths=0)
            if missing.any():
                panel.scatter(xy[missing, 0], xy[missing, 1], s=size, color="lightgrey", label=MISSING, linewidths=0)
            panel.set_title(f"{c or 'cells'} ({basis.upper()} of {name})")
            panel.set_xticks([])
            panel.set_yticks([])
            if c is not None and len(cats) <= LEGEND_MAX_GROUPS:  # 20 a column, as scanpy lays it out
                panel.legend(fontsize=7, markerscale=1.5, frameon=False, loc="center left", bbox_to_anchor=(1, 0.5),
                             ncol=1 + (len(cats) - 1) // 20)
    return _finish(fig, save, own=ax is None)


def k_curve(adata, key: str = "sclstm", save=None, ax=None):
    """The curve the number of clusters was estimated from (eigengap against k); ``ax`` and
    ``save`` as in :func:`embedding`."""
    info = adata.uns.get(key)
    if info is None:
        raise InputError(f"adata.uns has no {key!r}; run sclstm.tl.sclstm first.")
    if not hasattr(info, "get"):
        raise InputError(f"adata.uns[{key!r}] is a {type(info).__name__}, not an sclstm run's record.")
    curve = info.get("k_curve")
    if "source_key" in info and not isinstance(curve, dict):
        raise InputError(f"adata.uns[{key!r}] is a recluster of the run {info['source_key']!r} at a k you gave; "
                         f"the curve, if k was estimated, is that run's: sclstm.pl.k_curve(adata, "
                         f"key={info['source_key']!r}).")
    if not isinstance(curve, dict) or "k" not in curve:
        raise InputError(f"k was {info.get('k_method', 'given')}, not estimated: there is no curve to plot.")
    if save is not None:
        check_picture_path(save)
    ks, gaps = np.asarray(curve["k"]), np.asarray(curve["eigengap"])
    fig, axes = _figure(1, ax)
    with _closed_if_drawing_fails(fig, own=ax is None):
        panel = axes[0]
        panel.plot(ks, gaps, marker="o")
        k = int(info["n_clusters"])
        panel.axvline(k, color="red", linestyle="--", label=f"chosen k = {k}")
        panel.set_xlabel("number of clusters k")
        panel.set_ylabel("eigengap λ(k+1) − λ(k)")
        panel.set_title("ScLSTM: estimate of the number of cell types")
        panel.legend()
    return _finish(fig, save, own=ax is None)
