"""Training the network (sclstm.training): what labelled mode's class head learns from."""
import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from sclstm.model import SiameseLSTM
from sclstm.pairs import PairSource
from sclstm.training import _class_balanced_draw, embed, fit_sequence_classifier, train_siamese


def test_class_balanced_draw_weighs_every_class_alike_and_skips_unused_cells():
    codes = np.array([-1] + [0] * 50 + [1] * 3 + [2] + [-1] * 5)  # one common class, two rare ones
    drawn = _class_balanced_draw(codes)(np.random.default_rng(0), 30_000)
    assert (codes[drawn] >= 0).all()
    share = np.bincount(codes[drawn]) / len(drawn)
    np.testing.assert_allclose(share, 1 / 3, atol=0.02)
    again = _class_balanced_draw(codes)(np.random.default_rng(0), 30_000)
    np.testing.assert_array_equal(drawn, again)  # seeded


@pytest.mark.parametrize("n_present", [2, 3])
def test_sequence_classifier_gives_logistic_regressions_probabilities_and_none_to_absent_classes(n_present):
    """Labelled mode's sequence classifier is scikit-learn's class-balanced logistic regression
    on the flattened sequences of the labelled rows, as a layer: same probabilities, and 0 for
    a class of the head that no labelled row has (here the last of 4)."""
    rng = np.random.default_rng(0)
    codes = np.repeat(np.arange(n_present), 20)
    codes[::7] = -1  # rows whose label is not used
    seqs = (rng.normal(size=(len(codes), 3, 4)) + codes[:, None, None]).astype(np.float32)
    model = SiameseLSTM(4, n_classes=4, skip_width=12)
    fit_sequence_classifier(model, seqs, codes, 4)
    used = codes >= 0
    expected = LogisticRegression(max_iter=5000, class_weight="balanced").fit(
        seqs[used].reshape(used.sum(), -1), codes[used]).predict_proba(seqs.reshape(len(codes), -1))
    with torch.no_grad():
        got = torch.softmax(model.sequence_classifier(torch.from_numpy(seqs).flatten(1)), -1).numpy()
    np.testing.assert_allclose(got[:, :n_present], expected, atol=1e-5)
    assert got[:, n_present:].max() < 1e-6


def test_sequence_classifier_is_left_out_with_one_labelled_class():
    codes = np.array([0] * 10 + [-1] * 5)
    model = SiameseLSTM(4, n_classes=2, skip_width=12)
    fit_sequence_classifier(model, np.zeros((15, 3, 4), np.float32), codes, 2)
    assert model.sequence_classifier is None


def _three_groups_two_views(seed=0):
    """Sequences of three groups: A and B differ in 5 of 20 values (by 2 noise sd), C is far from
    both. The pairs' view merges A and B; the pseudo-classes keep all three."""
    rng = np.random.default_rng(seed)
    group = np.repeat([0, 1, 2], 60)
    centres = np.zeros((3, 20))
    centres[1, :5], centres[2, 10:] = 2.0, 4.0
    seqs = (centres[group] + rng.normal(size=(len(group), 20))).reshape(-1, 4, 5).astype(np.float32)
    return seqs, group, np.where(group == 1, 0, group)


def _separation(emb, group, a, b):
    """Distance between the centroids of groups a and b over the mean spread within them."""
    ea, eb = emb[group == a], emb[group == b]
    spread = (np.linalg.norm(ea - ea.mean(0), axis=1).mean() + np.linalg.norm(eb - eb.mean(0), axis=1).mean()) / 2
    return np.linalg.norm(ea.mean(0) - eb.mean(0)) / spread


def test_pseudo_class_loss_teaches_the_encoder_groups_the_pairs_never_separate():
    """Pairs whose view merges A and B give no reason to tell A from B; the class loss on the
    pseudo-classes (the landmark path's Leiden communities) does, and the head stays out of the
    returned model."""
    seqs, group, merged = _three_groups_two_views()
    common = dict(n_steps=300, batch_size=64, hidden=16, embedding_dim=8, random_state=0)
    plain, plain_history = train_siamese(seqs, PairSource([merged]), **common)
    taught, history = train_siamese(seqs, PairSource([merged]), pseudo_classes=group, pseudo_weight=0.3, **common)
    assert set(taught.state_dict()) == set(plain.state_dict())
    assert len(history["pseudo_class_loss"]) == 300 and "pseudo_class_loss" not in plain_history
    before, after = (_separation(embed(m, seqs), group, 0, 1) for m in (plain, taught))
    # measured here: 0.94 without, 8.7 with the class loss (input 1.0); over data seeds 0–1 and
    # training seeds 0–2, 2.5–9× as far apart with it
    assert after > 2 * before


