"""Training the network (sclstm.training): what labelled mode's class head learns from."""
import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from sclstm.model import SiameseLSTM
from sclstm.training import _class_balanced_draw, fit_sequence_classifier


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
