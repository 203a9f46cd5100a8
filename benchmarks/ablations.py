"""Ablations for the accuracy benchmark: the kernel alone, and sigLSTM (the paper's Table 5).

* ``kernel``  — no network: S = sigmoid_kernel(Preprocessor().fit_transform(X)) (the
  package's default preprocessing and kernel), Ward on the rows of S, with k given and with
  k = ``sclstm.clustering.estimate_k(S)`` (the estimator ScLSTM uses by default). The kernel
  is deterministic, so its seed-to-seed spread is 0.
* ``siglstm`` — one branch, no pairing. The paper's sigLSTM feeds the kernel rows to a single
  LSTM; without labels a single branch needs a label-free objective, so here it is an **LSTM
  autoencoder**: the same sequences ScLSTM reads (``sclstm.sequences.fit_sequencer`` on S,
  16 steps of ≤512 landmark columns in hierarchical leaf order), the same encoder
  (``sclstm.model.Encoder``: LSTM with 64 hidden units → 32-d embedding), an LSTM decoder
  that reconstructs the sequence from the embedding repeated at every step, mean-squared
  error, Adam (lr 1e-3), the same budget as ScLSTM's default training (400 steps of 256
  cells). The embedding is clustered by Ward with k given and with k estimated as above.
  Nothing here reads labels.
"""
from __future__ import annotations

import time

import numpy as np


def kernel_matrix(adata):
    from sclstm.kernel import sigmoid_kernel
    from sclstm.preprocessing import Preprocessor
    from sclstm.validation import check_counts

    L = Preprocessor().fit_transform(check_counts(adata.X).X)
    return L, sigmoid_kernel(L)


def unit_kernel(adata, truth, k_true, seed):
    from sclstm.clustering import cluster_features, estimate_k

    t0 = time.perf_counter()
    _, S = kernel_matrix(adata)
    t_s = time.perf_counter() - t0
    rows = []
    t = time.perf_counter()
    rows.append(dict(method="kernel only (Ward on S)", mode="unsupervised", k="given", k_used=k_true,
                     labels=cluster_features(S, k_true), seconds=t_s + time.perf_counter() - t, note="no network"))
    t = time.perf_counter()
    k_est, _ = estimate_k(S)
    rows.append(dict(method="kernel only (Ward on S)", mode="unsupervised", k="estimated", k_used=int(k_est),
                     labels=cluster_features(S, int(k_est)), seconds=t_s + time.perf_counter() - t,
                     note="k = sclstm.clustering.estimate_k(S)"))
    return rows, {}


def _autoencoder(width: int, hidden: int = 64, embedding_dim: int = 32):
    import torch
    from torch import nn
    from sclstm.model import Encoder

    class SeqAutoencoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = Encoder(width, hidden, embedding_dim)
            self.decoder = nn.LSTM(embedding_dim, hidden, batch_first=True)
            self.out = nn.Linear(hidden, width)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            e = self.encoder(x)
            h, _ = self.decoder(e[:, None, :].expand(-1, x.shape[1], -1).contiguous())
            return self.out(h)

    return SeqAutoencoder()


def train_siglstm(seqs: np.ndarray, seed: int, n_steps: int = 400, batch_size: int = 256, lr: float = 1e-3,
                  hidden: int = 64, embedding_dim: int = 32) -> tuple[np.ndarray, list]:
    """Train the single-branch LSTM autoencoder; return the embedding of every cell and the loss curve."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = _autoencoder(seqs.shape[2], hidden, embedding_dim)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    X = torch.from_numpy(np.ascontiguousarray(seqs, dtype=np.float32))
    losses = []
    model.train()
    for _ in range(n_steps):
        idx = torch.from_numpy(rng.integers(0, X.shape[0], size=batch_size))
        xb = X[idx]
        loss = torch.mean((model(xb) - xb) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    model.eval()
    with torch.no_grad():
        emb = np.vstack([model.encoder(X[i:i + 4096]).numpy() for i in range(0, X.shape[0], 4096)])
    return emb.astype(np.float32), losses


def unit_siglstm(adata, truth, k_true, seed):
    from sclstm.clustering import cluster_features, estimate_k
    from sclstm.sequences import fit_sequencer

    t0 = time.perf_counter()
    _, S = kernel_matrix(adata)
    seqr = fit_sequencer(S, np.arange(S.shape[0]), 16, 512, seed)
    emb, losses = train_siglstm(seqr.transform(S), seed)
    fit_s = time.perf_counter() - t0
    rows = []
    t = time.perf_counter()
    rows.append(dict(method="sigLSTM (one branch, autoencoder)", mode="unsupervised", k="given", k_used=k_true,
                     labels=cluster_features(emb, k_true), seconds=fit_s + time.perf_counter() - t,
                     note=f"final reconstruction MSE {np.mean(losses[-20:]):.3f}"))
    t = time.perf_counter()
    k_est, _ = estimate_k(S)
    rows.append(dict(method="sigLSTM (one branch, autoencoder)", mode="unsupervised", k="estimated",
                     k_used=int(k_est), labels=cluster_features(emb, int(k_est)),
                     seconds=fit_s + time.perf_counter() - t, note="k = sclstm.clustering.estimate_k(S)"))
    return rows, {"embedding": emb}
