"""Training the siamese LSTM on pairs, and reading out embeddings and P(same).

Everything random is drawn from generators seeded by ``random_state`` (torch's forked from the
caller's, which is left as it was: :func:`torch_rng_of_our_own`), and cuDNN (on a GPU)
runs the LSTM deterministically in float32 (:func:`full_float32`), so the same inputs and seed
give the same weights on one device, and CPU and GPU agree to float error at inference.
"""
from __future__ import annotations

import contextlib
import functools
import threading

import numpy as np
import torch
from torch import nn

from .model import SiameseLSTM
from .pairs import PairSource


def _progress(total: int, enabled: bool, desc: str):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", leave=False, disable=None)  # off when not a terminal


_FLOAT32_LOCK = threading.Lock()
_float32_depth = 0
_float32_saved: tuple | None = None


@contextlib.contextmanager
def _float32_torch():
    """cuDNN deterministic without TF32, and float32 matrix products at full precision, for as
    long as any caller is inside; the caller's settings are put back when the last one leaves.

    These settings are one per process, and a Dask fit embeds chunks on several threads at once:
    with ``torch.backends.cudnn.flags`` each thread restored what it had found, so a thread still
    embedding lost the settings and the process kept another thread's on exit."""
    global _float32_depth, _float32_saved
    cudnn = torch.backends.cudnn
    entered = False
    try:  # entering inside the try: an interrupt while the settings change still restores them
        with _FLOAT32_LOCK:
            if _float32_depth == 0:
                _float32_saved = (cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32,
                                  torch.get_float32_matmul_precision())
            _float32_depth += 1
            entered = True
            cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32 = False, True, False
            torch.set_float32_matmul_precision("highest")
        yield
    finally:
        with _FLOAT32_LOCK:
            if entered:  # the settings are changed only after the count says so
                _float32_depth -= 1
                if _float32_depth == 0:
                    cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32, precision = _float32_saved
                    torch.set_float32_matmul_precision(precision)


def full_float32(fn):
    """Decorator: run ``fn`` with cuDNN's LSTM in float32 and deterministic, and matrix products
    in full float32 (:func:`_float32_torch`; the caller's settings restored after).

    cuDNN computes LSTMs in TF32 by default on Ampere and later GPUs, about 1e-3 away from
    float32; with this a GPU embeds as the CPU does, to float error (benchmarks/bench_gpu.py).
    A caller's ``torch.set_float32_matmul_precision("high")`` would do the same to the linear
    layers, so that is set to "highest" here too.
    """
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _float32_torch():
            return fn(*args, **kwargs)

    return wrapper


_TORCH_RNG_LOCK = threading.Lock()


@contextlib.contextmanager
def torch_rng_of_our_own(seed: int | None = None):
    """The block draws from torch's CPU generator, seeded with ``seed`` where given, and the
    caller's state is put back after, so that a fit does not reseed the user's own torch work.
    The generator is the process's: the lock keeps two threads' blocks apart (before, two fits at
    once left the user's generator in a fit's seeded state), so keep the block to the drawing of
    first weights. Only the CPU generator: the weights are drawn on the CPU and moved, nothing
    random is drawn on a GPU, and forking the GPUs' generators would start CUDA on every visible
    GPU even for a CPU fit (and fail in a process forked from one that had used CUDA)."""
    with _TORCH_RNG_LOCK, torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.random.default_generator.manual_seed(int(seed))
        yield


