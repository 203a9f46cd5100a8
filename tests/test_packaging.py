"""Packaging: one version for the Python and R sides, the shipped demo data is what it says, and
the public names are listed and documented."""
import re

import sclstm
from conftest import REPO


def test_versions_agree():
    pyproject = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M).group(1)
    description = re.search(r"^Version:\s*(\S+)", (REPO / "DESCRIPTION").read_text(), re.M).group(1)
    assert pyproject == sclstm.__version__ == description


def test_the_licence_the_metadata_names_ships_with_its_text():
    """pyproject named "MIT" as a TOML table (setuptools stops building that after 2027-02-18) and
    no licence text shipped in the wheel or sdist; the MIT licence requires its text with copies
    (audit helper-46). The R package's LICENSE is the R-style stub that "MIT + file LICENSE" wants."""
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r'^license = "MIT"$', pyproject, re.M)
    assert re.search(r'^license-files = \["LICENSE"\]$', pyproject, re.M)
    assert "Permission is hereby granted, free of charge" in (REPO / "LICENSE").read_text()
    assert re.search(r"^License: MIT \+ file LICENSE$", (REPO / "DESCRIPTION").read_text(), re.M)


def test_demo_dataset_is_pollen_counts():
    a = sclstm.datasets.load_demo()
    assert a.shape == (299, 3000)
    assert a.obs["cell_type"].nunique() == 11
    assert (a.X.data == a.X.data.round()).all() and a.X.data.min() > 0  # raw counts, sparse


def test_public_names_are_listed_and_documented():
    """Each module's __all__ names what the README tells users to call, and help() describes
    every one; the R converters, loaded lazily, still show in dir(sclstm.io)."""
    import importlib

    for name in ("tl", "pl", "metrics", "datasets", "io"):
        module = importlib.import_module(f"sclstm.{name}")
        assert module.__all__, name
        for public in module.__all__:
            if name == "io" and public in ("read_rds", "read_rdata", "write_rds"):
                assert public in dir(module)
                continue
            assert (getattr(module, public).__doc__ or "").strip(), f"sclstm.{name}.{public} has no docstring"
    documented = sclstm.ScLSTM.__doc__
    for param in sclstm.ScLSTM().get_params():
        assert param in documented, f"ScLSTM's docstring does not describe {param}"
