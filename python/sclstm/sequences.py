"""Kernel rows → fixed-length sequences for the LSTM.

The columns of the kernel (similarities to the column cells) are reduced to at most
``max_columns`` landmark columns, chosen by a seeded random draw, and put in the leaf
order of an average-linkage tree of the landmarks, so that one step of the sequence holds
similarities to a group of mutually similar cells (../shared/DESIGN.md §2.7: the sequence axis
should mean something). The row is then standardised per column and cut into ``n_steps``
chunks of equal width (zero padded), so the sequence length does not depend on n (it is at
most the number of columns).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import squareform


@dataclass
class Sequencer:
    """Remembers the chosen columns, their order and scaling, to encode any kernel row."""

    columns: np.ndarray  # indices into the kernel's columns, in sequence order
    mean: np.ndarray
    scale: np.ndarray
    n_steps: int
    step_width: int

    def transform(self, K: np.ndarray) -> np.ndarray:
        """Rows of K (cells × kernel columns) → array (cells, n_steps, step_width), float32."""
        Z = (K[:, self.columns] - self.mean) / self.scale
        pad = self.n_steps * self.step_width - Z.shape[1]
        if pad:
            Z = np.hstack([Z, np.zeros((Z.shape[0], pad), dtype=Z.dtype)])
        return Z.reshape(Z.shape[0], self.n_steps, self.step_width).astype(np.float32)


def fit_sequencer(K: np.ndarray, column_cells, n_steps: int = 16, max_columns: int = 512,
                  random_state: int = 0, column_block=None) -> Sequencer:
    """Choose and order landmark columns of the kernel K (cells × columns).

    The columns are ordered by the kernel among the column cells: ``column_block`` (columns ×
    columns) when given, else read from K, whose row ``column_cells[j]`` is the cell that
    column j stands for.
    """
    n_cols = K.shape[1]
    rng = np.random.default_rng(random_state)
    cols = np.sort(rng.choice(n_cols, size=max_columns, replace=False)) if n_cols > max_columns else np.arange(n_cols)
    if column_block is not None:
        block = np.asarray(column_block)[np.ix_(cols, cols)].astype(np.float64)
    else:
        block = K[np.asarray(column_cells)[cols]][:, cols].astype(np.float64)
    if len(cols) > 2:
        D = np.clip(1.0 - (block + block.T) / 2, 0, None)
        np.fill_diagonal(D, 0.0)
        order = leaves_list(linkage(squareform(D, checks=False), method="average"))
        cols = cols[order]
    # at most one step per column: with more steps than columns (sequence_length above the cells
    # of the exact path or the landmarks) the trailing all-zero steps washed out the LSTM's state
    # (embedding sd 7e-8 at 100 steps over 40 cells, against 0.37 at 16; audit helper-42)
    n_steps = min(n_steps, len(cols))
    sub = K[:, cols]
    mean = sub.mean(axis=0)
    scale = sub.std(axis=0)
    scale[scale == 0] = 1.0
    width = int(np.ceil(len(cols) / n_steps))
    return Sequencer(cols, mean.astype(np.float32), scale.astype(np.float32), n_steps, width)