@full_float32
def train_siamese(
    seqs: np.ndarray,
    pairs: PairSource,
    head: str = "absdiff",
    n_steps: int = 400,
    batch_size: int = 256,
    lr: float = 1e-3,
    hidden: int = 64,
    embedding_dim: int = 32,
    random_state: int = 0,
    device: str = "cpu",
    progress: bool = False,
    classes: np.ndarray | None = None,
    n_classes: int | None = None,
    pseudo_classes: np.ndarray | None = None,
    pseudo_weight: float = 0.0,
) -> tuple[SiameseLSTM, dict]:
    """Fit a :class:`SiameseLSTM` with binary cross-entropy on sampled pairs.

    ``classes`` (labelled mode): a class code per row of ``seqs``, -1 where the label is not
    used. A class head on the embedding is then trained with the pairs: each step adds the
    cross-entropy of ``batch_size`` labelled cells, drawn class-balanced (a class uniformly,
    then one of its cells) so that rare types weigh as much as common ones, as balanced
    accuracy does. The head reads the embedding and, through a linear skip, the sequence.
    ``n_classes`` (default: the largest code + 1) is the head's width, so that a class
    absent from ``seqs`` keeps its output. After the steps, :func:`fit_sequence_classifier`
    adds the logistic regression whose probabilities are averaged with the head's.

    ``pseudo_classes`` (unsupervised): a label-free group per row (a training view's
    communities), -1 where none. With ``pseudo_weight`` > 0 a linear head on the embedding
    learns them by cross-entropy on ``batch_size`` class-balanced rows per step, weighted by
    ``pseudo_weight`` and added to the pair loss, so that every step shows the encoder all groups
    at once rather than one pair at a time. The head is used in training only and is not part of
    the returned model; without it the training is the same, pair for pair.

    Returns the model (in eval mode) and a history with the loss and pair accuracy every
    step (and the class loss when classes are given, the pseudo-class loss when used).
    """
    rng = np.random.default_rng(random_state)
    draw_labelled = None if classes is None else _class_balanced_draw(np.asarray(classes))
    if draw_labelled is None:
        n_classes = 0
    elif n_classes is None:
        n_classes = int(np.max(classes)) + 1
    pseudo_head = None  # trained beside the model, not part of it
    use_pseudo = pseudo_classes is not None and pseudo_weight > 0
    if use_pseudo:
        pseudo_classes = np.asarray(pseudo_classes, dtype=np.int64)
        draw_pseudo = _class_balanced_draw(pseudo_classes)
        Y_pseudo = torch.from_numpy(pseudo_classes).to(device)
    with torch_rng_of_our_own(random_state):  # the only draws from torch's generator: the first weights
        model = SiameseLSTM(seqs.shape[2], head=head, hidden=hidden, embedding_dim=embedding_dim,
                            n_classes=n_classes, skip_width=seqs.shape[1] * seqs.shape[2])
        if use_pseudo:
            pseudo_head = nn.Linear(embedding_dim, int(pseudo_classes.max()) + 1)
    model = model.to(device)
    params = list(model.parameters())
    if pseudo_head is not None:
        pseudo_head = pseudo_head.to(device)
        params += list(pseudo_head.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    class_loss_fn = nn.CrossEntropyLoss()
    X = torch.from_numpy(np.ascontiguousarray(seqs)).to(device)
    Y = None if draw_labelled is None else torch.from_numpy(np.asarray(classes, dtype=np.int64)).to(device)
    history = {"step": [], "loss": [], "pair_accuracy": []}
    if draw_labelled is not None:
        history["class_loss"] = []
    if pseudo_head is not None:
        history["pseudo_class_loss"] = []
    bar = _progress(n_steps, progress, "training siamese LSTM")
    model.train()
    for step in range(n_steps):
        a, b, y = pairs.sample(rng, batch_size)
        ta = torch.from_numpy(a).to(device)
        tb = torch.from_numpy(b).to(device)
        ty = torch.from_numpy(y).to(device)
        logits = model(X[ta], X[tb])
        loss = pair_loss = loss_fn(logits, ty)
        if draw_labelled is not None:
            tc = torch.from_numpy(draw_labelled(rng, batch_size)).to(device)
            class_loss = class_loss_fn(model.class_logits(model.encoder(X[tc]), X[tc]), Y[tc])
            history["class_loss"].append(float(class_loss.item()))
            loss = loss + class_loss
        if pseudo_head is not None:
            tp = torch.from_numpy(draw_pseudo(rng, batch_size)).to(device)
            pseudo_loss = class_loss_fn(pseudo_head(model.encoder(X[tp])), Y_pseudo[tp])
            history["pseudo_class_loss"].append(float(pseudo_loss.item()))
            loss = loss + pseudo_weight * pseudo_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        history["step"].append(step + 1)
        history["loss"].append(float(pair_loss.item()))
        history["pair_accuracy"].append(float(((logits > 0).float() == ty).float().mean().item()))
        if bar is not None:
            bar.update(1)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{history['loss'][-1]:.3f}")
    if bar is not None:
        bar.close()
    model.eval()
    if draw_labelled is not None:
        fit_sequence_classifier(model, seqs, np.asarray(classes), n_classes)
    return model, history


def fit_sequence_classifier(model: SiameseLSTM, seqs: np.ndarray, classes: np.ndarray, n_classes: int) -> None:
    """Labelled mode: a class-balanced logistic regression (scikit-learn, L2, C = 1, to
    convergence) on the flattened input sequences of the labelled rows (code >= 0), stored in
    ``model.sequence_classifier`` as a linear layer whose softmax is its predict_proba.

    Chosen on an inner split of the benchmark's training labels: the mean of its and the head's
    probabilities was at least as accurate as either, and as logistic regression on PCA, on
    all seven datasets (``benchmarks/labelled_inner_split.py``). Classes with no labelled row
    get probability 0; with fewer than two labelled classes nothing is fitted.
    """
    from sklearn.linear_model import LogisticRegression

    rows = np.flatnonzero(classes >= 0)
    present = np.unique(classes[rows])
    if len(present) < 2:
        return
    clf = LogisticRegression(max_iter=5000, class_weight="balanced").fit(seqs[rows].reshape(len(rows), -1),
                                                                         classes[rows])
    coef, intercept = clf.coef_, clf.intercept_
    if len(present) == 2:  # scikit-learn keeps one row for two classes: P(second) = sigmoid(z)
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
    weight = np.zeros((n_classes, coef.shape[1]), dtype=np.float32)
    bias = np.full(n_classes, -1e4, dtype=np.float32)
    weight[present], bias[present] = coef, intercept
    layer = nn.Linear(weight.shape[1], n_classes).to(next(model.parameters()).device)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weight))
        layer.bias.copy_(torch.from_numpy(bias))
    model.sequence_classifier = layer.eval()