@pytest.mark.parametrize("weight", [0.0, None])
def test_without_pseudo_class_weight_training_is_unchanged(weight):
    seqs, group, merged = _three_groups_two_views()
    common = dict(n_steps=20, batch_size=32, hidden=8, embedding_dim=4, random_state=1)
    plain, _ = train_siamese(seqs, PairSource([merged]), **common)
    extra = {} if weight is None else dict(pseudo_classes=group, pseudo_weight=weight)
    again, _ = train_siamese(seqs, PairSource([merged]), **extra, **common)
    for name, value in plain.state_dict().items():
        torch.testing.assert_close(again.state_dict()[name], value, rtol=0, atol=0)


def test_training_leaves_the_callers_torch_generator_as_it_was():
    """Before: train_siamese called torch.manual_seed(random_state) on the global generator, so a
    user's own torch work after a fit restarted from that seed (audit of 2026-12-07). The fit
    itself still depends on random_state only."""
    seqs, group, merged = _three_groups_two_views()
    common = dict(n_steps=5, batch_size=32, hidden=8, embedding_dim=4, random_state=3)
    torch.manual_seed(7)
    state = torch.get_rng_state().clone()
    first, _ = train_siamese(seqs, PairSource([merged]), **common)
    assert torch.equal(torch.get_rng_state(), state)
    torch.rand(100)  # another caller state: the same weights
    again, _ = train_siamese(seqs, PairSource([merged]), **common)
    for name, value in first.state_dict().items():
        torch.testing.assert_close(again.state_dict()[name], value, rtol=0, atol=0)


def test_a_cpu_fit_leaves_every_gpu_alone(monkeypatch):
    """Before: the fit forked the random state of every visible GPU, which starts CUDA on each
    of them even for a CPU fit (torch.cuda.get_rng_state initialises CUDA), and fails in a
    process forked from one that had used CUDA. Only the CPU generator is drawn from."""
    def touched(*args, **kwargs):
        raise AssertionError("a CPU fit touched a GPU's random state")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_rng_state", touched)
    monkeypatch.setattr(torch.cuda, "set_rng_state", touched)
    monkeypatch.setattr(torch.cuda, "manual_seed_all", touched)
    seqs, group, merged = _three_groups_two_views()
    train_siamese(seqs, PairSource([merged]), n_steps=2, batch_size=32, hidden=8, embedding_dim=4, device="cpu")


class _FlagRecordingEncoder:
    """Stands for a model's encoder: records the process's float32 settings while it runs, slowly
    enough that threads embedding at once overlap."""

    def __init__(self):
        self.seen = []

    def __call__(self, batch):
        import time

        cudnn = torch.backends.cudnn
        self.seen.append((cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32, torch.get_float32_matmul_precision()))
        time.sleep(0.01)
        return batch[:, 0, :2]


def test_threads_embedding_at_once_all_run_in_float32_and_leave_the_callers_settings():
    """A Dask fit embeds chunks on several threads at once. Before: each thread restored the cuDNN
    flags it had found on leaving, so a thread still embedding ran with the caller's (TF32 on a
    GPU) and the process kept another thread's flags afterwards (20 of 20 trials here, audit
    helper-39). Also: a caller's matmul precision "high" (TF32 in linear layers) is lifted while
    sclstm runs and put back after."""
    import threading
    from types import SimpleNamespace

    cudnn = torch.backends.cudnn
    before = (cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32, torch.get_float32_matmul_precision())
    try:
        for trial in range(5):
            cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32 = True, False, True
            torch.set_float32_matmul_precision("high")
            model = SimpleNamespace(encoder=_FlagRecordingEncoder())
            threads = [threading.Thread(target=embed, args=(model, np.ones((3 + i, 4, 5), np.float32)), kwargs=dict(chunk=1))
                       for i in range(4)]
            [t.start() for t in threads]
            [t.join() for t in threads]
            assert set(model.encoder.seen) == {(False, True, False, "highest")}
            assert (cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32,
                    torch.get_float32_matmul_precision()) == (True, False, True, "high")
    finally:
        cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32 = before[:3]
        torch.set_float32_matmul_precision(before[3])
