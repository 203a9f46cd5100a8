"""One version for the Python and R sides, and the shipped demo data is what it says."""
import re

import sclstm
from conftest import REPO


def test_versions_agree():
    pyproject = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M).group(1)
    description = re.search(r"^Version:\s*(\S+)", (REPO / "DESCRIPTION").read_text(), re.M).group(1)
    assert pyproject == sclstm.__version__ == description


def test_demo_dataset_is_pollen_counts():
    a = sclstm.datasets.load_demo()
    assert a.shape == (299, 3000)
    assert a.obs["cell_type"].nunique() == 11
    assert (a.X.data == a.X.data.round()).all() and a.X.data.min() > 0  # raw counts, sparse