def _class_balanced_draw(classes: np.ndarray):
    """A sampler of labelled rows (code >= 0): a class uniformly among those present, then
    one of its rows uniformly."""
    labelled = np.flatnonzero(classes >= 0)
    order = labelled[np.argsort(classes[labelled], kind="stable")]
    _, starts, sizes = np.unique(classes[order], return_index=True, return_counts=True)

    def draw(rng: np.random.Generator, size: int) -> np.ndarray:
        which = rng.integers(len(sizes), size=size)
        return order[starts[which] + (rng.random(size) * sizes[which]).astype(np.int64)]

    return draw


@full_float32
@torch.no_grad()
def embed(model: SiameseLSTM, seqs: np.ndarray, device: str = "cpu", chunk: int = 4096) -> np.ndarray:
    """The encoder's embedding of every cell, float32 (cells × embedding_dim)."""
    out = []
    for start in range(0, seqs.shape[0], chunk):
        batch = torch.from_numpy(np.ascontiguousarray(seqs[start:start + chunk])).to(device)
        out.append(model.encoder(batch).cpu().numpy())
    return np.vstack(out).astype(np.float32)


@full_float32
@torch.no_grad()
def class_probabilities(model: SiameseLSTM, seqs: np.ndarray | None, emb: np.ndarray, device: str = "cpu",
                        chunk: int = 4096) -> np.ndarray:
    """Labelled mode: class probabilities (:meth:`SiameseLSTM.class_probabilities`) of cells given
    by their sequences and embeddings (``seqs`` None only for a model whose head has no skip)."""
    out = []
    for start in range(0, emb.shape[0], chunk):
        seq = None if seqs is None else torch.from_numpy(np.ascontiguousarray(seqs[start:start + chunk])).to(device)
        out.append(model.class_probabilities(torch.from_numpy(emb[start:start + chunk]).to(device), seq).cpu().numpy())
    return np.vstack(out)


@full_float32
@torch.no_grad()
def pair_probabilities(model: SiameseLSTM, emb: np.ndarray, device: str = "cpu",
                       max_pairs_per_chunk: int = 2_000_000) -> np.ndarray:
    """The learned similarity: symmetric n × n matrix of P(same type), diagonal 1."""
    n = emb.shape[0]
    E = torch.from_numpy(emb).to(device)
    P = np.empty((n, n), dtype=np.float32)
    rows = max(1, max_pairs_per_chunk // n)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        a = E[start:stop, None, :].expand(stop - start, n, E.shape[1])
        b = E[None, :, :].expand(stop - start, n, E.shape[1])
        P[start:stop] = model.pair_probability(a, b).cpu().numpy()
    P = (P + P.T) / 2
    np.fill_diagonal(P, 1.0)
    return P
