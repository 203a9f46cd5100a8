"""Training the network (sclstm.training): what labelled mode's class head learns from."""
import numpy as np

from sclstm.training import _class_balanced_draw


def test_class_balanced_draw_weighs_every_class_alike_and_skips_unused_cells():
    codes = np.array([-1] + [0] * 50 + [1] * 3 + [2] + [-1] * 5)  # one common class, two rare ones
    drawn = _class_balanced_draw(codes)(np.random.default_rng(0), 30_000)
    assert (codes[drawn] >= 0).all()
    share = np.bincount(codes[drawn]) / len(drawn)
    np.testing.assert_allclose(share, 1 / 3, atol=0.02)
    again = _class_balanced_draw(codes)(np.random.default_rng(0), 30_000)
    np.testing.assert_array_equal(drawn, again)  # seeded
