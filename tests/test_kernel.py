import numpy as np
import scipy.sparse as sp

from sclstm.kernel import ExactKernel, sigmoid_kernel
from sclstm.preprocessing import Preprocessor


def test_kernel_matches_hand_computation():
    # L rows: (1, 0), (0, 2), (1, 1). Inner products I = L Lᵀ:
    # [[1, 0, 1], [0, 4, 2], [1, 2, 2]]; min 0, max 4 → scaled I/4 → tanh.
    L = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    expected = np.tanh(np.array([[0.25, 0.0, 0.25], [0.0, 1.0, 0.5], [0.25, 0.5, 0.5]]))
    np.testing.assert_allclose(sigmoid_kernel(L), expected, rtol=1e-6)
    np.testing.assert_allclose(sigmoid_kernel(sp.csr_matrix(L)), expected, rtol=1e-6)


def test_paper_kernel_is_log1p_inner_product_of_counts(biase):
    """preprocess='paper' then the kernel = tanh(minmax(log(A+1) log(A+1)ᵀ)) over kept genes."""
    X = sp.csr_matrix(biase.X, dtype=np.float64)
    pre = Preprocessor("paper")
    L = pre.fit_transform(X)
    A = X.toarray()[:, (X.toarray() > 0).sum(axis=0) >= 3]
    Lh = np.log(A + 1)
    I = Lh @ Lh.T
    expected = np.tanh((I - I.min()) / (I.max() - I.min()))
    np.testing.assert_allclose(ExactKernel().fit_transform(L), expected, rtol=1e-5, atol=1e-6)


def test_kernel_transform_uses_fitted_scaling():
    rng = np.random.default_rng(0)
    L = rng.normal(size=(20, 5))
    k = ExactKernel()
    S = k.fit_transform(L)
    np.testing.assert_allclose(k.transform(L[:4]), S[:4], rtol=1e-6)
    assert S.shape == (20, 20) and k.columns_.tolist() == list(range(20))
